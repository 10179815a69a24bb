//! Cache keys, configurable per path prefix ([`KeyRule`]).
//!
//! The key of a request is built from its path, its query (parameters kept or dropped by glob,
//! optionally sorted), optionally its host and scheme, selected request headers and cookies, and
//! a derived segment. Whatever does not go into the key is also removed from the request sent
//! upstream, so an unkeyed input cannot make the origin produce a response that other clients
//! then receive (cache poisoning). Headers known to change what origins and frameworks serve
//! (`X-Forwarded-Host`, `X-Original-URL`, `X-HTTP-Method-Override`, ...) are removed unless a
//! rule keys on them.

use crate::config::{KeyRule, Segment};
use http::header::{COOKIE, HOST};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Uri};

/// Request header fields that are dropped upstream unless a rule puts them in the key.
const UNKEYED_DANGEROUS: &[&str] = &[
    "x-forwarded-host",
    "x-forwarded-server",
    "x-forwarded-scheme",
    "x-forwarded-proto",
    "x-host",
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The key of a request and the URL it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// The primary key in the store.
    pub key: String,
    /// `scheme://host/path?query` after normalization (recorded with stored responses).
    pub url: String,
}

/// Applies the key rules.
#[derive(Debug, Clone)]
pub struct Keyer {
    /// Rules, longest prefix first; the last one is the catch-all default.
    rules: Vec<KeyRule>,
}

impl Keyer {
    /// A keyer with `rules` (a default rule for `/` is added if none covers it).
    pub fn new(mut rules: Vec<KeyRule>) -> Self {
        if !rules.iter().any(|r| r.prefix == "/" || r.prefix.is_empty()) {
            rules.push(KeyRule::default());
        }
        rules.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Self { rules }
    }

    /// The rule for `path`.
    fn rule(&self, path: &str) -> &KeyRule {
        self.rules
            .iter()
            .find(|r| path.starts_with(&r.prefix))
            .unwrap_or(&self.rules[self.rules.len() - 1])
    }

    /// Normalizes `parts` for the upstream (query filtered and sorted, unkeyed inputs removed)
    /// and returns its key.
    pub fn apply(&self, parts: &mut Parts, scheme: &str) -> CacheKey {
        // HTTP/2 requests carry the host in the URI's authority instead of a Host field.
        if !parts.headers.contains_key(HOST) {
            if let Some(v) = parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                parts.headers.insert(HOST, v);
            }
        }
        let path = parts.uri.path().to_string();
        let rule = self.rule(&path);
        let query = parts.uri.query().map(|q| normalize_query(q, rule));
        let path_and_query = match &query {
            Some(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.clone(),
        };
        let unchanged = parts
            .uri
            .path_and_query()
            .is_some_and(|pq| pq.as_str() == path_and_query)
            && parts.uri.authority().is_none();
        if !unchanged {
            if let Ok(uri) = Uri::builder()
                .path_and_query(path_and_query.as_str())
                .build()
            {
                parts.uri = uri;
            }
        }
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let url = format!("{scheme}://{host}{path_and_query}");
        let mut key = String::with_capacity(url.len() + 16);
        if rule.scheme {
            key.push_str(scheme);
            key.push_str("://");
        }
        if rule.host {
            key.push_str(&host);
        }
        key.push_str(&path_and_query);
        for name in &rule.headers {
            key.push_str("|h:");
            key.push_str(name);
            key.push('=');
            for v in parts.headers.get_all(name.as_str()) {
                key.push_str(&String::from_utf8_lossy(v.as_bytes()));
                key.push(',');
            }
        }
        for name in UNKEYED_DANGEROUS {
            if !rule.headers.iter().any(|h| h == name) {
                parts.headers.remove(*name);
            }
        }
        // The segment reads its source before the cookie filter removes unkeyed cookies.
        let segment = rule
            .segment
            .as_ref()
            .map(|s| (s.name.as_str(), segment_of(s, &mut parts.headers)));
        if let Some(cookies) = &rule.cookies {
            let kept = filter_cookies(&parts.headers, |n| cookies.iter().any(|c| c == n));
            for (n, v) in &kept {
                key.push_str("|c:");
                key.push_str(n);
                key.push('=');
                key.push_str(v);
            }
            set_cookies(&mut parts.headers, &kept);
        }
        if let Some((name, value)) = segment {
            key.push_str("|s:");
            key.push_str(name);
            key.push('=');
            key.push_str(&value);
        }
        CacheKey { key, url }
    }
}

