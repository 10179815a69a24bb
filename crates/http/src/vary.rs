//! `Vary`: secondary cache keys (RFC 9111 §4.1).
//!
//! A stored response remembers, for each field its `Vary` names, the normalized value the
//! request that caused it had (or its absence). A later request matches when every one of those
//! fields normalizes to the same value.

use http::HeaderMap;
use http::header::VARY;

/// What a response's `Vary` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vary {
    /// RFC 9111 §4.1: "A stored response with a Vary header field value containing a member "*"
    /// always fails to match." Such a response is never stored.
    Star,
    /// The lower-cased field names (possibly none).
    Fields(Vec<String>),
}

/// Reads the `Vary` of a response (all its lines).
pub fn parse(headers: &HeaderMap) -> Vary {
    let mut fields = Vec::new();
    for line in headers.get_all(VARY) {
        let Ok(text) = line.to_str() else {
            // An unreadable Vary could name anything: treat it like "*".
            return Vary::Star;
        };
        for member in text.split(',') {
            let member = member.trim();
            if member == "*" {
                return Vary::Star;
            }
            if !member.is_empty() {
                let name = member.to_ascii_lowercase();
                if !fields.contains(&name) {
                    fields.push(name);
                }
            }
        }
    }
    Vary::Fields(fields)
}

/// The captured request values for a stored response: `(field, normalized value or absent)`.
pub type Captured = Vec<(String, Option<String>)>;

/// Captures the request's values of `fields`.
pub fn capture(fields: &[String], request: &HeaderMap) -> Captured {
    fields
        .iter()
        .map(|f| (f.clone(), normalized(request, f)))
        .collect()
}

/// Whether `request` selects the stored response that captured `captured`.
///
/// RFC 9111 §4.1: "The header fields from two requests are defined to match if and only if
/// those in the first request can be transformed to those in the second request by applying any
/// of the following: adding or removing whitespace, where allowed in the header field's syntax;
/// combining multiple header field lines with the same field name (see Section 5.3 of [HTTP]);
/// normalizing both header field values in a way that is known to have identical semantics,
/// according to the header field's specification". A field absent from one request and present
/// in the other does not match.
pub fn matches(captured: &Captured, request: &HeaderMap) -> bool {
    captured
        .iter()
        .all(|(field, value)| normalized(request, field) == *value)
}

/// All lines of `field` combined with ", ", whitespace around list members removed.
fn normalized(headers: &HeaderMap, field: &str) -> Option<String> {
    let mut lines = headers.get_all(field).iter().peekable();
    lines.peek()?;
    let mut out = String::new();
    for line in lines {
        let text = String::from_utf8_lossy(line.as_bytes());
        for member in text.split(',') {
            let member = member.split_whitespace().collect::<Vec<_>>().join(" ");
            if member.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&member);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn star_anywhere_is_star() {
        for v in ["*", "*, *", ", *", "*, Foo", "Foo, *"] {
            let mut h = HeaderMap::new();
            h.insert(VARY, HeaderValue::from_static("x"));
            h.insert(VARY, HeaderValue::from_str(v).expect("v"));
            assert_eq!(parse(&h), Vary::Star, "{v}");
        }
    }

    #[test]
    fn whitespace_and_line_folding_are_normalized() {
        let mut a = HeaderMap::new();
        a.append("accept", HeaderValue::from_static("text/html,  image/png"));
        let mut b = HeaderMap::new();
        b.append("accept", HeaderValue::from_static("text/html"));
        b.append("accept", HeaderValue::from_static("image/png"));
        let captured = capture(&["accept".into()], &a);
        assert!(matches(&captured, &b));
        assert!(!matches(&captured, &HeaderMap::new()));
    }
}
