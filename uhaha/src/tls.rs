//! TLS for the node's one port: clients, peers and joins all speak it when
//! `--tls-cert` and `--tls-key` are given.
//!
//! rustls with the `ring` provider, chosen explicitly: the default provider
//! (aws-lc-rs) is a long C build, and with both or neither enabled rustls
//! panics at run time.
//!
//! Nodes verify each other's certificates, both ways, against `--tls-ca`
//! when given; otherwise against the certificates in the node's own
//! `--tls-cert` file (a full chain that ends in the cluster's CA), without
//! touching the system's trust store. The name checked is the host of the
//! address a node dials, IP address or DNS name.

use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
pub use tokio_rustls::TlsConnector;
use tokio_rustls::{client, server, TlsAcceptor};

/// The first byte of a TLS handshake record: how the listener tells a TLS
/// client from a plain-text one.
pub const HANDSHAKE_BYTE: u8 = 0x16;

/// A node's TLS settings, for both directions.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("read {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("read {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()));
    }
    Ok(certs)
}

impl Tls {
    /// Loads the node's certificate and key, and the CA that peers'
    /// certificates must chain to.
    pub fn load(cert: &Path, key: &Path, ca: Option<&Path>) -> Result<Tls, String> {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let chain = certificates(cert)?;
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("read {}: {e}", key.display()))?;
        let mut roots = RootCertStore::empty();
        let trusted = match ca {
            Some(ca) => certificates(ca)?,
            None => chain.clone(),
        };
        let (added, _) = roots.add_parsable_certificates(trusted);
        if added == 0 {
            return Err("no usable CA certificate to verify peers with".into());
        }
        let roots = Arc::new(roots);
        // Clients may come without a certificate; a certificate that is
        // presented must chain to the CA, and peers must present one.
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| format!("TLS client verifier: {e}"))?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| format!("TLS certificate and key: {e}"))?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("TLS certificate and key: {e}"))?;
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }

    /// Whether the other side of a server connection proved a certificate
    /// (peers must; clients need not).
    pub fn has_client_certificate(stream: &server::TlsStream<TcpStream>) -> bool {
        stream
            .get_ref()
            .1
            .peer_certificates()
            .is_some_and(|c| !c.is_empty())
    }

    /// Runs the server side of a handshake.
    pub async fn accept(&self, stream: TcpStream) -> std::io::Result<server::TlsStream<TcpStream>> {
        self.acceptor.accept(stream).await
    }

    /// The client side of the node's settings: how it dials its peers
    /// (with its own certificate, which peers must see).
    pub fn connector(&self) -> &TlsConnector {
        &self.connector
    }
}

/// A client's TLS without a certificate of its own, trusting the CA
/// certificates in the PEM file `ca` (and nothing from the system's store).
pub fn client_connector(ca: &Path) -> Result<TlsConnector, String> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certificates(ca)?);
    if added == 0 {
        return Err(format!("{}: no usable CA certificate", ca.display()));
    }
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Runs the client side of a handshake with the node at `addr`, checking
/// its certificate for `addr`'s host.
async fn connect(
    connector: &TlsConnector,
    addr: &str,
    stream: TcpStream,
) -> std::io::Result<client::TlsStream<TcpStream>> {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_string()).map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{host}: {e}"))
    })?;
    connector.connect(name, stream).await
}

/// A byte stream: a connection under TLS or not, or an in-memory one.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

/// Dials the node at `addr`, under TLS when the node uses it.
pub async fn dial(addr: &str, tls: Option<&TlsConnector>) -> std::io::Result<Box<dyn Stream>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(match tls {
        Some(tls) => Box::new(connect(tls, addr, stream).await?),
        None => Box::new(stream),
    })
}
