//! The admin listener: purging, metrics, and the fan-out of purges to peer edges.
//!
//! A separate HTTP/1.1 listener (loopback by default), every request authenticated by
//! `Authorization: Bearer <token>`; without the right token the answer is `401` and nothing is
//! purged. Routes:
//!
//! | request | effect |
//! |---|---|
//! | `POST /purge` | purge; parameters in the query string and/or an `application/x-www-form-urlencoded` body: `url=`, `prefix=`, `wildcard=`, `tag=` (each repeatable), `all=1`, `soft=1` (mark stale instead of removing), `local=1` (do not fan out) |
//! | `PURGE /path?query` | hard purge of that path and query on every host (`Larder-Purge: soft` for a soft purge) |
//! | `GET /metrics` | Prometheus text exposition ([`crate::metrics`]) |
//!
//! A purge is applied locally and, unless `local=1`, sent at the same time to every configured
//! peer's admin listener (`POST /purge` with `local=1` and the same token). The JSON answer says
//! how many objects were purged here and, per peer, whether it acknowledged (2xx), how many it
//! purged and after how long; `propagation_ms` is the time from receiving the request until the
//! last peer acknowledged.
//!
//! ## Bounds
//!
//! Request body size (`max_body_bytes`), selectors per purge (`max_selectors`), header read time
//! and per-peer time (`peer_timeout_ms`).

use crate::error::EdgeError;
use crate::metrics::Sample;
use crate::proxy::Edge;
use crate::purge::{Mode, Purgeable, Selection, Selector};
use crate::server::accept_until;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// The `[admin]` table of `edge.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Where the admin listener binds (loopback by default).
    pub listen: SocketAddr,
    /// The bearer token every admin request must carry; the listener does not start without one.
    pub token: Option<String>,
    /// Peer edges' admin listeners (`http://host:port`) that purges are sent on to.
    pub peers: Vec<String>,
    /// Milliseconds a peer has to acknowledge a purge.
    pub peer_timeout_ms: u64,
    /// Largest admin request body, in bytes.
    pub max_body_bytes: usize,
    /// Most selectors in one purge.
    pub max_selectors: usize,
    /// Path prefixes with their own hit ratio in the metrics (at most 64).
    pub metrics_prefixes: Vec<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            token: None,
            peers: Vec::new(),
            peer_timeout_ms: 2_000,
            max_body_bytes: 1 << 20,
            max_selectors: 10_000,
            metrics_prefixes: Vec::new(),
        }
    }
}

/// What the admin listener administers.
pub trait AdminTarget: Purgeable {
    /// The metrics in the Prometheus text format.
    fn metrics_text(&self) -> String;
}

/// The admin service: configuration, target, and the client used for fan-out.
pub struct Admin {
    config: AdminConfig,
    token: String,
    target: Arc<dyn AdminTarget>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("listen", &self.config.listen)
            .field("peers", &self.config.peers)
            .finish_non_exhaustive()
    }
}

/// A parsed purge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeRequest {
    /// What to purge.
    pub selection: Selection,
    /// Hard or soft.
    pub mode: Mode,
    /// Applied here only (not sent to peers).
    pub local: bool,
    /// The parameters as received, sent on to the peers.
    pub form: String,
}

/// Why an admin request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// A parameter is unknown or malformed.
    #[error("bad parameter: {0}")]
    BadParameter(String),
    /// The purge selects nothing.
    #[error("nothing selected: give url, prefix, wildcard, tag or all=1")]
    Empty,
    /// More selectors than allowed.
    #[error("more than {0} selectors")]
    TooMany(usize),
}

impl PurgeRequest {
    /// Parses `key=value&...` parameters (query string and form body joined with `&`).
    pub fn parse(form: &str, max_selectors: usize) -> Result<Self, AdminError> {
        let mut selection = Selection::default();
        let (mut mode, mut local) = (Mode::Hard, false);
        let mut forward = Vec::new();
        for pair in form.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (percent_decode(k), percent_decode(v));
            let flag = || matches!(v.as_str(), "" | "1" | "true" | "yes");
            match k.as_str() {
                "url" => selection.add(Selector::Url(v)),
                "prefix" => selection.add(Selector::Prefix(v)),
                "wildcard" => selection.add(Selector::Wildcard(v)),
                "tag" => selection.add(Selector::Tag(v)),
                "all" if flag() => selection.add(Selector::All),
                "all" => {}
                "soft" => {
                    mode = if flag() { Mode::Soft } else { Mode::Hard };
                }
                "local" => {
                    local = flag();
                    continue;
                }
                other => return Err(AdminError::BadParameter(other.to_string())),
            }
            if selection.len() > max_selectors {
                return Err(AdminError::TooMany(max_selectors));
            }
            forward.push(pair);
        }
        if selection.is_empty() {
            return Err(AdminError::Empty);
        }
        Ok(Self {
            selection,
            mode,
            local,
            form: forward.join("&"),
        })
    }
}

