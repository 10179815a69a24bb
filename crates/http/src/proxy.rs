//! The request path of `larder edge`: lookup → serve a hit, or forward (coalesced) → store.
//!
//! Each step is its own small function so that purging, ESI and metrics can hook in:
//! [`Edge::handle`] (entry), [`Edge::lookup`], [`Edge::serve_stored`], [`Edge::forward`]
//! (coalesced fetch), [`Edge::fetch`] (one upstream exchange), [`Edge::store`], and
//! [`Edge::pass`] (methods that are not cached, with invalidation).

use crate::body::{Buffered, ProxyBody, buffer};
use crate::cache_control::{CacheControl, Delta};
use crate::coalesce::{Coalescer, Outcome, Role};
use crate::config::EdgeConfig;
use crate::error::{EdgeError, UpstreamError};
use crate::freshness::{self, Heuristic, ResponseDirectives, format_date};
use crate::headers::{append_cache_status, merge_304, strip_for_downstream, strip_hop_by_hop};
use crate::key::{CacheKey, Keyer};
use crate::metrics::Metrics;
use crate::range;
use crate::storable::{self, NotStored};
use crate::stored::{ResponseCache, StoredResponse};
use crate::upstream::{RequestHead, Upstream};
use crate::vary::{self, Vary};
use bytes::Bytes;
use http::header::{
    AGE, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_LOCATION, DATE, ETAG, HOST,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION, PRAGMA, RANGE, TRANSFER_ENCODING,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use larder_engine::Clock;
use std::sync::Arc;

/// What the request's directives and the stored response's state allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judgement {
    /// Fresh enough: serve it.
    Fresh,
    /// Stale but the client allows it (`max-stale`).
    StaleAllowed,
    /// Stale within `stale-while-revalidate`: serve it and refresh in the background.
    StaleWhileRevalidate,
    /// Must be validated with the upstream first.
    Validate,
}

/// The proxy: configuration, cache, coalescer and upstream client.
#[derive(Debug)]
pub struct Edge {
    cache: ResponseCache,
    coalescer: Coalescer,
    upstream: Upstream,
    keyer: Keyer,
    config: EdgeConfig,
    targets: Vec<HeaderName>,
    heuristic: Heuristic,
    metrics: Metrics,
}

