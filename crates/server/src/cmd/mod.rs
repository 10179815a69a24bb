//! Commands: one table of [`Spec`]s (name, arity, flags, key positions, handler) built from the
//! per-family modules, and [`execute`], which checks a request against it and runs it.
//!
//! Every module has the same shape: a `SPECS` slice and one handler per command, each parsing
//! its arguments, applying them to the keyspace and writing its reply, with Redis 7.0's error
//! texts.

/// Defines a command family's `spec(name, arity, flags, keys, summary, since, handler)`: a
/// [`Spec`] in the family's `COMMAND DOCS` group. Each module's table is a list of its calls.
macro_rules! family {
    ($group:literal) => {
        const fn spec(
            name: &'static str,
            arity: i32,
            flags: u32,
            keys: (i32, i32, i32),
            summary: &'static str,
            since: &'static str,
            handler: super::Handler,
        ) -> super::Spec {
            super::Spec {
                name,
                arity,
                flags,
                keys,
                group: $group,
                summary,
                since,
                handler,
            }
        }
    };
}

pub mod connection;
pub mod expire;
pub mod hashes;
pub mod info;
pub mod keys;
pub mod larder;
pub mod lists;
pub mod pubsub;
pub mod server;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod transactions;
pub mod zsets;

use crate::blocking::{BlockRequest, TimeoutReply};
use crate::client::ClientHandle;
use crate::keyspace::Keyspace;
use crate::shared::{ServerStats, Shared};
use larder_engine::InsertError;
use larder_protocol::{Reply, Version};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

/// A command handler: `args[0]` is the command name as sent.
pub type Handler = fn(&mut Ctx<'_>, &[&[u8]]);

/// Command flags (Redis's names in `COMMAND INFO`).
pub mod flag {
    /// Changes data.
    pub const WRITE: u32 = 1;
    /// Only reads data.
    pub const READONLY: u32 = 1 << 1;
    /// Refused with `-OOM` when over `maxmemory` and nothing can be evicted.
    pub const DENYOOM: u32 = 1 << 2;
    /// O(1) or O(log n).
    pub const FAST: u32 = 1 << 3;
    /// Pub/sub related.
    pub const PUBSUB: u32 = 1 << 4;
    /// Allowed before `AUTH`.
    pub const NO_AUTH: u32 = 1 << 5;
    /// Allowed while subscribed in RESP2.
    pub const SUBSCRIBED: u32 = 1 << 6;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 7;
    /// Must see the keyspace alone (takes the server's exclusive lock).
    pub const EXCLUSIVE: u32 = 1 << 8;
    /// Not allowed in scripts (reported only).
    pub const NOSCRIPT: u32 = 1 << 9;
    /// Loading / stale: allowed while loading (reported only).
    pub const LOADING: u32 = 1 << 10;
    /// Allowed on a stale replica (reported only).
    pub const STALE: u32 = 1 << 11;

    /// Flag names in `COMMAND` order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
    ];
}

/// One command.
#[derive(Debug)]
pub struct Spec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: exact argument count including the name, or `-n` for at least `n`.
    pub arity: i32,
    /// [`flag`]s.
    pub flags: u32,
    /// First key argument (0: none), last (-1: the last argument), step.
    pub keys: (i32, i32, i32),
    /// Documentation group (`string`, `generic`, ...).
    pub group: &'static str,
    /// One-line summary (`COMMAND DOCS`).
    pub summary: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// The handler.
    pub handler: Handler,
}

/// Every command, by lower-case name. Looked up once per command, with foldhash (SipHash, the
/// standard hasher, guards against hash flooding, which a fixed table of names does not need).
pub static TABLE: LazyLock<HashMap<&'static str, &'static Spec, foldhash::fast::FixedState>> =
    LazyLock::new(|| {
        [
            connection::SPECS,
            strings::SPECS,
            hashes::SPECS,
            lists::SPECS,
            sets::SPECS,
            zsets::SPECS,
            transactions::SPECS,
            keys::SPECS,
            sort::SPECS,
            expire::SPECS,
            pubsub::SPECS,
            server::SPECS,
            info::SPECS,
            larder::SPECS,
        ]
        .iter()
        .flat_map(|specs| specs.iter())
        .map(|spec| (spec.name, spec))
        .collect()
    });

