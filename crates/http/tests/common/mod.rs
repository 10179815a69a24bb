//! Test harness: a scripted origin (a small hyper server on 127.0.0.1:0 that counts requests),
//! a `larder edge` in front of it on 127.0.0.1:0, and a raw HTTP/1.1 client.

#![allow(dead_code)]

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use larder_engine::{Clock, ManualClock, SystemClock};
use larder_http::{Edge, EdgeConfig};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the origin saw: method, path-and-query and headers of each request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
}

type Handler = Arc<
    dyn Fn(Seen, usize) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>
        + Send
        + Sync,
>;

impl Seen {
    /// A request header's value, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A running origin.
pub struct Origin {
    pub addr: SocketAddr,
    pub count: Arc<AtomicUsize>,
    pub seen: Arc<parking_lot::Mutex<Vec<Seen>>>,
}

impl Origin {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn requests(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
    pub fn last(&self) -> Seen {
        self.seen.lock().last().cloned().expect("a request")
    }
}

/// Starts an origin answering with `handler(request, n)` (n counts from 1).
pub async fn origin<F, Fut>(handler: F) -> Origin
where
    F: Fn(Seen, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let handler: Handler = Arc::new(move |s, n| Box::pin(handler(s, n)));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let (c, s) = (count.clone(), seen.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (handler, c, s) = (handler.clone(), c.clone(), s.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let (handler, c, s) = (handler.clone(), c.clone(), s.clone());
                    async move {
                        let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                        let (parts, body) = req.into_parts();
                        let _ = body.collect().await;
                        let seen = Seen {
                            method: parts.method.to_string(),
                            uri: parts.uri.to_string(),
                            headers: parts.headers,
                        };
                        s.lock().push(seen.clone());
                        Ok::<_, Infallible>(handler(seen, n).await)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Origin { addr, count, seen }
}

/// A response with `headers` and `body`.
pub fn respond(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

/// A running edge.
pub struct Running {
    pub addr: SocketAddr,
    pub edge: Arc<Edge>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts an edge in front of `upstream` with the system clock.
pub async fn edge(upstream: &str, tweak: impl FnOnce(&mut EdgeConfig)) -> Running {
    edge_with_clock(upstream, Arc::new(SystemClock), tweak).await
}

/// Starts an edge with a manual clock standing at a realistic time.
pub async fn edge_manual(
    upstream: &str,
    tweak: impl FnOnce(&mut EdgeConfig),
) -> (Running, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    (edge_with_clock(upstream, clock.clone(), tweak).await, clock)
}

pub async fn edge_with_clock(
    upstream: &str,
    clock: Arc<dyn Clock>,
    tweak: impl FnOnce(&mut EdgeConfig),
) -> Running {
    let mut config = EdgeConfig {
        origin: upstream.to_string(),
        ..EdgeConfig::default()
    };
    tweak(&mut config);
    let edge = Edge::new(config, clock).expect("edge");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let e = edge.clone();
    tokio::spawn(async move {
        let _ = larder_http::serve(listener, e, std::future::pending()).await;
    });
    Running { addr, edge }
}

/// A parsed response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// All lines of a field, joined with ", ".
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One request on a fresh connection through hyper's client connection.
pub async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "edge.test");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let request = b.body(Full::new(Bytes::new())).expect("request");
    let response = sender.send_request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// GET with headers.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(addr, "GET", path, headers).await
}

/// Writes raw bytes and reads until the peer closes (or `limit` bytes); returns what was read.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut out),
    )
    .await;
    String::from_utf8_lossy(&out).into_owned()
}
