//! The peer network, client side: one persistent connection per openraft
//! replication stream, opened on first use, with a deadline on every RPC and
//! a fresh connection after any failure.

use super::peer::{read_frame, send_handshake, write_frame, PeerRequest, PeerResponse};
use super::{Node, NodeId, TypeConfig};
use crate::tls::{dial, Stream, Tls};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use std::sync::Arc;
use std::time::Duration;

/// Creates a [`PeerClient`] per peer.
#[derive(Clone)]
pub struct Network {
    id: NodeId,
    secret: Arc<str>,
    tls: Option<Tls>,
}

impl Network {
    /// The network of node `id`, proving `secret` to its peers, under TLS
    /// when `tls` is given.
    pub fn new(id: NodeId, secret: &str, tls: Option<Tls>) -> Network {
        Network {
            id,
            secret: secret.into(),
            tls,
        }
    }

    /// A client for node `target` at `addr`; it connects on first use.
    fn client(&self, target: NodeId, addr: &str) -> PeerClient {
        debug_assert_ne!(target, self.id, "a node never dials itself");
        PeerClient {
            network: self.clone(),
            target,
            addr: addr.to_string(),
            stream: None,
        }
    }

    /// Tells node `target` at `addr` that it was removed from the cluster;
    /// best effort, as the node may be down.
    pub async fn tell_removed(&self, target: NodeId, addr: &str) {
        let mut client = self.client(target, addr);
        if client
            .call(PeerRequest::Removed, Duration::from_secs(2))
            .await
            .is_err()
        {
            tracing::info!("could not tell node {target} at {addr} that it was removed");
        }
    }
}

/// The client for one peer.
pub struct PeerClient {
    network: Network,
    target: NodeId,
    addr: String,
    stream: Option<Box<dyn Stream>>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> PeerClient {
        self.client(target, &node.addr)
    }
}

/// How an RPC failed before the peer could answer.
enum Failure {
    Unreachable(std::io::Error),
    Network(std::io::Error),
    Timeout,
}

impl PeerClient {
    async fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        let mut stream = dial(&self.addr, self.network.tls.as_ref()).await?;
        send_handshake(&mut stream, &self.network.secret).await?;
        Ok(stream)
    }

    /// Sends one request and reads its response within `ttl`.
    async fn call(&mut self, request: PeerRequest, ttl: Duration) -> Result<PeerResponse, Failure> {
        let exchange = async {
            if self.stream.is_none() {
                self.stream = Some(self.connect().await.map_err(Failure::Unreachable)?);
            }
            let stream = self.stream.as_mut().expect("connected above");
            write_frame(stream, &request)
                .await
                .map_err(Failure::Network)?;
            read_frame::<_, PeerResponse>(stream)
                .await
                .map_err(Failure::Network)
        };
        let result = match tokio::time::timeout(ttl, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout),
        };
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        failure: Failure,
        ttl: Duration,
        action: RPCTypes,
    ) -> RPCError<NodeId, Node, E> {
        match failure {
            Failure::Unreachable(e) => RPCError::Unreachable(Unreachable::new(&e)),
            Failure::Network(e) => RPCError::Network(NetworkError::new(&e)),
            Failure::Timeout => RPCError::Timeout(Timeout {
                action,
                id: self.network.id,
                target: self.target,
                timeout: ttl,
            }),
        }
    }
}

impl PeerClient {
    /// One RPC: the request, the response of the matching kind, and errors
    /// mapped onto openraft's.
    async fn rpc<T, E: std::error::Error>(
        &mut self,
        request: PeerRequest,
        option: RPCOption,
        action: RPCTypes,
        pick: fn(PeerResponse) -> Option<Result<T, E>>,
    ) -> Result<T, RPCError<NodeId, Node, E>> {
        let ttl = option.hard_ttl();
        match self.call(request, ttl).await.map(pick) {
            Ok(Some(answer)) => {
                answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(None) => {
                let e = std::io::Error::other("peer answered with the wrong kind of response");
                Err(self.rpc_error(Failure::Network(e), ttl, action))
            }
            Err(f) => Err(self.rpc_error(f, ttl, action)),
        }
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        self.rpc(
            PeerRequest::AppendEntries(rpc),
            option,
            RPCTypes::AppendEntries,
            |r| match r {
                PeerResponse::AppendEntries(answer) => Some(answer),
                _ => None,
            },
        )
        .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Node, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.rpc(
            PeerRequest::InstallSnapshot(rpc),
            option,
            RPCTypes::InstallSnapshot,
            |r| match r {
                PeerResponse::InstallSnapshot(answer) => Some(answer),
                _ => None,
            },
        )
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        self.rpc(
            PeerRequest::Vote(rpc),
            option,
            RPCTypes::Vote,
            |r| match r {
                PeerResponse::Vote(answer) => Some(answer),
                _ => None,
            },
        )
        .await
    }
}
