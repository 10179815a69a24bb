//! Freshness lifetime (RFC 9111 §4.2.1, §4.2.2) and age (§4.2.3) of a response.
//!
//! Times are milliseconds since the Unix epoch on the proxy's injected clock; lifetimes and ages
//! are whole seconds, as HTTP carries them.

use crate::cache_control::{CacheControl, DELTA_MAX, Delta};
use http::header::{AGE, DATE, EXPIRES, LAST_MODIFIED};
use http::{HeaderMap, HeaderName, StatusCode};
use std::time::{Duration, UNIX_EPOCH};

/// The directives that govern one response: those of the first valid targeted field
/// (RFC 9213) if there is one, else `Cache-Control`.
#[derive(Debug, Clone, Default)]
pub struct ResponseDirectives {
    /// The directives in force.
    pub cc: CacheControl,
    /// Whether they came from a targeted field (then `Expires` is ignored too).
    pub targeted: bool,
}

impl ResponseDirectives {
    /// Picks the directives for a response.
    ///
    /// RFC 9213 §2.1: "the cache MUST select the first (in target list order) field with a
    /// valid, non-empty value and use its value to determine the caching policy for the response,
    /// and it MUST ignore the Cache-Control and Expires header fields in that response, unless no
    /// valid, non-empty value is available from the listed header fields."
    pub fn select(headers: &HeaderMap, targets: &[HeaderName]) -> Self {
        for name in targets {
            if let Some(cc) = CacheControl::from_headers(headers, name) {
                let governs = if name == "surrogate-control" {
                    // Surrogate-Control also carries `content="ESI/1.0"`; it governs caching only
                    // when it says something about it.
                    cc.has("max-age") || cc.has("no-store")
                } else {
                    !cc.is_empty()
                };
                if governs {
                    return Self { cc, targeted: true };
                }
            }
        }
        let cc =
            CacheControl::from_headers(headers, &http::header::CACHE_CONTROL).unwrap_or_default();
        Self {
            cc,
            targeted: false,
        }
    }
}

/// How heuristic freshness is computed.
#[derive(Debug, Clone, Copy)]
pub struct Heuristic {
    /// Fraction of the time since `Last-Modified` (RFC 9111 §4.2.2 suggests 10%).
    pub fraction: f64,
    /// Upper bound of a heuristic lifetime, in seconds.
    pub max_secs: u64,
}

impl Default for Heuristic {
    fn default() -> Self {
        Self {
            fraction: 0.1,
            max_secs: 86_400,
        }
    }
}

/// RFC 9110 §15.1: the status codes that are "heuristically cacheable".
pub fn heuristically_cacheable(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        200 | 203 | 204 | 206 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// Parses one HTTP-date into milliseconds since the epoch.
pub fn parse_date(text: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(text.trim()).ok()?;
    t.duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as u64)
}

/// Formats milliseconds since the epoch as an IMF-fixdate.
pub fn format_date(ms: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

/// The single value of a date field, if it has exactly one valid line.
fn single_date(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    let mut lines = headers.get_all(name).iter();
    let first = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    parse_date(first.to_str().ok()?)
}

/// The `Date` of a response, or `fallback` when it is missing or invalid.
pub fn date_value(headers: &HeaderMap, fallback: u64) -> u64 {
    single_date(headers, &DATE).unwrap_or(fallback)
}

/// The `Age` a response arrived with, in seconds.
///
/// RFC 9111 §5.1: "Age = delta-seconds"; a value that is not exactly one non-negative integer
/// (several lines, a list, a sign, a fraction, a parameter) is not trusted: the response is
/// treated as maximally old, so it is not served as fresh.
pub fn age_value(headers: &HeaderMap) -> u64 {
    let mut lines = headers.get_all(AGE).iter();
    let Some(first) = lines.next() else {
        return 0;
    };
    if lines.next().is_some() {
        return DELTA_MAX;
    }
    let text = first.to_str().unwrap_or("").trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return DELTA_MAX;
    }
    text.parse::<u64>().map_or(DELTA_MAX, |n| n.min(DELTA_MAX))
}

