//! The typed clients that `#[uhaha::machine]` generates, against real
//! nodes: the ticket example's `TicketClient` through a leader's `kill -9`,
//! and the typed test service's client with every kind of argument and
//! reply.

use std::collections::BTreeMap;
use std::time::Instant;
use uhaha::{ClientError, Reply};
use uhaha_tests::{data_dir, dir_arg, Cluster, NodeProcess, PATIENCE};

#[allow(dead_code)]
#[path = "../src/bin/typed.rs"]
mod typed;

use ticket::TicketClient;
use typed::TypedClient;

const TICKET: &str = env!("CARGO_BIN_EXE_ticket-node");
const TYPED: &str = env!("CARGO_BIN_EXE_typed");

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// Takes tickets until `n` of them came in a row without an error, within
/// the harness's patience; returns the last one and how many calls failed.
async fn tickets(client: &mut TicketClient, mut last: i64, n: usize) -> (i64, usize) {
    let deadline = Instant::now() + PATIENCE;
    let (mut in_a_row, mut failed) = (0, 0);
    while in_a_row < n {
        match client.ticket().await {
            Ok(ticket) => {
                assert!(ticket > last, "ticket {ticket} after {last}");
                last = ticket;
                in_a_row += 1;
            }
            Err(e) => {
                eprintln!("a ticket failed: {e}");
                assert!(Instant::now() < deadline, "no ticket in time: {e}");
                failed += 1;
                in_a_row = 0;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    (last, failed)
}

#[test]
fn the_ticket_client_follows_the_leader_through_a_kill() {
    let mut cluster = Cluster::start(TICKET, 3, &[]);
    let leader = cluster.leader();
    let follower = (leader + 1) % 3;
    block_on(async {
        // Connected to a follower: the client follows the redirect.
        let mut client = TicketClient::connect(&cluster.addrs[follower])
            .await
            .expect("connect");
        let (last, failed) = tickets(&mut client, 0, 20).await;
        assert_eq!(failed, 0);
        assert_eq!(client.last().await.unwrap(), last);

        cluster.kill(leader);
        // The same client goes on with the new leader by itself (it sees
        // the connection closed before it sends, and waits out the
        // election); every ticket is still greater than every one before.
        let (after, failed) = tickets(&mut client, last, 20).await;
        assert_eq!(failed, 0, "a call failed during the failover");
        assert!(after > last);
        assert_eq!(client.last().await.unwrap(), after);
        let raw = client.call(&["TICKET"]).await.unwrap();
        assert_eq!(raw, Reply::Integer(after + 1));
        assert!(client.client().call(&["LAST"]).await.is_ok());
    });
}

#[test]
fn typed_clients_send_and_read_every_kind_of_value() {
    let dir = data_dir();
    let node = NodeProcess::start(TYPED, &["-d", &dir_arg(dir.path())]);
    block_on(async {
        let mut client = TypedClient::connect(&node.addr.to_string())
            .await
            .expect("connect");
        client.set("a", b"\x00\xff".to_vec()).await.unwrap();
        client.set("b", "text").await.unwrap();
        assert_eq!(client.get("a").await.unwrap(), Some(vec![0, 255]));
        assert_eq!(client.get("nothing").await.unwrap(), None);
        assert_eq!(client.keys().await.unwrap(), ["a", "b"]);
        assert_eq!(client.incrby("c", 5).await.unwrap(), 5);
        assert_eq!(client.incrby("c", -7).await.unwrap(), -2);
        client.incrby("max", i64::MAX).await.unwrap();
        match client.incrby("max", 1).await {
            Err(ClientError::Reply(e)) => {
                assert_eq!(e.code(), "ERR");
                assert_eq!(e.message(), "increment or decrement would overflow");
            }
            other => panic!("not the command's error: {other:?}"),
        }
        assert_eq!(
            client.counters().await.unwrap(),
            BTreeMap::from([("c".to_string(), -2), ("max".to_string(), i64::MAX)])
        );
        assert_eq!(client.ratio(1.0, 4.0).await.unwrap(), 0.25);
        assert_eq!(client.ratio(1.0, 0.0).await.unwrap(), f64::INFINITY);
        assert!(client.flag(true, None).await.unwrap());
        assert!(!client.flag(true, true).await.unwrap());
        assert_eq!(client.del("a", ["b", "nothing"]).await.unwrap(), 2);
        assert_eq!(client.del("a", Vec::<String>::new()).await.unwrap(), 0);
        let stamp = client.stamp().await.unwrap();
        assert!(stamp > 0);
        let roll = client.roll().await.unwrap();
        let rolls = client.rolls().await.unwrap();
        assert_eq!(rolls[0].split(':').nth(1), Some(roll.to_string().as_str()));
    });
}
