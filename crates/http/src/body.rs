//! The body type the proxy sends both ways: a buffered body, an upstream stream passed through,
//! or a buffered prefix followed by the rest of a stream (a cacheable response that turned out
//! larger than the object limit).

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A request or response body.
#[derive(Debug)]
pub enum ProxyBody {
    /// A whole body in memory (taken once).
    Full(Option<Bytes>),
    /// A stream from a peer, passed through without buffering.
    Stream(Incoming),
    /// Already-read bytes, then the rest of the stream.
    Prefixed(Option<Bytes>, Incoming),
}

impl ProxyBody {
    /// An empty body.
    pub fn empty() -> Self {
        ProxyBody::Full(None)
    }

    /// A whole body.
    pub fn full(bytes: Bytes) -> Self {
        if bytes.is_empty() {
            ProxyBody::Full(None)
        } else {
            ProxyBody::Full(Some(bytes))
        }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ProxyBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ProxyBody::Stream(inner) => Pin::new(inner).poll_frame(cx),
            ProxyBody::Prefixed(prefix, inner) => match prefix.take() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                None => Pin::new(inner).poll_frame(cx),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Full(bytes) => bytes.is_none(),
            ProxyBody::Stream(inner) => inner.is_end_stream(),
            ProxyBody::Prefixed(prefix, inner) => prefix.is_none() && inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ProxyBody::Stream(inner) => inner.size_hint(),
            ProxyBody::Prefixed(prefix, inner) => {
                let extra = prefix.as_ref().map_or(0, |b| b.len() as u64);
                let h = inner.size_hint();
                let mut out = SizeHint::new();
                out.set_lower(h.lower() + extra);
                if let Some(u) = h.upper() {
                    out.set_upper(u + extra);
                }
                out
            }
        }
    }
}

/// How reading a body up to a limit ended.
#[derive(Debug)]
pub enum Buffered {
    /// The whole body, within the limit.
    Complete(Bytes),
    /// The limit was passed: what was read, then the rest of the stream.
    TooLarge(ProxyBody),
}

/// Reads `body` whole if it fits in `limit` bytes.
pub async fn buffer(mut body: Incoming, limit: u64) -> Result<Buffered, hyper::Error> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() as u64 > limit {
                return Ok(Buffered::TooLarge(ProxyBody::Prefixed(
                    Some(buf.freeze()),
                    body,
                )));
            }
        }
    }
    Ok(Buffered::Complete(buf.freeze()))
}