impl Edge {
    /// A proxy for `config`, reading time from `clock`.
    pub fn new(config: EdgeConfig, clock: Arc<dyn Clock>) -> Result<Arc<Self>, EdgeError> {
        let upstream = Upstream::new(&config.origin, &config)?;
        let mut targets = Vec::new();
        for name in &config.targeted_fields {
            let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|e| EdgeError::Config(format!("targeted field {name:?}: {e}")))?;
            targets.push(name);
        }
        if !(config.heuristic_fraction >= 0.0 && config.heuristic_fraction <= 1.0) {
            return Err(EdgeError::Config(
                "heuristic_fraction must be within 0..=1".into(),
            ));
        }
        Ok(Arc::new(Self {
            cache: ResponseCache::new(
                config.capacity_bytes,
                config.max_object_bytes,
                clock,
                config.max_variants,
                config.keep_stale_secs,
            ),
            coalescer: Coalescer::new(config.coalesce_max_waiters, config.coalesce_timeout()),
            upstream,
            keyer: Keyer::new(config.keys.clone()),
            heuristic: Heuristic {
                fraction: config.heuristic_fraction,
                max_secs: config.heuristic_max_secs,
            },
            targets,
            metrics: Metrics::new(&config.admin.metrics_prefixes),
            config,
        }))
    }

    /// The response cache (for purging: remove a key, mark it stale, visit entries).
    pub fn cache(&self) -> &ResponseCache {
        &self.cache
    }

    /// The coalescer (its counters).
    pub fn coalescer(&self) -> &Coalescer {
        &self.coalescer
    }

    /// The counters exposed at the admin listener's `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The configuration in force.
    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    /// The cache key and normalized upstream request for a request.
    pub fn key_of(&self, parts: &mut http::request::Parts) -> CacheKey {
        self.keyer.apply(parts, "http")
    }

    fn now(&self) -> u64 {
        self.cache.clock().now()
    }

    /// Handles one client request.
    pub async fn handle(self: &Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        let (mut parts, body) = request.into_parts();
        // RFC 9112 §6.3: "If a message is received with both a Transfer-Encoding and a
        // Content-Length header field, the Transfer-Encoding overrides the Content-Length. Such a
        // message might indicate an attempt to perform request smuggling ... or response
        // splitting ... and ought to be handled as an error." It is refused and the connection
        // closed.
        if parts.headers.contains_key(TRANSFER_ENCODING)
            && parts.headers.contains_key(CONTENT_LENGTH)
        {
            return local(StatusCode::BAD_REQUEST, true);
        }
        strip_hop_by_hop(&mut parts.headers);
        let slot = self.metrics.prefix_slot(parts.uri.path());
        let key = self.key_of(&mut parts);
        let head = RequestHead {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
        };
        let response = if head.method == Method::GET || head.method == Method::HEAD {
            drop(body);
            let esi = self.config.esi.enabled.then(|| head.clone());
            let response = self.lookup(head, key).await;
            crate::esi::finish(self, esi, response).await
        } else {
            self.pass(head, ProxyBody::Stream(body), key).await
        };
        self.metrics.response(slot, &response);
        response
    }

    /// Sends a request upstream, counted in the metrics.
    async fn send_upstream(
        &self,
        head: &RequestHead,
        body: ProxyBody,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let conditional = head.headers.contains_key(IF_NONE_MATCH)
            || head.headers.contains_key(IF_MODIFIED_SINCE);
        self.metrics.origin_request(conditional);
        let result = self.upstream.send(head, body).await;
        self.metrics.origin_result(&result);
        result
    }

    /// GET and HEAD: serve from the cache when allowed, else forward.
    pub async fn lookup(self: &Arc<Self>, head: RequestHead, key: CacheKey) -> Response<ProxyBody> {
        let now = self.now();
        let request_cc = CacheControl::from_headers(&head.headers, &CACHE_CONTROL);
        // RFC 9111 §5.4: "When the Cache-Control header field is not present in a request, caches
        // MUST consider the no-cache request pragma directive as having the same effect as if
        // "Cache-Control: no-cache" were present".
        let pragma_no_cache = request_cc.is_none()
            && head.headers.get_all(PRAGMA).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|s| s.to_ascii_lowercase().contains("no-cache"))
            });
        let request_cc = request_cc.unwrap_or_default();
        let client_no_cache = request_cc.has("no-cache") || pragma_no_cache;
        if let Some(stored) = self.cache.lookup(&key.key, &head.headers) {
            let detail = match judge(&stored, &request_cc, client_no_cache, now) {
                Judgement::Fresh => "",
                Judgement::StaleAllowed => "; detail=max-stale",
                Judgement::StaleWhileRevalidate => {
                    self.refresh_in_background(&head, &key, &stored);
                    "; detail=stale-while-revalidate"
                }
                Judgement::Validate => {
                    let fwd = if client_no_cache { "request" } else { "stale" };
                    if head.method == Method::HEAD || head.headers.contains_key(RANGE) {
                        return self.fetch(&head, &key, Some(stored), fwd).await.0;
                    }
                    return self.forward(head, key, Some(stored), fwd).await;
                }
            };
            return self.serve_hit(&head, &stored, now, detail);
        }
        // RFC 9111 §5.2.1.7: "If a cache receives a request containing the only-if-cached
        // directive and it does not have a stored response, it SHOULD respond with a 504
        // (Gateway Timeout) status code."
        if request_cc.has("only-if-cached") {
            return local(StatusCode::GATEWAY_TIMEOUT, false);
        }
        let fwd = if self.cache.contains(&key.key) {
            "vary-miss"
        } else {
            "uri-miss"
        };
        // HEAD and range requests are forwarded as they are; only whole GETs are stored.
        if head.method == Method::HEAD || head.headers.contains_key(RANGE) {
            return self.fetch(&head, &key, None, fwd).await.0;
        }
        self.forward(head, key, None, fwd).await
    }

    /// A coalesced fetch: one request per key goes upstream, the others wait for it.
    pub async fn forward(
        self: &Arc<Self>,
        head: RequestHead,
        key: CacheKey,
        stored: Option<Arc<StoredResponse>>,
        fwd: &str,
    ) -> Response<ProxyBody> {
        match self.coalescer.join(&key.key) {
            Role::Leader(leader) => {
                let (response, outcome) = self.fetch(&head, &key, stored, fwd).await;
                leader.finish(outcome);
                response
            }
            Role::Waiter(waiter) => {
                if waiter.wait().await == Outcome::Stored {
                    let now = self.now();
                    if let Some(fresh) = self.cache.lookup(&key.key, &head.headers) {
                        if fresh.ttl(now) > 0 && !fresh.policy.no_cache {
                            return self.serve_hit(&head, &fresh, now, "; detail=coalesced");
                        }
                    }
                }
                self.fetch(&head, &key, stored, fwd).await.0
            }
            Role::Bypass => self.fetch(&head, &key, stored, fwd).await.0,
        }
    }

    /// Starts one background revalidation of `key` unless one is under way.
    fn refresh_in_background(
        self: &Arc<Self>,
        head: &RequestHead,
        key: &CacheKey,
        stored: &Arc<StoredResponse>,
    ) {
        if self.coalescer.in_flight(&key.key) {
            return;
        }
        let Role::Leader(leader) = self.coalescer.join(&key.key) else {
            return;
        };
        let (edge, head, key, stored) = (self.clone(), head.clone(), key.clone(), stored.clone());
        tokio::spawn(async move {
            let (_, outcome) = edge.fetch(&head, &key, Some(stored), "stale").await;
            leader.finish(outcome);
        });
    }

    /// One upstream exchange for a GET/HEAD (conditional when `stored` has validators), with the
    /// response stored when allowed. Returns the client's response and what waiters should do.
    pub async fn fetch(
        &self,
        head: &RequestHead,
        key: &CacheKey,
        stored: Option<Arc<StoredResponse>>,
        fwd: &str,
    ) -> (Response<ProxyBody>, Outcome) {
        let mut upstream_head = head.clone();
        if let Some(s) = &stored {
            add_validators(&mut upstream_head.headers, s);
        } else if head.method == Method::GET && !head.headers.contains_key(RANGE) {
            // A miss fetches the whole response so that it can be stored (and shared with the
            // coalesced waiters); the client's own validators are answered from it.
            upstream_head.headers.remove(IF_NONE_MATCH);
            upstream_head.headers.remove(IF_MODIFIED_SINCE);
        }
        let request_time = self.now();
        let result = self.send_upstream(&upstream_head, ProxyBody::empty()).await;
        let response_time = self.now();
        let response = match result {
            Ok(r) => r,
            Err(err) => return (self.upstream_failed(head, stored, err), Outcome::Abandoned),
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        if let Some(s) = &stored {
            if parts.status == StatusCode::NOT_MODIFIED {
                return self.revalidated(head, key, s, &parts.headers, request_time, response_time);
            }
            if parts.status.is_server_error()
                && may_serve_stale_on_error(s, response_time, self.config.keep_stale_secs)
            {
                let entry = format!(
                    "{}; hit; fwd={fwd}; fwd-status={}; ttl={}; detail=stale-if-error",
                    self.config.name,
                    parts.status.as_u16(),
                    s.ttl(response_time)
                );
                return (
                    self.serve_stored(head, s, response_time, &entry),
                    Outcome::Abandoned,
                );
            }
        }
        let directives = ResponseDirectives::select(&parts.headers, &self.targets);
        let decision = if head.method == Method::GET && head.headers.contains_key(RANGE) {
            Err(NotStored::Status)
        } else {
            storable::decide(
                &head.method,
                &head.headers,
                parts.status,
                &parts.headers,
                &directives,
                response_time,
                self.heuristic,
            )
        };
        let status_entry = |detail: &str| {
            format!(
                "{}; fwd={fwd}; fwd-status={}{detail}",
                self.config.name,
                parts.status.as_u16()
            )
        };
        let policy = match decision {
            Ok(policy) => policy,
            Err(reason) => {
                let entry = status_entry(&format!("; detail={}", reason.as_str()));
                return (
                    pass_through(parts, ProxyBody::Stream(body), &entry),
                    Outcome::NotStored,
                );
            }
        };
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.config.max_object_bytes) {
            let entry = status_entry("; detail=too-large");
            return (
                pass_through(parts, ProxyBody::Stream(body), &entry),
                Outcome::NotStored,
            );
        }
        match buffer(body, self.config.max_object_bytes).await {
            Ok(Buffered::Complete(bytes)) => {
                // An incomplete response (fewer bytes than declared) is never stored.
                if declared.is_some_and(|n| n != bytes.len() as u64) {
                    return (local(StatusCode::BAD_GATEWAY, true), Outcome::Abandoned);
                }
                let vary_fields = match vary::parse(&parts.headers) {
                    Vary::Fields(f) => f,
                    Vary::Star => Vec::new(),
                };
                let initial_age =
                    freshness::corrected_initial_age(&parts.headers, request_time, response_time);
                let mut headers = parts.headers;
                for field in &policy.strip_fields {
                    headers.remove(field.as_str());
                }
                if !headers.contains_key(DATE) {
                    if let Ok(v) = HeaderValue::from_str(&format_date(response_time)) {
                        headers.insert(DATE, v);
                    }
                }
                let response = StoredResponse::new(
                    key.url.clone(),
                    parts.status,
                    headers,
                    bytes,
                    request_time,
                    response_time,
                    initial_age,
                    policy,
                    vary::capture(&vary_fields, &head.headers),
                );
                let (response, stored_ok) = self.store(key, response);
                let detail = if stored_ok {
                    "; stored"
                } else {
                    "; detail=too-large"
                };
                let entry = status_entry(detail);
                let outcome = if stored_ok {
                    Outcome::Stored
                } else {
                    Outcome::NotStored
                };
                (
                    self.serve_stored(head, &response, response_time, &entry),
                    outcome,
                )
            }
            Ok(Buffered::TooLarge(rest)) => {
                let entry = status_entry("; detail=too-large");
                (pass_through(parts, rest, &entry), Outcome::NotStored)
            }
            Err(_) => (local(StatusCode::BAD_GATEWAY, true), Outcome::Abandoned),
        }
    }

    /// Puts a complete response into the cache; returns it shared, and whether it was stored.
    pub fn store(&self, key: &CacheKey, response: StoredResponse) -> (Arc<StoredResponse>, bool) {
        let shared = Arc::new(response);
        let stored = self.cache.insert_shared(key.key.clone(), shared.clone());
        (shared, stored)
    }

    /// A `304` answered a conditional request: merge it into the stored response (RFC 9111
    /// §4.3.4) and serve the result.
    fn revalidated(
        &self,
        head: &RequestHead,
        key: &CacheKey,
        stored: &Arc<StoredResponse>,
        fresh_headers: &HeaderMap,
        request_time: u64,
        response_time: u64,
    ) -> (Response<ProxyBody>, Outcome) {
        // RFC 9111 §4.3.4: "the cache MUST use the header fields provided in the 304 (Not
        // Modified) response to replace all instances of the corresponding header fields in the
        // stored response."
        let merged = merge_304(&stored.headers, fresh_headers);
        let directives = ResponseDirectives::select(&merged, &self.targets);
        let decision = storable::decide(
            &Method::GET,
            &head.headers,
            stored.status,
            &merged,
            &directives,
            response_time,
            self.heuristic,
        );
        let initial_age =
            freshness::corrected_initial_age(fresh_headers, request_time, response_time);
        let policy = decision.clone().unwrap_or_default();
        let updated = StoredResponse::new(
            key.url.clone(),
            stored.status,
            merged,
            stored.body.clone(),
            request_time,
            response_time,
            initial_age,
            policy,
            stored.vary.clone(),
        );
        let (updated, stored_ok) = if decision.is_ok() {
            self.store(key, updated)
        } else {
            self.cache.remove(&key.key);
            (Arc::new(updated), false)
        };
        let entry = format!(
            "{}; fwd=stale; fwd-status=304{}",
            self.config.name,
            if stored_ok { "; stored" } else { "" }
        );
        let mut response = self.serve_stored(head, &updated, response_time, &entry);
        // A cookie set by the 304 goes to this client only; it is never stored.
        for cookie in fresh_headers.get_all(http::header::SET_COOKIE) {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, cookie.clone());
        }
        let outcome = if stored_ok {
            Outcome::Stored
        } else {
            Outcome::NotStored
        };
        (response, outcome)
    }

    /// The upstream could not be reached: serve stale when allowed, else 502/504.
    fn upstream_failed(
        &self,
        head: &RequestHead,
        stored: Option<Arc<StoredResponse>>,
        err: UpstreamError,
    ) -> Response<ProxyBody> {
        let now = self.now();
        if let Some(s) = stored {
            // RFC 9111 §4.2.4: "A cache MUST NOT generate a stale response unless it is
            // disconnected or doing so is explicitly permitted by the client or origin server".
            if may_serve_stale_on_error(&s, now, self.config.keep_stale_secs) {
                let entry = format!(
                    "{}; hit; ttl={}; detail=stale-upstream-unreachable",
                    self.config.name,
                    s.ttl(now)
                );
                return self.serve_stored(head, &s, now, &entry);
            }
            // §5.2.2.2 must-revalidate: "if a cache is disconnected, the cache MUST generate an
            // error response rather than reuse the stale response. The generated status code
            // SHOULD be 504 (Gateway Timeout) unless another error status code is more
            // applicable."
            return local(StatusCode::GATEWAY_TIMEOUT, false);
        }
        match err {
            UpstreamError::Timeout => local(StatusCode::GATEWAY_TIMEOUT, false),
            _ => local(StatusCode::BAD_GATEWAY, false),
        }
    }

    /// Serves a stored response as a hit, `detail` appended to its `Cache-Status` entry.
    fn serve_hit(
        &self,
        head: &RequestHead,
        stored: &StoredResponse,
        now: u64,
        detail: &str,
    ) -> Response<ProxyBody> {
        let entry = format!("{}; hit; ttl={}{detail}", self.config.name, stored.ttl(now));
        self.serve_stored(head, stored, now, &entry)
    }

    /// Builds the response for a stored response: `Age`, `Cache-Status`, and the client's own
    /// conditional or range request answered from it.
    pub fn serve_stored(
        &self,
        head: &RequestHead,
        stored: &StoredResponse,
        now: u64,
        cache_status: &str,
    ) -> Response<ProxyBody> {
        let mut headers = stored.headers.clone();
        strip_for_downstream(&mut headers);
        // RFC 9111 §5.1: "When a cache generates a response from a stored response, it MUST
        // include an Age header field whose value is the current age".
        headers.insert(AGE, HeaderValue::from(stored.age(now)));
        append_cache_status(&mut headers, cache_status);
        if stored.status == StatusCode::OK && not_modified(&head.headers, &stored.headers) {
            headers.remove(CONTENT_LENGTH);
            return build(StatusCode::NOT_MODIFIED, headers, ProxyBody::empty());
        }
        if stored.status == StatusCode::OK && !head.headers.contains_key("if-range") {
            if let Some(range) = head.headers.get(RANGE).and_then(|v| v.to_str().ok()) {
                if let Some((start, end)) = range::single(range, stored.body.len() as u64) {
                    let part = stored.body.slice(start as usize..=end as usize);
                    let content_range = format!("bytes {start}-{end}/{}", stored.body.len());
                    if let Ok(v) = HeaderValue::from_str(&content_range) {
                        headers.insert("content-range", v);
                    }
                    headers.insert(CONTENT_LENGTH, HeaderValue::from(part.len()));
                    return build(StatusCode::PARTIAL_CONTENT, headers, ProxyBody::full(part));
                }
            }
        }
        let body = if head.method == Method::HEAD {
            ProxyBody::empty()
        } else {
            ProxyBody::full(stored.body.clone())
        };
        build(stored.status, headers, body)
    }

    /// Methods that are not cached: forwarded with streaming bodies; an unsafe method that
    /// succeeds invalidates what it touched.
    pub async fn pass(
        &self,
        head: RequestHead,
        body: ProxyBody,
        key: CacheKey,
    ) -> Response<ProxyBody> {
        let response = match self.send_upstream(&head, body).await {
            Ok(r) => r,
            Err(UpstreamError::Timeout) => return local(StatusCode::GATEWAY_TIMEOUT, false),
            Err(_) => return local(StatusCode::BAD_GATEWAY, false),
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        // RFC 9111 §4.4: "A cache MUST invalidate the target URI (Section 7.1 of [HTTP]) when it
        // receives a non-error status code in response to an unsafe request method (including
        // methods whose safety is unknown)."
        let safe = matches!(head.method, Method::OPTIONS | Method::TRACE);
        if !safe && (parts.status.is_success() || parts.status.is_redirection()) {
            self.invalidate(&head, &key, &parts.headers);
        }
        let entry = format!(
            "{}; fwd=bypass; fwd-status={}",
            self.config.name,
            parts.status.as_u16()
        );
        pass_through(parts, ProxyBody::Stream(body), &entry)
    }

    /// Invalidates the target URI and the same-origin `Location` / `Content-Location`.
    fn invalidate(&self, head: &RequestHead, key: &CacheKey, response: &HeaderMap) {
        self.cache.remove(&key.key);
        // "A cache MAY invalidate other target URIs when it receives a non-error status code in
        // response to an unsafe request method ... In particular, the URI reference(s) in the
        // Location and Content-Location response header fields (if present) are candidates for
        // invalidation ... However, a cache MUST NOT trigger an invalidation under these
        // conditions if the origin (Section 4.3.1 of [HTTP]) of the URI to be invalidated differs
        // from that of the target URI".
        let host = head
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        for field in [LOCATION, CONTENT_LOCATION] {
            let Some(target) = response.get(&field).and_then(|v| v.to_str().ok()) else {
                continue;
            };
            let Some(path) = same_origin_path(target, host, head.uri.path()) else {
                continue;
            };
            let Ok(uri) = path.parse::<Uri>() else {
                continue;
            };
            let mut request = Request::new(());
            *request.uri_mut() = uri;
            *request.headers_mut() = head.headers.clone();
            let (mut parts, ()) = request.into_parts();
            let other = self.key_of(&mut parts);
            self.cache.remove(&other.key);
        }
    }
}

