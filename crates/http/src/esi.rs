//! Edge Side Includes, the ESI 1.0 subset `larder edge` assembles:
//!
//! - `<esi:include src="..." alt="..." onerror="continue"/>` (also with a closing
//!   `</esi:include>`): replaced by the fragment at `src`; if that fails (error, timeout, status
//!   other than 2xx), by the fragment at `alt`; if that fails too, by nothing when
//!   `onerror="continue"`, else the whole document fails (the proxy answers 502);
//! - `<esi:remove>...</esi:remove>`: removed with its content (content for clients that see the
//!   page without ESI processing);
//! - `<!--esi ... -->`: the wrapper is removed and its content processed (markup hidden from
//!   clients that see the page without ESI processing);
//! - `<esi:comment .../>`: removed.
//!
//! Other markup, including unknown `esi:` elements and malformed or unterminated ESI elements,
//! is left as text. The parser ([`parse`]) works on bytes and never panics (a property test
//! feeds it arbitrary input).
//!
//! Processing is enabled per response, only by `Surrogate-Control: content="ESI/1.0"`
//! ([`enabled`]). Fragments are fetched through a [`FragmentSource`] (the proxy implements it
//! through its cache, so each fragment is cached under its own key with its own freshness), all
//! includes of one document concurrently, each within a timeout. A fragment that is itself
//! marked for ESI is processed in turn, down to a depth limit.
//!
//! ## Bounds
//!
//! [`EsiLimits`]: nesting depth, includes per document, time per fragment, and the assembled
//! document's size.

use crate::body::ProxyBody;
use crate::proxy::{Edge, refuse};
use crate::upstream::RequestHead;
use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT_ENCODING, CONTENT_LENGTH, ETAG, HOST, LAST_MODIFIED, RANGE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// One piece of a parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node<'a> {
    /// Bytes copied as they are.
    Text(&'a [u8]),
    /// An `<esi:include>`.
    Include(Include),
}

/// An `<esi:include>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The fragment's URL (as written, entities decoded).
    pub src: String,
    /// The fallback fragment's URL.
    pub alt: Option<String>,
    /// `onerror="continue"`: a fragment that cannot be fetched is replaced by nothing.
    pub continue_on_error: bool,
}

/// Whether a response asks for ESI processing: a `Surrogate-Control` field with a `content`
/// directive listing `ESI/1.0`.
pub fn enabled(headers: &HeaderMap) -> bool {
    headers
        .get_all("surrogate-control")
        .iter()
        .any(|v| content_lists_esi(v.as_bytes()))
}

fn content_lists_esi(line: &[u8]) -> bool {
    let lower = line.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = find(&lower[from..], b"content=") {
        let start = from + at + b"content=".len();
        let rest = &lower[start..];
        let value = match rest.first() {
            Some(b'"') => {
                let inner = &rest[1..];
                &inner[..inner.iter().position(|&c| c == b'"').unwrap_or(inner.len())]
            }
            _ => {
                &rest[..rest
                    .iter()
                    .position(|&c| matches!(c, b',' | b';' | b' ' | b'\t'))
                    .unwrap_or(rest.len())]
            }
        };
        if value
            .split(|c| c.is_ascii_whitespace())
            .any(|token| token == b"esi/1.0")
        {
            return true;
        }
        from = start;
    }
    false
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a document into text and includes. Never panics.
pub fn parse(input: &[u8]) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    parse_into(input, &mut out, true);
    out
}

