//! Admin-listener helpers for the purge, ESI and metrics tests: start an edge's admin listener
//! on 127.0.0.1:0 and send it requests.

#![allow(dead_code)]

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use larder_http::Edge;
use larder_http::admin::{Admin, AdminConfig, serve_admin};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub const TOKEN: &str = "s3cret-token";

/// Starts the admin listener of `edge` with `peers`; returns its address.
pub async fn admin(edge: &Arc<Edge>, peers: Vec<String>) -> SocketAddr {
    let config = AdminConfig {
        token: Some(TOKEN.into()),
        peers,
        ..AdminConfig::default()
    };
    let admin = Admin::new(config, edge.clone()).expect("admin");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = serve_admin(listener, admin, std::future::pending()).await;
    });
    addr
}

/// An admin answer: status and body.
#[derive(Debug)]
pub struct AdminReply {
    pub status: u16,
    pub body: String,
    pub content_type: String,
}

impl AdminReply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("json body")
    }
}

/// One admin request with `token` (None: no Authorization field).
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> AdminReply {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let (parts, body) = client
        .request(request)
        .await
        .expect("response")
        .into_parts();
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    AdminReply {
        status: parts.status.as_u16(),
        content_type: content_type.unwrap_or("").to_string(),
        body: String::from_utf8_lossy(&body.collect().await.expect("body").to_bytes()).into_owned(),
    }
}

/// `POST /purge` with the right token and `form` as the body.
pub async fn purge(addr: SocketAddr, form: &str) -> Value {
    let reply = call(addr, "POST", "/purge", Some(TOKEN), form).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}