/// Decides how a stored response may answer a request (RFC 9111 §4 and §5.2.1).
fn judge(
    stored: &StoredResponse,
    request_cc: &CacheControl,
    client_no_cache: bool,
    now: u64,
) -> Judgement {
    let age = stored.age(now);
    let ttl = stored.ttl(now);
    let policy = &stored.policy;
    // §5.2.1.1: "The max-age request directive indicates that the client prefers a response
    // whose age is less than or equal to the specified number of seconds."
    match request_cc.delta("max-age") {
        Some(Delta::Seconds(n)) if age > n => return Judgement::Validate,
        Some(Delta::Invalid) => return Judgement::Validate,
        _ => {}
    }
    // §5.2.1.3: "The min-fresh request directive indicates that the client prefers a response
    // whose freshness lifetime is no less than its current age plus the specified time in
    // seconds."
    match request_cc.delta("min-fresh") {
        Some(Delta::Seconds(n)) if ttl < n as i64 => return Judgement::Validate,
        Some(Delta::Invalid) => return Judgement::Validate,
        _ => {}
    }
    // §5.2.1.4: "The no-cache request directive indicates that the client prefers a stored
    // response not be used to satisfy the request without successful validation on the origin
    // server." RFC 8246: an immutable response that is still fresh needs no validation.
    if client_no_cache && !(policy.immutable && ttl > 0) {
        return Judgement::Validate;
    }
    if policy.no_cache {
        return Judgement::Validate;
    }
    // §4.2: "A "fresh" response is one whose age has not yet exceeded its freshness lifetime".
    if ttl > 0 {
        return Judgement::Fresh;
    }
    // §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an explicit
    // in-protocol directive (e.g., by a no-cache response directive, a must-revalidate response
    // directive, or an applicable s-maxage or proxy-revalidate response directive".
    if policy.no_stale || stored.is_purged() {
        return Judgement::Validate;
    }
    let staleness = (-ttl) as u64;
    // §5.2.1.2: "The max-stale request directive indicates that the client will accept a
    // response that has exceeded its freshness lifetime."
    match request_cc.optional_delta("max-stale") {
        Some(None) => return Judgement::StaleAllowed,
        Some(Some(Delta::Seconds(n))) if staleness <= n => return Judgement::StaleAllowed,
        _ => {}
    }
    // RFC 5861 §3: "When present in an HTTP response, the stale-while-revalidate Cache-Control
    // extension indicates that caches MAY serve the response in which it appears after it
    // becomes stale, up to the indicated number of seconds."
    if policy.stale_while_revalidate > 0 && staleness <= policy.stale_while_revalidate {
        return Judgement::StaleWhileRevalidate;
    }
    Judgement::Validate
}

