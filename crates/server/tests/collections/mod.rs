//! What the collection tests share: a `redis` client on an in-process server and commands
//! written as space-separated words.

use crate::inproc::TestServer;
use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value, cmd};

/// A connection to `server`.
pub async fn connect(server: &TestServer) -> MultiplexedConnection {
    redis::Client::open(format!("redis://{}", server.addr))
        .expect("a client")
        .get_multiplexed_async_connection()
        .await
        .expect("connects")
}

/// A command from space-separated words.
pub fn command(line: &str) -> redis::Cmd {
    let mut words = line.split(' ');
    let mut c = cmd(words.next().unwrap_or_default());
    for arg in words {
        c.arg(arg);
    }
    c
}

/// Runs `line`, which must succeed.
pub async fn run<T: redis::FromRedisValue>(con: &mut MultiplexedConnection, line: &str) -> T {
    command(line)
        .query_async(con)
        .await
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// Runs `line`, which must fail; its error text.
pub async fn fails(con: &mut MultiplexedConnection, line: &str) -> String {
    let result: RedisResult<Value> = command(line).query_async(con).await;
    match result {
        Err(e) => e.to_string(),
        Ok(v) => panic!("{line}: expected an error, got {v:?}"),
    }
}
