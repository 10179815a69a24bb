//! `edge.toml`: the proxy's typed configuration. Every field has a default; command-line flags
//! override the file.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! origin = "http://127.0.0.1:9000"
//! capacity_bytes = 268435456
//!
//! [[keys]]
//! prefix = "/shop/"
//! query_drop = ["utm_*", "sessionid"]
//! headers = ["accept-language"]
//! segment = { name = "plan", cookie = "plan", values = ["premium"], default = "free" }
//! ```

use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything `larder edge` can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    /// Where clients connect.
    pub listen: SocketAddr,
    /// The upstream: an origin server or another `larder edge` (the shield).
    pub origin: String,
    /// The name this cache uses in `Cache-Status`.
    pub name: String,
    /// Byte budget of the response store.
    pub capacity_bytes: u64,
    /// Largest response body stored; larger ones are streamed through and not stored.
    pub max_object_bytes: u64,
    /// Most variants (responses selected by `Vary`) kept per primary key.
    pub max_variants: usize,
    /// Seconds a stale response is kept for revalidation and for serving when the upstream is
    /// unreachable (unless its directives forbid serving it stale).
    pub keep_stale_secs: u64,
    /// Fraction of the time since `Last-Modified` used as heuristic freshness.
    pub heuristic_fraction: f64,
    /// Upper bound of a heuristic freshness lifetime, in seconds.
    pub heuristic_max_secs: u64,
    /// Milliseconds allowed to connect to the upstream.
    pub connect_timeout_ms: u64,
    /// Milliseconds allowed for the upstream's response header after the request is sent.
    pub response_timeout_ms: u64,
    /// Milliseconds an idle pooled upstream connection is kept.
    pub upstream_idle_ms: u64,
    /// Most idle upstream connections kept per host.
    pub upstream_max_idle: usize,
    /// Milliseconds allowed for a client to send a request's header.
    pub client_header_timeout_ms: u64,
    /// Largest request header block accepted from a client, in bytes (larger gets 431).
    pub max_request_header_bytes: usize,
    /// Milliseconds a coalesced request waits for the leader's response.
    pub coalesce_timeout_ms: u64,
    /// Most requests waiting on one key; more go upstream on their own.
    pub coalesce_max_waiters: usize,
    /// Targeted cache-control fields this cache obeys, first match wins (RFC 9213); they take
    /// precedence over `Cache-Control` and `Expires`.
    pub targeted_fields: Vec<String>,
    /// Cache-key rules by path prefix; the longest matching prefix applies.
    pub keys: Vec<KeyRule>,
    /// The admin listener: purge, metrics, peers (`[admin]`, see [`crate::admin`]).
    pub admin: crate::admin::AdminConfig,
    /// Edge Side Includes (`[esi]`, see [`crate::esi`]).
    pub esi: crate::esi::EsiConfig,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            origin: "http://127.0.0.1:9000".into(),
            name: "larder".into(),
            capacity_bytes: 256 << 20,
            max_object_bytes: 8 << 20,
            max_variants: 16,
            keep_stale_secs: 86_400,
            heuristic_fraction: 0.1,
            heuristic_max_secs: 86_400,
            connect_timeout_ms: 2_000,
            response_timeout_ms: 30_000,
            upstream_idle_ms: 90_000,
            upstream_max_idle: 256,
            client_header_timeout_ms: 10_000,
            max_request_header_bytes: 32 << 10,
            coalesce_timeout_ms: 30_000,
            coalesce_max_waiters: 4_096,
            targeted_fields: vec![
                "larder-cache-control".into(),
                "cdn-cache-control".into(),
                "surrogate-control".into(),
            ],
            keys: Vec::new(),
            admin: Default::default(),
            esi: Default::default(),
        }
    }
}

impl EdgeConfig {
    /// Parses a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// The response-header timeout.
    pub fn response_timeout(&self) -> Duration {
        Duration::from_millis(self.response_timeout_ms)
    }

    /// The coalescing wait bound.
    pub fn coalesce_timeout(&self) -> Duration {
        Duration::from_millis(self.coalesce_timeout_ms)
    }
}

/// How requests under one path prefix are keyed.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyRule {
    /// Path prefix this rule applies to (`/` for everything).
    pub prefix: String,
    /// Query parameters kept (globs with `*` and `?`); empty keeps all not dropped.
    pub query_keep: Vec<String>,
    /// Query parameters dropped (globs), e.g. `utm_*`.
    pub query_drop: Vec<String>,
    /// Sort query parameters by name, so their order does not split the cache.
    pub sort_query: bool,
    /// Include the `Host` in the key.
    pub host: bool,
    /// Include the scheme in the key.
    pub scheme: bool,
    /// Request header fields included in the key (lower case).
    pub headers: Vec<String>,
    /// Cookies included in the key; when set, only these cookies are sent upstream.
    pub cookies: Option<Vec<String>>,
    /// A derived segment (e.g. free/premium) included in the key.
    pub segment: Option<Segment>,
}

impl Default for KeyRule {
    fn default() -> Self {
        Self {
            prefix: "/".into(),
            query_keep: Vec::new(),
            query_drop: Vec::new(),
            sort_query: true,
            host: true,
            scheme: false,
            headers: Vec::new(),
            cookies: None,
            segment: None,
        }
    }
}

/// A key segment derived from a cookie or a request header: its value if listed in `values`,
/// else `default`. The source is removed from the upstream request and the segment is sent as
/// `forward_header` instead.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// The segment's name in the key.
    pub name: String,
    /// Read from this cookie...
    pub cookie: Option<String>,
    /// ...or from this request header.
    pub header: Option<String>,
    /// The values that form their own segment.
    pub values: Vec<String>,
    /// The segment of every other value, or of no value.
    pub default: String,
    /// The header the segment is sent upstream in.
    #[serde(default = "default_segment_header")]
    pub forward_header: String,
}

fn default_segment_header() -> String {
    "larder-segment".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let cfg = EdgeConfig::from_toml(
            r#"
listen = "127.0.0.1:8080"
origin = "http://127.0.0.1:9000"
[[keys]]
prefix = "/shop/"
query_drop = ["utm_*", "sessionid"]
headers = ["accept-language"]
segment = { name = "plan", cookie = "plan", values = ["premium"], default = "free" }
"#,
        )
        .expect("parses");
        assert_eq!(cfg.keys[0].query_drop.len(), 2);
        assert!(cfg.keys[0].sort_query);
        assert!(EdgeConfig::from_toml("nonsense = 1").is_err());
    }
}
