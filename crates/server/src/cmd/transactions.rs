//! Transactions: `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`, with Redis 7.0's semantics.
//!
//! After `MULTI`, [`execute`](super::execute) queues every command but `EXEC`, `DISCARD`,
//! `MULTI`, `WATCH`, `QUIT` and `RESET` (replying `+QUEUED`); a command refused while queueing
//! (unknown, wrong arity, over `maxmemory`, ...) marks the transaction aborted, and its `EXEC`
//! then answers `-EXECABORT`. `EXEC` runs the queued commands alone (it holds the server's
//! exclusive lock, so no other client's command interleaves) through the same command table,
//! each replying for itself (an error in one does not stop the others). A watched key that
//! changed, or that expired or was evicted since it was watched, makes `EXEC` answer a null
//! array and run nothing (see [`crate::watch`]).

use super::{Ctx, Spec, flag, room_for_write, run_queued};
use crate::watch::Watching;
use std::sync::Arc;

/// A client's transaction state (in its session).
#[derive(Debug, Default)]
pub struct Transaction {
    /// Commands queued since `MULTI`.
    pub queue: Vec<Queued>,
    /// A command was refused while queueing: `EXEC` must answer `-EXECABORT`.
    pub aborted: bool,
    /// Bytes of the queued arguments (bounded by `client-query-buffer-limit`).
    pub queued_bytes: u64,
    /// Keys watched, created on the first `WATCH`.
    pub watching: Option<Watching>,
}

/// One queued command.
#[derive(Debug)]
pub struct Queued {
    /// Its table entry.
    pub spec: &'static Spec,
    /// Its arguments, name first.
    pub args: Vec<Vec<u8>>,
}

impl Transaction {
    /// Unwatches every key.
    pub fn unwatch(&mut self) {
        if let Some(watching) = &mut self.watching {
            watching.unwatch_all();
        }
    }
}

/// Whether `spec` runs at once inside `MULTI` instead of being queued.
pub fn runs_in_multi(spec: &Spec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Counts `args` into the queue's size; `false` when the queue would grow past
/// `client-query-buffer-limit` (Redis bounds a queue only by `maxmemory`; Larder bounds every
/// buffer).
pub fn fits_queue(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> bool {
    let limit = ctx.shared.config.read().client_query_buffer_limit;
    let bytes: u64 = args.iter().map(|a| a.len() as u64 + 16).sum();
    let total = ctx.session.tx.queued_bytes.saturating_add(bytes);
    if total > limit {
        return false;
    }
    ctx.session.tx.queued_bytes = total;
    true
}

/// Whether `spec` is refused inside `MULTI` (Redis's `no-multi` commands).
pub fn not_in_multi(spec: &Spec) -> bool {
    matches!(spec.name, "save" | "shutdown" | "sync" | "psync")
}

/// Leaves the transaction: drops the queue and the abort mark, unwatches every key.
pub fn discard_transaction(ctx: &mut Ctx<'_>) {
    ctx.session.tx.queue.clear();
    ctx.session.tx.queued_bytes = 0;
    ctx.session.tx.aborted = false;
    ctx.session.tx.unwatch();
    ctx.session.in_multi = false;
}

const GROUP: &str = "transactions";

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    Spec {
        name: "multi",
        arity: 1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST,
        keys: (0, 0, 0),
        group: GROUP,
        summary: "Start a transaction",
        since: "1.2.0",
        handler: multi,
    },
    Spec {
        name: "exec",
        arity: 1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::EXCLUSIVE,
        keys: (0, 0, 0),
        group: GROUP,
        summary: "Execute all commands issued after MULTI",
        since: "1.2.0",
        handler: exec,
    },
    Spec {
        name: "discard",
        arity: 1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST,
        keys: (0, 0, 0),
        group: GROUP,
        summary: "Discard all commands issued after MULTI",
        since: "2.0.0",
        handler: discard,
    },
    Spec {
        name: "watch",
        arity: -2,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST,
        keys: (1, -1, 1),
        group: GROUP,
        summary: "Watch the given keys to determine execution of the MULTI/EXEC block",
        since: "2.2.0",
        handler: watch,
    },
    Spec {
        name: "unwatch",
        arity: 1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST,
        keys: (0, 0, 0),
        group: GROUP,
        summary: "Forget about all watched keys",
        since: "2.2.0",
        handler: unwatch,
    },
];

fn multi(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    if ctx.session.in_multi {
        return ctx.error("ERR MULTI calls can not be nested");
    }
    ctx.session.in_multi = true;
    ctx.reply.ok();
}

fn discard(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    if !ctx.session.in_multi {
        return ctx.error("ERR DISCARD without MULTI");
    }
    discard_transaction(ctx);
    ctx.reply.ok();
}

fn exec(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    if !ctx.session.in_multi {
        return ctx.error("ERR EXEC without MULTI");
    }
    // A transaction that would use memory is refused as a whole when over `maxmemory` (a
    // read-only one still runs), like Redis's check of EXEC against its queued commands.
    let uses_memory = ctx
        .session
        .tx
        .queue
        .iter()
        .any(|q| q.spec.flags & flag::DENYOOM != 0);
    if uses_memory && !ctx.session.tx.aborted && super::out_of_memory(ctx.shared) {
        discard_transaction(ctx);
        crate::shared::ServerStats::add(&ctx.shared.stats.oom_rejections, 1);
        return ctx.error(&format!(
            "EXECABORT Transaction discarded because of: {}",
            super::err::OOM
        ));
    }
    if ctx.session.tx.aborted {
        discard_transaction(ctx);
        return ctx.error("EXECABORT Transaction discarded because of previous errors.");
    }
    let keyspace = &ctx.shared.keyspace;
    let dirty = ctx
        .session
        .tx
        .watching
        .as_ref()
        .is_some_and(|w| w.is_dirty(|db, key| keyspace.exists(db, key)));
    if dirty {
        discard_transaction(ctx);
        return ctx.reply.null_array();
    }
    ctx.session.tx.unwatch();
    let queue = std::mem::take(&mut ctx.session.tx.queue);
    ctx.reply.array(queue.len());
    for queued in &queue {
        let args: Vec<&[u8]> = queued.args.iter().map(Vec::as_slice).collect();
        // Writes need room; a command refused here answers for itself, as in Redis, where the
        // check happens once per EXEC and then per command inside scripts only.
        if queued.spec.flags & flag::DENYOOM != 0 && !room_for_write(ctx.shared) {
            ctx.error(super::err::OOM);
            continue;
        }
        run_queued(ctx, queued.spec, &args);
    }
    // Keep the queue's buffer for the next transaction.
    let mut queue = queue;
    queue.clear();
    ctx.session.tx.queue = queue;
    discard_transaction(ctx);
}

fn watch(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if ctx.session.in_multi {
        return ctx.error("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.db();
    let registry = Arc::clone(&ctx.shared.watches);
    let keyspace = &ctx.shared.keyspace;
    let watching = ctx
        .session
        .tx
        .watching
        .get_or_insert_with(|| Watching::new(registry));
    // No point in watching more once a watched key changed: EXEC will fail anyway.
    if !watching.flagged() {
        for key in &args[1..] {
            watching.watch(db, key, || keyspace.exists(db, key));
        }
    }
    ctx.reply.ok();
}

fn unwatch(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    ctx.session.tx.unwatch();
    ctx.reply.ok();
}