/// One command's counters for `INFO commandstats`.
#[derive(Debug, Default)]
pub struct CommandStats {
    /// Times it ran.
    pub calls: AtomicU64,
    /// Nanoseconds it ran, in total.
    pub nanos: AtomicU64,
    /// Times it was refused before running (arity, authentication, memory, context).
    pub rejected_calls: AtomicU64,
    /// Times it ran and replied an error.
    pub failed_calls: AtomicU64,
}

/// Every command's counters by lower-case name (one map per server, filled at start and
/// never changed, so reading it takes no lock).
pub type CommandStatsMap = HashMap<&'static str, CommandStats, foldhash::fast::RandomState>;

/// Counters for every command of the table.
pub fn new_command_stats() -> CommandStatsMap {
    TABLE
        .keys()
        .map(|&name| (name, CommandStats::default()))
        .collect()
}

/// Zeroes every command's counters (`CONFIG RESETSTAT`).
pub fn reset_command_stats(stats: &CommandStatsMap) {
    for stats in stats.values() {
        for c in [
            &stats.calls,
            &stats.nanos,
            &stats.rejected_calls,
            &stats.failed_calls,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    TABLE.get(std::str::from_utf8(lower).ok()?).copied()
}

/// How replies are sent (`CLIENT REPLY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    /// Normally.
    On,
    /// Never.
    Off,
    /// Not for the next command.
    Skip,
    /// Skip is armed for the command after this one.
    SkipNext,
}

/// A connection's own state.
#[derive(Debug)]
pub struct Session {
    /// The handle other connections see.
    pub handle: Arc<ClientHandle>,
    /// Selected database.
    pub db: usize,
    /// Protocol version.
    pub version: Version,
    /// Whether `AUTH` succeeded (or no password is set).
    pub authenticated: bool,
    /// `CLIENT REPLY`.
    pub reply_mode: ReplyMode,
    /// Subscribed channels.
    pub channels: HashSet<Vec<u8>>,
    /// Subscribed patterns.
    pub patterns: HashSet<Vec<u8>>,
    /// Close the connection once the pending replies are written.
    pub close: bool,
    /// Set by a blocking command that found nothing to serve: the connection waits for it.
    pub block: Option<BlockRequest>,
    /// This session runs a blocked client's command again, on behalf of a writer that made
    /// one of its keys ready: when there is still nothing to serve it stays blocked.
    pub serving_blocked: bool,
    /// Inside `MULTI`: commands are queued, and blocking commands never block.
    pub in_multi: bool,
    /// Keys made ready by this command (database, client key), served after it completes.
    pub ready_keys: Vec<(usize, Vec<u8>)>,
    /// `MULTI`'s queue and the watched keys.
    pub tx: transactions::Transaction,
    /// `CLIENT UNBLOCK`s of this command (client id, with the error rather than the null),
    /// applied after it completes (outside the server's `exclusive` lock).
    pub unblock: Vec<(u64, bool)>,
    /// Client-side caching state (`CLIENT TRACKING`, `CLIENT CACHING`).
    pub tracking: crate::tracking::SessionTracking,
    /// When the last command of the batch being run ended: the next one's start for its
    /// `INFO commandstats` time, so that a pipelined batch reads the clock once per command
    /// instead of twice (a command's time then includes parsing it). `None` outside a batch.
    pub clock: Option<Instant>,
}

impl Session {
    /// A session for a new connection.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Session {
        Session {
            handle,
            db: 0,
            version: Version::Resp2,
            authenticated,
            reply_mode: ReplyMode::On,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            close: false,
            block: None,
            serving_blocked: false,
            in_multi: false,
            ready_keys: Vec::new(),
            tx: transactions::Transaction::default(),
            unblock: Vec::new(),
            tracking: crate::tracking::SessionTracking::default(),
            clock: None,
        }
    }

    /// Channel plus pattern subscriptions.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// What a handler works with.
pub struct Ctx<'a> {
    /// Server-wide state.
    pub shared: &'a Shared,
    /// This connection.
    pub session: &'a mut Session,
    /// Where the reply goes.
    pub reply: Reply<'a>,
    /// The end of the output that `CLIENT REPLY OFF`/`SKIP` must not silence: the pushes
    /// ([`Ctx::pushing`]) this command wrote.
    kept: usize,
}

