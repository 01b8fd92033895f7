//! A connection's session: what the client has told the node about itself
//! (its protocol, name, library, password), and the commands that set it:
//! `HELLO`, `AUTH`, `CLIENT ...`, `SELECT` and `RESET`.
//!
//! These are the commands client libraries send before anything else, and
//! many refuse to go on when one fails, so they answer as Redis 7 does.

use crate::command::{Protocol, Reply};
use crate::pubsub::Hub;
use crate::secret::same_secret;
use crate::server::clients::Registration;
use crate::server::conn::Conn;
use bytes::Bytes;
use std::sync::Arc;

/// The Redis version whose protocol and replies the node speaks, reported
/// by `HELLO` and `INFO` (`redis_version`). Client libraries and tools
/// compare it to decide which commands they may send; uhaha's own version
/// and the service's are reported beside it in `INFO`.
pub const REDIS_VERSION: &str = "7.2.0";

/// What a connection knows about its client.
pub struct Session {
    /// The connection's entry in the node's client registry.
    pub client: Registration,
    /// What handlers see of the connection.
    pub conn: Conn,
    /// Whether the client passed `AUTH` (always true without `--auth`).
    pub authed: bool,
    /// The protocol replies are written in, switched by `HELLO`.
    pub protocol: Protocol,
    /// The name of the last command the client sent, for `CLIENT LIST`.
    pub last_command: &'static str,
}

impl Session {
    /// A new connection's session; `authed` when the node needs no
    /// password. Its subscribers subscribe in `pubsub`.
    pub fn new(client: Registration, authed: bool, pubsub: Arc<Hub>) -> Session {
        Session {
            conn: Conn::new(client.id(), client.addr(), pubsub),
            client,
            authed,
            protocol: Protocol::Resp2,
            last_command: "NULL",
        }
    }

    /// A number unique among this process's connections (`CLIENT ID`).
    pub fn id(&self) -> u64 {
        self.client.id()
    }

    fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
        self.client.set_protocol(protocol);
    }
}

/// The arguments of `HELLO [protover [AUTH username password] [SETNAME
/// name]]`.
#[derive(Debug, Default, PartialEq)]
struct Hello {
    protocol: Option<Protocol>,
    auth: Option<(Bytes, Bytes)>,
    name: Option<Bytes>,
}

/// Reads `HELLO`'s arguments, with Redis 7's errors.
fn parse_hello(args: &[Bytes]) -> Result<Hello, Reply> {
    let mut hello = Hello::default();
    let Some((version, mut rest)) = args.split_first() else {
        return Ok(hello);
    };
    hello.protocol = match parse_i64(version) {
        Some(2) => Some(Protocol::Resp2),
        Some(3) => Some(Protocol::Resp3),
        Some(_) => return Err(Reply::Error("NOPROTO unsupported protocol version".into())),
        None => {
            return Err(Reply::error(
                "Protocol version is not an integer or out of range",
            ))
        }
    };
    while let Some((option, after)) = rest.split_first() {
        match (option.to_ascii_uppercase().as_slice(), after) {
            (b"AUTH", [user, password, more @ ..]) => {
                hello.auth = Some((user.clone(), password.clone()));
                rest = more;
            }
            (b"SETNAME", [name, more @ ..]) => {
                check_name(name)?;
                hello.name = Some(name.clone());
                rest = more;
            }
            _ => {
                return Err(Reply::error(format!(
                    "Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(option)
                )))
            }
        }
    }
    Ok(hello)
}

fn parse_i64(arg: &[u8]) -> Option<i64> {
    std::str::from_utf8(arg).ok()?.parse().ok()
}

/// Redis's rule for names and library attributes: printable ASCII, no
/// spaces, so that `CLIENT LIST` stays one line per client.
fn printable(value: &[u8]) -> bool {
    value.iter().all(|b| (b'!'..=b'~').contains(b))
}

fn check_name(name: &[u8]) -> Result<(), Reply> {
    if printable(name) {
        Ok(())
    } else {
        Err(Reply::error(
            "Client names cannot contain spaces, newlines or special characters.",
        ))
    }
}

pub fn noauth() -> Reply {
    Reply::Error("NOAUTH Authentication required.".into())
}

/// The commands that change the session: what they see of the node is its
/// secret (`--auth`) and, for `HELLO`, whether it leads.
impl Session {
    /// Checks a password as `AUTH` and `HELLO ... AUTH` do. Any username
    /// is accepted: uhaha has one user. Without `--auth`, the one-argument
    /// form is an error (as in Redis, where the default user has no
    /// password) and the two-argument form succeeds.
    pub fn authenticate(
        &mut self,
        secret: Option<&str>,
        username: Option<&Bytes>,
        password: &[u8],
    ) -> Result<(), Reply> {
        match (secret, username) {
            (None, None) => Err(Reply::Error(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into(),
            )),
            (None, Some(_)) => Ok(()),
            (Some(secret), _) if same_secret(secret.as_bytes(), password) => {
                self.authed = true;
                Ok(())
            }
            (Some(_), _) => {
                // As in uhaha, a failed AUTH takes back an earlier success.
                self.authed = false;
                Err(Reply::Error(
                    "WRONGPASS invalid username-password pair or user is disabled.".into(),
                ))
            }
        }
    }