/// Decodes `%XX` escapes and `+` (form encoding); invalid escapes stay as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                });
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes a parameter value for a form body.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/*?:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Compares two byte strings in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

impl Admin {
    /// The admin service over `target`; fails without a token or with an invalid peer URL.
    pub fn new(config: AdminConfig, target: Arc<dyn AdminTarget>) -> Result<Arc<Self>, EdgeError> {
        let token = config
            .token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| EdgeError::Config("the admin listener needs a token".into()))?;
        for peer in &config.peers {
            let ok = peer
                .parse::<http::Uri>()
                .is_ok_and(|u| u.scheme_str() == Some("http") && u.authority().is_some());
            if !ok {
                return Err(EdgeError::Config(format!(
                    "admin peer {peer:?}: expected http://host:port"
                )));
            }
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_millis(config.peer_timeout_ms)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(Arc::new(Self {
            config,
            token,
            target,
            client,
        }))
    }

    /// Answers one admin request.
    pub async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let authorized = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| same_secret(t.trim().as_bytes(), self.token.as_bytes()));
        if !authorized {
            let mut r = reply(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}));
            r.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or("").to_string();
        match (method.as_str(), path.as_str()) {
            ("GET", "/metrics") => {
                let mut r = Response::new(Full::new(Bytes::from(self.target.metrics_text())));
                r.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                r
            }
            ("POST", "/purge") => {
                let limit = self.config.max_body_bytes;
                let body = match Limited::new(request.into_body(), limit).collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(_) => {
                        return reply(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            json!({"error": format!("body over {limit} bytes")}),
                        );
                    }
                };
                let form = format!("{query}&{}", String::from_utf8_lossy(&body));
                match PurgeRequest::parse(&form, self.config.max_selectors) {
                    Ok(p) => self.purge(p, started).await,
                    Err(e) => reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
                }
            }
            ("PURGE", _) => {
                let target = match request.uri().path_and_query() {
                    Some(pq) => pq.as_str().to_string(),
                    None => path,
                };
                let soft = request
                    .headers()
                    .get("larder-purge")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"soft"));
                let form = format!(
                    "url={}{}",
                    percent_encode(&target),
                    if soft { "&soft=1" } else { "" }
                );
                match PurgeRequest::parse(&form, self.config.max_selectors) {
                    Ok(p) => self.purge(p, started).await,
                    Err(e) => reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
                }
            }
            (_, "/purge" | "/metrics") => reply(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"error": "method not allowed"}),
            ),
            _ => reply(StatusCode::NOT_FOUND, json!({"error": "no such route"})),
        }
    }

    /// Applies a purge here and, unless it is local, on every peer.
    async fn purge(&self, request: PurgeRequest, started: Instant) -> Response<Full<Bytes>> {
        let mut peers = JoinSet::new();
        if !request.local {
            for (n, peer) in self.config.peers.iter().enumerate() {
                let send = self.send_to_peer(peer, &request.form);
                peers.spawn(async move { (n, send.await) });
            }
        }
        let local_started = Instant::now();
        let purged = self.target.purge(&request.selection, request.mode);
        let local_ms = local_started.elapsed().as_secs_f64() * 1000.0;
        let mut results: Vec<Value> = vec![Value::Null; self.config.peers.len()];
        let mut all_ok = true;
        let mut last_ack = None;
        while let Some(joined) = peers.join_next().await {
            let Ok((n, outcome)) = joined else {
                all_ok = false;
                continue;
            };
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let peer = self.config.peers.get(n).cloned().unwrap_or_default();
            let entry = match outcome {
                Ok((status, body)) if (200..300).contains(&status) => {
                    last_ack = Some(ms);
                    json!({"peer": peer, "ok": true, "status": status,
                           "purged": body.get("purged").cloned().unwrap_or(Value::Null), "ms": ms})
                }
                Ok((status, body)) => {
                    all_ok = false;
                    json!({"peer": peer, "ok": false, "status": status,
                           "error": body.get("error").cloned().unwrap_or(Value::Null), "ms": ms})
                }
                Err(e) => {
                    all_ok = false;
                    json!({"peer": peer, "ok": false, "error": e, "ms": ms})
                }
            };
            if let Some(slot) = results.get_mut(n) {
                *slot = entry;
            }
        }
        if request.local {
            results.clear();
        }
        let propagation = if request.local || self.config.peers.is_empty() {
            Value::Null
        } else if all_ok {
            json!(last_ack.unwrap_or(0.0))
        } else {
            Value::Null
        };
        reply(
            StatusCode::OK,
            json!({
                "mode": request.mode.as_str(),
                "purged": purged,
                "selectors": request.selection.len(),
                "peers": results,
                "all_peers_ok": all_ok,
                "propagation_ms": propagation,
                "local_ms": local_ms,
                "total_ms": started.elapsed().as_secs_f64() * 1000.0,
            }),
        )
    }

    /// Sends a purge on to one peer; its status and JSON answer.
    fn send_to_peer(
        &self,
        peer: &str,
        form: &str,
    ) -> impl Future<Output = Result<(u16, Value), String>> + Send + 'static {
        let client = self.client.clone();
        let timeout = Duration::from_millis(self.config.peer_timeout_ms);
        let uri = format!("{}/purge", peer.trim_end_matches('/'));
        let body = format!("{form}&local=1");
        let auth = format!("Bearer {}", self.token);
        async move {
            let request = Request::builder()
                .method(Method::POST)
                .uri(uri)
                .header(AUTHORIZATION, auth)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| e.to_string())?;
            let exchange = async {
                let response = client.request(request).await.map_err(|e| e.to_string())?;
                let status = response.status().as_u16();
                let body = Limited::new(response.into_body(), 1 << 16)
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                Ok((status, value))
            };
            tokio::time::timeout(timeout, exchange)
                .await
                .map_err(|_| "timed out".to_string())?
        }
    }
}

impl Purgeable for Edge {
    fn purge(&self, selection: &Selection, mode: Mode) -> usize {
        let n = self.cache().purge(selection, mode);
        self.metrics().purge(mode == Mode::Soft, n as u64);
        n
    }
}

impl AdminTarget for Edge {
    fn metrics_text(&self) -> String {
        let cache = self.cache();
        let stats = cache.stats();
        let sample = |name, help, counter, value: u64| Sample {
            name,
            help,
            counter,
            value: value as f64,
        };
        self.metrics().render(&[
            sample(
                "coalesced_total",
                "Requests that waited on another request's upstream fetch.",
                true,
                self.coalescer().coalesced(),
            ),
            sample("cache_objects", "Cache keys stored.", false, stats.entries),
            sample(
                "cache_bytes",
                "Bytes stored (the engine's weighed size).",
                false,
                stats.weighted_size,
            ),
            sample(
                "cache_capacity_bytes",
                "The cache's byte budget.",
                false,
                stats.capacity,
            ),
            sample(
                "cache_evictions_total",
                "Objects evicted to make room.",
                true,
                stats.evictions,
            ),
            sample(
                "cache_expirations_total",
                "Objects removed past their retention.",
                true,
                stats.expirations,
            ),
            sample(
                "tag_index_pairs",
                "(tag, key) pairs in the purge tag index.",
                false,
                cache.tag_index().pairs() as u64,
            ),
            sample(
                "tag_index_complete",
                "1 when every tag is indexed (purge by tag needs no scan).",
                false,
                cache.tag_index().complete() as u64,
            ),
        ])
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Serves `admin` on `listener` until `shutdown` completes.
pub async fn serve_admin(
    listener: TcpListener,
    admin: Arc<Admin>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), EdgeError> {
    accept_until(listener, shutdown, move |stream| {
        let admin = admin.clone();
        async move {
            let service = service_fn(move |request| {
                let admin = admin.clone();
                async move { Ok::<_, Infallible>(admin.handle(request).await) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_purge_parameters() {
        let p = PurgeRequest::parse("url=%2Fa%3Fx%3D1&tag=t1&tag=t2&soft=1&local=1", 10)
            .expect("parses");
        assert_eq!(p.mode, Mode::Soft);
        assert!(p.local);
        assert_eq!(p.selection.len(), 3);
        assert!(p.selection.matches("http://h/a?x=1", &[]));
        assert!(p.selection.matches("http://h/z", &["t2".into()]));
        assert!(!p.form.contains("local"));
        assert_eq!(PurgeRequest::parse("soft=1", 10), Err(AdminError::Empty));
        assert!(matches!(
            PurgeRequest::parse("bogus=1", 10),
            Err(AdminError::BadParameter(_))
        ));
        assert_eq!(
            PurgeRequest::parse("tag=a&tag=b&tag=c", 2),
            Err(AdminError::TooMany(2))
        );
        assert!(
            PurgeRequest::parse("all=1", 1)
                .expect("all")
                .selection
                .is_all()
        );
    }

    #[test]
    fn percent_coding_round_trips() {
        for s in ["/a b?c=d&e=f", "ü*?", "%zz", "x+y"] {
            assert_eq!(percent_decode(&percent_encode(s)), s);
        }
        assert_eq!(percent_decode("a+b%20c%2"), "a b c%2");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
    }
}
