//! A real database for the pattern tests and examples: SQLite in memory, through rusqlite, with a
//! query counter, a switch that makes queries fail, and a gate that holds queries until released.
//! (The examples include this file with `#[path]`.)
#![allow(dead_code)]

use larder::Loader;
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// A `users(id, name)` table.
pub struct Db {
    conn: Mutex<Connection>,
    /// Queries run (reads through `name`/`names`).
    pub queries: AtomicUsize,
    /// When set, reads fail with "db down".
    pub down: AtomicBool,
    held: Mutex<bool>,
    released: Condvar,
}

impl Db {
    /// `rows` users, `id` 1..=rows named `user-<id>`.
    pub fn new(rows: u64) -> Arc<Db> {
        let conn = Connection::open_in_memory().expect("test database");
        conn.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .expect("test database");
        {
            let mut stmt = conn
                .prepare("INSERT INTO users VALUES (?1, ?2)")
                .expect("test database");
            for id in 1..=rows {
                stmt.execute(params![id, format!("user-{id}")])
                    .expect("test database");
            }
        }
        Arc::new(Db {
            conn: Mutex::new(conn),
            queries: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            held: Mutex::new(false),
            released: Condvar::new(),
        })
    }

    /// Adds an unindexed `orders(user_id, amount)` table of `rows` rows, so that
    /// [`Db::order_total`] is a real scan (milliseconds): a value worth caching.
    pub fn with_orders(self: Arc<Self>, rows: u64) -> Arc<Self> {
        {
            let mut conn = self.conn.lock().expect("test database");
            let tx = conn.transaction().expect("test database");
            tx.execute_batch(
                "CREATE TABLE orders (user_id INTEGER NOT NULL, amount INTEGER NOT NULL)",
            )
            .expect("test database");
            {
                let mut stmt = tx
                    .prepare("INSERT INTO orders VALUES (?1, ?2)")
                    .expect("test database");
                for i in 0..rows {
                    stmt.execute(params![i % 100 + 1, i % 997])
                        .expect("test database");
                }
            }
            tx.commit().expect("test database");
        }
        self
    }

    /// `SELECT sum(amount) FROM orders WHERE user_id = ?` (a full scan).
    pub fn order_total(&self, user_id: u64) -> Result<i64, String> {
        self.enter()?;
        let conn = self.conn.lock().expect("test database");
        conn.query_row(
            "SELECT coalesce(sum(amount), 0) FROM orders WHERE user_id = ?1",
            params![user_id],
            |row| row.get(0),
        )
        .map_err(|e| e.to_string())
    }

    /// Holds every following query until [`Db::release`].
    pub fn hold(&self) {
        *self.held.lock().expect("test database") = true;
    }

    /// Lets held queries run.
    pub fn release(&self) {
        *self.held.lock().expect("test database") = false;
        self.released.notify_all();
    }

    fn enter(&self) -> Result<(), String> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let mut held = self.held.lock().expect("test database");
        while *held {
            held = self.released.wait(held).expect("test database");
        }
        if self.down.load(Ordering::SeqCst) {
            return Err("db down".into());
        }
        Ok(())
    }

    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    /// `SELECT name FROM users WHERE id = ?`.
    pub fn name(&self, id: u64) -> Result<Option<String>, String> {
        self.enter()?;
        let conn = self.conn.lock().expect("test database");
        let mut stmt = conn
            .prepare_cached("SELECT name FROM users WHERE id = ?1")
            .map_err(|e| e.to_string())?;
        let mut rows = stmt.query(params![id]).map_err(|e| e.to_string())?;
        match rows.next().map_err(|e| e.to_string())? {
            Some(row) => Ok(Some(row.get(0).map_err(|e| e.to_string())?)),
            None => Ok(None),
        }
    }

    /// One `SELECT … WHERE id IN (…)` for several ids.
    pub fn names(&self, ids: &[u64]) -> Result<HashMap<u64, String>, String> {
        self.enter()?;
        let conn = self.conn.lock().expect("test database");
        let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let mut stmt = conn
            .prepare(&format!("SELECT id, name FROM users WHERE id IN ({list})"))
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, u64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
    }

    /// `UPDATE users SET name = ? WHERE id = ?` (not counted as a query).
    pub fn set_name(&self, id: u64, name: &str) {
        let conn = self.conn.lock().expect("test database");
        conn.execute(
            "UPDATE users SET name = ?1 WHERE id = ?2",
            params![name, id],
        )
        .expect("test database");
    }
}

/// Loads a user's name; a missing user is an error ("not found").
pub struct Users(pub Arc<Db>);

impl Loader<u64, String> for Users {
    type Error = String;

    async fn load(&self, id: &u64) -> Result<String, String> {
        self.0.name(*id)?.ok_or_else(|| "not found".to_string())
    }

    async fn load_all(&self, ids: &[u64]) -> Result<HashMap<u64, String>, String> {
        self.0.names(ids)
    }
}

/// Waits (polling, no timing assumption) until `cond` holds.
pub fn until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// A loader whose every load costs `cost` on a manual clock (XFetch's δ), then reads the name.
pub struct Costly {
    pub db: Arc<Db>,
    pub clock: Arc<larder::ManualClock>,
    pub cost: std::time::Duration,
}

impl Loader<u64, String> for Costly {
    type Error = String;

    async fn load(&self, id: &u64) -> Result<String, String> {
        self.clock.advance(self.cost);
        self.db.name(*id)?.ok_or_else(|| "not found".to_string())
    }
}

/// Loads a user's order total with a full scan of `orders`.
pub struct OrderTotals(pub Arc<Db>);

impl Loader<u64, i64> for OrderTotals {
    type Error = String;

    async fn load(&self, user: &u64) -> Result<i64, String> {
        self.0.order_total(*user)
    }
}