fn parse_into<'a>(input: &'a [u8], out: &mut Vec<Node<'a>>, comments: bool) {
    let mut text_start = 0;
    let mut i = 0;
    while let Some(at) = input[i..].iter().position(|&c| c == b'<') {
        let p = i + at;
        let rest = &input[p..];
        let flush = |out: &mut Vec<Node<'a>>, end: usize| {
            if end > text_start {
                out.push(Node::Text(&input[text_start..end]));
            }
        };
        if comments && rest.starts_with(b"<!--esi") {
            if let Some(close) = find(&rest[7..], b"-->") {
                flush(out, p);
                parse_into(&rest[7..7 + close], out, false);
                i = p + 7 + close + 3;
                text_start = i;
                continue;
            }
        } else if starts_element(rest, b"<esi:remove") {
            if let Some(close) = find(rest, b"</esi:remove>") {
                flush(out, p);
                i = p + close + b"</esi:remove>".len();
                text_start = i;
                continue;
            }
        } else if starts_element(rest, b"<esi:include") {
            if let Some((end, include)) = include_element(rest) {
                flush(out, p);
                if let Some(include) = include {
                    out.push(Node::Include(include));
                }
                i = p + end;
                text_start = i;
                continue;
            }
        } else if starts_element(rest, b"<esi:comment") {
            if let Some(end) = tag_end(rest) {
                flush(out, p);
                i = p + end;
                text_start = i;
                continue;
            }
        }
        i = p + 1;
    }
    if text_start < input.len() {
        out.push(Node::Text(&input[text_start..]));
    }
}

/// Whether `rest` starts with the element `name` (followed by whitespace, `/` or `>`).
fn starts_element(rest: &[u8], name: &[u8]) -> bool {
    rest.starts_with(name)
        && rest
            .get(name.len())
            .is_some_and(|&c| c.is_ascii_whitespace() || c == b'/' || c == b'>')
}

/// The length of the start tag at the beginning of `rest` (through its `>`), quotes respected.
fn tag_end(rest: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &c) in rest.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => return Some(i + 1),
            None => {}
        }
    }
    None
}

/// An `<esi:include ...>` at the start of `rest`: its length (with a closing
/// `</esi:include>` when the tag was not self-closing) and the include (None without `src`).
fn include_element(rest: &[u8]) -> Option<(usize, Option<Include>)> {
    let end = tag_end(rest)?;
    let inner = &rest[b"<esi:include".len()..end - 1];
    let self_closing = inner.last() == Some(&b'/');
    let attrs = attributes(inner.strip_suffix(b"/").unwrap_or(inner));
    let mut len = end;
    if !self_closing {
        let after = &rest[end..];
        let trimmed = after.len() - after.trim_ascii_start().len();
        if after[trimmed..].starts_with(b"</esi:include>") {
            len += trimmed + b"</esi:include>".len();
        }
    }
    let get = |name: &str| {
        attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let include = get("src").filter(|s| !s.is_empty()).map(|src| Include {
        src,
        alt: get("alt").filter(|s| !s.is_empty()),
        continue_on_error: get("onerror").is_some_and(|v| v.eq_ignore_ascii_case("continue")),
    });
    Some((len, include))
}

/// `name="value"` pairs (double, single or no quotes), entities decoded.
fn attributes(mut s: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        s = s.trim_ascii_start();
        let name_len = s
            .iter()
            .position(|&c| c.is_ascii_whitespace() || c == b'=')
            .unwrap_or(s.len());
        if name_len == 0 {
            // A stray `=` or nothing left.
            match s.split_first() {
                Some((_, tail)) => {
                    s = tail;
                    continue;
                }
                None => return out,
            }
        }
        let name = String::from_utf8_lossy(&s[..name_len]).into_owned();
        s = s[name_len..].trim_ascii_start();
        let Some(after_eq) = s.strip_prefix(b"=") else {
            out.push((name, String::new()));
            continue;
        };
        s = after_eq.trim_ascii_start();
        let (value, tail) = match s.first() {
            Some(&q) if q == b'"' || q == b'\'' => {
                let body = &s[1..];
                let close = body.iter().position(|&c| c == q).unwrap_or(body.len());
                (&body[..close], body.get(close + 1..).unwrap_or(&[]))
            }
            _ => {
                let n = s
                    .iter()
                    .position(|c| c.is_ascii_whitespace())
                    .unwrap_or(s.len());
                (&s[..n], &s[n..])
            }
        };
        out.push((name, decode_entities(&String::from_utf8_lossy(value))));
        s = tail;
    }
}

