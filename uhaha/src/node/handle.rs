//! Running a node: [`NodeBuilder`] takes the config (from the command line
//! with [`NodeBuilder::serve`], or in code) and the program's hooks and
//! services; [`Node`] is a running node inside a larger program.

use super::config::Config;
use super::start;
use crate::client::{Client, ClientError};
use crate::command::{CommandTable, Commands};
use crate::error::StartError;
use crate::node::cli::{Invocation, Logging, NoFlags};
use crate::server::conn::{Conn, ConnData};
use crate::server::hooks::Role;
use crate::server::observers::Observed;
use crate::server::service::{LocalNode, Service};
use crate::server::{Extensions, Server};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

/// Builds a node of machine `M`: its config, hooks and services.
///
/// ```no_run
/// # #[uhaha::machine(name = "ticket", version = "0.1.0")]
/// # #[derive(Default)]
/// # struct Ticket { ticket: i64 }
/// # #[uhaha::machine]
/// # impl Ticket {
/// #     #[write]
/// #     fn ticket(&mut self) -> i64 { self.ticket += 1; self.ticket }
/// # }
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let node = uhaha::Node::<Ticket>::builder()
///     .config(uhaha::Config {
///         addr: "127.0.0.1:0".into(),
///         ..uhaha::Config::default()
///     })
///     .on_role_change(|role| eprintln!("now {role:?}"))
///     .start()
///     .await?;
/// let mut client = node.client().await?;
/// client.call(&["TICKET"]).await?;
/// node.shutdown().await;
/// # Ok(()) }
/// ```
#[must_use]
pub struct NodeBuilder<M> {
    config: Option<Config>,
    extensions: Extensions,
    on_data_dir: Option<start::DataDirHook>,
    on_serving: Option<Box<dyn FnOnce(Serving) + Send>>,
    /// The config came from [`NodeBuilder::command_line`].
    from_command_line: bool,
    machine: PhantomData<fn() -> M>,
}

impl<M: Commands> Default for NodeBuilder<M> {
    fn default() -> Self {
        NodeBuilder {
            config: None,
            extensions: Extensions::default(),
            on_data_dir: None,
            on_serving: None,
            from_command_line: false,
            machine: PhantomData,
        }
    }
}

