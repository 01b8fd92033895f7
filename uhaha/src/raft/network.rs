//! The peer network, client side: one persistent connection per openraft
//! replication stream, opened on first use, with a deadline on every RPC and
//! a fresh connection after any failure.

use super::peer::{read_frame, send_handshake, write_frame, PeerRequest, PeerResponse};
use super::{Node, NodeId, Snapshot, SnapshotData, TypeConfig, Vote};
use crate::metrics::NetworkMetrics;
use crate::tls::{dial, Stream, Tls};
use openraft::error::{
    NetworkError, RPCError, RaftError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Creates a [`PeerClient`] per peer.
#[derive(Clone)]
pub struct Network {
    id: NodeId,
    secret: Arc<str>,
    tls: Option<Tls>,
    metrics: NetworkMetrics,
}

impl Network {
    /// The network of node `id`, proving `secret` to its peers, under TLS
    /// when `tls` is given, counting connections and failures in `metrics`.
    pub fn new(id: NodeId, secret: &str, tls: Option<Tls>, metrics: NetworkMetrics) -> Network {
        Network {
            id,
            secret: secret.into(),
            tls,
            metrics,
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

impl Failure {
    /// The failure as openraft's error for the RPC `action` from `id` to
    /// `target`, which was given `ttl`.
    fn into_rpc_error(
        self,
        action: RPCTypes,
        id: NodeId,
        target: NodeId,
        ttl: Duration,
    ) -> RPCError<TypeConfig> {
        match self {
            Failure::Unreachable(e) => RPCError::Unreachable(Unreachable::new(&e)),
            Failure::Network(e) => RPCError::Network(NetworkError::new(&e)),
            Failure::Timeout => RPCError::Timeout(Timeout {
                action,
                id,
                target,
                timeout: ttl,
            }),
        }
    }
}

impl PeerClient {
    async fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        let mut stream = dial(&self.addr, self.network.tls.as_ref().map(Tls::connector)).await?;
        send_handshake(&mut stream, &self.network.secret).await?;
        Ok(stream)
    }

    /// Sends one request and reads its response within `ttl`.
    async fn call(&mut self, request: PeerRequest, ttl: Duration) -> Result<PeerResponse, Failure> {
        let exchange = async {
            if self.stream.is_none() {
                self.stream = Some(self.connect().await.map_err(Failure::Unreachable)?);
                self.network.metrics.connections.inc();
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
            self.network.metrics.failures.inc();
        }
        result
    }

    /// One RPC: the request, the response of the matching kind, and errors
    /// mapped onto openraft's. A peer whose Raft has stopped answers with
    /// its error, which counts as unreachable: nothing on this side can
    /// change it but time.
    async fn rpc<T>(
        &mut self,
        request: PeerRequest,
        ttl: Duration,
        action: RPCTypes,
        pick: fn(PeerResponse) -> Option<Result<T, RaftError<TypeConfig>>>,
    ) -> Result<T, RPCError<TypeConfig>> {
        let failure = match self.call(request, ttl).await.map(pick) {
            Ok(Some(Ok(answer))) => return Ok(answer),
            Ok(Some(Err(refused))) => Failure::Unreachable(std::io::Error::other(refused)),
            Ok(None) => Failure::Network(std::io::Error::other(
                "peer answered with the wrong kind of response",
            )),
            Err(failure) => failure,
        };
        Err(failure.into_rpc_error(action, self.network.id, self.target, ttl))
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.rpc(
            PeerRequest::AppendEntries(rpc),
            option.hard_ttl(),
            RPCTypes::AppendEntries,
            |r| match r {
                PeerResponse::AppendEntries(answer) => Some(answer),
                _ => None,
            },
        )
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.rpc(
            PeerRequest::Vote(rpc),
            option.hard_ttl(),
            RPCTypes::Vote,
            |r| match r {
                PeerResponse::Vote(answer) => Some(answer),
                _ => None,
            },
        )
        .await
    }

    /// Sends the whole snapshot file in one frame, given the snapshot
    /// timeout; replication stopping meanwhile abandons the transfer.
    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let request = PeerRequest::Snapshot {
            vote,
            meta: snapshot.meta,
            data: snapshot.snapshot,
        };
        let sent = self.rpc(
            request,
            option.hard_ttl(),
            RPCTypes::InstallSnapshot,
            |r| match r {
                PeerResponse::Snapshot(answer) => Some(answer),
                _ => None,
            },
        );
        tokio::select! {
            sent = sent => sent.map_err(StreamingError::from),
            closed = cancel => Err(StreamingError::Closed(closed)),
        }
    }

    async fn transfer_leader(
        &mut self,
        rpc: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.rpc(
            PeerRequest::TransferLeader(rpc),
            option.hard_ttl(),
            RPCTypes::TransferLeader,
            |r| match r {
                PeerResponse::TransferLeader(answer) => Some(answer),
                _ => None,
            },
        )
        .await
    }
}
