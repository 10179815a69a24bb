//! `larder serve` in-process for the examples: bound on 127.0.0.1:0, stopped by [`Running::stop`].

use larder_server::{Config, Server};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server.
pub struct Running {
    /// `host:port` it listens on.
    pub addr: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Starts a server with the default configuration on a free port.
pub async fn start() -> std::io::Result<Running> {
    let server = Server::bind(Config {
        port: 0,
        ..Config::default()
    })
    .await?;
    let addr = server.local_addr()?.to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Ok(Running { addr, stop, task })
}

impl Running {
    /// Stops the server and waits for it.
    pub async fn stop(self) -> Result<(), Box<dyn std::error::Error>> {
        drop(self.stop);
        self.task.await??;
        Ok(())
    }
}
