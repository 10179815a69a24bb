//! The real database of the examples, tests and benchmark: an `items` table on SQLite (bundled
//! rusqlite, the default) or PostgreSQL (`--features postgres`), through [`backend::Sql`].
//!
//! `items(id TEXT PRIMARY KEY, value TEXT, version INTEGER, views INTEGER)`: every write of an
//! item bumps its `version` (what a min-version read compares), `views` ranks the items for the
//! top-N warm-up. [`Db`] implements the library's `Writer` (one transaction per batch) and counts
//! the rows it wrote and the batches it committed; for the failure tests it can be told to fail
//! the next few batches or every batch after the first few, and to hold batches at a gate.
#![allow(dead_code)]

pub mod backend;

use backend::{Sql, SqlError, Value};
use larder::write_through::{Change, Writer};
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// A database holding `items` (its own in-memory SQLite database or PostgreSQL schema).
pub struct Db {
    sql: Sql,
    /// Rows written (puts and deletes) by committed statements.
    pub rows: AtomicU64,
    /// Transactions committed by `write_batch`, and single writes.
    pub commits: AtomicU64,
    /// Batches that may still succeed before every later one fails (negative: no limit).
    fail_after: AtomicI64,
    /// Batches still to fail before they succeed again.
    fail_next: AtomicU64,
    /// Every committed change, in commit order: (key, Some(value)) or (key, None) for a delete.
    log: Mutex<Vec<(String, Option<String>)>>,
    /// While set, each batch first announces itself and then waits for a go.
    gate: Mutex<Option<Gate>>,
}

/// Holds batches until the test lets them through.
pub struct Gate {
    entered: mpsc::Sender<()>,
    go: Arc<Mutex<mpsc::Receiver<()>>>,
}

/// The test's side of a gate: `entered` receives one message per held batch, `go` releases one.
pub struct GateControl {
    pub entered: mpsc::Receiver<()>,
    pub go: mpsc::Sender<()>,
}

