//! Whether a response may be stored by a shared cache (RFC 9111 §3), and the reuse policy it
//! is stored with.

use crate::cache_control::{CacheControl, Delta};
use crate::freshness::{Heuristic, ResponseDirectives, freshness_lifetime};
use crate::vary::{self, Vary};
use http::header::{AUTHORIZATION, SET_COOKIE};
use http::{HeaderMap, Method, StatusCode};

/// How a stored response may be reused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReusePolicy {
    /// Freshness lifetime in seconds.
    pub lifetime: u64,
    /// Unqualified `no-cache`: every reuse needs a successful validation.
    pub no_cache: bool,
    /// `must-revalidate`, `proxy-revalidate` or `s-maxage`: never served stale.
    pub no_stale: bool,
    /// `stale-while-revalidate` window in seconds (RFC 5861).
    pub stale_while_revalidate: u64,
    /// `stale-if-error` window in seconds (RFC 5861).
    pub stale_if_error: u64,
    /// `immutable` (RFC 8246): a fresh response is reused even when the client asks to
    /// revalidate.
    pub immutable: bool,
    /// Field names of a qualified `no-cache="..."`: stripped from the stored copy.
    pub strip_fields: Vec<String>,
}

/// Why a response is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStored {
    /// Only GET responses are stored.
    Method,
    /// The status is not final, is partial content, or could be a poisoned error.
    Status,
    /// `no-store` on the request or the response.
    NoStore,
    /// `private`: a shared cache must not store it.
    Private,
    /// The request had `Authorization` and the response does not allow sharing.
    Authorization,
    /// `Set-Cookie` is never shared.
    SetCookie,
    /// `Vary: *`.
    VaryStar,
    /// Neither explicit nor heuristic freshness.
    NoFreshness,
    /// `must-understand` with a status this cache does not understand.
    NotUnderstood,
}

impl NotStored {
    /// A short name used in `Cache-Status` details.
    pub fn as_str(self) -> &'static str {
        match self {
            NotStored::Method => "method",
            NotStored::Status => "status",
            NotStored::NoStore => "no-store",
            NotStored::Private => "private",
            NotStored::Authorization => "authorization",
            NotStored::SetCookie => "set-cookie",
            NotStored::VaryStar => "vary-star",
            NotStored::NoFreshness => "no-freshness",
            NotStored::NotUnderstood => "must-understand",
        }
    }
}

/// Status codes whose semantics this cache implements (for `must-understand`).
fn understood(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        200 | 203 | 204 | 300 | 301 | 302 | 303 | 307 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// Decides whether `status`/`headers` (the response to a `method` request with
/// `request_headers`) may be stored, and with which policy.
pub fn decide(
    method: &Method,
    request_headers: &HeaderMap,
    status: StatusCode,
    headers: &HeaderMap,
    directives: &ResponseDirectives,
    response_time: u64,
    heuristic: Heuristic,
) -> Result<ReusePolicy, NotStored> {
    // RFC 9111 §3: "the request method is understood by the cache".
    if method != Method::GET {
        return Err(NotStored::Method);
    }
    // "the response status code is final (see Section 15 of [HTTP])". Partial content is not
    // combined, and 413/431 (the answers to oversized requests) are not stored so that one
    // client's oversized request cannot poison what others receive. (A 400 is stored only with
    // explicit freshness, never heuristically, and the inputs that provoke one from a proxied
    // origin — oversized headers, override headers — are refused or stripped here first.)
    if status.is_informational()
        || matches!(status.as_u16(), 206 | 304 | 413 | 431)
        || status.as_u16() > 599
    {
        return Err(NotStored::Status);
    }
    let cc = &directives.cc;
    let request_cc = CacheControl::from_headers(request_headers, &http::header::CACHE_CONTROL)
        .unwrap_or_default();
    // "if the response status code is 206 or 304, or the must-understand cache directive (see
    // Section 5.2.2.3) is present: the cache understands the response status code".
    let must_understand = cc.has("must-understand");
    if must_understand && !understood(status) {
        return Err(NotStored::NotUnderstood);
    }
    // "the no-store cache directive is not present in the response (see Section 5.2.2.5)" —
    // §5.2.2.3: must-understand "... a cache that understands and conforms to the requirements
    // of that status code ... ignores the no-store directive".
    if cc.has("no-store") && !must_understand {
        return Err(NotStored::NoStore);
    }
    // §5.2.1.5: "The no-store request directive indicates that a cache MUST NOT store any part of
    // either this request or any response to it."
    if request_cc.has("no-store") {
        return Err(NotStored::NoStore);
    }
    // "if the cache is shared: the private response directive is either not present or allows a
    // shared cache to store a modified response". A qualified private is treated like the
    // unqualified one: not stored.
    if cc.has("private") {
        return Err(NotStored::Private);
    }
    // "if the cache is shared: the Authorization header field is not present in the request (see
    // Section 11.6.2 of [HTTP]) or a response directive is present that explicitly allows shared
    // caching (see Section 3.5)". §3.5: "the must-revalidate, public, and s-maxage response
    // directives".
    if request_headers.contains_key(AUTHORIZATION)
        && !(cc.has("public") || cc.has("must-revalidate") || cc.has("s-maxage"))
    {
        return Err(NotStored::Authorization);
    }
    // Set-Cookie is never shared: a response that sets a cookie belongs to one client.
    if headers.contains_key(SET_COOKIE) {
        return Err(NotStored::SetCookie);
    }
    if vary::parse(headers) == Vary::Star {
        return Err(NotStored::VaryStar);
    }
    // "the response contains at least one of the following: a public response directive ...; an
    // Expires header field; a max-age response directive; if the cache is shared: an s-maxage
    // response directive; ... a status code that is defined as heuristically cacheable". This
    // cache stores only what has a freshness lifetime, explicit or heuristic.
    let lifetime = freshness_lifetime(status, headers, directives, response_time, heuristic)
        .ok_or(NotStored::NoFreshness)?;
    let window = |name: &str| match cc.delta(name) {
        Some(Delta::Seconds(s)) => s,
        _ => 0,
    };
    Ok(ReusePolicy {
        lifetime,
        // §5.2.2.4: "The no-cache response directive, in its unqualified form (without an
        // argument), indicates that the response MUST NOT be used to satisfy any other request
        // without forwarding it for validation and receiving a successful response".
        no_cache: matches!(cc.value("no-cache"), Some(None)),
        // §5.2.2.2 must-revalidate, §5.2.2.8 proxy-revalidate, and §5.2.2.10: s-maxage
        // "incorporates the semantics of the proxy-revalidate response directive".
        no_stale: cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage"),
        stale_while_revalidate: window("stale-while-revalidate"),
        stale_if_error: window("stale-if-error"),
        immutable: cc.has("immutable"),
        // §5.2.2.4: "the qualified form of the no-cache response directive ... the specified
        // field names MUST NOT be sent in the response to a subsequent request without successful
        // revalidation"; they are simply not stored.
        strip_fields: cc.field_names("no-cache"),
    })
}
