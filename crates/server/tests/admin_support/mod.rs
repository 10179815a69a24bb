//! The harness of the administration tests: an in-process server on 127.0.0.1:0 and a raw
//! RESP client.

#![allow(dead_code)]

use larder_protocol::{Frame, encode_command, parse_frame};
use larder_server::shared::Shared;
use larder_server::{Config, Server};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running on the test's runtime.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub shared: Arc<Shared>,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
}

/// Starts a server with `config` on a free port.
pub async fn start(config: Config) -> TestServer {
    let server = Server::bind(Config {
        bind: "127.0.0.1".into(),
        port: 0,
        ..config
    })
    .await
    .expect("bind");
    let addr = server.local_addr().expect("addr");
    let shared = Arc::clone(server.shared());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        shared,
        stop: Some(stop),
        task,
    }
}

impl TestServer {
    pub async fn client(&self) -> Client {
        Client {
            stream: TcpStream::connect(self.addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("join").expect("run");
    }
}

/// A raw RESP client.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub async fn send(&mut self, args: &[&str]) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut out = Vec::new();
        encode_command(&mut out, &args);
        self.stream.write_all(&out).await.expect("write");
    }

    /// Sends every command in one write, then reads their replies.
    pub async fn pipeline(&mut self, commands: &[Vec<Vec<u8>>]) -> Vec<Frame> {
        let mut out = Vec::new();
        for command in commands {
            let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
            encode_command(&mut out, &args);
        }
        self.stream.write_all(&out).await.expect("write");
        let mut replies = Vec::with_capacity(commands.len());
        for _ in commands {
            replies.push(self.read().await.expect("a reply"));
        }
        replies
    }

    /// The next reply, or `None` when the server closed the connection.
    pub async fn read(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, n)) = parse_frame(&self.buf).expect("valid reply") {
                self.buf.drain(..n);
                return Some(frame);
            }
            let mut chunk = [0u8; 16384];
            let n = self.stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub async fn cmd(&mut self, args: &[&str]) -> Frame {
        self.send(args).await;
        self.read().await.expect("a reply")
    }

    pub async fn text(&mut self, args: &[&str]) -> String {
        match self.cmd(args).await {
            Frame::Bulk(b) | Frame::Simple(b) => String::from_utf8(b).expect("utf-8"),
            Frame::Verbatim { text, .. } => String::from_utf8(text).expect("utf-8"),
            other => panic!("{args:?}: expected text, got {other:?}"),
        }
    }

    pub async fn int(&mut self, args: &[&str]) -> i64 {
        match self.cmd(args).await {
            Frame::Integer(n) => n,
            other => panic!("{args:?}: expected an integer, got {other:?}"),
        }
    }

    pub async fn error(&mut self, args: &[&str]) -> String {
        match self.cmd(args).await {
            Frame::Error(e) => String::from_utf8(e).expect("utf-8"),
            other => panic!("{args:?}: expected an error, got {other:?}"),
        }
    }

    pub async fn ok(&mut self, args: &[&str]) {
        assert_eq!(
            self.cmd(args).await,
            Frame::Simple(b"OK".to_vec()),
            "{args:?}"
        );
    }

    pub async fn info_field(&mut self, section: &str, name: &str) -> String {
        let info = self.text(&["INFO", section]).await;
        field(&info, name).unwrap_or_else(|| panic!("no {name} in INFO {section}:\n{info}"))
    }
}

/// A field of an INFO text.
pub fn field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_owned())
}

/// An array reply as texts.
pub fn strings(frame: Frame) -> Vec<String> {
    match frame {
        Frame::Array(items) => items
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) | Frame::Simple(b) => String::from_utf8(b).expect("utf-8"),
                Frame::Integer(n) => n.to_string(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}
