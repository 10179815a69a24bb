//! The proxy's counters and their Prometheus text exposition (format 0.0.4), served by the admin
//! listener at `GET /metrics`.
//!
//! Every counter is an `AtomicU64` bumped with relaxed ordering: the request path pays a few
//! uncontended atomic adds and, for the per-prefix hit ratio, a longest-prefix match over at
//! most [`MAX_PREFIXES`] configured prefixes. Rendering reads each counter once; values read
//! together are not a consistent snapshot (each is exact on its own).
//!
//! How a request ended is read from this cache's own `Cache-Status` entry (the last member, RFC
//! 9211), so the metrics count exactly what the response says happened: [`Class::of`].

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most path prefixes with their own hit ratio.
pub const MAX_PREFIXES: usize = 64;

/// How one request was answered, from this cache's `Cache-Status` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Served fresh from the cache.
    Hit,
    /// Served stale from the cache (max-stale, stale-while-revalidate, stale-if-error, upstream
    /// unreachable).
    Stale,
    /// Not in the cache (or no matching variant): fetched from the upstream.
    Miss,
    /// A stored response was validated with the upstream (`fwd=stale` or `fwd=request`).
    Revalidated,
    /// Not cacheable by method: passed through.
    Pass,
    /// Generated here (an error) without a `Cache-Status` entry.
    Local,
}

impl Class {
    /// Classifies a response by its last `Cache-Status` member (this cache's). `None` → Local.
    pub fn of(entry: Option<&str>) -> Self {
        let Some(entry) = entry else {
            return Class::Local;
        };
        let entry = entry.rsplit(',').next().unwrap_or(entry);
        let param = |name: &str| {
            entry
                .split(';')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(name))
        };
        if entry.split(';').any(|p| p.trim() == "hit") {
            return match param("detail=") {
                Some(
                    "max-stale"
                    | "stale-while-revalidate"
                    | "stale-if-error"
                    | "stale-upstream-unreachable",
                ) => Class::Stale,
                _ => Class::Hit,
            };
        }
        match param("fwd=") {
            Some("bypass") => Class::Pass,
            Some("stale" | "request") => Class::Revalidated,
            Some(_) => Class::Miss,
            None => Class::Local,
        }
    }
}

#[derive(Debug)]
struct Prefix {
    prefix: String,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The counters.
#[derive(Debug)]
pub struct Metrics {
    classes: [AtomicU64; 6],
    origin_requests: AtomicU64,
    origin_errors: AtomicU64,
    conditional: AtomicU64,
    not_modified: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    purges: [AtomicU64; 2],
    purged: AtomicU64,
    esi_documents: AtomicU64,
    esi_fragments: AtomicU64,
    esi_errors: AtomicU64,
    prefixes: Vec<Prefix>,
}

/// A value computed elsewhere (cache size, tag index) rendered beside the counters.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Metric name without the `larder_edge_` prefix (counters end in `_total`).
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// Counter (monotonic) or gauge.
    pub counter: bool,
    /// The value.
    pub value: f64,
}

const CLASS_NAMES: [&str; 6] = ["hit", "stale", "miss", "revalidated", "pass", "local"];

