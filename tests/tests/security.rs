//! TLS and auth on every connection, and strangers on the port: certificates
//! are made here by rcgen (a private CA and node certificates).

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use uhaha_tests::{data_dir, dir_arg, error_text, raw, NodeProcess, PATIENCE};

const TICKET: &str = env!("CARGO_BIN_EXE_ticket-node");

/// A CA and one node certificate it signed, for 127.0.0.1 and localhost,
/// written to files.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let dir = data_dir();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("node.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("node.key"), key.serialize_pem()).unwrap();
        Pki {
            ca_pem: ca.pem(),
            dir,
        }
    }

    fn path(&self, name: &str) -> String {
        dir_arg(&self.dir.path().join(name))
    }

    /// The node flags that put a node under this PKI.
    fn flags(&self) -> Vec<String> {
        [
            "--tls-cert",
            &self.path("node.pem"),
            "--tls-key",
            &self.path("node.key"),
            "--tls-ca",
            &self.path("ca.pem"),
        ]
        .map(String::from)
        .to_vec()
    }

    /// A TLS client of the `redis` crate that trusts this PKI's CA.
    fn client(&self, addr: &str, password: Option<&str>) -> redis::RedisResult<redis::Connection> {
        let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
        let certs = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(self.ca_pem.clone().into_bytes()),
        };
        redis::Client::build_with_tls(format!("rediss://{auth}{addr}/"), certs)?
            .get_connection_with_timeout(Duration::from_secs(10))
    }
}

fn start(
    pki: &Pki,
    dir: &tempfile::TempDir,
    id: u32,
    join: Option<&str>,
    extra: &[&str],
) -> NodeProcess {
    let id = id.to_string();
    let dir = dir_arg(dir.path());
    let mut args: Vec<String> = vec!["-n".into(), id, "-d".into(), dir];
    if let Some(join) = join {
        args.extend(["-j".to_string(), join.to_string()]);
    }
    args.extend(pki.flags());
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    NodeProcess::start(TICKET, &args)
}

/// Three nodes under `pki` with the secret `s3cret`: the first, which
/// leads, and the two that joined it.
fn tls_cluster_with_auth(pki: &Pki, dir: &tempfile::TempDir) -> (NodeProcess, Vec<NodeProcess>) {
    let first = start(pki, dir, 1, None, &["--auth", "s3cret"]);
    let leader = first.addr.to_string();
    let others = (2..=3)
        .map(|id| start(pki, dir, id, Some(&leader), &["--auth", "s3cret"]))
        .collect();
    (first, others)
}

#[test]
fn a_tls_cluster_with_auth_forms_and_serves_only_tls_clients_that_authenticate() {
    let pki = Pki::new();
    let dir = data_dir();
    let (first, others) = tls_cluster_with_auth(&pki, &dir);
    let leader = first.addr.to_string();

    let mut con = pki.client(&leader, Some("s3cret")).unwrap();
    assert_eq!(redis::cmd("TICKET").query::<i64>(&mut con).unwrap(), 1);
    let list: Vec<redis::Value> = redis::cmd("RAFT")
        .arg("SERVER")
        .arg("LIST")
        .query(&mut con)
        .unwrap();
    assert_eq!(list.len(), 3, "three members joined over TLS");
    let mut follower = pki
        .client(&others[1].addr.to_string(), Some("s3cret"))
        .unwrap();
    let moved = error_text(redis::cmd("TICKET").query::<i64>(&mut follower));
    assert_eq!(moved, format!("MOVED 0 {leader}"));

    // Plain text is refused with a clear reply.
    let (out, closed) = raw(first.addr, b"PING\r\n", Duration::from_secs(5));
    assert_eq!(
        String::from_utf8_lossy(&out),
        "-ERR this node requires TLS\r\n"
    );
    assert!(closed);
    // A wrong password, or none.
    let wrong = error_text(pki.client(&leader, Some("nope")));
    assert!(
        wrong.contains("WRONGPASS") || wrong.contains("uthentication"),
        "{wrong}"
    );
    let mut anonymous = pki.client(&leader, None).unwrap();
    for cmd in ["PING", "TICKET", "RAFT"] {
        assert!(
            error_text(redis::cmd(cmd).query::<redis::Value>(&mut anonymous)).starts_with("NOAUTH"),
            "{cmd}"
        );
    }
    let hello: redis::RedisResult<redis::Value> = redis::cmd("HELLO")
        .arg("3")
        .arg("AUTH")
        .arg("default")
        .arg("s3cret")
        .query(&mut anonymous);
    assert!(hello.is_ok(), "HELLO with AUTH authenticates: {hello:?}");
    assert_eq!(
        redis::cmd("TICKET").query::<i64>(&mut anonymous).unwrap(),
        2
    );
}

