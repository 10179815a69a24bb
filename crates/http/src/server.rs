//! The client-facing listener: HTTP/1.1 and HTTP/2 (cleartext, prior knowledge) connections
//! served by hyper, each on its own task, with a header-read timeout (which also bounds idle
//! HTTP/1.1 keep-alive time) and a cap on the request header block (larger gets `431`).

use crate::error::EdgeError;
use crate::proxy::{Edge, refuse};
use crate::smuggling::Scanned;
use http::StatusCode;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Serves `edge` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    edge: Arc<Edge>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), EdgeError> {
    accept_until(listener, shutdown, move |stream| {
        let edge = edge.clone();
        async move {
            let config = edge.config();
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_millis(config.client_header_timeout_ms))
                .max_buf_size(config.max_request_header_bytes.max(8192));
            builder
                .http2()
                .timer(TokioTimer::new())
                .max_header_list_size(config.max_request_header_bytes.max(8192) as u32);
            let (stream, verdict) = Scanned::new(stream, config.max_request_header_bytes.max(8192));
            let service = service_fn(move |request| {
                let edge = edge.clone();
                let conflicting = verdict.next_is_conflicting();
                async move {
                    if conflicting {
                        // Both Content-Length and Transfer-Encoding: 400, and the connection
                        // closes (see `smuggling`).
                        return Ok::<_, Infallible>(refuse(StatusCode::BAD_REQUEST));
                    }
                    Ok(edge.handle(request).await)
                }
            });
            // A connection that fails (reset, timeout, malformed request) concerns only itself.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    })
    .await
}

/// Accepts connections on `listener` until `shutdown` completes, each served by `serve_one` on
/// its own task (shared by the client-facing and the admin listeners).
pub(crate) async fn accept_until<F, Fut>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    serve_one: F,
) -> Result<(), EdgeError>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // A failed accept (out of descriptors, a reset in the backlog) drops that
                // connection only.
                Err(_) => continue,
            },
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_one(stream));
    }
}