fn decode_entities(value: &str) -> String {
    if !value.contains('&') {
        return value.to_string();
    }
    value
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `[esi]` table of `edge.toml`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsiConfig {
    /// Process responses marked `Surrogate-Control: content="ESI/1.0"`.
    pub enabled: bool,
    /// Most levels of processing (the document is level 1).
    pub max_depth: u32,
    /// Most includes in one document.
    pub max_includes: usize,
    /// Milliseconds allowed to fetch one fragment.
    pub fragment_timeout_ms: u64,
    /// Largest assembled document, in bytes.
    pub max_output_bytes: usize,
}

impl Default for EsiConfig {
    fn default() -> Self {
        let limits = EsiLimits::default();
        Self {
            enabled: true,
            max_depth: limits.max_depth,
            max_includes: limits.max_includes,
            fragment_timeout_ms: limits.fragment_timeout.as_millis() as u64,
            max_output_bytes: limits.max_output,
        }
    }
}

impl EsiConfig {
    /// The limits of one assembly.
    pub fn limits(&self) -> EsiLimits {
        EsiLimits {
            max_depth: self.max_depth.max(1),
            max_includes: self.max_includes,
            fragment_timeout: Duration::from_millis(self.fragment_timeout_ms),
            max_output: self.max_output_bytes,
        }
    }
}

/// The internal field that marks a response for ESI processing between the cache and the
/// client connection (set where `Surrogate-Control` is removed; never sent to a client).
pub const MARKER: &str = "larder-esi-pending";

/// Finishes a response on its way to the client: a response marked for ESI processing (see
/// [`MARKER`]) is assembled when it answers a GET with 200 and `head` is given (ESI enabled),
/// its fragments fetched through the proxy's cache. The assembled document has no `ETag` or
/// `Last-Modified` (they described the template). A document that cannot be assembled becomes
/// a `502`.
pub async fn finish(
    edge: &Arc<Edge>,
    head: Option<RequestHead>,
    mut response: Response<ProxyBody>,
) -> Response<ProxyBody> {
    if response.headers_mut().remove(MARKER).is_none() {
        return response;
    }
    let Some(head) = head else {
        return response;
    };
    let headers = response.headers_mut();
    headers.remove(ETAG);
    headers.remove(LAST_MODIFIED);
    if head.method != Method::GET || response.status() != StatusCode::OK {
        response.headers_mut().remove(CONTENT_LENGTH);
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let limit = usize::try_from(edge.config().max_object_bytes).unwrap_or(usize::MAX);
    let Ok(template) = Limited::new(body, limit).collect().await else {
        edge.metrics().esi(0, 1);
        return refuse(StatusCode::BAD_GATEWAY);
    };
    let template = template.to_bytes();
    let path = head.uri.path().to_string();
    let source: Arc<dyn FragmentSource> = Arc::new(EdgeFragments {
        edge: edge.clone(),
        head,
    });
    match assemble(source, &path, &template, edge.config().esi.limits()).await {
        Ok(done) => {
            edge.metrics().esi(done.fetched, done.failed);
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(done.body.len()));
            Response::from_parts(parts, ProxyBody::full(done.body))
        }
        Err(_) => {
            edge.metrics().esi(0, 1);
            refuse(StatusCode::BAD_GATEWAY)
        }
    }
}

/// Fragments fetched through the proxy's cache, as GETs carrying the including request's
/// header fields (so they are keyed, and sent upstream, like it), without its validators,
/// ranges or `Accept-Encoding` (a fragment is inserted as it is).
struct EdgeFragments {
    edge: Arc<Edge>,
    head: RequestHead,
}

impl FragmentSource for EdgeFragments {
    fn fetch(&self, url: &str) -> FragmentFuture {
        let edge = self.edge.clone();
        let mut headers = self.head.headers.clone();
        let target = same_host_path(url, &headers).map(str::to_string);
        Box::pin(async move {
            let target = target.ok_or_else(|| "fragment on another host".to_string())?;
            let uri: Uri = target.parse().map_err(|e| format!("{e}"))?;
            for name in ["if-none-match", "if-modified-since", "if-match", "if-range"] {
                headers.remove(name);
            }
            headers.remove(RANGE);
            headers.remove(ACCEPT_ENCODING);
            let mut request = Request::new(());
            *request.uri_mut() = uri;
            *request.headers_mut() = headers;
            let (mut parts, ()) = request.into_parts();
            let key = edge.key_of(&mut parts);
            let head = RequestHead {
                method: Method::GET,
                uri: parts.uri,
                headers: parts.headers,
            };
            let response = edge.lookup(head, key).await;
            let status = response.status().as_u16();
            let esi = response.headers().contains_key(MARKER);
            let limit = usize::try_from(edge.config().max_object_bytes).unwrap_or(usize::MAX);
            let body = Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map_err(|e| format!("{e}"))?
                .to_bytes();
            Ok(Fragment { status, body, esi })
        })
    }
}

/// The path and query of `url` when it is a path, or an absolute URL on the request's host.
fn same_host_path<'a>(url: &'a str, headers: &HeaderMap) -> Option<&'a str> {
    if url.starts_with('/') {
        return Some(url);
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split('/').next().unwrap_or("");
    let host = headers.get(HOST).and_then(|h| h.to_str().ok())?;
    authority
        .eq_ignore_ascii_case(host)
        .then(|| crate::purge::path_of(url))
}

