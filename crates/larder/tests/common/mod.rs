//! A real database for the pattern tests and examples: SQLite in memory through rusqlite (the
//! default) or a schema of its own on PostgreSQL (`--features postgres`), through the shared
//! `backend::Sql` layer, with a query counter, a switch that makes queries fail, and a gate that
//! holds queries until released. (The examples include this file with `#[path]`.)
#![allow(dead_code)]

#[path = "../../examples/pattern_db/backend.rs"]
pub mod backend;

use backend::{Sql, Value};
use larder::Loader;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// A `users(id, name)` table.
pub struct Db {
    sql: Sql,
    /// Queries run (reads through `name`/`names`).
    pub queries: AtomicUsize,
    /// When set, reads fail with "db down".
    pub down: AtomicBool,
    held: Mutex<bool>,
    released: Condvar,
}

/// `0, 1, …, ?1 - 1` as the column `i` of `seq`, in one statement on both backends.
const SEQ: &str =
    "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?1)";

impl Db {
    /// `rows` users, `id` 1..=rows named `user-<id>`.
    ///
    /// # Panics
    /// When the database cannot be opened (on PostgreSQL: the server cannot be reached).
    pub fn new(rows: u64) -> Arc<Db> {
        let sql = Sql::open().expect("open the test database");
        sql.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .expect("test database");
        sql.execute(
            &format!(
                "{SEQ} INSERT INTO users (id, name) SELECT i + 1, 'user-' || (i + 1) FROM seq WHERE i < ?1"
            ),
            &[rows.into()],
        )
        .expect("test database");
        Arc::new(Db {
            sql,
            queries: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            held: Mutex::new(false),
            released: Condvar::new(),
        })
    }

    /// Adds an unindexed `orders(user_id, amount)` table of `rows` rows, so that
    /// [`Db::order_total`] is a real scan (milliseconds): a value worth caching.
    pub fn with_orders(self: Arc<Self>, rows: u64) -> Arc<Self> {
        self.sql
            .execute_batch(
                "CREATE TABLE orders (user_id INTEGER NOT NULL, amount INTEGER NOT NULL)",
            )
            .expect("test database");
        self.sql
            .execute(
                &format!(
                    "{SEQ} INSERT INTO orders (user_id, amount) SELECT i % 100 + 1, i % 997 FROM seq WHERE i < ?1"
                ),
                &[rows.into()],
            )
            .expect("test database");
        self
    }

    /// `SELECT sum(amount) FROM orders WHERE user_id = ?` (a full scan).
    pub fn order_total(&self, user_id: u64) -> Result<i64, String> {
        self.enter()?;
        let row = self
            .sql
            .query_opt(
                "SELECT coalesce(sum(amount), 0) FROM orders WHERE user_id = ?1",
                &[user_id.into()],
            )
            .map_err(|e| e.to_string())?;
        row.map_or(Ok(0), |r| r.int(0)).map_err(|e| e.to_string())
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
        let row = self
            .sql
            .query_opt("SELECT name FROM users WHERE id = ?1", &[id.into()])
            .map_err(|e| e.to_string())?;
        row.map(|r| r.text(0))
            .transpose()
            .map_err(|e| e.to_string())
    }

    /// One `SELECT … WHERE id IN (…)` for several ids.
    pub fn names(&self, ids: &[u64]) -> Result<HashMap<u64, String>, String> {
        self.enter()?;
        let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let rows = self
            .sql
            .query(
                &format!("SELECT id, name FROM users WHERE id IN ({list})"),
                &[],
            )
            .map_err(|e| e.to_string())?;
        rows.iter()
            .map(|r| Ok((r.int(0)? as u64, r.text(1)?)))
            .collect::<Result<_, backend::SqlError>>()
            .map_err(|e| e.to_string())
    }

    /// `UPDATE users SET name = ? WHERE id = ?` (not counted as a query).
    pub fn set_name(&self, id: u64, name: &str) {
        self.sql
            .execute(
                "UPDATE users SET name = ?1 WHERE id = ?2",
                &[name.into(), Value::from(id)],
            )
            .expect("test database");
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        self.sql.backend()
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
