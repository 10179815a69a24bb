//! String and expiry commands over the wire: every option of SET and GETEX and their errors,
//! the counters and their overflow, INCRBYFLOAT's long-double formatting, huge SETRANGE
//! offsets, bits, LCS, and TTL behaviour. Deadlines are set far in the past or the future, so
//! nothing depends on timing.

use larder_protocol::{Frame, encode_command, parse_frame};
use larder_server::{Config, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;

/// A server running in-process on its own runtime; stopped on drop.
struct TestServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    fn start(config: Config) -> TestServer {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let server = Server::bind(config).await.expect("binds");
                addr_tx
                    .send(server.local_addr().expect("an address"))
                    .expect("sent");
                server
                    .run(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("runs");
            });
        });
        let addr = addr_rx.recv().expect("the server starts");
        TestServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn new() -> TestServer {
        TestServer::start(Config {
            port: 0,
            ..Config::default()
        })
    }

    fn client(&self) -> Client {
        Client {
            stream: TcpStream::connect(self.addr).expect("connects"),
            buf: Vec::new(),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn call(&mut self, args: &[&[u8]]) -> Frame {
        let mut out = Vec::new();
        encode_command(&mut out, args);
        self.stream.write_all(&out).expect("writes");
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf).expect("a valid reply") {
                self.buf.drain(..used);
                return frame;
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("reads");
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a command given as space-separated words.
    fn cmd(&mut self, line: &str) -> Frame {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.call(&args)
    }

    fn int(&mut self, line: &str) -> i64 {
        match self.cmd(line) {
            Frame::Integer(n) => n,
            other => panic!("{line}: expected an integer, got {other:?}"),
        }
    }

    fn err(&mut self, line: &str) -> String {
        match self.cmd(line) {
            Frame::Error(text) => String::from_utf8(text).expect("UTF-8"),
            other => panic!("{line}: expected an error, got {other:?}"),
        }
    }
}

fn bulk(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec())
}

fn ok() -> Frame {
    Frame::Simple(b"OK".to_vec())
}

/// 2100-01-01 and 2200-01-01 in milliseconds: deadlines no test run will reach.
const FAR: i64 = 4_102_444_800_000;
const FARTHER: i64 = 7_258_118_400_000;

#[test]
fn set_options_combine_like_redis() {
    let server = TestServer::new();
    let mut c = server.client();
    assert_eq!(c.cmd("SET k v1 NX"), ok());
    assert_eq!(c.cmd("SET k v2 NX"), Frame::Null);
    assert_eq!(c.cmd("SET k v3 XX"), ok());
    assert_eq!(c.cmd("SET missing v XX"), Frame::Null);
    assert_eq!(c.cmd("GET missing"), Frame::Null);
    // GET answers the old value whether or not NX/XX let the write happen.
    assert_eq!(c.cmd("SET k v4 GET"), bulk("v3"));
    assert_eq!(c.cmd("SET k v5 NX GET"), bulk("v4"));
    assert_eq!(c.cmd("GET k"), bulk("v4"));
    assert_eq!(c.cmd("SET fresh v NX GET"), Frame::Null);
    assert_eq!(c.cmd("GET fresh"), bulk("v"));
    assert_eq!(c.cmd("SET nothing v XX GET"), Frame::Null);
    assert_eq!(c.int("PTTL nothing"), -2);

    // Options are case-insensitive and a unit may repeat (the last wins).
    assert_eq!(c.cmd(&format!("set k v pxat {FAR} Pxat {FARTHER}")), ok());
    assert_eq!(c.int("PEXPIRETIME k"), FARTHER);
    // KEEPTTL keeps the deadline; a plain SET clears it.
    assert_eq!(c.cmd("SET k v KEEPTTL"), ok());
    assert_eq!(c.int("PEXPIRETIME k"), FARTHER);
    assert_eq!(c.cmd("SET k v"), ok());
    assert_eq!(c.int("PTTL k"), -1);
    assert_eq!(c.cmd(&format!("SET k v EXAT {}", FAR / 1000)), ok());
    assert_eq!(c.int("EXPIRETIME k"), FAR / 1000);
    assert_eq!(c.int("PEXPIRETIME k"), FAR);
    // A deadline already past leaves no key.
    assert_eq!(c.cmd("SET k v PXAT 1"), ok());
    assert_eq!(c.int("PTTL k"), -2);
    assert_eq!(c.cmd("SET k v EX 1000 XX"), Frame::Null);
    assert_eq!(c.cmd("SET k v EX 1000"), ok());
    let ttl = c.int("TTL k");
    assert!(ttl > 0 && ttl <= 1000, "{ttl}");
}

#[test]
fn set_refuses_bad_options_with_redis_texts() {
    let server = TestServer::new();
    let mut c = server.client();
    for line in [
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v EX 10 PX 10",
        "SET k v KEEPTTL EX 10",
        "SET k v EX 10 KEEPTTL",
        "SET k v PERSIST",
        "SET k v EX",
        "SET k v bogus",
        "GETEX k NX",
        "GETEX k KEEPTTL",
        "GETEX k PERSIST EX 10",
        "GETEX k non-existent-option",
    ] {
        assert_eq!(c.err(line), "ERR syntax error", "{line}");
    }
    assert_eq!(
        c.err("SET k v EX abc"),
        "ERR value is not an integer or out of range"
    );
    for line in [
        "SET k v EX 0",
        "SET k v PX -1",
        "SET k v EXAT 0",
        "SET k v EX 10000000000000000",
        "SET k v EX -9999999999999999",
        "SET k v PX 9223372036854775807",
    ] {
        assert_eq!(
            c.err(line),
            "ERR invalid expire time in 'set' command",
            "{line}"
        );
    }
    assert_eq!(
        c.err("SETEX k -10 v"),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        c.err("PSETEX k 0 v"),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(
        c.err("SET k"),
        "ERR wrong number of arguments for 'set' command"
    );
    // GETEX looks at the expiration only when the key holds a string.
    assert_eq!(c.cmd("GETEX missing EX abc"), Frame::Null);
    c.cmd("SET k v");
    assert_eq!(
        c.err("GETEX k EX 10000000000000000"),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(c.int("PTTL k"), -1);
}

#[test]
fn setnx_setex_getset_getdel_getex() {
    let server = TestServer::new();
    let mut c = server.client();
    assert_eq!(c.int("SETNX k a"), 1);
    assert_eq!(c.int("SETNX k b"), 0);
    assert_eq!(c.cmd("GETSET k c"), bulk("a"));
    assert_eq!(c.cmd("GETSET new c"), Frame::Null);
    assert_eq!(c.cmd("SETEX k 1000 v"), ok());
    let ttl = c.int("TTL k");
    assert!(ttl > 0 && ttl <= 1000, "{ttl}");
    assert_eq!(c.cmd("GETSET k w"), bulk("v"));
    assert_eq!(c.int("TTL k"), -1, "GETSET clears the TTL");
    assert_eq!(c.cmd("PSETEX k 1000000 v"), ok());
    assert_eq!(c.cmd("GETDEL k"), bulk("v"));
    assert_eq!(c.cmd("GETDEL k"), Frame::Null);

    c.cmd("SET k v");
    assert_eq!(c.cmd("GETEX k"), bulk("v"));
    assert_eq!(c.int("TTL k"), -1);
    assert_eq!(c.cmd(&format!("GETEX k PXAT {FAR}")), bulk("v"));
    assert_eq!(c.int("PEXPIRETIME k"), FAR);
    assert_eq!(c.cmd("GETEX k PERSIST"), bulk("v"));
    assert_eq!(c.int("PTTL k"), -1);
    assert_eq!(c.cmd("GETEX k EX 1000"), bulk("v"));
    let ttl = c.int("TTL k");
    assert!(ttl > 0 && ttl <= 1000, "{ttl}");
    // An absolute time in the past answers the value and deletes the key.
    assert_eq!(c.cmd("GETEX k EXAT 1"), bulk("v"));
    assert_eq!(c.int("PTTL k"), -2);
    assert_eq!(c.cmd("GETEX k"), Frame::Null);
}

#[test]
fn mget_mset_msetnx() {
    let server = TestServer::new();
    let mut c = server.client();
    assert_eq!(c.cmd("MSET a 1 b 2"), ok());
    assert_eq!(
        c.cmd("MGET a nope b"),
        Frame::Array(vec![bulk("1"), Frame::Null, bulk("2")])
    );
    assert_eq!(
        c.err("MSET a 1 b"),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        c.err("MSETNX a 1 b"),
        "ERR wrong number of arguments for 'msetnx' command"
    );
    assert_eq!(c.int("MSETNX x 1 a 9"), 0);
    assert_eq!(
        c.int("PTTL x"),
        -2,
        "MSETNX sets nothing when one key exists"
    );
    assert_eq!(c.int("MSETNX x 1 x 2"), 1);
    assert_eq!(c.cmd("GET x"), bulk("2"));
}

/// MGET reads its keys in chunks (each prefetched first): the replies follow the request's
/// order across chunk boundaries, with misses, integers, long strings and keys of another type.
#[test]
fn mget_answers_in_order_across_chunks() {
    let server = TestServer::new();
    let mut c = server.client();
    let mut keys = Vec::new();
    let mut expected = Vec::new();
    for i in 0..100 {
        let key = format!("m{i}");
        match i % 5 {
            0 => expected.push(Frame::Null),
            1 => {
                assert_eq!(c.cmd(&format!("SET {key} {i}")), ok());
                expected.push(bulk(&i.to_string()));
            }
            2 => {
                let long = format!("{key}-{}", "x".repeat(i));
                assert_eq!(c.cmd(&format!("SET {key} {long}")), ok());
                expected.push(bulk(&long));
            }
            3 => {
                assert_eq!(c.int(&format!("RPUSH {key} e")), 1);
                expected.push(Frame::Null);
            }
            _ => {
                assert_eq!(c.cmd(&format!("SET {key} v{i}")), ok());
                expected.push(bulk(&format!("v{i}")));
            }
        }
        keys.push(key);
    }
    assert_eq!(
        c.cmd(&format!("MGET {}", keys.join(" "))),
        Frame::Array(expected)
    );
}

#[test]
fn append_strlen_getrange_setrange() {
    let server = TestServer::new();
    let mut c = server.client();
    assert_eq!(c.int("APPEND s Hello"), 5);
    assert_eq!(c.int("APPEND s _World"), 11);
    assert_eq!(c.int("STRLEN s"), 11);
    assert_eq!(c.int("STRLEN nope"), 0);
    assert_eq!(c.cmd("GETRANGE s 0 3"), bulk("Hell"));
    assert_eq!(c.cmd("GETRANGE s -5 -1"), bulk("World"));
    assert_eq!(c.cmd("GETRANGE s 5 3"), bulk(""));
    assert_eq!(c.cmd("GETRANGE s -1 -5"), bulk(""));
    assert_eq!(c.cmd("GETRANGE s 0 4294967297"), bulk("Hello_World"));
    assert_eq!(c.cmd("SUBSTR s 6 100"), bulk("World"));
    assert_eq!(c.cmd("GETRANGE nope 0 -1"), bulk(""));
    assert_eq!(
        c.err("GETRANGE s a 1"),
        "ERR value is not an integer or out of range"
    );

    // Integers are strings too.
    c.cmd("SET n -555");
    assert_eq!(c.int("STRLEN n"), 4);
    assert_eq!(c.cmd("GETRANGE n 1 -1"), bulk("555"));
    assert_eq!(c.int("APPEND n 5"), 5);
    assert_eq!(c.int("INCR n"), -5554);

    assert_eq!(c.int("SETRANGE s 0 J"), 11);
    assert_eq!(c.int("SETRANGE s 13 !"), 14);
    assert_eq!(c.cmd("GET s"), bulk("Jello_World\0\0!"));
    assert_eq!(c.int("SETRANGE fresh 2 ab"), 4);
    assert_eq!(c.cmd("GET fresh"), bulk("\0\0ab"));
    // Writing nothing creates nothing and answers the current length.
    assert_eq!(c.int("SETRANGE empty 100 "), 0);
    assert_eq!(c.int("PTTL empty"), -2);
    assert_eq!(c.int("SETRANGE s 100 "), 14);
    assert_eq!(c.err("SETRANGE s -1 x"), "ERR offset is out of range");
}

#[test]
fn huge_setrange_offsets_are_refused_before_allocating() {
    let server = TestServer::new();
    let mut c = server.client();
    let too_long = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    for offset in [
        "9223372036854775807",
        "9223372036854775806",
        "536870908",
        "536870912",
    ] {
        assert_eq!(c.err(&format!("SETRANGE k {offset} world")), too_long);
        assert_eq!(c.int("PTTL k"), -2);
    }
    c.cmd("SET k hello");
    assert_eq!(c.err("SETRANGE k 9223372036854775807 A"), too_long);
    assert_eq!(c.cmd("GET k"), bulk("hello"));
    assert_eq!(
        c.err("SETRANGE k 9223372036854775808 A"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        c.err("SETBIT k 4294967296 1"),
        "ERR bit offset is not an integer or out of range"
    );
}

#[test]
fn strings_beyond_a_smaller_proto_max_bulk_len_are_refused() {
    let mut config = Config {
        port: 0,
        ..Config::default()
    };
    config.proto_max_bulk_len = 1 << 20;
    let server = TestServer::start(config);
    let mut c = server.client();
    let too_long = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(c.err("SETRANGE k 1048576 x"), too_long);
    assert_eq!(c.int("SETRANGE k 1048575 x"), 1 << 20);
    assert_eq!(c.err("APPEND k x"), too_long);
    assert_eq!(c.int("STRLEN k"), 1 << 20);
}

#[test]
fn strings_the_memory_budget_cannot_hold_get_oom() {
    let mut config = Config {
        port: 0,
        ..Config::default()
    };
    config.maxmemory = 8 << 20;
    config.maxmemory_policy = "allkeys-lru".to_owned();
    let server = TestServer::start(config);
    let mut c = server.client();
    let is_oom = |reply: &Frame| matches!(reply, Frame::Error(text) if text.starts_with(b"OOM "));
    // Refused before the 100 MB are allocated.
    let reply = c.cmd("SETRANGE k 100000000 x");
    assert!(is_oom(&reply), "{reply:?}");
    let reply = c.cmd("SETBIT k 800000000 1");
    assert!(is_oom(&reply), "{reply:?}");
    assert_eq!(c.int("PTTL k"), -2);
    // The length limit is checked first.
    assert_eq!(
        c.err("SETRANGE k 536870912 x"),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    // More than a budget of 8 MB can hold in one entry (each shard holds a share of it).
    c.cmd("SET big small");
    let big = vec![b'x'; 9 << 20];
    let reply = c.call(&[b"SET", b"big", &big]);
    assert!(is_oom(&reply), "{reply:?}");
    assert_eq!(
        c.cmd("GET big"),
        bulk("small"),
        "a refused SET keeps the old value"
    );
    let reply = c.call(&[b"APPEND", b"big", &big]);
    assert!(is_oom(&reply), "{reply:?}");
    assert_eq!(
        c.cmd("GET big"),
        bulk("small"),
        "a refused APPEND keeps the old value"
    );
}

#[test]
fn counters_and_their_errors() {
    let server = TestServer::new();
    let mut c = server.client();
    assert_eq!(c.int("INCR n"), 1);
    assert_eq!(c.int("INCRBY n 17179869184"), 17179869185);
    assert_eq!(c.int("DECRBY n 17179869186"), -1);
    assert_eq!(c.int("DECR n"), -2);
    c.cmd("SET n 9223372036854775807");
    assert_eq!(c.err("INCR n"), "ERR increment or decrement would overflow");
    assert_eq!(c.cmd("GET n"), bulk("9223372036854775807"));
    c.cmd("SET n -9223372036854775808");
    assert_eq!(c.err("DECR n"), "ERR increment or decrement would overflow");
    assert_eq!(
        c.err("DECRBY n -9223372036854775808"),
        "ERR decrement would overflow"
    );
    assert_eq!(
        c.err("INCRBY n x"),
        "ERR value is not an integer or out of range"
    );
    for text in [" 11", "11 ", "1.5", "abc", "01", "9223372036854775808"] {
        c.call(&[b"SET", b"s", text.as_bytes()]);
        assert_eq!(
            c.err("INCR s"),
            "ERR value is not an integer or out of range",
            "{text:?}"
        );
    }
    // A counter keeps its TTL.
    c.cmd(&format!("SET t 10 PXAT {FAR}"));
    assert_eq!(c.int("INCR t"), 11);
    assert_eq!(c.int("PEXPIRETIME t"), FAR);
}

#[test]
fn incrbyfloat_formats_like_redis_long_double() {
    let server = TestServer::new();
    let mut c = server.client();
    assert_eq!(c.cmd("INCRBYFLOAT f 1"), bulk("1"));
    assert_eq!(c.cmd("INCRBYFLOAT f -1.1"), bulk("-0.1"));
    c.cmd("SET f 0");
    for want in ["0.1", "0.2", "0.3"] {
        assert_eq!(c.cmd("INCRBYFLOAT f 0.1"), bulk(want));
    }
    c.cmd("SET f 10.50");
    assert_eq!(c.cmd("INCRBYFLOAT f 0.1"), bulk("10.6"));
    c.cmd("SET f 5.0e3");
    assert_eq!(c.cmd("INCRBYFLOAT f 2.0e2"), bulk("5200"));
    c.cmd("SET f 17179869184");
    assert_eq!(c.cmd("INCRBYFLOAT f 1.5"), bulk("17179869185.5"));
    assert_eq!(c.cmd("INCRBYFLOAT f 0x10"), bulk("17179869201.5"));
    assert_eq!(c.cmd("GET f"), bulk("17179869201.5"));
    // 1/41 and back leaves a tiny negative remainder, which is written 0, never -0.
    c.cmd("INCRBYFLOAT z 0.024390243902439025");
    assert_eq!(c.cmd("INCRBYFLOAT z -0.024390243902439025"), bulk("0"));

    let not_float = "ERR value is not a valid float";
    for arg in ["abc", " 1", "1 ", "nan", "1e5000", ""] {
        c.cmd("SET f 1");
        assert_eq!(
            c.call(&[b"INCRBYFLOAT", b"f", arg.as_bytes()]),
            Frame::Error(not_float.as_bytes().to_vec()),
            "{arg:?}"
        );
    }
    c.call(&[b"SET", b"f", b"1\x002"]);
    assert_eq!(c.err("INCRBYFLOAT f 1"), not_float);
    c.cmd("SET f 0");
    assert_eq!(
        c.err("INCRBYFLOAT f +inf"),
        "ERR increment would produce NaN or Infinity"
    );
    c.cmd("SET f 1e4932");
    assert_eq!(
        c.err("INCRBYFLOAT f 1e4932"),
        "ERR increment would produce NaN or Infinity"
    );
    c.cmd(&format!("SET t 1 PXAT {FAR}"));
    assert_eq!(c.cmd("INCRBYFLOAT t 0.5"), bulk("1.5"));
    assert_eq!(c.int("PEXPIRETIME t"), FAR);
}

#[test]
fn concurrent_increments_are_atomic() {
    let server = TestServer::new();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut c = server.client();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    c.int("INCR counter");
                    c.cmd("APPEND log x");
                    c.cmd("INCRBYFLOAT f 0.5");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client thread");
    }
    let mut c = server.client();
    assert_eq!(c.cmd("GET counter"), bulk("2000"));
    assert_eq!(c.int("STRLEN log"), 2000);
    assert_eq!(c.cmd("GET f"), bulk("1000"));
}

#[test]
fn bits() {
    let server = TestServer::new();
    let mut c = server.client();
    assert_eq!(c.int("SETBIT b 1 1"), 0);
    assert_eq!(c.cmd("GET b"), bulk("@"));
    assert_eq!(c.int("SETBIT b 1 0"), 1);
    assert_eq!(c.int("SETBIT b 23 1"), 0);
    assert_eq!(c.cmd("GET b"), Frame::Bulk(vec![0, 0, 1]));
    assert_eq!(c.int("GETBIT b 23"), 1);
    assert_eq!(c.int("GETBIT b 1000"), 0);
    assert_eq!(c.int("GETBIT nope 3"), 0);
    c.cmd("SET one 1");
    assert_eq!(c.int("GETBIT one 2"), 1);
    assert_eq!(c.int("SETBIT one 6 1"), 0);
    assert_eq!(c.cmd("GET one"), bulk("3"));
    for bad in ["-1", "2", "x"] {
        assert_eq!(
            c.err(&format!("SETBIT b 0 {bad}")),
            "ERR bit is not an integer or out of range"
        );
    }
    assert_eq!(
        c.err("GETBIT b -1"),
        "ERR bit offset is not an integer or out of range"
    );
}

#[test]
fn lcs() {
    let server = TestServer::new();
    let mut c = server.client();
    c.cmd("MSET a ohmytext b mynewtext");
    assert_eq!(c.cmd("LCS a b"), bulk("mytext"));
    assert_eq!(c.int("LCS a b LEN"), 6);
    assert_eq!(c.cmd("LCS a nope"), bulk(""));
    let range = |a: i64, b: i64| Frame::Array(vec![Frame::Integer(a), Frame::Integer(b)]);
    assert_eq!(
        c.cmd("LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN"),
        Frame::Array(vec![
            bulk("matches"),
            Frame::Array(vec![Frame::Array(vec![
                range(4, 7),
                range(5, 8),
                Frame::Integer(4)
            ])]),
            bulk("len"),
            Frame::Integer(6),
        ])
    );
    assert_eq!(
        c.err("LCS a b LEN IDX"),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(c.err("LCS a b bogus"), "ERR syntax error");
    // RESP3 answers IDX with a map.
    c.cmd("HELLO 3");
    assert!(matches!(c.cmd("LCS a b IDX"), Frame::Map(pairs) if pairs.len() == 2));
}

#[test]
fn expire_conditions_and_results() {
    let server = TestServer::new();
    let mut c = server.client();
    assert_eq!(c.int("EXPIRE nope 100"), 0);
    assert_eq!(c.int("TTL nope"), -2);
    assert_eq!(c.int("PTTL nope"), -2);
    assert_eq!(c.int("EXPIRETIME nope"), -2);
    assert_eq!(c.int("PEXPIRETIME nope"), -2);
    c.cmd("SET k v");
    assert_eq!(c.int("TTL k"), -1);
    assert_eq!(c.int("PEXPIRETIME k"), -1);
    assert_eq!(c.int(&format!("PEXPIREAT k {FAR} XX")), 0);
    assert_eq!(c.int(&format!("PEXPIREAT k {FARTHER} GT")), 0);
    assert_eq!(c.int(&format!("PEXPIREAT k {FARTHER} LT")), 1);
    assert_eq!(c.int("PEXPIRETIME k"), FARTHER);
    assert_eq!(c.int(&format!("PEXPIREAT k {FAR} NX")), 0);
    assert_eq!(c.int(&format!("PEXPIREAT k {FAR} GT")), 0);
    assert_eq!(c.int(&format!("PEXPIREAT k {FAR} lt xx")), 1);
    assert_eq!(c.int("PEXPIRETIME k"), FAR);
    assert_eq!(c.int(&format!("EXPIREAT k {} GT", FARTHER / 1000)), 1);
    assert_eq!(c.int("EXPIRETIME k"), FARTHER / 1000);
    assert_eq!(c.int("PERSIST k"), 1);
    assert_eq!(c.int("PERSIST k"), 0);
    assert_eq!(c.int("PERSIST nope"), 0);
    assert_eq!(c.int("TTL k"), -1);
    assert_eq!(c.int("EXPIRE k 1000"), 1);
    let ttl = c.int("TTL k");
    assert!(ttl > 0 && ttl <= 1000, "{ttl}");
    let pttl = c.int("PTTL k");
    assert!(pttl > 0 && pttl <= 1_000_000, "{pttl}");
    assert_eq!(c.int("PEXPIRE k 500000 GT"), 0);
    assert_eq!(c.int("PEXPIRE k 2000000 GT"), 1);

    // A deadline in the past deletes the key, whatever the unit.
    for line in [
        "EXPIRE k -1",
        "PEXPIRE k 0",
        "EXPIREAT k 1",
        "PEXPIREAT k -9223372036854770000",
    ] {
        c.cmd("SET k v");
        assert_eq!(c.int(line), 1, "{line}");
        assert_eq!(c.int("PTTL k"), -2, "{line}");
        assert_eq!(c.cmd("GET k"), Frame::Null, "{line}");
    }
    c.cmd(&format!("SET k v PXAT {FAR}"));
    assert_eq!(c.int("EXPIRE k -10 LT"), 1);
    assert_eq!(c.int("TTL k"), -2);

    c.cmd("SET k v");
    assert_eq!(c.int("PEXPIREAT k 9223372036854770000"), 1);
    assert_eq!(c.int("PEXPIRETIME k"), 9223372036854770000);
}

#[test]
fn expire_errors_use_redis_texts() {
    let server = TestServer::new();
    let mut c = server.client();
    c.cmd("SET k v");
    let both = "ERR NX and XX, GT or LT options at the same time are not compatible";
    assert_eq!(c.err("EXPIRE k 10 NX XX"), both);
    assert_eq!(c.err("EXPIRE k 10 NX GT"), both);
    assert_eq!(c.err("EXPIRE k 10 lt nx"), both);
    assert_eq!(
        c.err("EXPIRE k 10 GT LT"),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(c.err("EXPIRE k 10 XX AB"), "ERR Unsupported option AB");
    assert_eq!(
        c.err("EXPIRE k abc"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        c.err("EXPIRE k "),
        "ERR value is not an integer or out of range"
    );
    for (line, name) in [
        ("EXPIRE k 9223370399119966", "expire"),
        ("EXPIRE k 9223372036854776", "expire"),
        ("EXPIRE k -9223372036854776", "expire"),
        ("PEXPIRE k 9223372036854770000", "pexpire"),
        ("EXPIREAT k 9223372036854776", "expireat"),
    ] {
        assert_eq!(
            c.err(line),
            format!("ERR invalid expire time in '{name}' command"),
            "{line}"
        );
    }
    assert_eq!(c.int("TTL k"), -1, "a refused EXPIRE changes nothing");
    assert_eq!(
        c.err("TTL"),
        "ERR wrong number of arguments for 'ttl' command"
    );
}