impl<M: Commands> NodeBuilder<M> {
    /// The node's config; [`Config::default`] unless set.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Runs `hook` for each new client connection (not for Raft peers):
    /// `Ok(data)` accepts it and attaches `data`, which handlers read with
    /// [`Conn::data`]; `Err(message)` refuses it with `-ERR message`.
    ///
    /// ```
    /// # #[uhaha::machine(name = "m", version = "0")]
    /// # #[derive(Default)]
    /// # struct M;
    /// # #[uhaha::machine]
    /// # impl M {}
    /// use std::sync::Arc;
    ///
    /// let builder = uhaha::Node::<M>::builder().on_connect(|conn| {
    ///     if conn.addr().ip().is_loopback() || conn.addr().port() == 0 {
    ///         Ok(Some(Arc::new(format!("client {}", conn.id())) as uhaha::ConnData))
    ///     } else {
    ///         Err("only local clients".into())
    ///     }
    /// });
    /// ```
    pub fn on_connect(
        mut self,
        hook: impl Fn(&Conn) -> Result<Option<ConnData>, String> + Send + Sync + 'static,
    ) -> Self {
        self.extensions.hooks.connect = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` when a client connection ends.
    pub fn on_disconnect(mut self, hook: impl Fn(&Conn) + Send + Sync + 'static) -> Self {
        self.extensions.hooks.disconnect = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` with the node's role when it starts and whenever it
    /// changes (leader, follower, candidate, learner), and with
    /// [`Role::Shutdown`] when Raft stops.
    pub fn on_role_change(mut self, hook: impl Fn(Role) + Send + Sync + 'static) -> Self {
        self.extensions.hooks.role = Some(Arc::new(hook));
        self
    }

    /// Shows every command the node processes to `observer` (Go uhaha's
    /// `Observer`): its arguments (`AUTH`'s and `HELLO`'s redacted), its
    /// reply, how long it took and the client's address, for audit logs
    /// and metrics of the program's own. It sees the commands of the
    /// command table (built-ins included), not unknown ones, and not those
    /// of in-process clients. It runs on a thread of its own, after the
    /// reply left: it may block, and a slow observer loses the commands
    /// that do not fit its backlog (4096; counted in `INFO`'s
    /// `observer_dropped_commands`) instead of holding any up.
    ///
    /// ```
    /// # #[uhaha::machine(name = "m", version = "0")]
    /// # #[derive(Default)]
    /// # struct M;
    /// # #[uhaha::machine]
    /// # impl M {}
    /// let builder = uhaha::Node::<M>::builder().observe(|seen| {
    ///     let name = String::from_utf8_lossy(&seen.args()[0]);
    ///     let outcome = if seen.reply().is_error() { "error" } else { "ok" };
    ///     eprintln!("{} {name} {outcome} in {:?}", seen.addr(), seen.took());
    /// });
    /// ```
    pub fn observe(mut self, observer: impl Fn(&Observed) + Send + Sync + 'static) -> Self {
        self.extensions.observer = Some(Arc::new(observer));
        self
    }

    /// Serves `service` on the node's port, for connections it claims by
    /// their first bytes; see [`Service`].
    pub fn service(mut self, service: impl Service) -> Self {
        self.extensions.services.push(Arc::new(service));
        self
    }

    /// Runs `hook` with the node's own directory (`<dir>/<name>/<id>`)
    /// once it exists, before the node opens its log and snapshots in it:
    /// for files of the program's own (Go uhaha's `DataDirReady`).
    pub fn on_data_dir(mut self, hook: impl FnOnce(&std::path::Path) + Send + 'static) -> Self {
        self.on_data_dir = Some(Box::new(hook));
        self
    }

    /// Runs `hook` once the node is ready for commands, on the node's
    /// runtime (Go uhaha's `ServerReady`): a `serve()` program starts its
    /// background work against its own node here. The hook must not
    /// block; it spawns what takes time (`tokio::spawn`).
    ///
    /// ```no_run
    /// # #[uhaha::machine(name = "ticket", version = "0.1.0")]
    /// # #[derive(Default)]
    /// # struct Ticket { ticket: i64 }
    /// # #[uhaha::machine]
    /// # impl Ticket {
    /// #     #[write]
    /// #     fn ticket(&mut self) -> i64 { self.ticket += 1; self.ticket }
    /// # }
    /// uhaha::Node::<Ticket>::builder()
    ///     .on_serving(|node| {
    ///         tokio::spawn(async move {
    ///             let mut client = node.client().await?;
    ///             let first = client.call(&["TICKET"]).await?;
    ///             uhaha::tracing::info!("ticket at start: {first:?}");
    ///             Ok::<_, uhaha::ClientError>(())
    ///         });
    ///     })
    ///     .serve()
    /// ```
    pub fn on_serving(mut self, hook: impl FnOnce(Serving) + Send + 'static) -> Self {
        self.on_serving = Some(Box::new(hook));
        self
    }

    /// Starts the node and returns once it is ready for commands: it has
    /// joined or bootstrapped its cluster, a leader is known and its log
    /// is applied.
    pub async fn start(self) -> Result<Node<M>, StartError> {
        let config = self.config.unwrap_or_default();
        if let Some(level) = config.log {
            crate::node::cli::init_logging(&Logging { level, json: false });
        }
        let id = config.id;
        let shared = start::start::<M>(config, self.extensions, self.on_data_dir).await?;
        let node = Node { shared, id };
        if let Some(hook) = self.on_serving {
            hook(node.serving());
        }
        Ok(node)
    }

    /// The program's build id (a git commit, say), shown after its
    /// version in `-v`, `VERSION` and the start log (Go uhaha's `GitSHA`).
    /// Set it before [`NodeBuilder::command_line`].
    pub fn build_id(mut self, id: impl Into<String>) -> Self {
        self.extensions.build_id = Some(id.into());
        self
    }

    /// Parses the command line now: uhaha's flags and the program's own
    /// `A`, a [`clap::Args`] struct shown in `-h` under "`<name> options`".
    /// Returns the builder, set to run with the flags' config (its logging
    /// started), and the program's flags, to use before it
    /// [serves](NodeBuilder::serve). Like `serve()`, it exits the process
    /// after `-h` or `-v` (status 0) and for a command line clap refuses
    /// (status 2).
    ///
    /// ```no_run
    /// # #[uhaha::machine(name = "ticket", version = "0.1.0")]
    /// # #[derive(Default)]
    /// # struct Ticket { ticket: i64 }
    /// # #[uhaha::machine]
    /// # impl Ticket {
    /// #     #[write]
    /// #     fn ticket(&mut self) -> i64 { self.ticket += 1; self.ticket }
    /// # }
    /// use uhaha::clap;
    ///
    /// /// The program's own flags.
    /// #[derive(clap::Args)]
    /// struct Greeting {
    ///     /// What to say at start
    ///     #[arg(long, default_value = "hello")]
    ///     greeting: String,
    /// }
    ///
    /// let (builder, flags) = uhaha::Node::<Ticket>::builder()
    ///     .build_id("3f2a9c1")
    ///     .command_line::<Greeting>();
    /// uhaha::tracing::info!("{}", flags.greeting);
    /// builder.serve()
    /// ```
    pub fn command_line<A: clap::Args>(mut self) -> (Self, A) {
        let table = CommandTable::new(M::COMMANDS);
        let version = crate::machine::version_line::<M>(self.extensions.build_id.as_deref());
        match crate::node::cli::parse::<M, A>(&table, &version) {
            Ok(Invocation::Run(config, logging, flags)) => {
                crate::node::cli::init_logging(&logging);
                self.config = Some(*config);
                self.from_command_line = true;
                (self, flags)
            }
            Ok(Invocation::Version) => {
                println!("{version}");
                std::process::exit(0);
            }
            Err(e) => e.exit(),
        }
    }

    /// Runs the node with uhaha's command line (which replaces any config
    /// set here; see also [`NodeBuilder::command_line`]) until a signal or
    /// `SHUTDOWN` stops it. Never returns.
    ///
    /// It exits the process: with status 0 after `-h`, `-v` or a clean
    /// stop, 2 for a command line clap refuses, and 1 when the node cannot
    /// start (the error is logged).
    pub fn serve(self) -> ! {
        let builder = if self.from_command_line {
            self
        } else {
            self.command_line::<NoFlags>().0
        };
        let code = runtime().block_on(async {
            let version = crate::machine::version_line::<M>(builder.extensions.build_id.as_deref());
            tracing::warn!("starting {version}");
            match builder.start().await {
                Ok(node) => {
                    node.run_until_stopped().await;
                    0
                }
                Err(e) => {
                    tracing::error!("{e}");
                    1
                }
            }
        });
        std::process::exit(code)
    }
}

/// The node's runtime: one thread for the connections, Raft's core, the
/// replication streams and the state machine; the log writer has a thread
/// of its own, and snapshots go to the blocking pool.
///
/// One thread because a node's work is a chain of small steps handed from
/// task to task (a command to the proposer, an entry to the core, replies
/// back to the connections): on one thread each hand-off is a queue push,
/// while a multi-threaded runtime pays a cross-thread wake-up (a futex call
/// and often a sleeping worker) for many of them and spends more on that
/// than it gains from a second core. The benchmark tool measured the
/// difference on a 3-node cluster on 2 cores: 30 % to 40 % more writes
/// per second with one thread, without and with pipelining.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("start the runtime")
}