/// Filters and orders a query string per `rule`.
fn normalize_query(query: &str, rule: &KeyRule) -> String {
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            let kept = rule.query_keep.is_empty() || rule.query_keep.iter().any(|g| glob(g, name));
            kept && !rule.query_drop.iter().any(|g| glob(g, name))
        })
        .collect();
    if rule.sort_query {
        // A stable sort by name keeps the relative order of repeated parameters.
        params.sort_by_key(|p| p.split('=').next().unwrap_or(""));
    }
    params.join("&")
}

/// Whether `text` matches the glob `pattern` (Redis's syntax: `*`, `?`, `[a-z]`, `[^…]`, `\`
/// escapes; case-sensitive), [`larder_engine::glob::matches`].
pub fn glob(pattern: &str, text: &str) -> bool {
    larder_engine::glob::matches(pattern.as_bytes(), text.as_bytes(), false)
}

/// The cookies of the request (all `Cookie` lines) whose names pass `keep`, sorted by name.
fn filter_cookies(headers: &http::HeaderMap, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in headers.get_all(COOKIE) {
        let text = String::from_utf8_lossy(line.as_bytes());
        for pair in text.split(';') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = name.trim();
            if !name.is_empty() && keep(name) {
                out.push((name.to_string(), value.trim().to_string()));
            }
        }
    }
    out.sort();
    out
}

/// Replaces the `Cookie` field with `cookies`.
fn set_cookies(headers: &mut http::HeaderMap, cookies: &[(String, String)]) {
    headers.remove(COOKIE);
    if cookies.is_empty() {
        return;
    }
    let line = cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    if let Ok(v) = HeaderValue::from_str(&line) {
        headers.insert(COOKIE, v);
    }
}

/// Derives the segment, removes its source from `headers` and sends the segment instead.
fn segment_of(segment: &Segment, headers: &mut http::HeaderMap) -> String {
    let raw = if let Some(cookie) = &segment.cookie {
        let found = filter_cookies(headers, |n| n == cookie);
        let rest = filter_cookies(headers, |n| n != cookie);
        set_cookies(headers, &rest);
        found.into_iter().next().map(|(_, v)| v)
    } else if let Some(header) = &segment.header {
        let value = headers
            .get(header.as_str())
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string());
        headers.remove(header.as_str());
        value
    } else {
        None
    };
    let value = raw
        .filter(|v| segment.values.iter().any(|s| s == v))
        .unwrap_or_else(|| segment.default.clone());
    if let (Ok(name), Ok(v)) = (
        HeaderName::from_bytes(segment.forward_header.as_bytes()),
        HeaderValue::from_str(&value),
    ) {
        headers.insert(name, v);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&'static str, &'static str)]) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn globs() {
        assert!(glob("utm_*", "utm_source"));
        assert!(!glob("utm_*", "xutm_source"));
        assert!(glob("s?d", "sid"));
        assert!(glob("*", ""));
    }

    #[test]
    fn dropped_params_leave_key_and_upstream_and_order_is_normalized() {
        let rule = KeyRule {
            query_drop: vec!["utm_*".into()],
            ..KeyRule::default()
        };
        let keyer = Keyer::new(vec![rule]);
        let mut a = parts("/p?b=2&utm_source=x&a=1", &[("host", "Example.com")]);
        let mut b = parts("/p?a=1&b=2", &[("host", "example.com")]);
        let ka = keyer.apply(&mut a, "http");
        let kb = keyer.apply(&mut b, "http");
        assert_eq!(ka, kb);
        assert_eq!(a.uri.to_string(), "/p?a=1&b=2");
    }

    #[test]
    fn segment_from_cookie() {
        let rule = KeyRule {
            cookies: Some(vec!["lang".into()]),
            segment: Some(Segment {
                name: "plan".into(),
                cookie: Some("plan".into()),
                header: None,
                values: vec!["premium".into()],
                default: "free".into(),
                forward_header: "larder-segment".into(),
            }),
            ..KeyRule::default()
        };
        let keyer = Keyer::new(vec![rule]);
        let mut p = parts("/", &[("cookie", "sid=123; plan=premium; lang=fr")]);
        let k = keyer.apply(&mut p, "http");
        assert!(k.key.ends_with("|c:lang=fr|s:plan=premium"), "{}", k.key);
        assert_eq!(p.headers["cookie"], "lang=fr");
        assert_eq!(p.headers["larder-segment"], "premium");
        let mut q = parts("/", &[("cookie", "plan=gold")]);
        assert!(keyer.apply(&mut q, "http").key.ends_with("s:plan=free"));
    }

    #[test]
    fn unkeyed_override_headers_are_not_forwarded() {
        let keyer = Keyer::new(Vec::new());
        let mut p = parts(
            "/",
            &[
                ("x-forwarded-host", "evil"),
                ("x-http-method-override", "POST"),
            ],
        );
        keyer.apply(&mut p, "http");
        assert!(p.headers.is_empty());
    }
}