fn class_index(class: Class) -> usize {
    match class {
        Class::Hit => 0,
        Class::Stale => 1,
        Class::Miss => 2,
        Class::Revalidated => 3,
        Class::Pass => 4,
        Class::Local => 5,
    }
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Metrics {
    /// Counters with a hit ratio for each of `prefixes` (the first [`MAX_PREFIXES`]; a request
    /// counts under its longest matching prefix).
    pub fn new(prefixes: &[String]) -> Self {
        let mut list: Vec<Prefix> = Vec::new();
        for p in prefixes.iter().take(MAX_PREFIXES) {
            if !list.iter().any(|q| &q.prefix == p) {
                list.push(Prefix {
                    prefix: p.clone(),
                    hits: AtomicU64::new(0),
                    misses: AtomicU64::new(0),
                });
            }
        }
        // Longest first, so the first match is the longest.
        list.sort_by_key(|p| std::cmp::Reverse(p.prefix.len()));
        Self {
            classes: Default::default(),
            origin_requests: AtomicU64::new(0),
            origin_errors: AtomicU64::new(0),
            conditional: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            purges: Default::default(),
            purged: AtomicU64::new(0),
            esi_documents: AtomicU64::new(0),
            esi_fragments: AtomicU64::new(0),
            esi_errors: AtomicU64::new(0),
            prefixes: list,
        }
    }

    /// The configured prefix a request path counts under (the longest that matches).
    pub fn prefix_slot(&self, path: &str) -> Option<usize> {
        self.prefixes
            .iter()
            .position(|p| path.starts_with(p.prefix.as_str()))
    }

    /// Records one client request (its path under prefix `slot`), answered as `class`,
    /// `bytes_out` body bytes sent.
    pub fn request(&self, slot: Option<usize>, class: Class, bytes_out: u64) {
        bump(&self.classes[class_index(class)], 1);
        bump(&self.bytes_out, bytes_out);
        let hit = match class {
            Class::Hit | Class::Stale => true,
            Class::Miss | Class::Revalidated => false,
            Class::Pass | Class::Local => return,
        };
        if let Some(p) = slot.and_then(|n| self.prefixes.get(n)) {
            bump(if hit { &p.hits } else { &p.misses }, 1);
        }
    }

    /// Records a response sent to a client, classified by its `Cache-Status` (the last field
    /// line is this cache's), its body length when known.
    pub fn response<B: hyper::body::Body>(
        &self,
        slot: Option<usize>,
        response: &http::Response<B>,
    ) {
        let entry = response
            .headers()
            .get_all("cache-status")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok());
        let bytes = response.body().size_hint().exact().unwrap_or(0);
        self.request(slot, Class::of(entry), bytes);
    }

    /// Records the result of an upstream exchange.
    pub fn origin_result<B: hyper::body::Body, E>(&self, result: &Result<http::Response<B>, E>) {
        match result {
            Ok(r) => self.origin_response(
                r.body().size_hint().exact().unwrap_or(0),
                r.status() == http::StatusCode::NOT_MODIFIED,
            ),
            Err(_) => self.origin_error(),
        }
    }

    /// Records one request sent upstream (`conditional` when it carried validators).
    pub fn origin_request(&self, conditional: bool) {
        bump(&self.origin_requests, 1);
        if conditional {
            bump(&self.conditional, 1);
        }
    }

    /// Records an upstream response: its body bytes (as far as known) and whether it was a 304.
    pub fn origin_response(&self, bytes: u64, not_modified: bool) {
        bump(&self.bytes_in, bytes);
        if not_modified {
            bump(&self.not_modified, 1);
        }
    }

    /// Records an upstream exchange that failed (unreachable, timeout).
    pub fn origin_error(&self) {
        bump(&self.origin_errors, 1);
    }

    /// Records a purge (`soft` or hard) that affected `objects` stored objects.
    pub fn purge(&self, soft: bool, objects: u64) {
        bump(&self.purges[soft as usize], 1);
        bump(&self.purged, objects);
    }

    /// Records an ESI document assembled from `fragments` fetched fragments, `failed` of them
    /// failing (answered by `alt`, skipped by `onerror="continue"`, or failing the document).
    pub fn esi(&self, fragments: u64, failed: u64) {
        bump(&self.esi_documents, 1);
        bump(&self.esi_fragments, fragments);
        bump(&self.esi_errors, failed);
    }

    /// Requests answered as `class` so far.
    pub fn count(&self, class: Class) -> u64 {
        read(&self.classes[class_index(class)])
    }

    /// Requests sent upstream so far, and how many of them were conditional.
    pub fn origin_counts(&self) -> (u64, u64) {
        (read(&self.origin_requests), read(&self.conditional))
    }

    /// Renders every metric, then `extra`, in the Prometheus text format.
    pub fn render(&self, extra: &[Sample]) -> String {
        let mut out = String::with_capacity(4096);
        family(
            &mut out,
            "requests_total",
            "Client requests by how they were answered (Cache-Status).",
            "counter",
        );
        for (name, counter) in CLASS_NAMES.iter().zip(&self.classes) {
            let _ = writeln!(
                out,
                "larder_edge_requests_total{{result=\"{name}\"}} {}",
                read(counter)
            );
        }
        let hits = read(&self.classes[0]);
        let stale = read(&self.classes[1]);
        let misses = read(&self.classes[2]);
        let revalidated = read(&self.classes[3]);
        let simple: [(&str, &str, u64); 11] = [
            ("hits_total", "Requests served fresh from the cache.", hits),
            (
                "misses_total",
                "Requests fetched from the upstream for lack of a stored response.",
                misses,
            ),
            (
                "stale_served_total",
                "Requests served a stale stored response.",
                stale,
            ),
            (
                "revalidations_total",
                "Conditional requests sent upstream to validate a stored response.",
                read(&self.conditional),
            ),
            (
                "revalidations_not_modified_total",
                "Validations the upstream answered 304 Not Modified.",
                read(&self.not_modified),
            ),
            (
                "origin_requests_total",
                "Requests sent to the upstream.",
                read(&self.origin_requests),
            ),
            (
                "origin_errors_total",
                "Upstream exchanges that failed (unreachable, timeout).",
                read(&self.origin_errors),
            ),
            (
                "bytes_in_total",
                "Body bytes received from the upstream (declared length or buffered size).",
                read(&self.bytes_in),
            ),
            (
                "bytes_out_total",
                "Body bytes sent to clients (known lengths).",
                read(&self.bytes_out),
            ),
            (
                "purged_objects_total",
                "Stored objects affected by purges.",
                read(&self.purged),
            ),
            (
                "esi_fragments_total",
                "ESI fragments fetched.",
                read(&self.esi_fragments),
            ),
        ];
        for (name, help, value) in simple {
            family(&mut out, name, help, "counter");
            let _ = writeln!(out, "larder_edge_{name} {value}");
        }
        family(
            &mut out,
            "purges_total",
            "Purge requests applied, by mode.",
            "counter",
        );
        for (mode, counter) in ["hard", "soft"].iter().zip(&self.purges) {
            let _ = writeln!(
                out,
                "larder_edge_purges_total{{mode=\"{mode}\"}} {}",
                read(counter)
            );
        }
        for (name, help, value) in [
            (
                "esi_documents_total",
                "ESI documents assembled.",
                read(&self.esi_documents),
            ),
            (
                "esi_errors_total",
                "ESI fragments that failed.",
                read(&self.esi_errors),
            ),
        ] {
            family(&mut out, name, help, "counter");
            let _ = writeln!(out, "larder_edge_{name} {value}");
        }
        family(
            &mut out,
            "hit_ratio",
            "Share of cacheable requests served from the cache (fresh or stale).",
            "gauge",
        );
        let _ = writeln!(
            out,
            "larder_edge_hit_ratio {}",
            ratio(hits + stale, misses + revalidated)
        );
        if !self.prefixes.is_empty() {
            family(
                &mut out,
                "prefix_requests_total",
                "Cacheable requests per configured path prefix (longest match), by result.",
                "counter",
            );
            for p in &self.prefixes {
                let label = escape(&p.prefix);
                for (result, counter) in [("hit", &p.hits), ("miss", &p.misses)] {
                    let _ = writeln!(
                        out,
                        "larder_edge_prefix_requests_total{{prefix=\"{label}\",result=\"{result}\"}} {}",
                        read(counter)
                    );
                }
            }
            family(
                &mut out,
                "prefix_hit_ratio",
                "Share of cacheable requests served from the cache per path prefix.",
                "gauge",
            );
            for p in &self.prefixes {
                let _ = writeln!(
                    out,
                    "larder_edge_prefix_hit_ratio{{prefix=\"{}\"}} {}",
                    escape(&p.prefix),
                    ratio(read(&p.hits), read(&p.misses))
                );
            }
        }
        for s in extra {
            let kind = if s.counter { "counter" } else { "gauge" };
            family(&mut out, s.name, s.help, kind);
            let _ = writeln!(out, "larder_edge_{} {}", s.name, s.value);
        }
        out
    }
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP larder_edge_{name} {help}");
    let _ = writeln!(out, "# TYPE larder_edge_{name} {kind}");
}