#[test]
fn a_node_without_the_secret_or_with_an_untrusted_certificate_cannot_join() {
    let pki = Pki::new();
    let dir = data_dir();
    let first = start(&pki, &dir, 1, None, &["--auth", "s3cret"]);
    let leader = first.addr.to_string();

    // Joins node `id` with `secret` under `pki`; returns its stderr once it
    // has given up.
    let failed_join = |id: &str, secret: &str, pki: &Pki| -> String {
        let dir = dir_arg(dir.path());
        let mut args: Vec<String> = ["-n", id, "-d", &dir, "-j", &leader, "--auth", secret]
            .map(String::from)
            .to_vec();
        args.extend(pki.flags());
        let out = std::process::Command::new(TICKET)
            .args(["-a", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "node {id} must not start");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let wrong_secret = failed_join("2", "wrong", &pki);
    assert!(wrong_secret.contains("WRONGPASS"), "{wrong_secret}");
    let untrusted = failed_join("3", "s3cret", &Pki::new());
    assert!(untrusted.contains("TLS"), "{untrusted}");

    let mut con = pki.client(&leader, Some("s3cret")).unwrap();
    let list: Vec<redis::Value> = redis::cmd("RAFT")
        .arg("SERVER")
        .arg("LIST")
        .query(&mut con)
        .unwrap();
    assert_eq!(list.len(), 1, "neither node got in");
}

#[test]
fn a_raft_peer_without_the_secret_is_refused() {
    let dir = data_dir();
    let node = NodeProcess::start(TICKET, &["-d", &dir_arg(dir.path()), "--auth", "s3cret"]);
    let mut stream = TcpStream::connect(node.addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut hello = b"\0uhaha-raft-1\n".to_vec();
    hello.extend_from_slice(&5u32.to_le_bytes());
    hello.extend_from_slice(b"wrong");
    hello.extend_from_slice(&[0, 0, 0, 1, 0]);
    stream.write_all(&hello).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        stream.read(&mut buf).unwrap_or(0),
        0,
        "the connection is closed without an answer"
    );
    let mut con = redis::Client::open(format!("redis://:s3cret@{}/", node.addr))
        .unwrap()
        .get_connection()
        .unwrap();
    assert_eq!(redis::cmd("TICKET").query::<i64>(&mut con).unwrap(), 1);
}

#[test]
fn silent_and_stalled_connections_are_closed_while_others_are_served() {
    let pki = Pki::new();
    let dir = data_dir();
    let node = start(&pki, &dir, 1, None, &["--handshake-timeout", "2"]);
    let addr = node.addr;
    let mut silent: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    // A TLS client that stalls in the middle of its handshake.
    let mut stalled = TcpStream::connect(addr).unwrap();
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x40, 0x01])
        .unwrap();
    silent.push(stalled);

    let started = Instant::now();
    let mut con = pki.client(&addr.to_string(), None).unwrap();
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a normal client waited for the silent ones"
    );

    for stream in &mut silent {
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut buf = [0u8; 64];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    assert!(
        started.elapsed() < PATIENCE,
        "silent connections were closed after the deadline"
    );
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG",
        "an active client stays"
    );
}

/// `uhaha::Client` and the generated typed clients over TLS, with the
/// cluster's auth: from a follower, redirected to the TLS leader; a client
/// that does not trust the cluster's CA, or has no CA file, fails clearly.
#[test]
fn the_rust_clients_speak_tls_with_auth_and_follow_redirects_to_a_tls_leader() {
    let pki = Pki::new();
    let dir = data_dir();
    let (first, others) = tls_cluster_with_auth(&pki, &dir);
    let leader = first.addr.to_string();
    let follower = others[0].addr.to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut client = uhaha::Client::builder()
            .tls_ca_file(pki.path("ca.pem"))
            .auth("s3cret")
            .connect(&follower)
            .await
            .unwrap();
        assert_eq!(
            client.call(&["TICKET"]).await.unwrap(),
            uhaha::Reply::Integer(1)
        );
        assert_eq!(
            client.addr(),
            Some(leader.as_str()),
            "followed to the leader"
        );

        let typed = uhaha::Client::builder()
            .tls_ca_file(pki.path("ca.pem"))
            .auth("s3cret")
            .connect(&follower)
            .await
            .unwrap();
        let mut typed = ticket::TicketClient::from(typed);
        assert_eq!(typed.ticket().await.unwrap(), 2);
        assert_eq!(typed.last().await.unwrap(), 2);

        // A CA that did not sign the nodes' certificates.
        let stranger = Pki::new();
        let refused = uhaha::Client::builder()
            .tls_ca_file(stranger.path("ca.pem"))
            .auth("s3cret")
            .retry_for(Duration::from_millis(300))
            .connect(&leader)
            .await;
        assert!(
            matches!(refused, Err(uhaha::ClientError::Io(_))),
            "an unknown issuer"
        );
        let missing = uhaha::Client::builder()
            .tls_ca_file(dir.path().join("no-such-ca.pem"))
            .connect(&leader)
            .await;
        assert!(matches!(missing, Err(uhaha::ClientError::Tls(_))));
    });
}