/// The freshness lifetime of a response in seconds, or `None` when it has neither explicit
/// freshness nor a heuristic one (such a response is not stored, see [`crate::storable`]).
///
/// RFC 9111 §4.2.1: "A cache can calculate the freshness lifetime (denoted as
/// freshness_lifetime) of a response by evaluating the following rules and using the first
/// match: If the cache is shared and the s-maxage response directive is present, use its value,
/// or If the max-age response directive is present, use its value, or If the Expires response
/// header field is present, use its value minus the value of the Date response header field
/// (using the time the message was received if it is not present), or Otherwise, no explicit
/// expiration time is present in the response. A heuristic freshness lifetime might be
/// applicable."
pub fn freshness_lifetime(
    status: StatusCode,
    headers: &HeaderMap,
    directives: &ResponseDirectives,
    response_time: u64,
    heuristic: Heuristic,
) -> Option<u64> {
    let cc = &directives.cc;
    for name in ["s-maxage", "max-age"] {
        match cc.delta(name) {
            Some(Delta::Seconds(s)) => return Some(s),
            // An argument that is not delta-seconds makes the response stale.
            Some(Delta::Invalid) => return Some(0),
            None => {}
        }
    }
    if !directives.targeted && headers.contains_key(EXPIRES) {
        // RFC 9111 §5.3: "A cache recipient MUST interpret invalid date formats, especially the
        // value "0", as representing a time in the past (i.e., "already expired")."
        let Some(expires) = single_date(headers, &EXPIRES) else {
            return Some(0);
        };
        let date = date_value(headers, response_time);
        return Some(expires.saturating_sub(date) / 1000);
    }
    // RFC 9111 §4.2.2: "a cache MUST NOT use heuristics to determine freshness when an explicit
    // expiration time is present" and "a response ... MAY be assigned a heuristic expiration
    // time when it is stored" only "if the response status code is defined as heuristically
    // cacheable or the response is marked public".
    if !(heuristically_cacheable(status) || cc.has("public")) {
        return None;
    }
    // "If the response has a Last-Modified header field, caches are encouraged to use a
    // heuristic expiration value that is no more than some fraction of the interval since that
    // time. A typical setting of this fraction might be 10%."
    let last_modified = single_date(headers, &LAST_MODIFIED)?;
    let date = date_value(headers, response_time);
    let interval = date.saturating_sub(last_modified) / 1000;
    let lifetime = (interval as f64 * heuristic.fraction) as u64;
    Some(lifetime.min(heuristic.max_secs))
}

/// The age of a response when it was received, in seconds (RFC 9111 §4.2.3):
///
/// ```text
/// apparent_age = max(0, response_time - date_value);
/// response_delay = response_time - request_time;
/// corrected_age_value = age_value + response_delay;
/// corrected_initial_age = max(apparent_age, corrected_age_value);
/// ```
pub fn corrected_initial_age(headers: &HeaderMap, request_time: u64, response_time: u64) -> u64 {
    let date = date_value(headers, response_time);
    let apparent_age = response_time.saturating_sub(date) / 1000;
    let response_delay = response_time.saturating_sub(request_time) / 1000;
    let corrected_age_value = age_value(headers).saturating_add(response_delay);
    apparent_age.max(corrected_age_value).min(DELTA_MAX)
}

/// `current_age = corrected_initial_age + resident_time` (RFC 9111 §4.2.3), in seconds.
pub fn current_age(corrected_initial_age: u64, response_time: u64, now: u64) -> u64 {
    let resident_time = now.saturating_sub(response_time) / 1000;
    corrected_initial_age.saturating_add(resident_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn s_maxage_wins_over_max_age_and_expires() {
        let h = headers(&[("cache-control", "max-age=600, s-maxage=60")]);
        let d = ResponseDirectives::select(&h, &[]);
        assert_eq!(
            freshness_lifetime(StatusCode::OK, &h, &d, NOW, Heuristic::default()),
            Some(60)
        );
    }

    #[test]
    fn expires_minus_date_and_invalid_expires() {
        let date = format_date(NOW);
        let exp = format_date(NOW + 120_000);
        let h = headers(&[("date", &date), ("expires", &exp)]);
        let d = ResponseDirectives::select(&h, &[]);
        assert_eq!(
            freshness_lifetime(StatusCode::OK, &h, &d, NOW, Heuristic::default()),
            Some(120)
        );
        let h = headers(&[("expires", "0")]);
        assert_eq!(
            freshness_lifetime(StatusCode::OK, &h, &d, NOW, Heuristic::default()),
            Some(0)
        );
    }

    #[test]
    fn heuristic_only_for_heuristically_cacheable_statuses() {
        let lm = format_date(NOW - 1_000_000);
        let h = headers(&[("last-modified", &lm)]);
        let d = ResponseDirectives::select(&h, &[]);
        assert_eq!(
            freshness_lifetime(StatusCode::OK, &h, &d, NOW, Heuristic::default()),
            Some(100)
        );
        assert_eq!(
            freshness_lifetime(StatusCode::CREATED, &h, &d, NOW, Heuristic::default()),
            None
        );
    }

    #[test]
    fn targeted_field_overrides_cache_control() {
        let h = headers(&[
            ("cache-control", "no-store"),
            ("cdn-cache-control", "max-age=30"),
        ]);
        let targets = [HeaderName::from_static("cdn-cache-control")];
        let d = ResponseDirectives::select(&h, &targets);
        assert!(d.targeted);
        assert!(!d.cc.has("no-store"));
    }

    #[test]
    fn age_parsing_distrusts_odd_values() {
        assert_eq!(age_value(&headers(&[("age", "30")])), 30);
        for bad in ["-1", "1.5", "0, 0", "30;a=b", "old"] {
            assert_eq!(age_value(&headers(&[("age", bad)])), DELTA_MAX, "{bad}");
        }
        assert_eq!(
            age_value(&headers(&[("age", "0"), ("age", "0")])),
            DELTA_MAX
        );
    }

    #[test]
    fn corrected_age_includes_upstream_age_and_delay() {
        let date = format_date(NOW);
        let h = headers(&[("date", &date), ("age", "10")]);
        assert_eq!(corrected_initial_age(&h, NOW, NOW + 2_000), 12);
        assert_eq!(current_age(12, NOW + 2_000, NOW + 7_000), 17);
    }
}
