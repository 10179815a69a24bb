//! The upstream: an origin server or another `larder edge` (a shield), reached through a pooled
//! HTTP/1.1 client (hyper-util's legacy client) with connect, response-header and idle timeouts.

use crate::body::ProxyBody;
use crate::config::EdgeConfig;
use crate::error::{EdgeError, UpstreamError};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, Method, Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::time::Duration;

/// The parts of a request that are sent upstream (clonable, unlike `http::request::Parts`).
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// Path and query (origin-form).
    pub uri: Uri,
    /// The header fields, hop-by-hop fields and unkeyed inputs removed.
    pub headers: HeaderMap,
}

/// A pooled client for one upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    client: Client<HttpConnector, ProxyBody>,
    scheme: Scheme,
    authority: Authority,
    response_timeout: Duration,
}

impl Upstream {
    /// A client for `origin` (`http://host:port`).
    pub fn new(origin: &str, config: &EdgeConfig) -> Result<Self, EdgeError> {
        let uri: Uri = origin
            .parse()
            .map_err(|e| EdgeError::Config(format!("origin {origin:?}: {e}")))?;
        let scheme = uri.scheme().cloned().unwrap_or(Scheme::HTTP);
        if scheme != Scheme::HTTP {
            return Err(EdgeError::Config(format!(
                "origin {origin:?}: only http:// upstreams are supported"
            )));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| EdgeError::Config(format!("origin {origin:?} has no host")))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout()));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_millis(config.upstream_idle_ms))
            .pool_max_idle_per_host(config.upstream_max_idle)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Self {
            client,
            scheme,
            authority,
            response_timeout: config.response_timeout(),
        })
    }

    /// Sends `head` with `body` and waits for the response header.
    pub async fn send(
        &self,
        head: &RequestHead,
        body: ProxyBody,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut parts = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone());
        if let Some(pq) = head.uri.path_and_query() {
            parts = parts.path_and_query(pq.clone());
        } else {
            parts = parts.path_and_query("/");
        }
        let uri = parts
            .build()
            .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        let mut request = Request::new(body);
        *request.method_mut() = head.method.clone();
        *request.uri_mut() = uri;
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = head.headers.clone();
        match tokio::time::timeout(self.response_timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(UpstreamError::Unreachable(e.to_string())),
            Err(_) => Err(UpstreamError::Timeout),
        }
    }
}
