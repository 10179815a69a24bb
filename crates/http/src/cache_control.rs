//! `Cache-Control` (and its targeted relatives) parsed into directives.
//!
//! RFC 9111 §5.2: "Cache directives are identified by a token, to be compared case-insensitively,
//! and have an optional argument that can use both token and quoted-string syntax."
//!
//! The parser never fails: a malformed directive is kept as written so that callers can decide
//! (an unparsable `max-age` makes a response stale, see [`Delta`]).

use http::HeaderMap;
use http::header::HeaderName;

/// One directive: its lower-cased name and its argument, unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The directive's name, lower-cased.
    pub name: String,
    /// The argument, with quotes and backslash escapes removed, if there was one.
    pub value: Option<String>,
}

/// A `delta-seconds` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delta {
    /// A valid number of seconds (capped at 2^31).
    Seconds(u64),
    /// Present but not a valid `delta-seconds`: the response is treated as stale.
    Invalid,
}

/// RFC 9111 §1.2.2: "If a cache receives a delta-seconds value greater than the greatest integer
/// it can represent, or if any of its subsequent calculations overflows, the cache MUST consider
/// the value to be 2147483648 (2^31) or the greatest positive integer it can conveniently
/// represent."
pub const DELTA_MAX: u64 = 2_147_483_648;

/// The directives of one field (all its lines), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    directives: Vec<Directive>,
}

impl CacheControl {
    /// Parses every line of `name` in `headers`; `None` when the field is absent.
    pub fn from_headers(headers: &HeaderMap, name: &HeaderName) -> Option<Self> {
        let mut lines = headers.get_all(name).iter().peekable();
        lines.peek()?;
        let mut cc = CacheControl::default();
        for line in lines {
            // A line that is not visible ASCII is ignored rather than trusted.
            if let Ok(text) = line.to_str() {
                parse_into(text, &mut cc.directives);
            }
        }
        Some(cc)
    }

    /// Parses one field value.
    pub fn parse(text: &str) -> Self {
        let mut cc = CacheControl::default();
        parse_into(text, &mut cc.directives);
        cc
    }

    /// Whether the field has no directives at all.
    pub fn is_empty(&self) -> bool {
        self.directives.is_empty()
    }

    /// The directives in order.
    pub fn directives(&self) -> &[Directive] {
        &self.directives
    }

    /// Whether the directive `name` (lower case) is present.
    pub fn has(&self, name: &str) -> bool {
        self.directives.iter().any(|d| d.name == name)
    }

    /// The argument of the first occurrence of `name`.
    pub fn value(&self, name: &str) -> Option<Option<&str>> {
        self.directives
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.value.as_deref())
    }

    /// The `delta-seconds` argument of `name`.
    ///
    /// RFC 9111 §4.2.1: "When there is more than one value present for a given directive (e.g.,
    /// two Expires header field lines or multiple Cache-Control: max-age directives), either the
    /// first occurrence should be used or the response should be considered stale." The first
    /// occurrence is used.
    pub fn delta(&self, name: &str) -> Option<Delta> {
        let value = self.value(name)?;
        Some(value.map_or(Delta::Invalid, parse_delta))
    }

    /// Like [`CacheControl::delta`] but for directives whose argument is optional
    /// (`max-stale`): `Some(None)` when present without an argument.
    pub fn optional_delta(&self, name: &str) -> Option<Option<Delta>> {
        let value = self.value(name)?;
        Some(value.map(parse_delta))
    }

    /// The field names listed in a qualified `no-cache="a, b"` or `private="a"`.
    pub fn field_names(&self, name: &str) -> Vec<String> {
        match self.value(name) {
            Some(Some(list)) => list
                .split(',')
                .map(|f| f.trim().to_ascii_lowercase())
                .filter(|f| !f.is_empty())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// RFC 9111 §1.2.2: "delta-seconds = 1*DIGIT".
fn parse_delta(text: &str) -> Delta {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Delta::Invalid;
    }
    let mut n: u64 = 0;
    for b in text.bytes() {
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
        if n > DELTA_MAX {
            return Delta::Seconds(DELTA_MAX);
        }
    }
    Delta::Seconds(n)
}

/// Splits a field value into directives, honouring quoted strings (a comma inside quotes does not
/// end a directive, and `max-age` inside a quoted string is not a directive).
fn parse_into(text: &str, out: &mut Vec<Directive>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Skip separators and whitespace.
        while i < bytes.len() && (bytes[i] == b',' || bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !matches!(bytes[i], b',' | b'=' | b' ' | b'\t') {
            i += 1;
        }
        let name = String::from_utf8_lossy(&bytes[start..i]).to_ascii_lowercase();
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        let mut value = None;
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'"' {
                i += 1;
                let mut v = String::new();
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' && i + 1 < bytes.len() {
                        i += 1;
                    }
                    v.push(bytes[i] as char);
                    i += 1;
                }
                i += 1; // the closing quote, if any
                value = Some(v);
            } else {
                let vstart = i;
                while i < bytes.len() && bytes[i] != b',' {
                    i += 1;
                }
                value = Some(
                    String::from_utf8_lossy(&bytes[vstart..i])
                        .trim()
                        .to_string(),
                );
            }
        }
        // Anything up to the next comma is junk that belongs to this directive.
        while i < bytes.len() && bytes[i] != b',' {
            i += 1;
        }
        if !name.is_empty() {
            out.push(Directive { name, value });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tokens_quotes_and_case() {
        let cc = CacheControl::parse(r#"Max-Age=60, no-cache="set-cookie, foo", PRIVATE"#);
        assert_eq!(cc.delta("max-age"), Some(Delta::Seconds(60)));
        assert_eq!(cc.field_names("no-cache"), vec!["set-cookie", "foo"]);
        assert!(cc.has("private"));
    }

    #[test]
    fn quoted_max_age_is_not_a_directive() {
        let cc = CacheControl::parse(r#"extension="max-age=3600", max-age="1""#);
        assert_eq!(cc.delta("max-age"), Some(Delta::Seconds(1)));
        let cc = CacheControl::parse(r#"max-age="1", extension="max-age=3600""#);
        assert_eq!(cc.delta("max-age"), Some(Delta::Seconds(1)));
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        let cc = CacheControl::parse(r#"mäx-age=1é, é="ü\", s-maxage=é"#);
        // The escaped quote keeps `s-maxage=é` inside the quoted string.
        assert_eq!(cc.delta("s-maxage"), None);
        let cc = CacheControl::parse("max-age=é1, s-maxage=ü");
        assert_eq!(cc.delta("max-age"), Some(Delta::Invalid));
        assert_eq!(cc.delta("s-maxage"), Some(Delta::Invalid));
    }

    #[test]
    fn bad_deltas() {
        assert_eq!(
            CacheControl::parse("max-age=-1").delta("max-age"),
            Some(Delta::Invalid)
        );
        assert_eq!(
            CacheControl::parse("max-age='3600'").delta("max-age"),
            Some(Delta::Invalid)
        );
        assert_eq!(
            CacheControl::parse("max-age=003600").delta("max-age"),
            Some(Delta::Seconds(3600))
        );
        assert_eq!(
            CacheControl::parse("max-age=99999999999999999999").delta("max-age"),
            Some(Delta::Seconds(DELTA_MAX))
        );
    }
}