/// The limits of one assembly.
#[derive(Debug, Clone, Copy)]
pub struct EsiLimits {
    /// Most levels of ESI processing (1 = the document only; its fragments are not processed).
    pub max_depth: u32,
    /// Most includes in one document (more fail the document).
    pub max_includes: usize,
    /// Time allowed to fetch one fragment.
    pub fragment_timeout: Duration,
    /// Largest assembled document, in bytes.
    pub max_output: usize,
}

impl Default for EsiLimits {
    fn default() -> Self {
        Self {
            max_depth: 3,
            max_includes: 64,
            fragment_timeout: Duration::from_secs(5),
            max_output: 8 << 20,
        }
    }
}

/// A fetched fragment.
#[derive(Debug, Clone)]
pub struct Fragment {
    /// Its status code.
    pub status: u16,
    /// Its body.
    pub body: Bytes,
    /// Whether it is itself marked for ESI processing ([`enabled`] on its header fields).
    pub esi: bool,
}

/// Why a fragment could not be fetched, or a document assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EsiError {
    /// The fragment source failed.
    #[error("fragment {0}: {1}")]
    Fetch(String, String),
    /// The fragment did not arrive in time.
    #[error("fragment {0}: timed out")]
    Timeout(String),
    /// The fragment's status was not 2xx.
    #[error("fragment {0}: status {1}")]
    Status(String, u16),
    /// An include without `onerror="continue"` failed (and its `alt`, if any).
    #[error("include {0} failed: {1}")]
    Include(String, Box<EsiError>),
    /// Too many includes in one document.
    #[error("more than {0} includes in one document")]
    TooManyIncludes(usize),
    /// The assembled document passed the size limit.
    #[error("assembled document larger than {0} bytes")]
    TooLarge(usize),
    /// A fragment marked for ESI sits deeper than the depth limit.
    #[error("fragment {0}: ESI nesting deeper than {1}")]
    TooDeep(String, u32),
}

/// Future returned by a [`FragmentSource`].
pub type FragmentFuture = Pin<Box<dyn Future<Output = Result<Fragment, String>> + Send>>;

/// Where fragments come from (the proxy: through its cache).
pub trait FragmentSource: Send + Sync {
    /// Fetches the fragment at `url` (already resolved against the including document: an
    /// absolute path or an absolute URL).
    fn fetch(&self, url: &str) -> FragmentFuture;
}

/// The result of an assembly.
#[derive(Debug, Clone)]
pub struct Assembled {
    /// The document.
    pub body: Bytes,
    /// Fragments fetched (`src` and `alt` both count).
    pub fetched: u64,
    /// Fragments that failed (replaced by `alt` or nothing, or failing the document).
    pub failed: u64,
}

/// `src` resolved against the including document's path: absolute URLs and absolute paths stay,
/// a relative reference is taken from the base's directory.
pub fn resolve(base_path: &str, src: &str) -> String {
    if src.starts_with('/') || src.contains("://") {
        return src.to_string();
    }
    let path = base_path.split(['?', '#']).next().unwrap_or("/");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    if dir.is_empty() {
        format!("/{src}")
    } else {
        format!("{dir}{src}")
    }
}

