//! Joining a cluster (`-j addr`): ask a member to add this node, following
//! redirects to the leader, retrying while the cluster is unreachable or
//! electing.

use super::config::Config;
use crate::client::{Client, ClientError};
use crate::command::{ErrorCode, Reply};
use crate::tls::Tls;
use std::time::{Duration, Instant};

/// How long a node keeps trying to join before giving up.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);
/// How long it waits between tries.
const RETRY_DELAY: Duration = Duration::from_millis(250);

/// Asks the cluster at `addr` to add this node, reachable at `my_addr`, and
/// returns once the leader has added it (which, for a voter, means it has
/// caught up and been promoted). The client follows redirects to the leader
/// and waits through elections by itself.
pub async fn join(
    addr: &str,
    config: &Config,
    tls: Option<&Tls>,
    my_addr: &str,
) -> Result<(), String> {
    let suffrage = if config.nonvoter { "nonvoter" } else { "voter" };
    tracing::info!("joining existing cluster at {addr} as {suffrage}");
    let deadline = Instant::now() + JOIN_DEADLINE;
    let id = config.id.to_string();
    let add = ["RAFT", "SERVER", "ADD", &id, my_addr, suffrage];
    loop {
        let mut builder = Client::builder().tls(tls).retry_for(JOIN_DEADLINE);
        if let Some(secret) = &config.auth {
            builder = builder.auth(secret.clone());
        }
        let attempt = async { builder.connect(addr).await?.call(&add).await };
        let failure = match attempt.await {
            Ok(Reply::Error(e)) if transient(&e) => e,
            Ok(Reply::Error(e)) => return Err(format!("raft server add: {e}")),
            Ok(_) => return Ok(()),
            // A certificate the other side refuses, or one this node does
            // not trust, will not mend by itself; nor will a wrong secret.
            Err(ClientError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(format!("could not join the cluster at {addr}: TLS: {e}"));
            }
            Err(e @ ClientError::Reply(_)) => {
                return Err(format!("could not join the cluster at {addr}: {e}"))
            }
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            return Err(format!("could not join the cluster at {addr}: {failure}"));
        }
        tracing::debug!("join attempt at {addr} failed: {failure}; retrying");
        tokio::time::sleep(RETRY_DELAY).await;
    }
}

/// Whether an error reply to `RAFT SERVER ADD` may go away by itself.
fn transient(error: &str) -> bool {
    matches!(
        ErrorCode::of(error),
        Some(ErrorCode::ClusterDown | ErrorCode::Moved | ErrorCode::Try)
    )
}
