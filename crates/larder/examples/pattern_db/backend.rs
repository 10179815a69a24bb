//! One SQL layer, two backends: SQLite through rusqlite (bundled, the default) and PostgreSQL
//! through the `postgres` crate (`--features postgres`, server named by `LARDER_PG_URL`).
//!
//! The databases of the examples, tests and benchmark (`pattern_db::Db`, `common::Db`) speak
//! SQL only through [`Sql`]: each statement is written once with `?1`-style placeholders
//! (rewritten to `$1` for PostgreSQL), takes and returns integers and text ([`Value`]), and
//! [`Sql::transaction`] runs a list of statements in one transaction. The backend is chosen at
//! compile time by the `postgres` feature, so the same test bodies run on either.
//!
//! - SQLite: a private in-memory database per [`Sql::open`], a file (WAL journal,
//!   `synchronous=NORMAL`) per [`Sql::open_file`]; one connection behind a mutex.
//! - PostgreSQL: one connection per `Sql`, in a schema of its own (`larder_<pid>_<n>_<random>`,
//!   the connection's `search_path`), so tests running in parallel never see each other's
//!   tables; the schema is dropped with the `Sql`. The sync `postgres` client drives its own
//!   Tokio runtime and panics when called from inside another one (the loaders' `async fn`s
//!   are), so the connection lives on a thread of its own and every call is a job sent to it.
//!   With the feature on, an unset `LARDER_PG_URL` panics (a run that silently fell back to
//!   SQLite, or skipped, would claim a PostgreSQL pass it never had); a server that cannot be
//!   reached is an error from [`Sql::open`], which the tests turn into a failure.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Mutex;

/// A value bound to a placeholder or read from a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any integer column (SQLite INTEGER; PostgreSQL smallint, integer, bigint).
    Int(i64),
    /// Any text column.
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as an integer.
    pub fn int(&self, i: usize) -> Result<i64, SqlError> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Ok(*v),
            other => Err(SqlError(format!(
                "column {i}: wanted an integer, got {other:?}"
            ))),
        }
    }

    /// Column `i` as text.
    pub fn text(&self, i: usize) -> Result<String, SqlError> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(v.clone()),
            other => Err(SqlError(format!("column {i}: wanted text, got {other:?}"))),
        }
    }
}

/// A database error, prefixed with the backend's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError(pub String);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SqlError {}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        SqlError(format!("sqlite: {e}"))
    }
}

/// A statement and its parameters, for [`Sql::transaction`].
pub type Statement<'a> = (&'a str, Vec<Value>);

/// A connection to the examples' database, on the backend the build chose.
pub enum Sql {
    /// SQLite (rusqlite, bundled).
    Sqlite(Mutex<rusqlite::Connection>),
    /// PostgreSQL (`--features postgres`).
    #[cfg(feature = "postgres")]
    Postgres(pg::Conn),
}

impl Sql {
    /// A fresh, empty database: SQLite in memory, or a new schema on the PostgreSQL server.
    pub fn open() -> Result<Self, SqlError> {
        #[cfg(feature = "postgres")]
        return Ok(Sql::Postgres(pg::Conn::open()?));
        #[cfg(not(feature = "postgres"))]
        Ok(Sql::Sqlite(Mutex::new(
            rusqlite::Connection::open_in_memory()?,
        )))
    }

    /// A fresh database on disk: a SQLite file at `path` (WAL journal, `synchronous=NORMAL`: a
    /// common production setting), or a new schema on the PostgreSQL server (whose own
    /// durability settings apply; `path` is not used).
    pub fn open_file(path: &Path) -> Result<Self, SqlError> {
        #[cfg(feature = "postgres")]
        {
            let _ = path;
            Self::open()
        }
        #[cfg(not(feature = "postgres"))]
        {
            let conn = rusqlite::Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            Ok(Sql::Sqlite(Mutex::new(conn)))
        }
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        match self {
            Sql::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Sql::Postgres(_) => "postgres",
        }
    }

    /// Runs `sql` (several statements, no parameters; DDL).
    pub fn execute_batch(&self, sql: &str) -> Result<(), SqlError> {
        match self {
            Sql::Sqlite(c) => Ok(lock(c).execute_batch(sql)?),
            #[cfg(feature = "postgres")]
            Sql::Postgres(c) => c.execute_batch(sql),
        }
    }

