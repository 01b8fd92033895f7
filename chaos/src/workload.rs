//! The clients: concurrent loops that send the workload's commands to
//! random nodes, follow redirects, and record every operation with its
//! call and return times and whether it took effect.
//!
//! An operation has one attempt. A redirect (`MOVED`, `ASK`, `TRY`) means
//! the node did not run it, so it is followed (up to three hops); a refused
//! connection means it was never sent (failed); a timeout, a broken
//! connection or any other error reply leaves its outcome unknown.

use crate::history::{Kind, Op, Outcome};
use crate::resp::{CallError, Conn, Reply};
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// What the clients do.
#[derive(Debug, Clone)]
pub enum Workload {
    /// Unique writes and reads of a few keys; checked for linearizability.
    Register {
        set: String,
        get: String,
        keys: usize,
    },
    /// Increments of one counter; every ticket unique and increasing.
    Counter { incr: String },
}

/// How hard the clients push.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub clients: usize,
    /// Operations per second over all clients.
    pub rate: u32,
    /// How long an operation may take before its outcome is unknown.
    pub timeout: Duration,
}

/// The client side of a run: the nodes' addresses and the run's clock.
#[derive(Clone)]
pub struct Clients {
    pub addrs: Vec<String>,
    pub workload: Workload,
    pub start: Instant,
}

impl Clients {
    /// Runs `load.clients` clients until `until`, and returns what they saw.
    pub async fn run(&self, load: Load, until: Instant, seed: u64) -> Vec<Op> {
        let mut set = tokio::task::JoinSet::new();
        for client in 0..load.clients {
            let me = self.clone();
            set.spawn(async move { me.client(client as u32, load, until, seed).await });
        }
        let mut ops = Vec::new();
        while let Some(done) = set.join_next().await {
            ops.extend(done.expect("a client panicked"));
        }
        ops.sort_by_key(|op| op.call);
        ops
    }

    async fn client(&self, client: u32, load: Load, until: Instant, seed: u64) -> Vec<Op> {
        let mut rng = Pcg64::seed_from_u64(
            seed ^ (u64::from(client) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mut conns = HashMap::new();
        let pause = Duration::from_secs_f64(load.clients as f64 / f64::from(load.rate.max(1)));
        let mut ops = Vec::new();
        let mut next = Instant::now();
        let mut seq = 0u64;
        while Instant::now() < until {
            let node = self.addrs[(rng.next_u64() % self.addrs.len() as u64) as usize].clone();
            let (args, kind) = match &self.workload {
                Workload::Register { set, get, keys } => {
                    let key = format!("chaos:{}", rng.next_u64() % *keys as u64);
                    if rng.next_u64() % 2 == 0 {
                        seq += 1;
                        let value = format!("c{client}-{seq}");
                        (vec![set.clone(), key, value.clone()], Kind::Write { value })
                    } else {
                        (vec![get.clone(), key], Kind::Read { value: None })
                    }
                }
                Workload::Counter { incr } => (vec![incr.clone()], Kind::Incr { value: None }),
            };
            ops.push(
                self.perform(&mut conns, client, node, args, kind, load.timeout)
                    .await,
            );
            // Evenly paced, with a little jitter so that clients drift apart.
            next += pause + Duration::from_micros(rng.next_u64() % 1000);
            tokio::time::sleep_until(next.max(Instant::now())).await;
        }
        ops
    }

    /// Sends one operation and records it.
    pub async fn perform(
        &self,
        conns: &mut HashMap<String, Conn>,
        client: u32,
        mut node: String,
        args: Vec<String>,
        mut kind: Kind,
        timeout: Duration,
    ) -> Op {
        let key = match &kind {
            Kind::Incr { .. } => String::new(),
            _ => args[1].clone(),
        };
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let call = self.now();
        let mut hops = 0;
        let (outcome, error) = loop {
            if !conns.contains_key(&node) {
                match Conn::connect(&node, timeout).await {
                    Ok(conn) => conns.insert(node.clone(), conn),
                    Err(e) => break (Outcome::Fail, Some(e.to_string())),
                };
            }
            let conn = conns.get_mut(&node).expect("connected above");
            match conn.call(&argv, timeout).await {
                Ok(Reply::Error(e)) => match redirect(&e) {
                    Some(to) if hops < 3 => {
                        hops += 1;
                        node = to;
                    }
                    Some(_) => break (Outcome::Fail, Some(e)),
                    None => break (Outcome::Unknown, Some(e)),
                },
                Ok(reply) => match read_value(&mut kind, reply) {
                    Ok(()) => break (Outcome::Ok, None),
                    Err(e) => break (Outcome::Unknown, Some(e)),
                },
                Err(e) => {
                    conns.remove(&node);
                    let outcome = match e {
                        CallError::Connect(_) => Outcome::Fail,
                        CallError::Broken(_) | CallError::Timeout => Outcome::Unknown,
                    };
                    break (outcome, Some(e.to_string()));
                }
            }
        };
        Op {
            client,
            key,
            kind,
            call,
            ret: (outcome != Outcome::Unknown).then(|| self.now()),
            outcome,
            node,
            error,
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// Where a redirect error points.
fn redirect(error: &str) -> Option<String> {
    let mut words = error.split_whitespace();
    match words.next()? {
        "MOVED" | "ASK" | "TRY" => words.last().map(str::to_string),
        _ => None,
    }
}

/// Fills in what a successful reply returned.
fn read_value(kind: &mut Kind, reply: Reply) -> Result<(), String> {
    match (kind, reply) {
        (Kind::Write { .. }, _) => Ok(()),
        (Kind::Read { value }, Reply::Bulk(v)) => {
            *value = v.map(|b| String::from_utf8_lossy(&b).into_owned());
            Ok(())
        }
        (Kind::Incr { value }, Reply::Int(n)) => {
            *value = Some(n);
            Ok(())
        }
        (_, other) => Err(format!("unexpected reply {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_name_their_target() {
        assert_eq!(
            redirect("MOVED 0 10.1.2.3:7481").as_deref(),
            Some("10.1.2.3:7481")
        );
        assert_eq!(redirect("TRY 127.0.0.1:5").as_deref(), Some("127.0.0.1:5"));
        assert_eq!(redirect("CLUSTERDOWN no leader"), None);
        assert_eq!(redirect("ERR whatever"), None);
    }
}