/// Whether a stale response may be served because the upstream failed.
///
/// RFC 5861 §4: "The stale-if-error Cache-Control extension indicates that when an error is
/// encountered, a cached stale response MAY be used to satisfy the request, regardless of other
/// freshness information." Beyond that window, a disconnected cache (RFC 9111 §4.2.4) serves
/// stale within its configured retention, unless a directive forbids stale reuse.
fn may_serve_stale_on_error(stored: &StoredResponse, now: u64, keep_stale: u64) -> bool {
    if stored.policy.no_stale || stored.policy.no_cache {
        return false;
    }
    let staleness = (-stored.ttl(now)).max(0) as u64;
    staleness <= stored.policy.stale_if_error.max(keep_stale)
}

/// Replaces the client's validators with the stored response's.
///
/// RFC 9111 §4.3.1: "When generating a conditional request for validation, a cache ... MUST send
/// the relevant entity tags (using If-Match, If-None-Match, or If-Range) if the entity tags were
/// provided in the stored response(s) being validated" and "SHOULD send the Last-Modified value
/// (using If-Modified-Since) if the request is not for a subrange, a single stored response is
/// being validated, and that response contains a Last-Modified value."
fn add_validators(headers: &mut HeaderMap, stored: &StoredResponse) {
    headers.remove(IF_NONE_MATCH);
    headers.remove(IF_MODIFIED_SINCE);
    headers.remove("if-match");
    headers.remove("if-unmodified-since");
    headers.remove("if-range");
    if let Some(etag) = stored.headers.get(ETAG) {
        headers.insert(IF_NONE_MATCH, etag.clone());
    }
    if let Some(lm) = stored.headers.get(LAST_MODIFIED) {
        headers.insert(IF_MODIFIED_SINCE, lm.clone());
    }
}

