//! For integration tests that speak raw RESP: a server run in-process on a free port, and a
//! client that sends requests and reads frames with larder-protocol.

#![allow(dead_code)] // each test file uses its own part

use larder_protocol::{Frame, encode_command, parse_frame};
use larder_server::{Config, Server};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// A server running in-process on 127.0.0.1 and a free port; stops when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Starts a server with `config` (its port replaced by a free one).
pub async fn start(config: Config) -> TestServer {
    let server = Server::bind(Config { port: 0, ..config })
        .await
        .expect("binds");
    let addr = server.local_addr().expect("bound");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    TestServer { addr, _stop: stop }
}

/// Fails the test instead of letting it hang when `test` does not finish (a publisher stuck
/// behind a subscriber, a server that never answers, would never finish).
pub async fn within<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), test)
        .await
        .expect("the test finished within its guard time")
}

/// A raw RESP client.
pub struct Client {
    /// The connection.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connects");
        // Each write leaves at once (no Nagle delay), so requests reach the server in the
        // order the test sends them, whatever the connection.
        stream.set_nodelay(true).expect("sets TCP_NODELAY");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends one request as a multibulk.
    pub async fn send(&mut self, args: &[&[u8]]) {
        let mut out = Vec::new();
        encode_command(&mut out, args);
        self.send_raw(&out).await;
    }

    /// Sends bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("writes");
    }

    /// The next frame, or `None` at EOF (or a reset) before one is complete.
    pub async fn try_read(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, n)) = parse_frame(&self.buf).expect("valid RESP") {
                self.buf.drain(..n);
                return Some(frame);
            }
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next frame; panics at EOF.
    pub async fn read(&mut self) -> Frame {
        self.try_read()
            .await
            .expect("the server closed the connection")
    }

    /// Whether the server closes the connection without sending anything more.
    pub async fn closed(&mut self) -> bool {
        self.buf.is_empty() && self.try_read().await.is_none()
    }

    /// Sends a request and reads its reply.
    pub async fn call(&mut self, args: &[&[u8]]) -> Frame {
        self.send(args).await;
        self.read().await
    }

    /// [`Client::call`] with text arguments.
    pub async fn call_str(&mut self, args: &[&str]) -> Frame {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.call(&args).await
    }

    /// `CLIENT LIST`'s text.
    pub async fn client_list(&mut self) -> String {
        match self.call_str(&["CLIENT", "LIST"]).await {
            Frame::Bulk(text) | Frame::Verbatim { text, .. } => {
                String::from_utf8(text).expect("utf-8")
            }
            other => panic!("CLIENT LIST replied {other:?}"),
        }
    }

    /// `CLIENT ID`.
    pub async fn id(&mut self) -> i64 {
        match self.call_str(&["CLIENT", "ID"]).await {
            Frame::Integer(id) => id,
            other => panic!("CLIENT ID replied {other:?}"),
        }
    }

    /// Asks for CLIENT LIST until client `id` is gone from it.
    pub async fn wait_gone(&mut self, id: i64) {
        while line_of(&self.client_list().await, id).is_some() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A bulk string frame.
pub fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec())
}

/// An error frame.
pub fn error(s: &str) -> Frame {
    Frame::Error(s.as_bytes().to_vec())
}

/// The CLIENT LIST line of client `id`, if it is connected.
pub fn line_of(list: &str, id: i64) -> Option<String> {
    let prefix = format!("id={id} ");
    list.lines()
        .find(|l| l.starts_with(&prefix))
        .map(str::to_owned)
}

/// The value of `name=` in a CLIENT LIST line.
pub fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}
