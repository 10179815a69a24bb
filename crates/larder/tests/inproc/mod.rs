//! `larder serve` in-process for the tests: `Server::bind` on 127.0.0.1:0, run on the test's
//! runtime, stopped when the handle is dropped.

use larder_server::{Config, Server};
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// A running server; dropping it stops it.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Starts a server with the default configuration on a free port.
    pub async fn start() -> TestServer {
        let server = Server::bind(Config {
            port: 0,
            ..Config::default()
        })
        .await
        .expect("bind");
        let addr = server.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            stop: Some(stop),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        drop(self.stop.take());
    }
}
