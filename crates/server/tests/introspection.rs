//! Introspection over real sockets: `MONITOR` streams the commands others run in Redis's
//! format, and `CLIENT LIST` names the running subcommand.

mod raw;

use larder_protocol::Frame;
use larder_server::Config;
use raw::{Client, error, start, within};

fn line(frame: Frame) -> String {
    match frame {
        Frame::Simple(text) => String::from_utf8(text).expect("utf-8"),
        other => panic!("expected a status line, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_streams_commands_in_redis_format() {
    let server = start(Config::default()).await;
    within(async {
        let mut m = Client::connect(server.addr).await;
        assert_eq!(
            m.call_str(&["MONITOR"]).await,
            Frame::Simple(b"OK".to_vec())
        );
        let mut c = Client::connect(server.addr).await;
        c.call_str(&["SELECT", "3"]).await;
        c.call(&[b"SET", b"foo", b"a \"q\"\n\x01"]).await;
        c.call_str(&["GET", "foo"]).await;
        // Administrative commands are not shown.
        c.call_str(&["CONFIG", "GET", "port"]).await;
        c.call_str(&["PING"]).await;

        let select = line(m.read().await);
        let (stamp, rest) = select.split_once(' ').expect("timestamp");
        let (secs, micros) = stamp.split_once('.').expect("seconds.micros");
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6);
        // The database is the one selected once the command ran, as in Redis.
        assert!(rest.starts_with("[3 127.0.0.1:"), "{rest}");
        assert!(rest.ends_with("] \"SELECT\" \"3\""), "{rest}");
        let set = line(m.read().await);
        assert!(set.contains("[3 127.0.0.1:"), "{set}");
        assert!(set.ends_with(r#"] "SET" "foo" "a \"q\"\n\x01""#), "{set}");
        assert!(line(m.read().await).ends_with(r#""GET" "foo""#));
        assert!(line(m.read().await).ends_with(r#""PING""#));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_subcommands_check_their_arity_and_show_in_client_list() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        assert_eq!(
            c.call_str(&["CLIENT", "KILL"]).await,
            error("ERR wrong number of arguments for 'client|kill' command")
        );
        let list = c.client_list().await;
        assert!(list.contains(" cmd=client|list "), "{list}");
        // qbuf is the size of the CLIENT LIST request itself, as Redis shows it.
        assert!(list.contains(" qbuf=26 "), "{list}");
        assert_eq!(c.call_str(&["CLIENT", "GETNAME"]).await, Frame::Null);
        assert_eq!(
            c.call_str(&["CONFIG", "SET", "port", "1"]).await,
            error("ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config")
        );
        let Frame::Array(port) = c.call_str(&["CONFIG", "GET", "port"]).await else {
            panic!("CONFIG GET port")
        };
        let Frame::Bulk(value) = &port[1] else { panic!("port value") };
        let value = String::from_utf8(value.clone()).expect("utf-8");
        // Setting an immutable parameter to the value it has is accepted (a no-op).
        assert_eq!(
            c.call_str(&["CONFIG", "SET", "port", &value]).await,
            Frame::Simple(b"OK".to_vec())
        );
    })
    .await;
}
