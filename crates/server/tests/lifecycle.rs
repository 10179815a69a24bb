//! A client's life on the server, over raw RESP: `maxclients`, the idle `timeout`,
//! `requirepass` with `AUTH` and `HELLO ... AUTH`, protected mode, and graceful shutdown.

use inproc::{PATIENCE, TestServer};
use larder_server::Config;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod inproc;

impl TestServer {
    /// A client on the loopback interface.
    async fn client(&self) -> Client {
        Client::connect(SocketAddr::new(
            Ipv4Addr::LOCALHOST.into(),
            self.addr.port(),
        ))
        .await
    }
}

/// A raw RESP client.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len());
        for arg in args {
            out.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.stream
            .write_all(out.as_bytes())
            .await
            .expect("write a request");
    }

    /// Reads more input; `false` at end of stream (or a reset, which is a close too).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk))
            .await
            .expect("the server answers or closes in time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// One complete reply, as raw bytes (simple and nested types, enough for these tests).
    async fn reply(&mut self) -> String {
        loop {
            if let Some(n) = complete(&self.buf) {
                let reply: Vec<u8> = self.buf.drain(..n).collect();
                return String::from_utf8(reply).expect("UTF-8 reply");
            }
            assert!(
                self.fill().await,
                "the connection closed before a whole reply; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    async fn call(&mut self, args: &[&str]) -> String {
        self.send(args).await;
        self.reply().await
    }

    /// The first reply, or everything up to the close.
    async fn eof_or_reply(&mut self) -> String {
        loop {
            if let Some(n) = complete(&self.buf) {
                let reply: Vec<u8> = self.buf.drain(..n).collect();
                return String::from_utf8(reply).expect("UTF-8");
            }
            if !self.fill().await {
                return String::from_utf8(std::mem::take(&mut self.buf)).expect("UTF-8");
            }
        }
    }

    /// Waits for the server to close the connection; returns what it sent before.
    async fn eof(&mut self) -> String {
        while self.fill().await {}
        String::from_utf8(std::mem::take(&mut self.buf)).expect("UTF-8")
    }
}

/// The length of the first complete RESP2/RESP3 reply in `buf`, if there is one.
fn complete(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[1..line_end]).ok()?;
    let after = line_end + 2;
    match buf.first()? {
        b'$' | b'=' | b'!' => {
            let len: i64 = line.parse().ok()?;
            if len < 0 {
                return Some(after);
            }
            let end = after + len as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        kind @ (b'*' | b'%' | b'~' | b'>') => {
            let count: i64 = line.parse().ok()?;
            let items = if *kind == b'%' { count * 2 } else { count };
            let mut at = after;
            for _ in 0..items.max(0) {
                at += complete(&buf[at..])?;
            }
            Some(at)
        }
        _ => Some(after),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_over_maxclients_is_refused_and_closed() {
    let server = TestServer::start(Config {
        maxclients: 2,
        ..Config::default()
    })
    .await;
    let mut first = server.client().await;
    let mut second = server.client().await;
    // A reply proves each is registered.
    assert_eq!(first.call(&["PING"]).await, "+PONG\r\n");
    assert_eq!(second.call(&["PING"]).await, "+PONG\r\n");

    let mut third = server.client().await;
    assert_eq!(third.eof().await, "-ERR max number of clients reached\r\n");

    // The first two are unaffected, and a slot freed is a slot available again.
    assert_eq!(first.call(&["PING"]).await, "+PONG\r\n");
    second.send(&["QUIT"]).await;
    assert_eq!(second.eof().await, "+OK\r\n");
    // The server forgets the closed client right after closing it; retry until it has.
    let mut served = false;
    for _ in 0..300 {
        let mut next = server.client().await;
        next.send(&["PING"]).await;
        if next.eof_or_reply().await == "+PONG\r\n" {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "a client is served once another has left");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_client_is_closed_after_the_timeout() {
    let server = TestServer::start(Config {
        timeout: 1,
        ..Config::default()
    })
    .await;
    let mut idle = server.client().await;
    assert_eq!(idle.call(&["PING"]).await, "+PONG\r\n");
    // Closed with nothing sent (Redis closes idle clients silently); `eof` is bounded.
    assert_eq!(idle.eof().await, "");
    // The server itself keeps serving.
    let mut next = server.client().await;
    assert_eq!(next.call(&["PING"]).await, "+PONG\r\n");
    server.stop().await;
}

const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requirepass_gates_commands_until_auth() {
    let server = TestServer::start(Config {
        requirepass: "s3cret".to_owned(),
        ..Config::default()
    })
    .await;
    let mut c = server.client().await;
    assert_eq!(c.call(&["GET", "k"]).await, NOAUTH);
    assert_eq!(c.call(&["SET", "k", "v"]).await, NOAUTH);
    assert_eq!(c.call(&["PING"]).await, NOAUTH);
    assert_eq!(c.call(&["AUTH", "wrong"]).await, WRONGPASS);
    assert_eq!(c.call(&["AUTH", "nobody", "s3cret"]).await, WRONGPASS);
    assert_eq!(c.call(&["GET", "k"]).await, NOAUTH, "still locked");
    assert_eq!(c.call(&["AUTH", "s3cret"]).await, "+OK\r\n");
    assert_eq!(c.call(&["SET", "k", "v"]).await, "+OK\r\n");
    assert_eq!(c.call(&["GET", "k"]).await, "$1\r\nv\r\n");
    // The two-argument form with the default user.
    let mut d = server.client().await;
    assert_eq!(d.call(&["AUTH", "default", "s3cret"]).await, "+OK\r\n");
    assert_eq!(d.call(&["GET", "k"]).await, "$1\r\nv\r\n");
    // RESET logs the client out again.
    assert_eq!(d.call(&["RESET"]).await, "+RESET\r\n");
    assert_eq!(d.call(&["GET", "k"]).await, NOAUTH);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_authenticates_and_switches_protocol_at_once() {
    let server = TestServer::start(Config {
        requirepass: "s3cret".to_owned(),
        ..Config::default()
    })
    .await;
    let mut c = server.client().await;
    assert_eq!(
        c.call(&["HELLO", "3"]).await,
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
    );
    assert_eq!(
        c.call(&["HELLO", "3", "AUTH", "default", "wrong"]).await,
        WRONGPASS
    );
    assert_eq!(c.call(&["GET", "k"]).await, NOAUTH);
    let hello = c.call(&["HELLO", "3", "AUTH", "default", "s3cret"]).await;
    assert!(hello.starts_with("%7\r\n"), "a RESP3 map: {hello:?}");
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"), "{hello:?}");
    // Authenticated and speaking RESP3: a missing key is RESP3's null.
    assert_eq!(c.call(&["GET", "k"]).await, "_\r\n");

    let mut d = server.client().await;
    let hello = d.call(&["HELLO", "2", "AUTH", "default", "s3cret"]).await;
    assert!(
        hello.starts_with("*14\r\n"),
        "a flat RESP2 array: {hello:?}"
    );
    assert_eq!(d.call(&["GET", "k"]).await, "$-1\r\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_crate_authenticates_over_resp2_and_resp3() {
    let server = TestServer::start(Config {
        requirepass: "s3cret".to_owned(),
        ..Config::default()
    })
    .await;
    let port = server.addr.port();
    // RESP2: the crate sends AUTH; RESP3: it sends HELLO 3 AUTH default <password>.
    for query in ["", "?protocol=resp3"] {
        let url = format!("redis://:s3cret@127.0.0.1:{port}/{query}");
        let mut con = redis::Client::open(url)
            .expect("URL")
            .get_multiplexed_async_connection()
            .await
            .expect("authenticated connection");
        let pong: String = redis::cmd("PING")
            .query_async(&mut con)
            .await
            .expect("PING");
        assert_eq!(pong, "PONG");

        let wrong = format!("redis://:nope@127.0.0.1:{port}/{query}");
        let refused = redis::Client::open(wrong)
            .expect("URL")
            .get_multiplexed_async_connection()
            .await;
        assert!(refused.is_err(), "a wrong password fails the connection");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_without_a_password_configured_is_an_error() {
    let server = TestServer::start(Config::default()).await;
    let mut c = server.client().await;
    assert_eq!(
        c.call(&["AUTH", "anything"]).await,
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    // Any password works for the default user when none is set (Redis's `nopass`).
    assert_eq!(c.call(&["AUTH", "default", "anything"]).await, "+OK\r\n");
    server.stop().await;
}

/// Redis 7.0.15's protected-mode refusal, word for word (networking.c).
const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// A local IPv4 address that is not loopback (the source address the kernel would use toward a
/// private network; a UDP connect sends nothing), or `None` on a machine without one.
fn non_loopback_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    ["10.255.255.255:9", "192.168.255.255:9", "172.31.255.255:9"]
        .into_iter()
        .filter_map(|target| {
            socket.connect(target).ok()?;
            Some(socket.local_addr().ok()?.ip())
        })
        .find(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

/// A server on 0.0.0.0 and a client connecting to it from a non-loopback address.
async fn remote_client(config: Config) -> Option<(TestServer, Client)> {
    let Some(ip) = non_loopback_address() else {
        eprintln!("SKIPPED: this machine has no non-loopback IPv4 address to connect from");
        return None;
    };
    let server = TestServer::start(Config {
        bind: "0.0.0.0".to_owned(),
        ..config
    })
    .await;
    let client = Client::connect(SocketAddr::new(ip, server.addr.port())).await;
    Some((server, client))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_mode_refuses_remote_clients_without_a_password() {
    let Some((server, mut remote)) = remote_client(Config::default()).await else {
        return;
    };
    // Refused before any request, then closed.
    assert_eq!(remote.eof().await, DENIED);
    // Loopback clients are served.
    let mut local = server.client().await;
    assert_eq!(local.call(&["PING"]).await, "+PONG\r\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_mode_lets_remote_clients_in_with_a_password() {
    let config = Config {
        requirepass: "s3cret".to_owned(),
        ..Config::default()
    };
    let Some((server, mut remote)) = remote_client(config).await else {
        return;
    };
    assert_eq!(remote.call(&["PING"]).await, NOAUTH);
    assert_eq!(remote.call(&["AUTH", "s3cret"]).await, "+OK\r\n");
    assert_eq!(remote.call(&["PING"]).await, "+PONG\r\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_mode_off_serves_remote_clients() {
    let config = Config {
        protected_mode: false,
        ..Config::default()
    };
    let Some((server, mut remote)) = remote_client(config).await else {
        return;
    };
    assert_eq!(remote.call(&["PING"]).await, "+PONG\r\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_completes_run_and_closes_every_client() {
    let server = TestServer::start(Config::default()).await;
    let addr = server.addr;
    let mut idle = server.client().await;
    let mut busy = server.client().await;
    assert_eq!(idle.call(&["PING"]).await, "+PONG\r\n");
    assert_eq!(busy.call(&["SET", "k", "v"]).await, "+OK\r\n");
    // A client that sent half a request is closed too.
    let mut partial = server.client().await;
    assert_eq!(partial.call(&["PING"]).await, "+PONG\r\n");
    partial
        .stream
        .write_all(b"*2\r\n$3\r\nGET\r\n")
        .await
        .expect("write");

    server.stop().await;

    assert_eq!(idle.eof().await, "", "an idle client sees EOF");
    assert_eq!(busy.eof().await, "", "a client sees EOF");
    assert_eq!(partial.eof().await, "", "a half-sent request is dropped");
    // The listener is gone with `run`.
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no connection is accepted after shutdown"
    );
}
