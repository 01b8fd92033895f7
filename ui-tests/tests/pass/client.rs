//! The typed client of a machine: argument and reply types of the user's
//! own (with `ToArg` and `FromReply`), every arity, intermediates, an
//! `impl Trait` reply, and the client's own methods.

use std::collections::BTreeMap;
use uhaha::prelude::*;
use uhaha::{ArgError, Client, ClientError, FromArg, FromReply, FromReplyError, ToArg};

/// A temperature, sent as its number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Celsius(f64);

impl FromArg for Celsius {
    fn from_arg(arg: &[u8]) -> Result<Self, ArgError> {
        f64::from_arg(arg).map(Celsius)
    }
}

impl ToArg for Celsius {
    fn into_arg(self) -> Bytes {
        self.0.into_arg()
    }
}

impl IntoReply for Celsius {
    fn into_reply(self) -> Reply {
        self.0.into_reply()
    }
}

impl FromReply for Celsius {
    type Output = Celsius;

    fn from_reply(reply: Reply) -> Result<Celsius, FromReplyError> {
        f64::from_reply(reply).map(Celsius)
    }
}

/// Temperatures by room.
#[uhaha::machine]
#[derive(Default)]
pub struct Rooms {
    rooms: BTreeMap<String, f64>,
}

#[uhaha::machine]
impl Rooms {
    /// Sets rooms to a temperature.
    #[write]
    fn set(&mut self, target: Celsius, room: String, more: Vec<String>) -> usize {
        for room in std::iter::once(room).chain(more) {
            self.rooms.insert(room, target.0);
        }
        self.rooms.len()
    }

    /// A room's temperature.
    #[read]
    fn get(&self, room: String, default: Option<Celsius>) -> Option<Celsius> {
        self.rooms.get(&room).copied().map(Celsius).or(default)
    }

    /// Every room.
    #[read]
    fn all(&self) -> BTreeMap<&str, f64> {
        self.rooms.iter().map(|(k, v)| (k.as_str(), *v)).collect()
    }

    /// How many rooms, opaquely.
    #[read]
    fn size(&self) -> impl IntoReply {
        self.rooms.len()
    }

    /// Warms a room by a degree, on the node that received the command.
    #[intermediate]
    async fn warm(room: String) -> Intermediate {
        Intermediate::command(["SET".to_string(), "21".to_string(), room])
    }

    /// Fails.
    #[write]
    fn fail(&mut self) -> Result<(), String> {
        Err("no".into())
    }
}

/// Every client method, with the types it takes and returns.
#[allow(dead_code)]
async fn use_the_client(addr: &str) -> Result<(), ClientError> {
    let mut rooms = RoomsClient::connect(addr).await?;
    let count: usize = rooms.set(Celsius(20.5), "hall", ["kitchen", "attic"]).await?;
    let _: usize = rooms.set(Celsius(19.0), "hall".to_string(), Vec::<String>::new()).await?;
    let hall: Option<Celsius> = rooms.get("hall", None).await?;
    let _: Option<Celsius> = rooms.get("cellar", Celsius(12.0)).await?;
    let _: Option<Celsius> = rooms.get("cellar", Some(Celsius(12.0))).await?;
    let all: BTreeMap<String, f64> = rooms.all().await?;
    let size: Reply = rooms.size().await?;
    let warmed: Reply = rooms.warm("hall").await?;
    let failed: Result<(), ClientError> = rooms.fail().await;
    let raw: Reply = rooms.call(&["GET", "hall"]).await?;
    let inner: &mut Client = rooms.client();
    let _ = inner.call(&["PING"]).await?;
    let client: Client = rooms.into_client();
    let _again = RoomsClient::from(client);
    let _ = (count, hall, all, size, warmed, failed, raw);
    Ok(())
}

fn main() {
    if std::env::args().count() > 100 {
        Rooms::serve();
    }
}