/// The error of a failing batch.
#[derive(Debug)]
pub enum DbError {
    Sql(SqlError),
    Injected(&'static str),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sql(e) => write!(f, "{e}"),
            DbError::Injected(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for DbError {}

impl From<SqlError> for DbError {
    fn from(e: SqlError) -> Self {
        DbError::Sql(e)
    }
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL, views INTEGER NOT NULL DEFAULT 0)";
// The same upsert syntax on SQLite (3.24+) and PostgreSQL (9.5+).
const UPSERT: &str = "INSERT INTO items (id, value, version) VALUES (?1, ?2, 1)
    ON CONFLICT(id) DO UPDATE SET value = excluded.value, version = items.version + 1";
const SEED: &str = "INSERT INTO items (id, value, version, views) VALUES (?1, ?2, 1, ?3)
    ON CONFLICT(id) DO UPDATE SET value = excluded.value, views = excluded.views";
const DELETE: &str = "DELETE FROM items WHERE id = ?1";

impl Db {
    fn with(sql: Sql) -> Result<Self, DbError> {
        sql.execute_batch(SCHEMA)?;
        Ok(Self {
            sql,
            rows: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            fail_after: AtomicI64::new(-1),
            fail_next: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            gate: Mutex::new(None),
        })
    }

    /// A fresh database: SQLite in memory, or a schema of its own on PostgreSQL.
    pub fn memory() -> Result<Self, DbError> {
        Self::with(Sql::open()?)
    }

    /// A fresh database on disk: a SQLite file (WAL journal, `synchronous=NORMAL`: a common
    /// production setting), or a schema of its own on PostgreSQL (`path` unused).
    pub fn file(path: &Path) -> Result<Self, DbError> {
        Self::with(Sql::open_file(path)?)
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        self.sql.backend()
    }

    /// Items with their view counts (for the top-N warm-up), without counting writes.
    pub fn seed(&self, rows: &[(&str, &str, i64)]) -> Result<(), DbError> {
        let statements: Vec<_> = rows
            .iter()
            .map(|(id, value, views)| (SEED, vec![(*id).into(), (*value).into(), (*views).into()]))
            .collect();
        Ok(self.sql.transaction(&statements)?)
    }

    /// The value of `id`.
    pub fn get(&self, id: &str) -> Result<Option<String>, DbError> {
        Ok(self.row(id)?.map(|(v, _)| v))
    }

    /// The value and version of `id`.
    pub fn row(&self, id: &str) -> Result<Option<(String, i64)>, DbError> {
        let row = self.sql.query_opt(
            "SELECT value, version FROM items WHERE id = ?1",
            &[id.into()],
        )?;
        Ok(row
            .map(|r| Ok::<_, SqlError>((r.text(0)?, r.int(1)?)))
            .transpose()?)
    }

    /// The ids of the `n` most viewed items.
    pub fn top(&self, n: usize) -> Result<Vec<String>, DbError> {
        let rows = self.sql.query(
            "SELECT id FROM items ORDER BY views DESC, id LIMIT ?1",
            &[(n as u64).into()],
        )?;
        Ok(rows.iter().map(|r| r.text(0)).collect::<Result<_, _>>()?)
    }

    /// Rows in the table.
    pub fn count(&self) -> Result<i64, DbError> {
        let row = self.sql.query_opt("SELECT COUNT(*) FROM items", &[])?;
        Ok(row.map_or(Ok(0), |r| r.int(0))?)
    }

    /// Every committed change so far, in commit order.
    pub fn log(&self) -> Vec<(String, Option<String>)> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Lets `n` more batches succeed, then fails every batch for good (a dead database).
    pub fn fail_after(&self, n: i64) {
        self.fail_after.store(n, Ordering::SeqCst);
    }

    /// Fails the next `n` batches, then succeeds again (a transient outage).
    pub fn fail_next(&self, n: u64) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Holds every batch at a gate until the returned control lets it through.
    pub fn gate(&self) -> GateControl {
        let (entered_tx, entered_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel();
        *self.gate.lock().unwrap_or_else(|e| e.into_inner()) = Some(Gate {
            entered: entered_tx,
            go: Arc::new(Mutex::new(go_rx)),
        });
        GateControl {
            entered: entered_rx,
            go: go_tx,
        }
    }

    /// Removes the gate (batches pass freely again).
    pub fn open_gate(&self) {
        *self.gate.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn pass_gate(&self) {
        let gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = gate.as_ref() {
            let _ = g.entered.send(());
            let go = Arc::clone(&g.go);
            drop(gate);
            let _ = go.lock().unwrap_or_else(|e| e.into_inner()).recv();
        }
    }

    fn injected_failure(&self) -> Option<DbError> {
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Some(DbError::Injected("injected transient failure"));
        }
        let left = self
            .fail_after
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n > 0).then(|| n - 1).or(Some(n))
            })
            .unwrap_or(-1);
        (left == 0).then_some(DbError::Injected("database is gone"))
    }
}

impl Writer<String, String> for Db {
    type Error = DbError;

    fn write(&self, key: &String, value: &String) -> Result<(), DbError> {
        self.write_batch(&[Change::Put(key.clone(), value.clone())])
    }

    fn delete(&self, key: &String) -> Result<(), DbError> {
        self.write_batch(&[Change::Delete(key.clone())])
    }

    fn write_batch(&self, changes: &[Change<String, String>]) -> Result<(), DbError> {
        self.pass_gate();
        if let Some(e) = self.injected_failure() {
            return Err(e);
        }
        let statements: Vec<_> = changes
            .iter()
            .map(|change| match change {
                Change::Put(k, v) => (UPSERT, vec![Value::from(k), Value::from(v)]),
                Change::Delete(k) => (DELETE, vec![Value::from(k)]),
            })
            .collect();
        self.sql.transaction(&statements)?;
        self.rows.fetch_add(changes.len() as u64, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.extend(changes.iter().map(|c| match c {
            Change::Put(k, v) => (k.clone(), Some(v.clone())),
            Change::Delete(k) => (k.clone(), None),
        }));
        Ok(())
    }
}

/// A cache of `capacity` entries on `clock`.
pub fn cache<K, V>(capacity: u64, clock: Arc<dyn larder::Clock>) -> larder::Cache<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    larder::Cache::builder()
        .max_capacity(capacity)
        .clock(clock)
        .build()
}
