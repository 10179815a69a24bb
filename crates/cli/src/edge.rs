//! `larder edge`: the HTTP caching reverse proxy (CDN edge node or origin shield).
//!
//! Configuration comes from defaults, then `--config edge.toml`, then flags, each overriding the
//! one before (see `docs/edge.md`).

use crate::UsageError;
use anyhow::Context;
use clap::Args;
use larder_engine::SystemClock;
use larder_http::EdgeConfig;
use larder_server::config::parse_memory;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Flags of `larder edge`.
#[derive(Debug, Args)]
pub struct EdgeArgs {
    /// Address clients connect to [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Upstream: an origin server or another `larder edge` (the shield), as http://host:port
    /// [default: http://127.0.0.1:9000].
    #[arg(long, value_name = "URL")]
    origin: Option<String>,
    /// TOML configuration file (cache-key rules per path prefix, limits, timeouts; see
    /// docs/edge.md). Flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Name of this cache in `Cache-Status` response fields [default: larder].
    #[arg(long)]
    name: Option<String>,
    /// Byte budget of the response cache, e.g. 256mb [default: 256mb].
    #[arg(long, value_name = "BYTES")]
    capacity: Option<String>,
    /// Largest response body stored, e.g. 8mb; larger ones stream through unstored
    /// [default: 8mb].
    #[arg(long, value_name = "BYTES")]
    max_object: Option<String>,
    /// Most `Vary` variants kept per URL [default: 16].
    #[arg(long, value_name = "N")]
    max_variants: Option<usize>,
    /// Seconds a stale response is kept for revalidation and for serving while the upstream
    /// is unreachable [default: 86400].
    #[arg(long, value_name = "SECS")]
    keep_stale: Option<u64>,
    /// Milliseconds allowed to connect to the upstream [default: 2000].
    #[arg(long, value_name = "MS")]
    connect_timeout: Option<u64>,
    /// Milliseconds allowed for the upstream's response header [default: 30000].
    #[arg(long, value_name = "MS")]
    response_timeout: Option<u64>,
    /// Milliseconds an idle pooled upstream connection is kept [default: 90000].
    #[arg(long, value_name = "MS")]
    upstream_idle: Option<u64>,
    /// Milliseconds allowed for a client to send a request header, also the keep-alive idle
    /// limit [default: 10000].
    #[arg(long, value_name = "MS")]
    client_header_timeout: Option<u64>,
    /// Milliseconds a coalesced request waits for the one fetching [default: 30000].
    #[arg(long, value_name = "MS")]
    coalesce_timeout: Option<u64>,
    /// Address of the admin listener (purge, metrics); started only with a token
    /// [default: 127.0.0.1:8081].
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<SocketAddr>,
    /// Bearer token the admin listener requires (prefer --admin-token-file: arguments are
    /// visible to other local users).
    #[arg(long, value_name = "TOKEN")]
    admin_token: Option<String>,
    /// File holding the admin bearer token (surrounding whitespace ignored).
    #[arg(long, value_name = "FILE", conflicts_with = "admin_token")]
    admin_token_file: Option<PathBuf>,
    /// A peer edge's admin listener (http://host:port) that purges are sent on to;
    /// repeatable, replaces the file's list.
    #[arg(long = "admin-peer", value_name = "URL")]
    admin_peers: Vec<String>,
    /// Worker threads; 1 runs everything on the calling thread [default: one per core].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

impl EdgeArgs {
    /// The configuration: file, then flags.
    fn config(&self) -> anyhow::Result<EdgeConfig> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                EdgeConfig::from_toml(&text)
                    .map_err(|e| UsageError(format!("{}: {e}", path.display())))?
            }
            None => EdgeConfig::default(),
        };
        let bytes = |flag: &str, v: &str| {
            parse_memory(v).ok_or_else(|| UsageError(format!("--{flag}: not a size: {v:?}")))
        };
        if let Some(v) = self.listen {
            config.listen = v;
        }
        if let Some(v) = &self.origin {
            config.origin = v.clone();
        }
        if let Some(v) = &self.name {
            config.name = v.clone();
        }
        if let Some(v) = &self.capacity {
            config.capacity_bytes = bytes("capacity", v)?;
        }
        if let Some(v) = &self.max_object {
            config.max_object_bytes = bytes("max-object", v)?;
        }
        if let Some(v) = self.max_variants {
            config.max_variants = v;
        }
        if let Some(v) = self.keep_stale {
            config.keep_stale_secs = v;
        }
        if let Some(v) = self.connect_timeout {
            config.connect_timeout_ms = v;
        }
        if let Some(v) = self.response_timeout {
            config.response_timeout_ms = v;
        }
        if let Some(v) = self.upstream_idle {
            config.upstream_idle_ms = v;
        }
        if let Some(v) = self.client_header_timeout {
            config.client_header_timeout_ms = v;
        }
        if let Some(v) = self.coalesce_timeout {
            config.coalesce_timeout_ms = v;
        }
        if let Some(v) = self.admin_listen {
            config.admin.listen = v;
        }
        if let Some(v) = &self.admin_token {
            config.admin.token = Some(v.clone());
        }
        if let Some(path) = &self.admin_token_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            config.admin.token = Some(text.trim().to_string());
        }
        if !self.admin_peers.is_empty() {
            config.admin.peers = self.admin_peers.clone();
        }
        Ok(config)
    }
}

/// Runs the proxy until SIGINT or SIGTERM.
pub fn run(args: EdgeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let listen = config.listen;
        let origin = config.origin.clone();
        let admin_config = config.admin.clone();
        let edge = larder_http::Edge::new(config, Arc::new(SystemClock))
            .map_err(|e| UsageError(e.to_string()))?;
        let admin = match admin_config.token {
            Some(_) => {
                let admin = larder_http::admin::Admin::new(admin_config.clone(), edge.clone())
                    .map_err(|e| UsageError(e.to_string()))?;
                let listener = tokio::net::TcpListener::bind(admin_config.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", admin_config.listen))?;
                eprintln!(
                    "larder edge admin (purge, metrics) on {}, {} peer(s)",
                    listener.local_addr().unwrap_or(admin_config.listen),
                    admin_config.peers.len()
                );
                Some((listener, admin))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!(
            "larder {} edge listening on {}, upstream {origin}",
            env!("CARGO_PKG_VERSION"),
            listener.local_addr().unwrap_or(listen)
        );
        let proxy = larder_http::serve(listener, edge, shutdown_signal());
        match admin {
            Some((admin_listener, admin)) => {
                // The admin listener stops with the proxy (its future is dropped).
                let admin =
                    larder_http::admin::serve_admin(admin_listener, admin, std::future::pending());
                tokio::select! {
                    r = proxy => r?,
                    r = admin => r?,
                }
            }
            None => proxy.await?,
        }
        Ok(())
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