    /// `AUTH [username] password`.
    pub fn auth(&mut self, secret: Option<&str>, cmd: &[Bytes]) -> Reply {
        let (username, password) = match cmd {
            [_, password] => (None, password),
            [_, username, password] => (Some(username), password),
            _ => return Reply::error("syntax error"),
        };
        match self.authenticate(secret, username, password) {
            Ok(()) => Reply::ok(),
            Err(reply) => reply,
        }
    }

    /// `HELLO [protover [AUTH username password] [SETNAME name]]`: switches
    /// the connection's protocol and describes the server, as Redis 7 does.
    pub fn hello(&mut self, secret: Option<&str>, leads: bool, cmd: &[Bytes]) -> Reply {
        let hello = match parse_hello(&cmd[1..]) {
            Ok(hello) => hello,
            Err(reply) => return reply,
        };
        if let Some((user, password)) = &hello.auth {
            if let Err(reply) = self.authenticate(secret, Some(user), password) {
                return reply;
            }
        }
        if !self.authed {
            return Reply::Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
        }
        if let Some(name) = hello.name {
            self.client.set_name((!name.is_empty()).then_some(name));
        }
        if let Some(protocol) = hello.protocol {
            self.set_protocol(protocol);
        }
        let role = if leads { "master" } else { "replica" };
        let proto = match self.protocol {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        };
        Reply::Map(vec![
            (Reply::bulk("server"), Reply::bulk("redis")),
            (Reply::bulk("version"), Reply::bulk(REDIS_VERSION)),
            (Reply::bulk("proto"), Reply::Integer(proto)),
            (Reply::bulk("id"), Reply::Integer(self.id() as i64)),
            // Every node answers the CLUSTER commands, as a node of a
            // one-shard Redis Cluster led by the Raft leader.
            (Reply::bulk("mode"), Reply::bulk("cluster")),
            (Reply::bulk("role"), Reply::bulk(role)),
            (Reply::bulk("modules"), Reply::Array(vec![])),
        ])
    }

    /// `RESET`: back to a new connection's state, as Redis does: RESP2, no
    /// name and, with `--auth`, not authenticated.
    pub fn reset(&mut self, secret: Option<&str>) -> Reply {
        self.set_protocol(Protocol::Resp2);
        self.client.set_name(None);
        self.authed = secret.is_none();
        Reply::Status("RESET".into())
    }
}

/// `SELECT index`: a node has one database, 0.
pub fn select(index: &[u8]) -> Reply {
    match parse_i64(index) {
        Some(0) => Reply::ok(),
        Some(_) => {
            Reply::Error("ERR DB index is out of range: this service has one database, 0".into())
        }
        None => Reply::error("value is not an integer or out of range"),
    }
}

/// The lines of `CLIENT HELP`.
const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID id [id ...]]",
    "    Return information about client connections.",
    "SETINFO <LIB-NAME|LIB-VER> value",
    "    Set the client library's name or version, shown by CLIENT LIST.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "HELP",
    "    Print this help.",
];

/// `CLIENT ...`: the connection's identity, and the node's connections.
pub fn client(session: &mut Session, cmd: &[Bytes]) -> Reply {
    let sub = cmd[1].to_ascii_uppercase();
    match (sub.as_slice(), &cmd[2..]) {
        (b"SETINFO", [attr, value]) => set_info(session, attr, value),
        (b"SETNAME", [name]) => match check_name(name) {
            Ok(()) => {
                session
                    .client
                    .set_name((!name.is_empty()).then(|| name.clone()));
                Reply::ok()
            }
            Err(reply) => reply,
        },
        (b"GETNAME", []) => session.client.name().map_or(Reply::Null, Reply::Bulk),
        (b"ID", []) => Reply::Integer(session.id() as i64),
        (b"INFO", []) => {
            session.client.touch("CLIENT|INFO");
            Reply::Verbatim(session.client.describe())
        }
        (b"LIST", filter) => match list_filter(filter) {
            Ok(keep) => {
                session.client.touch("CLIENT|LIST");
                Reply::Verbatim(session.client.clients().list(keep))
            }
            Err(reply) => reply,
        },
        (b"HELP", []) => Reply::Array(
            CLIENT_HELP
                .iter()
                .map(|l| Reply::Status(l.to_string()))
                .collect(),
        ),
        _ => Reply::Error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&cmd[1])
        )),
    }
}

