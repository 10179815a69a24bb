//! The RESP client's guarantees that keep replies with their requests: commands that would not
//! be answered exactly once are refused, and a reply that does not come in time ends the
//! connection (a late reply would otherwise reach the next request).

mod inproc;

use inproc::TestServer;
use larder::remote::{RemoteClient, RemoteConfig, RemoteError};
use larder_protocol::Frame;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A client of `server` with the default configuration and no handlers.
async fn connect(server: &TestServer) -> RemoteClient {
    RemoteClient::connect(&RemoteConfig::new(server.addr.to_string()), None, None)
        .await
        .expect("connect")
}

#[tokio::test]
async fn commands_that_do_not_answer_exactly_once_are_refused_and_the_connection_stays_in_step() {
    let server = TestServer::start().await;
    let client = connect(&server).await;
    let refused: [&[&[u8]]; 5] = [
        &[],
        &[b"MONITOR"],
        &[b"client", b"reply", b"off"],
        &[b"SUBSCRIBE", b"news"],
        &[b"punsubscribe"],
    ];
    for command in refused {
        assert!(
            matches!(client.call(command).await, Err(RemoteError::Unsupported(_))),
            "{command:?} must be refused"
        );
    }
    // Nothing was sent: every reply still matches its request.
    client
        .call(&[b"SET", b"k", b"v"])
        .await
        .expect("SET answers");
    let got = client.call(&[b"GET", b"k"]).await.expect("GET answers");
    assert_eq!(got, Frame::Bulk(b"v".to_vec()));
    assert!(!client.is_closed());
}

/// A server that answers `HELLO` and then nothing: the request times out, the connection is
/// closed (the disconnect handler runs once) and later requests fail at once.
#[tokio::test]
async fn a_reply_that_does_not_come_in_time_ends_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let silent = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 1024];
        let _ = socket.read(&mut buf).await; // HELLO 3
        socket
            .write_all(b"%1\r\n+server\r\n+silent\r\n")
            .await
            .expect("answer HELLO");
        // Read and ignore everything else until the client goes away.
        while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
    });
    let disconnects = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&disconnects);
    let mut config = RemoteConfig::new(addr.to_string());
    config.timeout = Duration::from_millis(300);
    let client = RemoteClient::connect(
        &config,
        None,
        Some(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })),
    )
    .await
    .expect("connect");
    assert!(matches!(
        client.call(&[b"GET", b"k"]).await,
        Err(RemoteError::Timeout)
    ));
    assert!(
        client.is_closed(),
        "a timed-out reply closes the connection"
    );
    assert_eq!(disconnects.load(Ordering::SeqCst), 1);
    assert!(matches!(
        client.call(&[b"GET", b"k"]).await,
        Err(RemoteError::Disconnected)
    ));
    drop(client);
    tokio::time::timeout(Duration::from_secs(5), silent)
        .await
        .expect("the silent server sees the client go")
        .expect("server task");
}

/// A reply far larger than one read (about 1.9 MB of 100,000 elements, read 16 KiB at a time)
/// arrives intact, and the replies pipelined after it still reach their own requests.
#[tokio::test]
async fn a_reply_spanning_many_reads_arrives_whole_and_in_step() {
    let server = TestServer::start().await;
    let client = connect(&server).await;
    let items: Vec<Vec<u8>> = (0..100_000)
        .map(|i| format!("item-{i:07}").into_bytes())
        .collect();
    for batch in items.chunks(5_000) {
        let mut args: Vec<&[u8]> = vec![b"RPUSH", b"big"];
        args.extend(batch.iter().map(Vec::as_slice));
        client.call(&args).await.expect("RPUSH answers");
    }
    client
        .call(&[b"SET", b"after", b"small"])
        .await
        .expect("SET answers");
    let (range, after, len) = tokio::join!(
        client.call(&[b"LRANGE", b"big", b"0", b"-1"]),
        client.call(&[b"GET", b"after"]),
        client.call(&[b"LLEN", b"big"]),
    );
    let expected: Vec<Frame> = items.into_iter().map(Frame::Bulk).collect();
    assert_eq!(range.expect("LRANGE answers"), Frame::Array(expected));
    assert_eq!(after.expect("GET answers"), Frame::Bulk(b"small".to_vec()));
    assert_eq!(len.expect("LLEN answers"), Frame::Integer(100_000));
    assert!(!client.is_closed());
}