/// Assembles `body` (the document at `base_path`) at depth 1.
pub async fn assemble(
    source: Arc<dyn FragmentSource>,
    base_path: &str,
    body: &[u8],
    limits: EsiLimits,
) -> Result<Assembled, EsiError> {
    let mut tally = Assembled {
        body: Bytes::new(),
        fetched: 0,
        failed: 0,
    };
    let mut out = BytesMut::with_capacity(body.len());
    assemble_level(source, base_path, body, limits, 1, &mut out, &mut tally).await?;
    tally.body = out.freeze();
    Ok(tally)
}

fn assemble_level<'a>(
    source: Arc<dyn FragmentSource>,
    base_path: &'a str,
    body: &'a [u8],
    limits: EsiLimits,
    depth: u32,
    out: &'a mut BytesMut,
    tally: &'a mut Assembled,
) -> Pin<Box<dyn Future<Output = Result<(), EsiError>> + Send + 'a>> {
    Box::pin(async move {
        let nodes = parse(body);
        let includes: Vec<&Include> = nodes
            .iter()
            .filter_map(|n| match n {
                Node::Include(i) => Some(i),
                Node::Text(_) => None,
            })
            .collect();
        if includes.len() > limits.max_includes {
            return Err(EsiError::TooManyIncludes(limits.max_includes));
        }
        // Every `src` of this level at once; `alt`s only when needed.
        let mut tasks = JoinSet::new();
        for (n, include) in includes.iter().enumerate() {
            let url = resolve(base_path, &include.src);
            let fut = fetch_one(source.as_ref(), url, limits.fragment_timeout);
            tasks.spawn(async move { (n, fut.await) });
        }
        let mut results: Vec<Option<Result<(String, Fragment), EsiError>>> =
            vec![None; includes.len()];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((n, result)) = joined {
                if let Some(slot) = results.get_mut(n) {
                    *slot = Some(result);
                }
            }
        }
        let mut results = results.into_iter();
        for node in &nodes {
            let include = match node {
                Node::Text(t) => {
                    push(out, t, limits.max_output)?;
                    continue;
                }
                Node::Include(i) => i,
            };
            tally.fetched += 1;
            let first = results
                .next()
                .flatten()
                .unwrap_or_else(|| Err(EsiError::Fetch(include.src.clone(), "task failed".into())));
            let mut outcome = place(&source, first, limits, depth, out, tally).await;
            if let (Err(_), Some(alt)) = (&outcome, &include.alt) {
                tally.failed += 1;
                tally.fetched += 1;
                let url = resolve(base_path, alt);
                let fetched = fetch_one(source.as_ref(), url, limits.fragment_timeout).await;
                outcome = place(&source, fetched, limits, depth, out, tally).await;
            }
            if let Err(err) = outcome {
                if matches!(err, EsiError::TooLarge(_)) {
                    return Err(err);
                }
                tally.failed += 1;
                if !include.continue_on_error {
                    return Err(EsiError::Include(include.src.clone(), Box::new(err)));
                }
            }
        }
        Ok(())
    })
}

/// Fetches `url` within `timeout`, as a `'static` future.
fn fetch_one(
    source: &dyn FragmentSource,
    url: String,
    timeout: Duration,
) -> impl Future<Output = Result<(String, Fragment), EsiError>> + Send + 'static {
    let fut = source.fetch(&url);
    async move {
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(f)) if (200..300).contains(&f.status) => Ok((url, f)),
            Ok(Ok(f)) => Err(EsiError::Status(url, f.status)),
            Ok(Err(e)) => Err(EsiError::Fetch(url, e)),
            Err(_) => Err(EsiError::Timeout(url)),
        }
    }
}