/// Redis's error texts.
pub mod err {
    /// Wrong type.
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    /// Generic syntax error.
    pub const SYNTAX: &str = "ERR syntax error";
    /// Not an integer.
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    /// Not a float.
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    /// Integer overflow.
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    /// Over memory.
    pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
    /// No such key.
    pub const NO_SUCH_KEY: &str = "ERR no such key";
    /// Database index out of range.
    pub const DB_INDEX: &str = "ERR DB index is out of range";
}

impl Ctx<'_> {
    /// The selected database.
    pub fn db(&self) -> usize {
        self.session.db
    }

    /// The keyspace.
    pub fn keyspace(&self) -> &Keyspace {
        &self.shared.keyspace
    }

    /// Replies an error (counted in `INFO stats` and `INFO errorstats`).
    pub fn error(&mut self, text: &str) {
        ServerStats::add(&self.shared.stats.error_replies, 1);
        self.shared.count_error(text);
        self.reply.error(text);
    }

    /// Replies the error for a refused write.
    pub fn insert_error(&mut self, _error: InsertError) {
        ServerStats::add(&self.shared.stats.oom_rejections, 1);
        self.error(err::OOM);
    }

    /// Whether `CLIENT REPLY` silences this command's reply.
    fn silenced(&self) -> bool {
        matches!(
            self.session.reply_mode,
            ReplyMode::Off | ReplyMode::SkipNext
        )
    }

    /// Writes pushed output (pub/sub messages and subscription confirmations) with `write`.
    /// As in Redis, `CLIENT REPLY OFF`/`SKIP` silence the command's reply but never its
    /// pushes. A command writes its pushes before its reply: when the reply is silenced,
    /// anything written before a push is dropped.
    pub fn pushing(&mut self, write: impl FnOnce(&mut Reply<'_>)) {
        if self.silenced() {
            self.reply.out.truncate(self.kept);
        }
        write(&mut self.reply);
        self.kept = self.reply.out.len();
    }

    /// Reports that this command changed `key` in the selected database (see [`crate::events`]):
    /// `class` is one of [`crate::events::class`], `event` Redis's event name.
    pub fn modified(&mut self, class: u16, event: &'static str, key: &[u8]) {
        self.modified_in(self.session.db, class, event, key);
    }

    /// [`Ctx::modified`] for a key of database `db` (`MOVE`, `COPY ... DB`).
    pub fn modified_in(&mut self, db: usize, class: u16, event: &'static str, key: &[u8]) {
        crate::events::key_event(self.shared, db, class, event, key);
        if self.shared.tracking.active() {
            let origin = self.session.handle.id;
            self.shared.tracking.invalidate(
                self.shared,
                Some(origin),
                Some(&mut self.session.tracking),
                key,
            );
        }
        // Blocked clients: a list or sorted set written, or a key put in place, may serve
        // them (a spurious ready key is harmless: serving checks again).
        if self.shared.blocking.armed() && wakes_blocked(class, event) {
            let ready = &mut self.session.ready_keys;
            if !ready.last().is_some_and(|(d, k)| *d == db && k == key) {
                ready.push((db, key.to_vec()));
            }
        }
    }

    /// Reports an event that changes no key (`keymiss`, `new` before the write's own event):
    /// only keyspace notifications see it.
    pub fn notify(&mut self, class: u16, event: &'static str, key: &[u8]) {
        let db = self.session.db;
        self.shared
            .notify
            .publish(self.shared, db, class, event, key);
    }

    /// Nothing to serve yet for a blocking command on `keys`: blocks the client (see
    /// [`crate::blocking`]); inside `MULTI` replies `on_timeout` at once; when re-run for a
    /// blocked client, writes nothing and leaves it blocked.
    pub fn block_on(
        &mut self,
        keys: &[&[u8]],
        timeout: Option<std::time::Duration>,
        on_timeout: TimeoutReply,
    ) {
        if self.session.serving_blocked {
            return;
        }
        if self.session.in_multi {
            match on_timeout {
                TimeoutReply::NullArray => self.reply.null_array(),
                TimeoutReply::NullBulk => self.reply.null(),
            }
            return;
        }
        self.session.block = Some(BlockRequest {
            keys: keys.iter().map(|k| k.to_vec()).collect(),
            timeout,
            on_timeout,
        });
    }

    /// `ERR wrong number of arguments for '<name>' command`.
    pub fn arity_error(&mut self, name: &str) {
        self.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
}

/// Whether an event may make a key ready for blocked clients.
fn wakes_blocked(class: u16, event: &str) -> bool {
    use crate::events::class::{LIST, ZSET};
    class & (LIST | ZSET) != 0 || matches!(event, "rename_to" | "move_to" | "copy_to" | "restore")
}

/// Parses an integer argument like Redis's `getLongLongFromObject`.
pub fn int_arg(arg: &[u8]) -> Option<i64> {
    crate::value::parse_i64(arg)
}

fn unknown_command(args: &[&[u8]]) -> String {
    let name = String::from_utf8_lossy(&args[0][..args[0].len().min(128)]);
    let mut text = format!("ERR unknown command '{name}', with args beginning with: ");
    for arg in &args[1..] {
        if text.len() >= 128 {
            break;
        }
        let room = 128usize.saturating_sub(text.len());
        let arg = String::from_utf8_lossy(&arg[..arg.len().min(room)]);
        text.push_str(&format!("'{arg}' "));
    }
    text
}

/// Makes room for a write that may use memory (`DENYOOM`): under a `volatile-*` policy evicts
/// keys with a TTL until the data fits its budget; `false` when it cannot (`noeviction`, or no
/// key has a TTL) and the write must be refused with `-OOM`. `allkeys-*` policies always fit:
/// the engine evicts as it stores.
fn room_for_write(shared: &Shared) -> bool {
    if !shared.keyspace.over_limit() {
        return true;
    }
    let samples = shared.config.read().maxmemory_samples;
    match shared.keyspace.make_room(samples) {
        Some(evicted) => {
            ServerStats::add(&shared.stats.volatile_evictions, evicted);
            true
        }
        None => false,
    }
}

/// Whether the server is out of memory for a command queued in `MULTI` or an `EXEC` that
/// writes (Redis rejects those whenever `maxmemory` is exceeded and eviction cannot help): no
/// room can be made for a write, or, under an `allkeys-*` policy, the store has nothing left to
/// evict and the process is still over `maxmemory`.
pub(crate) fn out_of_memory(shared: &Shared) -> bool {
    if !room_for_write(shared) {
        return true;
    }
    let (maxmemory, policy) = shared.keyspace.limit();
    maxmemory > 0
        && matches!(policy, crate::keyspace::MaxmemoryPolicy::AllKeys(_))
        && shared.keyspace.store().is_empty()
        && shared.used_memory() > maxmemory
}

/// Refuses a request before it runs. Inside `MULTI` this aborts the transaction: its `EXEC`
/// will answer `-EXECABORT`; a refused `EXEC` itself discards it and says why.
fn reject(ctx: &mut Ctx<'_>, spec: Option<&Spec>, text: &str) {
    if ctx.session.in_multi {
        ctx.session.tx.aborted = true;
        if spec.is_some_and(|s| s.name == "exec") {
            transactions::discard_transaction(ctx);
            return ctx.error(&format!(
                "EXECABORT Transaction discarded because of: {text}"
            ));
        }
    }
    ctx.error(text);
}

/// Runs a handler (the caller holds the server's lock as the command needs) and counts it.
fn call(ctx: &mut Ctx<'_>, spec: &'static Spec, args: &[&[u8]], lock: bool) {
    let start = ctx.reply.out.len();
    if spec.flags & flag::READONLY != 0 && ctx.session.tracking.remembers() {
        crate::tracking::remember_keys(ctx.shared, ctx.session.handle.id, spec, args);
    }
    let began = ctx.session.clock.take().unwrap_or_else(Instant::now);
    if !lock {
        (spec.handler)(ctx, args);
    } else if spec.flags & flag::EXCLUSIVE != 0 {
        let _alone = ctx.shared.exclusive.write();
        (spec.handler)(ctx, args);
    } else {
        let _shared = ctx.shared.exclusive.read();
        (spec.handler)(ctx, args);
    }
    let ended = Instant::now();
    ctx.session.clock = Some(ended);
    if let Some(stats) = ctx.shared.command_stats.get(spec.name) {
        stats.calls.fetch_add(1, Ordering::Relaxed);
        stats.nanos.fetch_add(
            ended.duration_since(began).as_nanos() as u64,
            Ordering::Relaxed,
        );
        if ctx.reply.out.get(start) == Some(&b'-') {
            stats.failed_calls.fetch_add(1, Ordering::Relaxed);
        }
    }
    if ctx.shared.monitors.active() && spec.flags & flag::ADMIN == 0 {
        let addr = ctx.session.handle.addr;
        ctx.shared.monitors.feed(ctx.session.db, &addr, args);
    }
}

/// Runs a command queued by `MULTI`, from `EXEC`, which already holds the server's exclusive
/// lock: through the same table, with its counters, without taking the lock again.
pub(crate) fn run_queued(ctx: &mut Ctx<'_>, spec: &'static Spec, args: &[&[u8]]) {
    // Counted in `total_commands_processed` when it was received and queued.
    *ctx.session.handle.last_command.lock() = spec.name;
    call(ctx, spec, args, false);
}

/// What follows every top-level command (once per `EXEC`, not per queued command): the keys
/// the engine expired or evicted meanwhile become key events.
fn after_command(shared: &Shared) {
    crate::events::flush_departures(shared);
}

/// Runs one request: checks it against the table (existence, arity, authentication,
/// subscriber context, memory) and calls its handler, writing the reply to `out`.
pub fn execute(shared: &Shared, session: &mut Session, out: &mut Vec<u8>, args: &[&[u8]]) {
    let nesting = Nesting::enter();
    let start = out.len();
    let version = session.version;
    let spec = lookup(args[0]);
    let mut ctx = Ctx {
        shared,
        session,
        reply: Reply { out, version },
        kept: start,
    };
    ServerStats::add(&shared.stats.commands_processed, 1);
    let Some(spec) = spec else {
        reject(&mut ctx, None, &unknown_command(args));
        after_command(shared);
        return finish(ctx);
    };
    *ctx.session.handle.last_command.lock() = spec.name;
    let arity_ok = if spec.arity >= 0 {
        args.len() == spec.arity as usize
    } else {
        args.len() >= spec.arity.unsigned_abs() as usize
    };
    let queue = ctx.session.in_multi && !transactions::runs_in_multi(spec);
    // Over `maxmemory` under a `volatile-*` policy, room is made before any command, as Redis
    // evicts before every command; a write that still does not fit is refused below. The keys
    // evicted become events and invalidations now, so they reach this client before its reply.
    let fits = queue || room_for_write(shared);
    crate::events::flush_departures(shared);
    let mut refused = true;
    if !ctx.session.authenticated && spec.flags & flag::NO_AUTH == 0 {
        reject(&mut ctx, Some(spec), "NOAUTH Authentication required.");
    } else if !arity_ok {
        reject(
            &mut ctx,
            Some(spec),
            &format!("ERR wrong number of arguments for '{}' command", spec.name),
        );
    } else if ctx.session.version == Version::Resp2
        && ctx.session.subscriptions() > 0
        && spec.flags & flag::SUBSCRIBED == 0
    {
        reject(
            &mut ctx,
            Some(spec),
            &format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            ),
        );
    } else if queue && transactions::not_in_multi(spec) {
        reject(
            &mut ctx,
            Some(spec),
            "ERR Command not allowed inside a transaction",
        );
    } else if (queue && out_of_memory(shared))
        || (!queue && spec.flags & flag::DENYOOM != 0 && !fits)
    {
        ServerStats::add(&shared.stats.oom_rejections, 1);
        reject(&mut ctx, Some(spec), err::OOM);
    } else if queue && !transactions::fits_queue(&mut ctx, args) {
        reject(
            &mut ctx,
            Some(spec),
            "ERR MULTI queue over client-query-buffer-limit",
        );
    } else if queue {
        ctx.session.tx.queue.push(transactions::Queued {
            spec,
            args: args.iter().map(|a| a.to_vec()).collect(),
        });
        ctx.reply.simple(b"QUEUED");
        refused = false;
    } else {
        refused = false;
        // Pushes queued for this client before its command runs (invalidations of keys evicted
        // to make room for it) go before its reply, as in Redis; not inside a transaction's
        // reply.
        if !ctx.session.in_multi && ctx.session.handle.has_pushes() {
            ctx.session.handle.drain_into(ctx.reply.out);
            ctx.kept = ctx.reply.out.len();
        }
        call(&mut ctx, spec, args, true);
    }
    if refused && let Some(stats) = shared.command_stats.get(spec.name) {
        stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
    }
    ctx.session
        .handle
        .db
        .store(ctx.session.db, Ordering::Relaxed);
    after_command(shared);
    if !ctx.session.in_multi {
        // `CLIENT CACHING` applies to the next command (a whole transaction).
        if spec.name != "client" {
            ctx.session.tracking.caching = false;
        }
        if ctx.session.tracking.has_pending() {
            let origin = ctx.session.handle.id;
            shared
                .tracking
                .broadcast(shared, origin, &mut ctx.session.tracking);
        }
    }
    if nesting.outermost()
        && !ctx.session.serving_blocked
        && (!ctx.session.ready_keys.is_empty() || !ctx.session.unblock.is_empty())
    {
        drop(nesting);
        serve_blocked(shared, ctx.session);
    }
    finish(ctx)
}