/// Whether the client's own conditional request is satisfied by the stored response.
///
/// RFC 9110 §13.2.2: If-None-Match is evaluated first; If-Modified-Since only "if the recipient
/// ... has no If-None-Match header field".
fn not_modified(request: &HeaderMap, stored: &HeaderMap) -> bool {
    if let Some(inm) = request.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        let Some(etag) = stored.get(ETAG).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let weak = |t: &str| t.trim().trim_start_matches("W/").to_string();
        return inm.trim() == "*" || inm.split(',').any(|t| weak(t) == weak(etag));
    }
    let Some(ims) = request
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(freshness::parse_date)
    else {
        return false;
    };
    let Some(lm) = stored
        .get(LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(freshness::parse_date)
    else {
        return false;
    };
    lm <= ims
}

/// The path of `target` when it is on the same origin as the request (`host`), resolving a
/// relative reference against `base_path`.
fn same_origin_path(target: &str, host: &str, base_path: &str) -> Option<String> {
    if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if !authority.eq_ignore_ascii_case(host) {
            return None;
        }
        return Some(if path.is_empty() {
            "/".into()
        } else {
            path.into()
        });
    }
    if target.starts_with("//") {
        return None;
    }
    if target.starts_with('/') {
        return Some(target.into());
    }
    let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
    Some(format!(
        "{}{target}",
        if dir.is_empty() { "/" } else { dir }
    ))
}

/// A response passed through from the upstream.
fn pass_through(
    mut parts: http::response::Parts,
    body: ProxyBody,
    cache_status: &str,
) -> Response<ProxyBody> {
    strip_for_downstream(&mut parts.headers);
    append_cache_status(&mut parts.headers, cache_status);
    Response::from_parts(parts, body)
}

/// An error response generated here that closes the connection.
pub fn refuse(status: StatusCode) -> Response<ProxyBody> {
    local(status, true)
}

/// A response generated here (errors), optionally closing the connection.
fn local(status: StatusCode, close: bool) -> Response<ProxyBody> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
    if close {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    build(status, headers, ProxyBody::full(Bytes::new()))
}

fn build(status: StatusCode, headers: HeaderMap, body: ProxyBody) -> Response<ProxyBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_rules() {
        assert_eq!(
            same_origin_path("http://a.test/x", "a.test", "/p"),
            Some("/x".into())
        );
        assert_eq!(same_origin_path("http://b.test/x", "a.test", "/p"), None);
        assert_eq!(same_origin_path("y", "a.test", "/d/p"), Some("/d/y".into()));
        assert_eq!(same_origin_path("/z", "a.test", "/d/p"), Some("/z".into()));
    }
}
