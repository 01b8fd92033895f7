//! Joining a cluster (`-j addr`): ask a member to add this node, following
//! redirects to the leader, retrying while the cluster is unreachable or
//! electing.

use crate::client::{CallError, NodeClient};
use crate::node::Config;
use crate::tls::Tls;
use std::time::{Duration, Instant};

/// How long a node keeps trying to join before giving up.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);
/// How long it waits between tries.
const RETRY_DELAY: Duration = Duration::from_millis(250);

/// Asks the cluster at `addr` to add this node, reachable at `my_addr`, and
/// returns once the leader has added it (which, for a voter, means it has
/// caught up and been promoted).
pub async fn join(
    addr: &str,
    config: &Config,
    tls: Option<&Tls>,
    my_addr: &str,
) -> Result<(), String> {
    let (id, auth) = (config.id, config.auth.as_deref());
    let suffrage = if config.nonvoter { "nonvoter" } else { "voter" };
    tracing::info!("joining existing cluster at {addr} as {suffrage}");
    let deadline = Instant::now() + JOIN_DEADLINE;
    let mut target = addr.to_string();
    loop {
        let attempt = async {
            let mut client = NodeClient::connect(&target, auth, tls).await?;
            client
                .call(&["RAFT", "SERVER", "ADD", &id.to_string(), my_addr, suffrage])
                .await
        };
        match attempt.await {
            Ok(_) => return Ok(()),
            Err(CallError::Reply(e)) if e.starts_with("MOVED ") || e.starts_with("TRY ") => {
                let leader = e.rsplit(' ').next().unwrap_or_default().to_string();
                tracing::info!("joining through the leader at {leader}");
                target = leader;
            }
            Err(CallError::Reply(e)) if !e.starts_with("CLUSTERDOWN") => {
                return Err(format!("raft server add: {e}"));
            }
            // A certificate the other side refuses, or one this node does
            // not trust, will not mend by itself.
            Err(CallError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(format!("could not join the cluster at {target}: TLS: {e}"));
            }
            Err(e) => {
                if Instant::now() > deadline {
                    return Err(format!("could not join the cluster at {addr}: {e}"));
                }
                tracing::debug!("join attempt at {target} failed: {e}; retrying");
                target = addr.to_string();
            }
        }
        tokio::time::sleep(RETRY_DELAY).await;
    }
}
