//! The single-threaded server (`threads 1`, the runtime `larder serve --threads 1` runs) with
//! busy polling on and off: many clients each keeping one request in flight get every reply,
//! in order, while the setting changes under them, and `SHUTDOWN` still stops the server.

use larder_server::{Config, run_blocking};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

/// Sends `command` (inline) and reads one line of reply.
fn ask(stream: &mut BufReader<TcpStream>, command: &str) -> String {
    stream
        .get_mut()
        .write_all(format!("{command}\r\n").as_bytes())
        .expect("write");
    let mut line = String::new();
    stream.read_line(&mut line).expect("read a reply");
    line
}

fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    BufReader::new(stream)
}

#[test]
fn one_request_in_flight_per_client_with_polling_on_and_off() {
    let (ready, bound) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let config = Config {
            port: 0,
            threads: 1,
            ..Config::default()
        };
        run_blocking(config, |addr| ready.send(addr).expect("report the address"))
    });
    let addr = bound
        .recv_timeout(Duration::from_secs(30))
        .expect("the server starts");
    let mut admin = connect(addr);
    assert_eq!(ask(&mut admin, "CONFIG GET busy-poll-us"), "*2\r\n");
    let rest: Vec<String> = (0..4)
        .map(|_| {
            let mut line = String::new();
            admin.read_line(&mut line).expect("the rest of the reply");
            line
        })
        .collect();
    assert_eq!(
        rest.concat(),
        "$12\r\nbusy-poll-us\r\n$2\r\n50\r\n",
        "on by default"
    );
    for window in ["50", "0", "1000"] {
        assert_eq!(
            ask(&mut admin, &format!("CONFIG SET busy-poll-us {window}")),
            "+OK\r\n"
        );
        let clients: Vec<_> = (0..16)
            .map(|c| {
                std::thread::spawn(move || {
                    let mut stream = connect(addr);
                    for i in 0..200 {
                        let key = format!("k{c}");
                        assert_eq!(ask(&mut stream, &format!("SET {key} {i}")), "+OK\r\n");
                        assert_eq!(
                            ask(&mut stream, &format!("GET {key}")),
                            format!("${}\r\n", i.to_string().len())
                        );
                        let mut value = String::new();
                        stream.read_line(&mut value).expect("the value");
                        assert_eq!(value, format!("{i}\r\n"), "client {c}, request {i}");
                    }
                })
            })
            .collect();
        for client in clients {
            client.join().expect("a client thread");
        }
        // A lone request after a quiet spell is answered too (the poller slept meanwhile).
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(ask(&mut admin, "PING"), "+PONG\r\n");
    }
    let _ = admin.get_mut().write_all(b"SHUTDOWN NOSAVE\r\n");
    server
        .join()
        .expect("the server thread")
        .expect("run_blocking returns without an error after SHUTDOWN");
}