/// `CLIENT SETINFO LIB-NAME|LIB-VER value`, checked as Redis 7.2 does.
fn set_info(session: &Session, attr: &Bytes, value: &Bytes) -> Reply {
    let lib_ver = match attr.to_ascii_uppercase().as_slice() {
        b"LIB-NAME" => false,
        b"LIB-VER" => true,
        _ => {
            return Reply::error(format!(
                "Unrecognized option '{}'",
                String::from_utf8_lossy(attr)
            ))
        }
    };
    if !printable(value) {
        return Reply::error(format!(
            "{} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(attr)
        ));
    }
    session.client.set_lib(lib_ver, value.clone());
    Reply::ok()
}

/// Which connections `CLIENT LIST [TYPE type] [ID id ...]` shows. Every
/// connection of a node is a normal client: none is a replica or pubsub.
fn list_filter(args: &[Bytes]) -> Result<impl Fn(u64) -> bool, Reply> {
    let mut normal = true;
    let mut ids: Option<Vec<u64>> = None;
    let mut rest = args;
    while let Some((option, after)) = rest.split_first() {
        match (option.to_ascii_uppercase().as_slice(), after) {
            (b"TYPE", [kind, more @ ..]) => {
                normal = match kind.to_ascii_uppercase().as_slice() {
                    b"NORMAL" => true,
                    b"MASTER" | b"REPLICA" | b"SLAVE" | b"PUBSUB" => false,
                    _ => {
                        return Err(Reply::error(format!(
                            "Unknown client type '{}'",
                            String::from_utf8_lossy(kind)
                        )))
                    }
                };
                rest = more;
            }
            (b"ID", [_, ..]) => {
                let parsed: Option<Vec<u64>> = after
                    .iter()
                    .map(|id| parse_i64(id).and_then(|n| u64::try_from(n).ok()))
                    .collect();
                ids = Some(parsed.ok_or_else(|| Reply::error("Invalid client ID"))?);
                rest = &[];
            }
            _ => return Err(Reply::error("syntax error")),
        }
    }
    Ok(move |id| normal && ids.as_ref().is_none_or(|ids| ids.contains(&id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn error(reply: Reply) -> String {
        match reply {
            Reply::Error(e) => e,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn hello_reads_protocol_auth_and_name() {
        assert_eq!(parse_hello(&[]), Ok(Hello::default()));
        assert_eq!(
            parse_hello(&args(&["3", "auth", "default", "pw", "SETNAME", "n"])),
            Ok(Hello {
                protocol: Some(Protocol::Resp3),
                auth: Some((Bytes::from("default"), Bytes::from("pw"))),
                name: Some(Bytes::from("n")),
            })
        );
        assert_eq!(
            parse_hello(&args(&["2"])).unwrap().protocol,
            Some(Protocol::Resp2)
        );
    }

    #[test]
    fn hello_refuses_what_redis_refuses() {
        let cases: &[(&[&str], &str)] = &[
            (&["4"], "NOPROTO unsupported protocol version"),
            (&["1"], "NOPROTO unsupported protocol version"),
            (
                &["x"],
                "ERR Protocol version is not an integer or out of range",
            ),
            (
                &["3", "AUTH", "a"],
                "ERR Syntax error in HELLO option 'AUTH'",
            ),
            (
                &["3", "SETNAME"],
                "ERR Syntax error in HELLO option 'SETNAME'",
            ),
            (&["3", "BOGUS"], "ERR Syntax error in HELLO option 'BOGUS'"),
            (
                &["3", "SETNAME", "a b"],
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ),
        ];
        for (words, expected) in cases {
            assert_eq!(error(parse_hello(&args(words)).unwrap_err()), *expected);
        }
    }

    #[test]
    fn select_knows_one_database() {
        assert_eq!(select(b"0"), Reply::ok());
        assert!(error(select(b"1")).starts_with("ERR DB index is out of range"));
        assert_eq!(
            error(select(b"zero")),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn client_list_filters() {
        let all = list_filter(&[]).ok().unwrap();
        assert!(all(1) && all(99));
        let ids = list_filter(&args(&["ID", "2", "3"])).ok().unwrap();
        assert!(!ids(1) && ids(2) && ids(3));
        let pubsub = list_filter(&args(&["type", "pubsub"])).ok().unwrap();
        assert!(!pubsub(1));
        let normal = list_filter(&args(&["TYPE", "normal"])).ok().unwrap();
        assert!(normal(1));
        assert_eq!(
            error(list_filter(&args(&["TYPE", "odd"])).err().unwrap()),
            "ERR Unknown client type 'odd'"
        );
        assert_eq!(
            error(list_filter(&args(&["ID", "x"])).err().unwrap()),
            "ERR Invalid client ID"
        );
        assert_eq!(
            error(list_filter(&args(&["BOGUS"])).err().unwrap()),
            "ERR syntax error"
        );
    }

    #[test]
    fn names_are_printable_without_spaces() {
        assert!(printable(b"worker-1") && printable(b""));
        assert!(!printable(b"a b") && !printable(b"a\n") && !printable("é".as_bytes()));
    }
}
