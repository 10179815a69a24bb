//! An in-process server for the integration tests: `Server::bind` on 127.0.0.1:0 and `run`
//! on the test's tokio runtime, stopped through the future `run` waits on.

use larder_server::{Config, Server};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A bound far above anything a healthy run needs: only a hang reaches it.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A running server.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Starts a server with `config` on a free port (`config.port` is ignored).
    pub async fn start(config: Config) -> TestServer {
        let server = Server::bind(Config { port: 0, ..config })
            .await
            .expect("bind a free port");
        let addr = server.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Fires the stop future and waits for `run` to return, which it must do without an error.
    pub async fn stop(mut self) {
        drop(self.stop.take());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("run returns after the stop future fires")
            .expect("the server task")
            .expect("run ends without an error");
    }
}