thread_local! {
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// How deep [`execute`] calls are nested on this thread (a command run by another, as `EXEC`
/// may): blocked clients are served once, after the outermost.
struct Nesting {
    outer: bool,
}

impl Nesting {
    fn enter() -> Nesting {
        let depth = DEPTH.get();
        DEPTH.set(depth + 1);
        Nesting { outer: depth == 0 }
    }

    fn outermost(&self) -> bool {
        self.outer
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get() - 1);
    }
}

/// The step after a top-level command (and after a whole transaction): applies its
/// `CLIENT UNBLOCK`s and serves the clients blocked on the keys it made ready (see
/// [`crate::blocking`]), before its reply goes out. Must run outside the `exclusive` lock.
pub fn serve_blocked(shared: &Shared, session: &mut Session) {
    let ready = std::mem::take(&mut session.ready_keys);
    let unblock = std::mem::take(&mut session.unblock);
    if shared.blocking.armed() || !unblock.is_empty() {
        shared.blocking.serve(shared, ready, unblock);
    }
}

/// Runs a blocked client's command again on its behalf (`session.serving_blocked` is set):
/// the handler alone, without the checks and counters of [`execute`] (they passed when the
/// command first ran).
pub fn rerun(shared: &Shared, session: &mut Session, out: &mut Vec<u8>, args: &[&[u8]]) {
    let Some(spec) = args.first().and_then(|name| lookup(name)) else {
        return;
    };
    let version = session.version;
    let kept = out.len();
    let mut ctx = Ctx {
        shared,
        session,
        reply: Reply { out, version },
        kept,
    };
    let alone = (spec.flags & flag::EXCLUSIVE != 0).then(|| shared.exclusive.write());
    let _shared = alone.is_none().then(|| shared.exclusive.read());
    (spec.handler)(&mut ctx, args);
}

/// Applies `CLIENT REPLY` to the reply just written (pushes stay).
fn finish(ctx: Ctx<'_>) {
    match ctx.session.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off => ctx.reply.out.truncate(ctx.kept),
        ReplyMode::Skip => ctx.session.reply_mode = ReplyMode::SkipNext,
        ReplyMode::SkipNext => {
            ctx.reply.out.truncate(ctx.kept);
            ctx.session.reply_mode = ReplyMode::On;
        }
    }
}