    /// Runs one statement; the rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        match self {
            Sql::Sqlite(c) => sqlite::execute(&lock(c), sql, params),
            #[cfg(feature = "postgres")]
            Sql::Postgres(c) => c.execute(sql, params),
        }
    }

    /// Runs one query; its rows.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        match self {
            Sql::Sqlite(c) => sqlite::query(&lock(c), sql, params),
            #[cfg(feature = "postgres")]
            Sql::Postgres(c) => c.query(sql, params),
        }
    }

    /// The first row of a query, if any.
    pub fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, SqlError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs `statements` in one transaction: all of them are committed, or none. A single
    /// statement runs on its own (autocommit: it is its own transaction on both backends),
    /// which saves PostgreSQL the `BEGIN` and `COMMIT` round trips.
    pub fn transaction(&self, statements: &[Statement<'_>]) -> Result<(), SqlError> {
        if let [(sql, params)] = statements {
            return self.execute(sql, params).map(drop);
        }
        match self {
            Sql::Sqlite(c) => {
                let mut conn = lock(c);
                let tx = conn.transaction()?;
                for (sql, params) in statements {
                    sqlite::execute(&tx, sql, params)?;
                }
                Ok(tx.commit()?)
            }
            #[cfg(feature = "postgres")]
            Sql::Postgres(c) => c.transaction(statements),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

mod sqlite {
    use super::{Row, SqlError, Value};
    use rusqlite::types::{ToSqlOutput, ValueRef};

    impl rusqlite::ToSql for Value {
        fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
            Ok(match self {
                Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
                Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
                Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            })
        }
    }

    pub fn execute(
        conn: &rusqlite::Connection,
        sql: &str,
        params: &[Value],
    ) -> Result<u64, SqlError> {
        let mut stmt = conn.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
    }

    pub fn query(
        conn: &rusqlite::Connection,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<Row>, SqlError> {
        let mut stmt = conn.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    other => {
                        return Err(SqlError(format!(
                            "sqlite: column {i}: unsupported type {:?}",
                            other.data_type()
                        )));
                    }
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }
}

#[cfg(feature = "postgres")]
pub mod pg {
    //! The PostgreSQL backend: a connection on its own thread, in a schema of its own.

    use super::{Row, SqlError, Statement, Value};
    use postgres::types::{ToSql, Type};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc;

    /// The variable naming the server, e.g. `host=127.0.0.1 port=5432 user=larder dbname=larder`
    /// or `postgresql://larder@127.0.0.1:5432/larder`.
    pub const URL_VAR: &str = "LARDER_PG_URL";

    /// Prepared statements kept per connection; past this the cache starts over.
    const STATEMENT_CACHE: usize = 256;

    impl From<postgres::Error> for SqlError {
        fn from(e: postgres::Error) -> Self {
            SqlError(format!("postgres: {e}"))
        }
    }

    type Job = Box<dyn FnOnce(&mut Session) + Send>;

    /// The connection's thread's state.
    struct Session {
        client: postgres::Client,
        statements: HashMap<String, postgres::Statement>,
    }

    impl Session {
        /// The prepared form of `sql` (`?N` placeholders become `$N`).
        fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, SqlError> {
            if let Some(s) = self.statements.get(sql) {
                return Ok(s.clone());
            }
            let stmt = self.client.prepare(&dollar_placeholders(sql))?;
            if self.statements.len() >= STATEMENT_CACHE {
                self.statements.clear();
            }
            self.statements.insert(sql.to_string(), stmt.clone());
            Ok(stmt)
        }
    }

    /// `sql` with its `?N` placeholders written as PostgreSQL's `$N`. A `?` inside a string
    /// literal (`'…'`, `''` escapes included), a quoted identifier or a `--` comment, or one not
    /// followed by a digit (jsonb's `?`, `?|`, `?&` operators), stays as it is. Not handled,
    /// because no statement here uses them: `/* */` comments, `E'…'` backslash escapes and
    /// dollar-quoted strings.
    fn dollar_placeholders(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len());
        let mut chars = sql.chars().peekable();
        let mut quote: Option<char> = None;
        let mut comment = false;
        while let Some(c) = chars.next() {
            if comment {
                comment = c != '\n';
            } else if let Some(q) = quote {
                if c == q {
                    quote = None;
                }
            } else {
                match c {
                    '\'' | '"' => quote = Some(c),
                    '-' if chars.peek() == Some(&'-') => comment = true,
                    '?' if chars.peek().is_some_and(char::is_ascii_digit) => {
                        out.push('$');
                        continue;
                    }
                    _ => {}
                }
            }
            out.push(c);
        }
        out
    }

    /// A connection to a schema of its own, served by its own thread.
    pub struct Conn {
        jobs: Option<mpsc::Sender<Job>>,
        thread: Option<std::thread::JoinHandle<()>>,
        schema: String,
    }

    impl Conn {
        /// Connects to `$LARDER_PG_URL` and creates a fresh schema for this connection.
        ///
        /// # Panics
        /// When `LARDER_PG_URL` is unset: the build asked for PostgreSQL and names no server.
        pub fn open() -> Result<Self, SqlError> {
            static OPENED: AtomicU64 = AtomicU64::new(0);
            let url = std::env::var(URL_VAR).unwrap_or_else(|_| {
                panic!(
                    "built with `--features postgres` but {URL_VAR} is unset: set it to a \
                     PostgreSQL connection string (e.g. {URL_VAR}='host=127.0.0.1 user=larder \
                     dbname=larder'; .ci/postgres.sh starts a throwaway server and sets it), or \
                     build without the feature to use SQLite"
                )
            });
            let schema = format!(
                "larder_{}_{}_{:08x}",
                std::process::id(),
                OPENED.fetch_add(1, Ordering::Relaxed),
                rand::random::<u32>()
            );
            let (jobs, queue) = mpsc::channel::<Job>();
            let (ready_tx, ready) = mpsc::channel();
            let name = schema.clone();
            let thread = std::thread::Builder::new()
                .name("larder-pg".into())
                .spawn(move || {
                    let mut session = match connect(&url, &name) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    for job in queue {
                        job(&mut session);
                    }
                    // Every handle is gone: leave nothing behind on the server.
                    let _ = session
                        .client
                        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"));
                })
                .map_err(|e| SqlError(format!("postgres: spawn the connection thread: {e}")))?;
            let mut conn = Conn {
                jobs: Some(jobs),
                thread: Some(thread),
                schema,
            };
            match ready.recv() {
                Ok(Ok(())) => Ok(conn),
                Ok(Err(e)) => Err(e),
                Err(_) => {
                    conn.jobs = None;
                    Err(SqlError("postgres: the connection thread died".into()))
                }
            }
        }

        /// The schema this connection's tables live in.
        pub fn schema(&self) -> &str {
            &self.schema
        }

        /// Runs `f` on the connection's thread and waits for its answer.
        fn run<R: Send + 'static>(
            &self,
            f: impl FnOnce(&mut Session) -> Result<R, SqlError> + Send + 'static,
        ) -> Result<R, SqlError> {
            let gone = || SqlError("postgres: the connection thread is gone".into());
            let (answer, reply) = mpsc::sync_channel(1);
            let job: Job = Box::new(move |s| {
                let _ = answer.send(f(s));
            });
            self.jobs
                .as_ref()
                .ok_or_else(gone)?
                .send(job)
                .map_err(|_| gone())?;
            reply.recv().map_err(|_| gone())?
        }

        pub fn execute_batch(&self, sql: &str) -> Result<(), SqlError> {
            let sql = sql.to_string();
            self.run(move |s| Ok(s.client.batch_execute(&sql)?))
        }

        pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
            let (sql, params) = (sql.to_string(), params.to_vec());
            self.run(move |s| {
                let stmt = s.prepare(&sql)?;
                let bound = bind(&stmt, &params)?;
                Ok(s.client.execute(&stmt, &refs(&bound))?)
            })
        }

        pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
            let (sql, params) = (sql.to_string(), params.to_vec());
            self.run(move |s| {
                let stmt = s.prepare(&sql)?;
                let bound = bind(&stmt, &params)?;
                let rows = s.client.query(&stmt, &refs(&bound))?;
                rows.iter().map(row).collect()
            })
        }

        pub fn transaction(&self, statements: &[Statement<'_>]) -> Result<(), SqlError> {
            let owned: Vec<(String, Vec<Value>)> = statements
                .iter()
                .map(|(sql, params)| (sql.to_string(), params.clone()))
                .collect();
            self.run(move |s| {
                // Prepare (and bind) first: a transaction borrows the client.
                let mut prepared = Vec::with_capacity(owned.len());
                for (sql, params) in &owned {
                    let stmt = s.prepare(sql)?;
                    let bound = bind(&stmt, params)?;
                    prepared.push((stmt, bound));
                }
                let mut tx = s.client.transaction()?;
                for (stmt, bound) in &prepared {
                    tx.execute(stmt, &refs(bound))?;
                }
                Ok(tx.commit()?)
            })
        }
    }

    impl Drop for Conn {
        fn drop(&mut self) {
            // Closing the queue ends the thread, which drops the schema first.
            self.jobs = None;
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    /// `url` with any password replaced by `***`, for error messages that reach logs: the
    /// `password=…` field of a key-value string, or the `:…@` of a `postgresql://` URL.
    fn redacted(url: &str) -> String {
        if let Some(rest) = url.split_once("://").map(|(_, r)| r)
            && let Some((userinfo, _)) = rest.split_once('@')
            && let Some((user, _)) = userinfo.split_once(':')
        {
            return url.replacen(userinfo, &format!("{user}:***"), 1);
        }
        url.split_whitespace()
            .map(|field| match field.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => field.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn connect(url: &str, schema: &str) -> Result<Session, SqlError> {
        let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(|e| {
            let cause = std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"));
            SqlError(format!(
                "postgres: connect to {URL_VAR}={:?}: {e}{cause}",
                redacted(url)
            ))
        })?;
        client.batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema}"
        ))?;
        Ok(Session {
            client,
            statements: HashMap::new(),
        })
    }

    type Bound = Vec<Box<dyn ToSql + Sync + Send>>;

    /// Converts `params` to the types the server inferred for the placeholders (an `Int` bound
    /// to an `integer` column is sent as an `i32`, and so on).
    fn bind(stmt: &postgres::Statement, params: &[Value]) -> Result<Bound, SqlError> {
        if stmt.params().len() != params.len() {
            return Err(SqlError(format!(
                "postgres: {} parameters for {} placeholders",
                params.len(),
                stmt.params().len()
            )));
        }
        let narrow = |v: i64, ty: &Type| SqlError(format!("postgres: {v} does not fit {ty}"));
        stmt.params()
            .iter()
            .zip(params)
            .map(
                |(ty, v)| -> Result<Box<dyn ToSql + Sync + Send>, SqlError> {
                    Ok(match (v, ty) {
                        (Value::Int(i), t) if *t == Type::INT2 => {
                            Box::new(i16::try_from(*i).map_err(|_| narrow(*i, t))?)
                        }
                        (Value::Int(i), t) if *t == Type::INT4 => {
                            Box::new(i32::try_from(*i).map_err(|_| narrow(*i, t))?)
                        }
                        (Value::Int(i), _) => Box::new(*i),
                        (Value::Text(s), _) => Box::new(s.clone()),
                        (Value::Null, t) if *t == Type::INT2 => Box::new(None::<i16>),
                        (Value::Null, t) if *t == Type::INT4 => Box::new(None::<i32>),
                        (Value::Null, t) if *t == Type::INT8 => Box::new(None::<i64>),
                        (Value::Null, _) => Box::new(None::<String>),
                    })
                },
            )
            .collect()
    }

    fn refs(bound: &Bound) -> Vec<&(dyn ToSql + Sync)> {
        bound
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }

    fn row(r: &postgres::Row) -> Result<Row, SqlError> {
        let mut values = Vec::with_capacity(r.len());
        for (i, column) in r.columns().iter().enumerate() {
            let ty = column.type_();
            let v = if *ty == Type::INT8 {
                r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
            } else if *ty == Type::INT4 {
                r.try_get::<_, Option<i32>>(i)?
                    .map(|v| Value::Int(v.into()))
            } else if *ty == Type::INT2 {
                r.try_get::<_, Option<i16>>(i)?
                    .map(|v| Value::Int(v.into()))
            } else {
                // Text-like columns; anything else is a type error from the client.
                r.try_get::<_, Option<String>>(i)?.map(Value::Text)
            };
            values.push(v.unwrap_or(Value::Null));
        }
        Ok(Row(values))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn placeholders_become_dollars_outside_literals_identifiers_and_comments() {
            assert_eq!(
                super::dollar_placeholders(
                    "SELECT ?1, '?2', \"a?3\", j ? 'k' -- ?4\nWHERE id = ?12"
                ),
                "SELECT $1, '?2', \"a?3\", j ? 'k' -- ?4\nWHERE id = $12"
            );
            assert_eq!(
                super::dollar_placeholders("SELECT 'it''s ?1' || ?2, j ?| ARRAY['a']"),
                "SELECT 'it''s ?1' || $2, j ?| ARRAY['a']"
            );
        }
    }
}
