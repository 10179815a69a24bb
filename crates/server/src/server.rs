//! The listener: accepts connections (refusing them at `maxclients` and, in protected mode,
//! from other hosts), runs the active-expiry timer, and stops gracefully on a signal or on
//! `SHUTDOWN`.

use crate::config::Config;
use crate::connection;
use crate::shared::{ServerStats, Shared};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `config.bind:config.port`.
    pub async fn bind(config: Config) -> io::Result<Server> {
        let listener = TcpListener::bind((config.bind.as_str(), config.port)).await?;
        let port = listener.local_addr()?.port();
        Ok(Server {
            listener,
            shared: Arc::new(Shared::new(config, port)),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (tests and the binary read statistics from it).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Serves until `stop` resolves or a client sends `SHUTDOWN`; then closes every
    /// connection and returns.
    pub async fn run(self, stop: impl Future<Output = ()>) -> io::Result<()> {
        let shared = self.shared;
        let expiry = tokio::spawn(active_expiry(Arc::clone(&shared)));
        let mut shutdown = shared.shutdown_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, addr)) => accept(stream, addr, &shared).await,
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                () = &mut stop => break,
                _ = shutdown.changed() => break,
            }
        }
        shared.shut_down();
        expiry.abort();
        // Give connections a moment to flush their last replies.
        for _ in 0..50 {
            if shared.clients.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

async fn refuse(mut stream: TcpStream, text: &str, shared: &Shared) {
    ServerStats::add(&shared.stats.rejected_connections, 1);
    let _ = stream.write_all(format!("-{text}\r\n").as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn accept(stream: TcpStream, addr: SocketAddr, shared: &Arc<Shared>) {
    ServerStats::add(&shared.stats.connections_received, 1);
    let (maxclients, protected) = {
        let config = shared.config.read();
        (
            config.maxclients,
            config.protected_mode && config.requirepass.is_empty(),
        )
    };
    if protected && !is_loopback(addr.ip()) {
        refuse(stream, PROTECTED_MODE_TEXT, shared).await;
        return;
    }
    let laddr = stream.local_addr().unwrap_or(addr);
    let Some(handle) = shared.clients.register(addr, laddr, maxclients) else {
        refuse(stream, "ERR max number of clients reached", shared).await;
        return;
    };
    tokio::spawn(connection::serve(stream, Arc::clone(shared), handle));
}

/// Redis's protected-mode refusal, word for word (including its "Setup a an").
pub const PROTECTED_MODE_TEXT: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

/// Active expiry and the other periodic work ([`Shared::cron`]), `hz` times a second.
async fn active_expiry(shared: Arc<Shared>) {
    loop {
        let hz = shared.config.read().hz.clamp(1, 500);
        tokio::time::sleep(Duration::from_millis(1000 / u64::from(hz))).await;
        shared.keyspace.expire_cycle();
        shared.cron();
    }
}

/// Runs a server with `config` until SIGINT, SIGTERM or `SHUTDOWN`; `ready` is called with the
/// bound address once it listens.
///
/// With one thread the runtime is tokio's single-threaded one, whose run queue is first in,
/// first out: connections whose input arrives together are served in arrival order, as by
/// Redis's event loop. (The multi-threaded scheduler runs the task woken last first, its "LIFO
/// slot", which on one worker reverses the order of input that arrives in one poll.)
pub fn run_blocking(config: Config, ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    let threads = if config.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        config.threads
    };
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .thread_name("larder-worker")
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("larder-worker")
            .enable_all()
            .build()?
    };
    runtime.block_on(async move {
        let stop = signal();
        let server = Server::bind(config).await?;
        if threads == 1 {
            tokio::spawn(crate::busy_poll::run(Arc::clone(server.shared())));
        }
        ready(server.local_addr()?);
        server.run(stop).await
    })
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled, so a signal that arrives as soon as the server says it
/// is ready still stops it gracefully.
fn signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            let (Ok(mut int), Ok(mut term)) = handlers else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