/// A running node of machine `M`.
pub struct Node<M: Commands> {
    shared: Arc<Server<M>>,
    id: u64,
}

impl<M: Commands> Node<M> {
    /// A builder for a node of machine `M`.
    pub fn builder() -> NodeBuilder<M> {
        NodeBuilder::default()
    }

    /// The address the node listens on (the port it picked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.shared.clients.local
    }

    /// The node's id in its cluster.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// A client of this node that needs no socket: its commands go through
    /// the same dispatch as a Redis client's, authenticated with the node's
    /// own secret. On a follower, writes are sent on to the leader (over
    /// the network), as [`Client`] does.
    pub async fn client(&self) -> Result<Client, ClientError> {
        self.serving().client().await
    }

    /// A handle on this node that outlives the borrow: see [`Serving`].
    fn serving(&self) -> Serving {
        Serving {
            addr: self.addr(),
            id: self.id,
            auth: self.shared.settings.auth.clone(),
            local: self.shared.local_node(),
        }
    }

    /// Waits for SIGINT (Ctrl-C), SIGTERM or a client's `SHUTDOWN`, then
    /// stops cleanly: with `--nosync`, the writes not yet on disk are
    /// flushed first.
    pub async fn run_until_stopped(self) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::warn!("interrupted"),
            _ = terminated() => tracing::warn!("terminated"),
            _ = self.shared.shutdown.notified() => {}
        }
        self.shutdown().await;
    }

    /// Stops the node: `/readyz` turns to 503 at once, a leader hands
    /// leadership to another voter, then the node closes its port and
    /// every connection, and stops Raft, whose log is closed once its last
    /// writes are on disk.
    pub async fn shutdown(self) {
        self.shared.lifecycle.stopping();
        self.shared.cluster.hand_over().await;
        self.shared.stop().await;
    }
}

/// A serving node, as [`NodeBuilder::on_serving`] hands it to the program:
/// its address and id, and clients of it. It does not keep the node
/// running; once the node stops, [`Serving::client`] fails.
#[derive(Clone)]
pub struct Serving {
    addr: SocketAddr,
    id: u64,
    auth: Option<String>,
    local: LocalNode,
}

impl Serving {
    /// The address the node listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The node's id in its cluster.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// A client of the node without a socket, as [`Node::client`].
    pub async fn client(&self) -> Result<Client, ClientError> {
        self.local.client(self.auth.as_deref()).await
    }
}

/// Dropping a node without [`Node::shutdown`] stops it all the same, in
/// the background.
impl<M: Commands> Drop for Node<M> {
    fn drop(&mut self) {
        if self.shared.is_stopped() {
            return;
        }
        let shared = self.shared.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { shared.stop().await });
        }
    }
}

/// Resolves on SIGTERM (what `systemctl stop` and `docker stop` send).
async fn terminated() {
    #[cfg(unix)]
    if let Ok(mut signal) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        signal.recv().await;
        return;
    }
    std::future::pending::<()>().await
}

/// What `Machine::serve()`, generated by `#[uhaha::machine]`, runs.
pub fn serve<M: Commands>() -> ! {
    NodeBuilder::<M>::default().serve()
}
