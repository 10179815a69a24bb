//! A real database for the pattern tests: SQLite in memory, through rusqlite, with a query
//! counter, a switch that makes queries fail, and a gate that holds queries until released.
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
