//! The cluster commands: `RAFT ...` (membership and status, as uhaha's) and
//! `CLUSTER ...` (a Redis Cluster emulation with one shard whose master is
//! the leader, so that cluster-aware clients follow `MOVED` redirects).

use crate::command::{ErrorCode, Reply};
use crate::glob;
use crate::raft::snapshot_file::{Listed, SnapshotDir};
use crate::raft::{Cluster, MembershipError, NodeId};
use bytes::Bytes;

/// The lines of `RAFT HELP`.
const RAFT_HELP: &[&str] = &[
    "RAFT LEADER",
    "RAFT INFO [pattern ...]",
    "RAFT SERVER LIST",
    "RAFT SERVER ADD id address [NONVOTER]",
    "RAFT SERVER REMOVE id",
    "RAFT SERVER PROMOTE id",
    "RAFT SERVER DEMOTE id",
    "RAFT TRANSFER [id]",
    "RAFT SNAPSHOT NOW",
    "RAFT SNAPSHOT LIST",
    "RAFT SNAPSHOT FILE id",
    "RAFT SNAPSHOT READ id [RANGE offset count]",
];

/// The lines of `CLUSTER HELP`.
const CLUSTER_HELP: &[&str] = &[
    "CLUSTER INFO",
    "CLUSTER NODES",
    "CLUSTER SLOTS",
    "CLUSTER SHARDS",
    "CLUSTER MYID",
];

fn status_lines(lines: &[&str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Status(l.to_string())).collect())
}

fn upper(arg: Option<&Bytes>) -> String {
    arg.map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
        .unwrap_or_default()
}

fn unknown_raft(words: &[&Bytes]) -> Reply {
    let words: Vec<String> = words
        .iter()
        .map(|w| String::from_utf8_lossy(w).to_lowercase())
        .collect();
    Reply::Error(format!(
        "ERR unknown raft command '{}', try RAFT HELP",
        words.join(" ")
    ))
}

fn raft_arity() -> Reply {
    Reply::Error("ERR wrong number of arguments, try RAFT HELP".into())
}

fn parse_id(arg: &Bytes) -> Result<NodeId, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Reply::error("node ids are numbers"))
}

fn membership_reply(result: Result<(), MembershipError>) -> Reply {
    reply_or_refusal(result.map(|()| Reply::Integer(1)))
}

/// The reply, or the one for a cluster change that did not happen.
fn reply_or_refusal(result: Result<Reply, MembershipError>) -> Reply {
    match result {
        Ok(reply) => reply,
        Err(MembershipError::Redirect(reply)) => reply,
        Err(MembershipError::Refused(why)) => Reply::error(why),
    }
}

fn parse_u64(arg: &Bytes) -> Option<u64> {
    std::str::from_utf8(arg).ok()?.parse().ok()
}

/// A snapshot in `RAFT SNAPSHOT NOW` and `LIST`.
fn snapshot_info(s: &Listed) -> Reply {
    Reply::Map(vec![
        (Reply::bulk("id"), Reply::bulk(s.id.clone())),
        (Reply::bulk("size"), Reply::Integer(s.size as i64)),
        (Reply::bulk("timestamp"), Reply::Integer(s.timestamp as i64)),
    ])
}

/// A node's id as Redis Cluster shows it: 40 hex digits.
fn cluster_id(id: NodeId) -> String {
    format!("{id:040x}")
}

/// Host and port of an address, split at its last colon.
pub fn host_port(addr: &str) -> (&str, i64) {
    match addr.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().unwrap_or(0)),
        None => (addr, 0),
    }
}

/// What the `RAFT` and `CLUSTER` commands see of the node: its view of the
/// cluster and its snapshot files, and nothing else.
pub struct ClusterCommands<'a> {
    pub cluster: &'a Cluster,
    pub snapshots: &'a SnapshotDir,
}