fn ratio(hits: u64, misses: u64) -> f64 {
    let total = hits + misses;
    if total == 0 {
        0.0
    } else {
        hits as f64 / total as f64
    }
}

/// A label value escaped for the text format (backslash, double quote, line feed).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Checks a text exposition: every sample belongs to a family announced by `# HELP` and
/// `# TYPE` before it, counters end in `_total`, names and labels are well formed, values parse.
/// Returns the first problem. (Used by the tests; exported so integration tests can use it.)
pub fn check_exposition(text: &str) -> Result<(), String> {
    let mut helped: Vec<&str> = Vec::new();
    let mut typed: Vec<(&str, &str)> = Vec::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    for (no, line) in text.lines().enumerate() {
        let err = |m: &str| Err(format!("line {}: {m}: {line}", no + 1));
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            if !name_ok(name) || helped.contains(&name) {
                return err("bad or repeated HELP");
            }
            helped.push(name);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let (name, kind) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            if !name_ok(name)
                || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
            {
                return err("bad TYPE");
            }
            if kind == "counter" && !name.ends_with("_total") {
                return err("counter not ending in _total");
            }
            typed.push((name, kind));
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = match line.rsplit_once(' ') {
            Some(x) => x,
            None => return err("no value"),
        };
        if value.parse::<f64>().is_err() {
            return err("value does not parse");
        }
        let name = series.split('{').next().unwrap_or("");
        if !name_ok(name) || !helped.contains(&name) || !typed.iter().any(|(n, _)| *n == name) {
            return err("sample without HELP and TYPE");
        }
        if let Some(labels) = series.strip_prefix(name) {
            let braced = labels.starts_with('{') && labels.ends_with('}');
            if !labels.is_empty() && !braced {
                return err("bad label set");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_from_cache_status() {
        assert_eq!(Class::of(Some("larder; hit; ttl=10")), Class::Hit);
        assert_eq!(
            Class::of(Some("larder; hit; ttl=-3; detail=stale-while-revalidate")),
            Class::Stale
        );
        assert_eq!(
            Class::of(Some("larder; fwd=uri-miss; fwd-status=200; stored")),
            Class::Miss
        );
        assert_eq!(
            Class::of(Some("larder; fwd=stale; fwd-status=304; stored")),
            Class::Revalidated
        );
        assert_eq!(
            Class::of(Some("larder; fwd=bypass; fwd-status=201")),
            Class::Pass
        );
        assert_eq!(
            Class::of(Some("shield; hit, larder; fwd=uri-miss")),
            Class::Miss
        );
        assert_eq!(Class::of(None), Class::Local);
    }

    #[test]
    fn exposition_is_valid_and_counts() {
        let m = Metrics::new(&["/a/".into(), "/a/b/".into(), "/q\"x".into()]);
        m.request(m.prefix_slot("/a/b/c"), Class::Hit, 10);
        m.request(m.prefix_slot("/a/x"), Class::Miss, 5);
        m.request(m.prefix_slot("/a/b/d"), Class::Stale, 5);
        m.request(m.prefix_slot("/z"), Class::Hit, 1);
        m.request(m.prefix_slot("/z"), Class::Pass, 1);
        m.origin_request(true);
        m.origin_response(100, true);
        m.purge(true, 3);
        let text = m.render(&[Sample {
            name: "cache_objects",
            help: "Objects stored.",
            counter: false,
            value: 7.0,
        }]);
        check_exposition(&text).expect("valid exposition");
        assert!(text.contains("larder_edge_hits_total 2\n"));
        assert!(text.contains("larder_edge_bytes_out_total 22\n"));
        assert!(text.contains("larder_edge_prefix_hit_ratio{prefix=\"/a/b/\"} 1\n"));
        assert!(text.contains("larder_edge_prefix_hit_ratio{prefix=\"/a/\"} 0\n"));
        assert!(text.contains("prefix=\"/q\\\"x\""));
        assert!(text.contains("larder_edge_hit_ratio 0.75\n"));
        assert!(text.contains("larder_edge_purges_total{mode=\"soft\"} 1\n"));
        assert!(text.contains("larder_edge_cache_objects 7\n"));
        assert!(check_exposition("# TYPE x counter\nx 1\n").is_err());
        assert!(check_exposition("y 1\n").is_err());
    }

    #[test]
    fn prefixes_are_bounded() {
        let many: Vec<String> = (0..200).map(|i| format!("/p{i}/")).collect();
        let m = Metrics::new(&many);
        assert_eq!(m.prefixes.len(), MAX_PREFIXES);
    }
}
