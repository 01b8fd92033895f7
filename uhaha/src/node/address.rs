//! uhaha's address forms: `-a :11001` binds every interface, and `-j :11001`
//! or `--advertise :11001` mean this machine, as in Go uhaha's quick start
//! (`./ticket -n 1 -a :11001`).
//!
//! What a node bound to every interface tells its peers and clients: Go
//! uhaha stores the listener's `0.0.0.0:port`, which no client can dial
//! (its known issue 20). Here such a node advertises `127.0.0.1:port`,
//! which serves every node and client on the same machine, and logs that a
//! cluster across machines needs `--advertise host:port`.

use std::net::SocketAddr;

/// The address to bind: `:port` is every interface.
pub fn bind(addr: &str) -> String {
    match addr.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => addr.to_string(),
    }
}

/// An address to dial (`-j`) or to advertise: `:port` is this machine.
pub fn dial(addr: &str) -> String {
    match addr.strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None => addr.to_string(),
    }
}

/// The address the node is known by: `--advertise` when given, else the
/// bound address, with an unspecified IP (every interface) as loopback.
pub fn advertised(advertise: Option<&str>, bound: SocketAddr) -> String {
    if let Some(addr) = advertise {
        return dial(addr);
    }
    if bound.ip().is_unspecified() {
        tracing::warn!(
            "bound to every interface: advertising 127.0.0.1:{port}; nodes on other machines need --advertise host:{port}",
            port = bound.port()
        );
        return format!("127.0.0.1:{}", bound.port());
    }
    bound.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_binds_everywhere_and_dials_here() {
        assert_eq!(bind(":11001"), "0.0.0.0:11001");
        assert_eq!(bind("127.0.0.1:11001"), "127.0.0.1:11001");
        assert_eq!(dial(":11001"), "127.0.0.1:11001");
        assert_eq!(dial("10.0.0.2:11001"), "10.0.0.2:11001");
    }

    #[test]
    fn every_interface_is_advertised_as_loopback_unless_told() {
        let any: SocketAddr = "0.0.0.0:7000".parse().unwrap();
        let one: SocketAddr = "10.1.2.3:7000".parse().unwrap();
        assert_eq!(advertised(None, any), "127.0.0.1:7000");
        assert_eq!(advertised(None, one), "10.1.2.3:7000");
        assert_eq!(advertised(Some("db1:7000"), any), "db1:7000");
        assert_eq!(advertised(Some(":7000"), any), "127.0.0.1:7000");
    }
}