impl ClusterCommands<'_> {
    /// `RAFT ...`.
    pub async fn raft_command(&self, cmd: &[Bytes]) -> Reply {
        if cmd.len() < 2 {
            return raft_arity();
        }
        let sub = upper(cmd.get(1));
        match (sub.as_str(), cmd.len()) {
            ("HELP", 2) => status_lines(RAFT_HELP),
            ("LEADER", 2) => Reply::bulk(self.cluster.leader_addr().unwrap_or_default()),
            ("INFO", _) => self.raft_info(&cmd[2..]),
            ("SERVER", n) if n >= 3 => self.raft_server(cmd).await,
            ("SNAPSHOT", n) if n >= 3 => self.raft_snapshot(cmd).await,
            ("TRANSFER", 2 | 3) => self.raft_transfer(cmd.get(2)).await,
            ("HELP" | "LEADER" | "SERVER" | "SNAPSHOT" | "TRANSFER", _) => raft_arity(),
            _ => unknown_raft(&[&cmd[0], &cmd[1]]),
        }
    }

    async fn raft_server(&self, cmd: &[Bytes]) -> Reply {
        let sub = upper(cmd.get(2));
        let id = || parse_id(&cmd[3]);
        match (sub.as_str(), cmd.len()) {
            ("LIST", 3) => self.server_list(),
            ("ADD", n) if n >= 5 => {
                let id = match id() {
                    Ok(id) => id,
                    Err(reply) => return reply,
                };
                let mut voter = true;
                for option in &cmd[5..] {
                    match upper(Some(option)).as_str() {
                        "VOTER" => voter = true,
                        "NONVOTER" | "NON-VOTER" => voter = false,
                        _ => return Reply::error("syntax error"),
                    }
                }
                let addr = String::from_utf8_lossy(&cmd[4]).into_owned();
                membership_reply(self.cluster.add(id, addr, voter).await)
            }
            ("REMOVE", 4) => match id() {
                Ok(id) => membership_reply(self.cluster.remove(id).await),
                Err(reply) => reply,
            },
            ("PROMOTE", 4) => match id() {
                Ok(id) => membership_reply(self.cluster.set_voter(id, true).await),
                Err(reply) => reply,
            },
            ("DEMOTE", 4) => match id() {
                Ok(id) => membership_reply(self.cluster.set_voter(id, false).await),
                Err(reply) => reply,
            },
            ("LIST" | "ADD" | "REMOVE" | "PROMOTE" | "DEMOTE", _) => raft_arity(),
            _ => unknown_raft(&[&cmd[0], &cmd[1], &cmd[2]]),
        }
    }

    /// `RAFT TRANSFER [id]`: the new leader's address once it leads.
    async fn raft_transfer(&self, id: Option<&Bytes>) -> Reply {
        let to = match id.map(parse_id).transpose() {
            Ok(to) => to,
            Err(reply) => return reply,
        };
        let moved = self.cluster.transfer(to).await;
        reply_or_refusal(
            moved.map(|()| Reply::bulk(self.cluster.leader_addr().unwrap_or_default())),
        )
    }

    async fn raft_snapshot(&self, cmd: &[Bytes]) -> Reply {
        let sub = upper(cmd.get(2));
        let id = cmd
            .get(3)
            .map(|id| String::from_utf8_lossy(id).into_owned())
            .unwrap_or_default();
        match (sub.as_str(), cmd.len()) {
            ("NOW", 3) => match self.cluster.snapshot_now().await {
                Ok(()) => self
                    .snapshots
                    .list()
                    .first()
                    .map_or(Reply::Null, snapshot_info),
                Err(e) => Reply::error(e),
            },
            ("LIST", 3) => Reply::Array(self.snapshots.list().iter().map(snapshot_info).collect()),
            ("FILE", 4) => match self.snapshots.path(&id) {
                Some(path) if path.exists() => Reply::bulk(path.to_string_lossy().into_owned()),
                Some(_) => Reply::error(format!("no snapshot {id}")),
                None => Reply::error("invalid snapshot id"),
            },
            ("READ", 4 | 7) => {
                let range = match cmd.get(4..) {
                    Some([word, offset, count]) if upper(Some(word)) == "RANGE" => {
                        match (parse_u64(offset), parse_u64(count)) {
                            (Some(offset), Some(count)) if count > 0 => Some((offset, count)),
                            _ => return Reply::error("syntax error"),
                        }
                    }
                    Some([]) => None,
                    _ => return Reply::error("syntax error"),
                };
                match self.snapshots.read(&id) {
                    Ok(bytes) => match range {
                        None => Reply::bulk(bytes),
                        Some((offset, _)) if offset >= bytes.len() as u64 => Reply::Null,
                        Some((offset, count)) => {
                            let end = offset.saturating_add(count).min(bytes.len() as u64);
                            Reply::bulk(bytes[offset as usize..end as usize].to_vec())
                        }
                    },
                    Err(e) => Reply::error(e),
                }
            }
            ("NOW" | "LIST" | "FILE" | "READ", _) => raft_arity(),
            _ => unknown_raft(&[&cmd[0], &cmd[1], &cmd[2]]),
        }
    }

    fn server_list(&self) -> Reply {
        let status = self.cluster.status();
        let rows = status
            .members
            .iter()
            .map(|m| {
                Reply::Array(vec![
                    Reply::bulk("id"),
                    Reply::bulk(m.id.to_string()),
                    Reply::bulk("address"),
                    Reply::bulk(m.addr.clone()),
                    Reply::bulk("leader"),
                    Reply::bulk((status.leader == Some(m.id)).to_string()),
                    Reply::bulk("voter"),
                    Reply::bulk(m.voter.to_string()),
                ])
            })
            .collect();
        Reply::Array(rows)
    }

    fn raft_info(&self, patterns: &[Bytes]) -> Reply {
        let pairs = self.cluster.status().info();
        let keep = |key: &str| {
            patterns.is_empty() || patterns.iter().any(|p| glob::matches(p, key.as_bytes()))
        };
        Reply::Map(
            pairs
                .into_iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (Reply::bulk(k), Reply::bulk(v)))
                .collect(),
        )
    }

    /// `CLUSTER ...`.
    pub fn cluster_command(&self, cmd: &[Bytes]) -> Reply {
        let sub = upper(cmd.get(1));
        let status = self.cluster.status();
        let leader = status
            .leader
            .and_then(|id| status.members.iter().find(|m| m.id == id));
        match (sub.as_str(), cmd.len()) {
            ("HELP", 2) => status_lines(CLUSTER_HELP),
            ("MYID", 2) => Reply::bulk(cluster_id(status.id)),
            ("INFO", 2) => {
                let n = status.members.len();
                let state = if leader.is_some() { "ok" } else { "fail" };
                Reply::Verbatim(format!(
                    "cluster_state:{state}\ncluster_slots_assigned:16384\ncluster_slots_ok:16384\ncluster_slots_pfail:0\ncluster_slots_fail:0\ncluster_known_nodes:{n}\ncluster_size:1\ncluster_current_epoch:{e}\ncluster_my_epoch:{e}\ncluster_stats_messages_sent:0\ncluster_stats_messages_received:0\n",
                    e = status.term,
                ))
            }
            ("SLOTS" | "NODES" | "SHARDS", 2) if leader.is_none() => {
                ErrorCode::ClusterDown.reply("The cluster is down")
            }
            ("SLOTS", 2) => {
                let leader = leader.expect("checked above");
                let (host, port) = host_port(&leader.addr);
                Reply::Array(vec![Reply::Array(vec![
                    Reply::Integer(0),
                    Reply::Integer(16383),
                    Reply::Array(vec![
                        Reply::bulk(host.to_string()),
                        Reply::Integer(port),
                        Reply::bulk(cluster_id(leader.id)),
                    ]),
                ])])
            }
            ("NODES", 2) => {
                let leader_id = status.leader.expect("checked above");
                let mut text = String::new();
                for m in &status.members {
                    let (_, port) = host_port(&m.addr);
                    let myself = if m.id == status.id { "myself," } else { "" };
                    let (role, master) = if m.id == leader_id {
                        ("master", "-".to_string())
                    } else {
                        ("slave", cluster_id(leader_id))
                    };
                    text.push_str(&format!(
                        "{} {}@{port} {myself}{role} {master} 0 0 {} connected{}\n",
                        cluster_id(m.id),
                        m.addr,
                        status.term,
                        if m.id == leader_id { " 0-16383" } else { "" },
                    ));
                }
                Reply::Verbatim(text)
            }
            ("SHARDS", 2) => {
                let nodes = status
                    .members
                    .iter()
                    .map(|m| {
                        let (host, port) = host_port(&m.addr);
                        let role = if Some(m.id) == status.leader {
                            "master"
                        } else {
                            "replica"
                        };
                        Reply::Map(vec![
                            (Reply::bulk("id"), Reply::bulk(cluster_id(m.id))),
                            (Reply::bulk("port"), Reply::Integer(port)),
                            (Reply::bulk("ip"), Reply::bulk(host.to_string())),
                            (Reply::bulk("endpoint"), Reply::bulk(host.to_string())),
                            (Reply::bulk("role"), Reply::bulk(role)),
                            (
                                Reply::bulk("replication-offset"),
                                Reply::Integer(status.applied as i64),
                            ),
                            (Reply::bulk("health"), Reply::bulk("online")),
                        ])
                    })
                    .collect();
                Reply::Array(vec![Reply::Map(vec![
                    (
                        Reply::bulk("slots"),
                        Reply::Array(vec![Reply::Integer(0), Reply::Integer(16383)]),
                    ),
                    (Reply::bulk("nodes"), Reply::Array(nodes)),
                ])])
            }
            _ => Reply::Error(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}', try CLUSTER HELP",
                String::from_utf8_lossy(cmd.get(1).map_or(&b""[..], |b| &b[..]))
            )),
        }
    }
}
