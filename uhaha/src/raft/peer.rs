//! The peer protocol: how Raft RPCs travel between nodes over the node's one
//! port.
//!
//! A peer connection opens with [`MAGIC`] and then proves it knows the
//! cluster's auth secret (length-prefixed; sent in clear, so use TLS where
//! the network is not trusted). Its first byte, NUL, is one that no Redis
//! client sends first, so the listener tells a peer from a client by one
//! byte without waiting. After the handshake each request is one
//! length-prefixed frame and each response another, in order.

use super::{Raft, SnapshotData, SnapshotMeta, TypeConfig, Vote};
use crate::codec;
use crate::tasks::Tasks;
use openraft::error::RaftError;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The bytes a peer connection opens with. The number is the protocol's
/// version: 2 since openraft 0.10, whose messages differ from 0.9's, so a
/// node of an older version is refused at the handshake.
pub const MAGIC: &[u8] = b"\0uhaha-raft-2\n";

/// Most bytes in one frame: an append or a snapshot chunk.
const MAX_FRAME: usize = 512 << 20;

/// A Raft RPC.
#[derive(Serialize, Deserialize)]
pub enum PeerRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<TypeConfig>),
    /// A whole snapshot, the leader's snapshot file as it is on disk.
    Snapshot {
        vote: Vote,
        meta: SnapshotMeta,
        data: SnapshotData,
    },
    TransferLeader(TransferLeaderRequest<TypeConfig>),
    /// The leader removed this node from the cluster. A removed node never
    /// hears of the membership that leaves it out (the leader stops
    /// replicating to it first), so the leader says so.
    Removed,
}

/// The answer to a [`PeerRequest`], of the same kind.
#[derive(Serialize, Deserialize)]
pub enum PeerResponse {
    AppendEntries(Answer<AppendEntriesResponse<TypeConfig>>),
    Vote(Answer<VoteResponse<TypeConfig>>),
    Snapshot(Answer<SnapshotResponse<TypeConfig>>),
    TransferLeader(Answer<TransferLeaderResponse<TypeConfig>>),
    Removed,
}

/// A peer's answer, or the error of its Raft (which has stopped).
pub type Answer<T> = Result<T, RaftError<TypeConfig>>;

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    value: &T,
) -> std::io::Result<()> {
    let bytes = codec::encode(value).map_err(std::io::Error::other)?;
    let mut out = Vec::with_capacity(bytes.len() + 4);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&bytes);
    w.write_all(&out).await?;
    w.flush().await
}

/// Reads one frame.
pub async fn read_frame<R: AsyncRead + Unpin, T: serde::de::DeserializeOwned>(
    r: &mut R,
) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "peer frame of {len} bytes is too large"
        )));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    codec::decode(&buf).map_err(std::io::Error::other)
}

/// Opens a peer connection: the magic and the secret.
pub async fn send_handshake<W: AsyncWrite + Unpin>(w: &mut W, secret: &str) -> std::io::Result<()> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(secret.len() as u32).to_le_bytes());
    out.extend_from_slice(secret.as_bytes());
    w.write_all(&out).await
}

/// Checks a peer's handshake after [`MAGIC`] has been read.
pub async fn check_handshake<R: AsyncRead + Unpin>(
    r: &mut R,
    secret: &str,
) -> std::io::Result<bool> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > 4096 {
        return Ok(false);
    }
    let mut given = vec![0u8; len];
    r.read_exact(&mut given).await?;
    Ok(crate::secret::same_secret(secret.as_bytes(), &given))
}

/// Serves a peer's RPCs on a connection whose handshake passed; `tasks`
/// are the node's.
pub async fn serve_peer<S: AsyncRead + AsyncWrite + Unpin>(
    raft: &Raft,
    tasks: &Tasks,
    stream: &mut S,
) {
    loop {
        let request: PeerRequest = match read_frame(stream).await {
            Ok(request) => request,
            Err(_) => return,
        };
        let response = match request {
            PeerRequest::AppendEntries(rpc) => {
                PeerResponse::AppendEntries(raft.append_entries(rpc).await)
            }
            PeerRequest::Vote(rpc) => PeerResponse::Vote(raft.vote(rpc).await),
            PeerRequest::Snapshot { vote, meta, data } => {
                let snapshot = openraft::Snapshot {
                    meta,
                    snapshot: data,
                };
                let installed = raft.install_full_snapshot(vote, snapshot).await;
                PeerResponse::Snapshot(installed.map_err(RaftError::Fatal))
            }
            PeerRequest::TransferLeader(rpc) => {
                let handled = raft.handle_transfer_leader(rpc).await;
                PeerResponse::TransferLeader(handled.map_err(RaftError::Fatal))
            }
            PeerRequest::Removed => {
                stop_removed(raft, tasks);
                PeerResponse::Removed
            }
        };
        if write_frame(stream, &response).await.is_err() {
            return;
        }
    }
}

/// Stops Raft on a node that is no longer a member, so that it neither
/// votes nor campaigns; the process stays up and answers `CLUSTERDOWN`.
pub fn stop_removed(raft: &Raft, tasks: &Tasks) {
    tracing::warn!("this node was removed from the cluster; raft stopped");
    let raft = raft.clone();
    tasks.spawn(async move {
        let _ = raft.shutdown().await;
    });
}