/// Writes a fetched fragment (processed when it is marked for ESI and depth allows).
async fn place(
    source: &Arc<dyn FragmentSource>,
    fetched: Result<(String, Fragment), EsiError>,
    limits: EsiLimits,
    depth: u32,
    out: &mut BytesMut,
    tally: &mut Assembled,
) -> Result<(), EsiError> {
    let (url, fragment) = fetched?;
    if !fragment.esi {
        return push(out, &fragment.body, limits.max_output);
    }
    if depth >= limits.max_depth {
        return Err(EsiError::TooDeep(url, limits.max_depth));
    }
    let path = crate::purge::path_of(&url).to_string();
    // Assemble into a scratch buffer so a failed fragment leaves nothing behind.
    let mut scratch = BytesMut::new();
    let room = EsiLimits {
        max_output: limits.max_output.saturating_sub(out.len()),
        ..limits
    };
    assemble_level(
        source.clone(),
        &path,
        &fragment.body,
        room,
        depth + 1,
        &mut scratch,
        tally,
    )
    .await?;
    push(out, &scratch, limits.max_output)
}

fn push(out: &mut BytesMut, bytes: &[u8], max: usize) -> Result<(), EsiError> {
    if out.len() + bytes.len() > max {
        return Err(EsiError::TooLarge(max));
    }
    out.extend_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::collections::HashMap;

    fn texts(nodes: &[Node<'_>]) -> String {
        nodes
            .iter()
            .map(|n| match n {
                Node::Text(t) => String::from_utf8_lossy(t).into_owned(),
                Node::Include(i) => format!("[{}]", i.src),
            })
            .collect()
    }

    #[test]
    fn parses_the_subset() {
        let doc = br#"a<esi:include src="/x" alt='/y' onerror="continue"/>b<esi:remove>gone</esi:remove>c<!--esi <esi:include src="/z"/> -->d<esi:comment text="x"/>e"#;
        let nodes = parse(doc);
        assert_eq!(texts(&nodes), "a[/x]bc [/z] de");
        assert!(nodes.contains(&Node::Include(Include {
            src: "/x".into(),
            alt: Some("/y".into()),
            continue_on_error: true,
        })));
    }

    #[test]
    fn leaves_malformed_markup_as_text() {
        for doc in [
            &b"<esi:include src=\"/x\""[..],
            b"<esi:remove>never closed",
            b"<!--esi never closed",
            b"<esi:includes src=/x/>",
            b"<esi:try><esi:attempt>x</esi:attempt></esi:try>",
        ] {
            assert_eq!(texts(&parse(doc)).as_bytes(), doc);
        }
        // Without src the include is dropped; with an explicit close tag it is consumed whole.
        assert_eq!(texts(&parse(b"a<esi:include alt=\"/y\"/>b")), "ab");
        assert_eq!(
            texts(&parse(b"a<esi:include src=/p?a=1&amp;b=2></esi:include>b")),
            "a[/p?a=1&b=2]b"
        );
        assert_eq!(texts(&parse(b"<esi:include src='a>b'/>")), "[a>b]");
    }

    #[test]
    fn surrogate_control_marker() {
        let mut h = HeaderMap::new();
        assert!(!enabled(&h));
        h.insert("surrogate-control", HeaderValue::from_static("max-age=60"));
        assert!(!enabled(&h));
        h.insert(
            "surrogate-control",
            HeaderValue::from_static("max-age=60, content=\"ESI/1.0 other/1\""),
        );
        assert!(enabled(&h));
        h.insert(
            "surrogate-control",
            HeaderValue::from_static("content=ESI/1.0"),
        );
        assert!(enabled(&h));
        h.insert(
            "surrogate-control",
            HeaderValue::from_static("content=\"ESI/1.0x\""),
        );
        assert!(!enabled(&h));
    }

    #[test]
    fn resolves_relative_sources() {
        assert_eq!(resolve("/a/b.html?x", "c.html"), "/a/c.html");
        assert_eq!(resolve("/", "c"), "/c");
        assert_eq!(resolve("/a/b", "/d"), "/d");
        assert_eq!(resolve("/a/b", "http://h/d"), "http://h/d");
    }

    /// Fragments from a table: `(status, body, esi)`; a missing URL never answers.
    struct Table(HashMap<String, (u16, &'static str, bool)>);

    impl FragmentSource for Table {
        fn fetch(&self, url: &str) -> FragmentFuture {
            let found = self.0.get(url).cloned();
            Box::pin(async move {
                match found {
                    Some((status, body, esi)) => Ok(Fragment {
                        status,
                        body: Bytes::from_static(body.as_bytes()),
                        esi,
                    }),
                    None => std::future::pending().await,
                }
            })
        }
    }

    fn table(entries: &[(&str, u16, &'static str, bool)]) -> Arc<dyn FragmentSource> {
        Arc::new(Table(
            entries
                .iter()
                .map(|(u, s, b, e)| (u.to_string(), (*s, *b, *e)))
                .collect(),
        ))
    }

    fn limits() -> EsiLimits {
        EsiLimits {
            fragment_timeout: Duration::from_millis(100),
            ..EsiLimits::default()
        }
    }

    #[tokio::test]
    async fn assembles_with_alt_continue_and_nesting() {
        let src = table(&[
            ("/a", 200, "A", false),
            ("/bad", 500, "x", false),
            ("/alt", 200, "ALT", false),
            ("/nest/n", 200, "[<esi:include src=\"leaf\"/>]", true),
            ("/nest/leaf", 200, "L", false),
        ]);
        let doc = b"1<esi:include src=\"/a\"/>2<esi:include src=\"/bad\" alt=\"/alt\"/>3<esi:include src=\"/bad\" onerror=\"continue\"/>4<esi:include src=\"/nest/n\"/>5";
        let done = assemble(src, "/page", doc, limits())
            .await
            .expect("assembled");
        assert_eq!(&done.body[..], b"1A2ALT34[L]5");
        assert_eq!(done.failed, 2);
    }

    #[tokio::test]
    async fn failures_without_continue_fail_the_document() {
        let src = table(&[("/bad", 404, "x", false)]);
        let err = assemble(src.clone(), "/", b"<esi:include src=\"/bad\"/>", limits())
            .await
            .expect_err("fails");
        assert!(matches!(err, EsiError::Include(..)));
        // A fragment that never answers times out; onerror=continue drops it.
        let done = assemble(
            src,
            "/",
            b"a<esi:include src=\"/slow\" onerror=\"continue\"/>b",
            limits(),
        )
        .await
        .expect("assembled");
        assert_eq!(&done.body[..], b"ab");
    }

    #[tokio::test]
    async fn depth_includes_and_size_are_bounded() {
        let src = table(&[("/loop", 200, "x<esi:include src=\"/loop\"/>", true)]);
        let err = assemble(src.clone(), "/", b"<esi:include src=\"/loop\"/>", limits())
            .await
            .expect_err("too deep");
        assert!(matches!(err, EsiError::Include(..)));
        let many = "<esi:include src=\"/loop\"/>".repeat(65);
        let err = assemble(src.clone(), "/", many.as_bytes(), limits())
            .await
            .expect_err("too many");
        assert_eq!(err, EsiError::TooManyIncludes(64));
        let small = EsiLimits {
            max_output: 4,
            ..limits()
        };
        let err = assemble(src, "/", b"12345", small)
            .await
            .expect_err("too large");
        assert_eq!(err, EsiError::TooLarge(4));
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_never_panics(input in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse(&input);
            }

            #[test]
            fn parse_never_panics_on_esi_like_input(
                parts in proptest::collection::vec(prop_oneof![
                    Just("<esi:include src=\"/a\"/>".to_string()),
                    Just("<esi:include ".to_string()),
                    Just("<esi:remove>".to_string()),
                    Just("</esi:remove>".to_string()),
                    Just("<!--esi".to_string()),
                    Just("-->".to_string()),
                    Just("</esi:include>".to_string()),
                    Just("\"".to_string()),
                    Just("'".to_string()),
                    Just("=".to_string()),
                    Just("/>".to_string()),
                    "[a-z<>/=\" ]{0,8}",
                ], 0..32)
            ) {
                let doc = parts.concat();
                let nodes = parse(doc.as_bytes());
                // Text nodes are slices of the input, in order: never more text than input.
                let text: usize = nodes.iter().map(|n| match n { Node::Text(t) => t.len(), _ => 0 }).sum();
                prop_assert!(text <= doc.len());
            }
        }
    }
}
