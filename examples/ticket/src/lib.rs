//! A service for monotonically increasing tickets, replicated by Raft.
//!
//! ```text
//! cargo run --release -p ticket -- -n 1 -a 127.0.0.1:11001
//! redis-cli -p 11001 TICKET
//! curl http://127.0.0.1:11001/TICKET
//! ```

mod http;

use uhaha::clap;

/// A service for monotonically increasing tickets. Public, like its
/// generated `TicketClient`, so that programs (and the black-box tests)
/// that include this file can talk to a cluster in types.
#[uhaha::machine(name = "ticket", version = "0.1.0")]
#[derive(Default)]
pub struct Ticket {
    /// Named as in Go's ticket, whose JSON snapshots (`{"Ticket":N}`) then
    /// restore here (`--restore`); bincode ignores the name.
    #[serde(rename = "Ticket")]
    ticket: i64,
}

#[uhaha::machine]
impl Ticket {
    /// Returns a new ticket, at least one greater than the previous one.
    #[write]
    fn ticket(&mut self) -> i64 {
        self.ticket += 1;
        self.ticket
    }

    /// Returns the last ticket handed out.
    #[read]
    fn last(&self) -> i64 {
        self.ticket
    }
}

/// The ticket program's own flags, under "ticket options" in `-h`.
#[derive(clap::Args)]
struct Flags {
    /// Serve Redis clients and peers only, no HTTP front end
    #[arg(long = "no-http")]
    no_http: bool,
}

/// Runs a node of the ticket service with uhaha's command line; the HTTP
/// front end shares the port with Redis clients and peers unless
/// `--no-http`. A build made with `TICKET_BUILD_ID` set (a git commit,
/// say) shows it after the version.
pub fn serve() -> ! {
    let mut builder = uhaha::Node::<Ticket>::builder();
    if let Some(id) = option_env!("TICKET_BUILD_ID") {
        builder = builder.build_id(id);
    }
    let (builder, flags) = builder.command_line::<Flags>();
    if flags.no_http {
        builder.serve()
    } else {
        builder.service(http::Http).serve()
    }
}
