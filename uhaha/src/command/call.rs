//! [`Call`]: one command of a generated typed client, built from typed
//! arguments and sent through the untyped [`Client`], its reply read back
//! through [`FromReply`] as the type the command's method returns.

use super::{FromReply, FromReplyError, ToArg};
use crate::client::{Client, ClientError};
use bytes::Bytes;

/// A command being built by a generated client method. Not meant to be
/// used by hand: [`Client::call`] sends any command.
#[derive(Debug)]
pub struct Call {
    args: Vec<Bytes>,
    /// The first optional argument left out: no argument may follow it,
    /// or it would take its place.
    skipped: Option<&'static str>,
    /// A later optional argument that was given after `skipped`.
    misplaced: Option<&'static str>,
}

impl Call {
    /// A call of command `name`.
    pub fn new(name: &'static str) -> Call {
        Call {
            args: vec![Bytes::from_static(name.as_bytes())],
            skipped: None,
            misplaced: None,
        }
    }

    /// Adds a required argument.
    pub fn arg<T: ToArg>(mut self, value: T) -> Call {
        self.args.push(value.into_arg());
        self
    }

    /// Adds an optional argument, called `name`, when it is given.
    pub fn optional<T: ToArg>(mut self, name: &'static str, value: Option<T>) -> Call {
        match (value, self.skipped) {
            (None, None) => self.skipped = Some(name),
            (None, Some(_)) => {}
            (Some(_), Some(_)) => self.misplaced = self.misplaced.or(Some(name)),
            (Some(value), None) => self.args.push(value.into_arg()),
        }
        self
    }

    /// Adds the values of a variadic argument.
    pub fn variadic<T: ToArg>(mut self, values: impl IntoIterator<Item = T>) -> Call {
        self.args.extend(values.into_iter().map(ToArg::into_arg));
        self
    }

    /// The command, or why it cannot be sent.
    fn command(self) -> Result<Vec<Bytes>, ClientError> {
        match (self.misplaced, self.skipped) {
            (Some(given), Some(skipped)) => Err(ClientError::Protocol(format!(
                "optional argument `{given}` of {} needs `{skipped}` before it: arguments are sent by position",
                String::from_utf8_lossy(&self.args[0]),
            ))),
            _ => Ok(self.args),
        }
    }

    /// Sends the command and reads its reply as `R`, the command method's
    /// return type.
    pub async fn send<R: FromReply>(self, client: &mut Client) -> Result<R::Output, ClientError> {
        let reply = client.call(&self.command()?).await?;
        R::from_reply(reply).map_err(|e| match e {
            FromReplyError::Error(e) => ClientError::Reply(e.into()),
            FromReplyError::Unexpected(e) => ClientError::Protocol(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_go_in_order_and_trailing_options_may_be_left_out() {
        let call = Call::new("SET")
            .arg("k")
            .arg(5i64)
            .optional("ttl", Some(1.5f64))
            .optional::<u8>("nx", None)
            .variadic(Vec::<String>::new());
        let sent: Vec<Bytes> = call.command().unwrap();
        assert_eq!(sent, ["SET", "k", "5", "1.5"].map(Bytes::from));
        let all = Call::new("DEL").variadic(["a", "b"]).command().unwrap();
        assert_eq!(all, ["DEL", "a", "b"].map(Bytes::from));
    }

    #[test]
    fn an_option_after_a_missing_one_is_refused() {
        let call = Call::new("F")
            .optional::<i64>("a", None)
            .optional("b", Some(2i64))
            .optional("c", Some(3i64));
        let error = call.command().unwrap_err().to_string();
        assert!(error.contains("`b` of F needs `a` before it"), "{error}");
    }
}
