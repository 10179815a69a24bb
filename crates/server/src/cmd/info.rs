//! INFO: Redis's sections and field names, plus a `larder` section (the engine's policy, misses
//! by reason, hit ratio per namespace, hot keys, the hit ratio predicted with twice the
//! memory).
//!
//! Sections: `server`, `clients`, `memory`, `persistence`, `stats`, `replication`, `cpu`,
//! `modules`, `commandstats`, `errorstats`, `latencystats`, `cluster`, `keyspace`, `larder`.
//! `INFO` and `INFO default` give Redis's default sections and `larder`; `all` and
//! `everything` give every section; several names give each section once, in this order.
//! Figures Larder does not have (forks, replication, persistence) are the zeros and `-1`s
//! Redis shows when the feature is idle, which is what they are; figures Larder does not
//! measure are left out rather than made up.

use super::server::{lower, unix_now};
use super::{Ctx, Spec};
use crate::keyspace::{DATABASES, MaxmemoryPolicy};
use crate::memory::{self, human};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// The commands of this module.
pub static SPECS: &[Spec] = &[Spec {
    name: "info",
    arity: -1,
    flags: super::flag::LOADING | super::flag::STALE,
    keys: (0, 0, 0),
    group: "server",
    summary: "Get information and statistics about the server",
    since: "1.0.0",
    handler: info,
}];

/// Every section, in output order.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    "larder",
];

/// The sections `all` adds to `INFO` and `INFO default`, which give Redis's defaults and
/// `larder`.
const NOT_DEFAULT: &[&str] = &["commandstats", "latencystats"];

/// Which sections `INFO <args>` asks for, as Redis's `genInfoSectionDict`: `default`, `all`
/// and `everything` expand, other names are sections (case-insensitive), each shown once.
fn requested_sections(args: &[&[u8]]) -> BTreeSet<&'static str> {
    let defaults = SECTIONS.iter().filter(|s| !NOT_DEFAULT.contains(s));
    let mut wanted = BTreeSet::new();
    if args.is_empty() {
        wanted.extend(defaults.clone());
    }
    for arg in args {
        match lower(arg).as_str() {
            "default" => wanted.extend(defaults.clone()),
            "all" | "everything" => wanted.extend(SECTIONS),
            "module_list" => {
                wanted.insert("modules");
            }
            name => {
                if let Some(s) = SECTIONS.iter().find(|s| **s == name) {
                    wanted.insert(s);
                }
            }
        }
    }
    wanted
}

fn info(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let wanted = requested_sections(&args[1..]);
    let text = info_text(ctx, &wanted);
    ctx.reply.verbatim("txt", text.as_bytes());
}

/// The text of `INFO` for these sections.
pub fn info_text(ctx: &Ctx<'_>, wanted: &BTreeSet<&'static str>) -> String {
    let mut out = String::new();
    for section in SECTIONS.iter().filter(|s| wanted.contains(*s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match *section {
            "server" => info_server(ctx, &mut out),
            "clients" => info_clients(ctx, &mut out),
            "memory" => info_memory(ctx, &mut out),
            "persistence" => info_persistence(ctx, &mut out),
            "stats" => info_stats(ctx, &mut out),
            "replication" => info_replication(ctx, &mut out),
            "cpu" => info_cpu(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "commandstats" => info_commandstats(ctx, &mut out),
            "errorstats" => info_errorstats(ctx, &mut out),
            "latencystats" => out.push_str("# Latencystats\r\n"),
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "keyspace" => info_keyspace(ctx, &mut out),
            "larder" => info_larder(ctx, &mut out),
            _ => {}
        }
    }
    out
}

/// Appends `name:value\r\n`.
fn field(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{name}:{value}\r\n");
}

/// A name or key made safe for an INFO line: bytes that are not printable ASCII, and the
/// separators `#`, `:`, `,`, `=`, are written as `\xNN`.
pub fn info_safe(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_graphic() && !matches!(b, b'#' | b':' | b',' | b'=' | b'\\') {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

fn os_string() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let name = match read("/proc/sys/kernel/ostype") {
        n if n.is_empty() => std::env::consts::OS.to_owned(),
        n => n,
    };
    format!(
        "{name} {} {}",
        read("/proc/sys/kernel/osrelease"),
        std::env::consts::ARCH
    )
}

fn info_server(ctx: &Ctx<'_>, out: &mut String) {
    let shared = ctx.shared;
    let (hz, config_file) = {
        let c = shared.config.read();
        (c.hz, c.config_file.clone().unwrap_or_default())
    };
    let uptime = shared.started.elapsed().as_secs();
    let now = unix_now();
    out.push_str("# Server\r\n");
    field(out, "redis_version", crate::REDIS_VERSION);
    field(out, "redis_git_sha1", "00000000");
    field(out, "redis_git_dirty", 0);
    field(out, "redis_build_id", env!("CARGO_PKG_VERSION"));
    field(out, "redis_mode", "standalone");
    field(out, "os", os_string());
    field(out, "arch_bits", usize::BITS);
    field(out, "monotonic_clock", "POSIX clock_gettime");
    field(out, "multiplexing_api", "epoll");
    field(out, "process_id", std::process::id());
    field(out, "process_supervised", "no");
    field(out, "run_id", &shared.run_id);
    field(out, "tcp_port", shared.port);
    field(out, "server_time_usec", now.as_micros());
    field(out, "uptime_in_seconds", uptime);
    field(out, "uptime_in_days", uptime / 86_400);
    field(out, "hz", hz.clamp(1, 500));
    field(out, "configured_hz", hz);
    field(out, "lru_clock", now.as_secs() & ((1 << 24) - 1));
    field(
        out,
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    field(out, "config_file", config_file);
    field(out, "io_threads_active", 0);
    field(out, "larder_version", env!("CARGO_PKG_VERSION"));
}

fn info_clients(ctx: &Ctx<'_>, out: &mut String) {
    let shared = ctx.shared;
    let clients = shared.clients.all();
    let pubsub = clients
        .iter()
        .filter(|c| c.subscriptions.load(Ordering::Relaxed) > 0)
        .count();
    out.push_str("# Clients\r\n");
    field(out, "connected_clients", clients.len());
    field(out, "cluster_connections", 0);
    field(out, "maxclients", shared.config.read().maxclients);
    field(out, "blocked_clients", shared.blocking.blocked_clients());
    field(out, "tracking_clients", shared.tracking.stats().clients);
    field(out, "clients_in_timeout_table", 0);
    field(out, "pubsub_clients", pubsub);
}

/// The memory figures of `INFO memory` and `MEMORY STATS`.
pub struct MemoryFigures {
    /// `used_memory`: the bytes the program holds ([`memory::AllocatorStats::held`]), or the
    /// data's weight without allocator figures.
    pub used: u64,
    /// Resident set size.
    pub rss: u64,
    /// The most `used` seen.
    pub peak: u64,
    /// `used` at start.
    pub startup: u64,
    /// The data's weight (at most `used`).
    pub dataset: u64,
    /// jemalloc's figures, when it is the allocator.
    pub allocator: Option<memory::AllocatorStats>,
}

/// Gathers the memory figures once.
pub fn memory_figures(ctx: &Ctx<'_>) -> MemoryFigures {
    let shared = ctx.shared;
    let allocator = memory::allocator_stats();
    let data = shared.keyspace.store().weighted_size();
    let used = shared.used_memory_of(allocator);
    MemoryFigures {
        used,
        rss: memory::rss().unwrap_or(0),
        peak: shared.peak_memory.load(Ordering::Relaxed),
        startup: shared.startup_memory,
        dataset: data.min(used),
        allocator,
    }
}

/// `a / b`, 0 when `b` is 0.
pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn info_memory(ctx: &Ctx<'_>, out: &mut String) {
    let m = memory_figures(ctx);
    let (maxmemory, policy) = {
        let c = ctx.shared.config.read();
        (c.maxmemory, c.maxmemory_policy.to_ascii_lowercase())
    };
    let system = memory::total_system_memory();
    out.push_str("# Memory\r\n");
    field(out, "used_memory", m.used);
    field(out, "used_memory_human", human(m.used));
    field(out, "used_memory_rss", m.rss);
    field(out, "used_memory_rss_human", human(m.rss));
    field(out, "used_memory_peak", m.peak);
    field(out, "used_memory_peak_human", human(m.peak));
    field(
        out,
        "used_memory_peak_perc",
        format!("{:.2}%", ratio(m.used, m.peak) * 100.0),
    );
    field(out, "used_memory_overhead", m.used - m.dataset);
    field(out, "used_memory_startup", m.startup);
    field(out, "used_memory_dataset", m.dataset);
    field(
        out,
        "used_memory_dataset_perc",
        format!(
            "{:.2}%",
            ratio(m.dataset, m.used.saturating_sub(m.startup)).min(1.0) * 100.0
        ),
    );
    if let Some(a) = m.allocator {
        field(out, "allocator_allocated", a.allocated);
        field(out, "allocator_active", a.active);
        field(out, "allocator_resident", a.resident);
    }
    field(out, "total_system_memory", system);
    field(out, "total_system_memory_human", human(system));
    field(out, "maxmemory", maxmemory);
    field(out, "maxmemory_human", human(maxmemory));
    field(out, "maxmemory_policy", policy);
    if let Some(a) = m.allocator {
        field(
            out,
            "allocator_frag_ratio",
            format!("{:.2}", ratio(a.active, a.allocated)),
        );
        field(
            out,
            "allocator_frag_bytes",
            a.active.saturating_sub(a.allocated),
        );
        field(
            out,
            "allocator_rss_ratio",
            format!("{:.2}", ratio(a.resident, a.active)),
        );
        field(
            out,
            "allocator_rss_bytes",
            a.resident as i64 - a.active as i64,
        );
        field(
            out,
            "rss_overhead_ratio",
            format!("{:.2}", ratio(m.rss, a.resident)),
        );
        field(out, "rss_overhead_bytes", m.rss as i64 - a.resident as i64);
    }
    field(
        out,
        "mem_fragmentation_ratio",
        format!("{:.2}", ratio(m.rss, m.used)),
    );
    field(out, "mem_fragmentation_bytes", m.rss as i64 - m.used as i64);
    field(out, "mem_not_counted_for_evict", 0);
    field(out, "mem_replication_backlog", 0);
    field(out, "mem_total_replication_buffers", 0);
    field(out, "mem_clients_slaves", 0);
    field(out, "mem_aof_buffer", 0);
    field(out, "mem_allocator", memory::allocator_name());
    field(out, "active_defrag_running", 0);
    field(out, "lazyfree_pending_objects", 0);
    field(out, "lazyfreed_objects", 0);
}

/// Changes since start, as the engine counts them (Larder never saves, so every change is
/// "since the last save").
fn changes(ctx: &Ctx<'_>) -> u64 {
    let s = ctx.shared.keyspace.store().stats();
    s.insertions + s.updates + s.removals + s.expirations + s.evictions
}

fn info_persistence(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Persistence\r\n");
    for (name, value) in [
        ("loading", "0"),
        ("async_loading", "0"),
        ("current_cow_peak", "0"),
        ("current_cow_size", "0"),
        ("current_cow_size_age", "0"),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", "0"),
        ("current_save_keys_total", "0"),
    ] {
        field(out, name, value);
    }
    field(out, "rdb_changes_since_last_save", changes(ctx));
    field(out, "rdb_bgsave_in_progress", 0);
    field(out, "rdb_last_save_time", ctx.shared.lastsave);
    for (name, value) in [
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", "-1"),
        ("rdb_current_bgsave_time_sec", "-1"),
        ("rdb_saves", "0"),
        ("rdb_last_cow_size", "0"),
        ("rdb_last_load_keys_expired", "0"),
        ("rdb_last_load_keys_loaded", "0"),
        ("aof_enabled", "0"),
        ("aof_rewrite_in_progress", "0"),
        ("aof_rewrite_scheduled", "0"),
        ("aof_last_rewrite_time_sec", "-1"),
        ("aof_current_rewrite_time_sec", "-1"),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", "0"),
        ("aof_rewrites_consecutive_failures", "0"),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", "0"),
        ("module_fork_in_progress", "0"),
        ("module_fork_last_cow_size", "0"),
    ] {
        field(out, name, value);
    }
}

fn info_stats(ctx: &Ctx<'_>, out: &mut String) {
    let shared = ctx.shared;
    let st = &shared.stats;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let engine = shared.keyspace.store().stats();
    let metrics = shared.metrics.lock();
    let (ops, input_kbps, output_kbps) = (
        metrics.ops_per_sec(),
        metrics.input_kbps(),
        metrics.output_kbps(),
    );
    drop(metrics);
    out.push_str("# Stats\r\n");
    field(
        out,
        "total_connections_received",
        get(&st.connections_received),
    );
    field(out, "total_commands_processed", get(&st.commands_processed));
    field(out, "instantaneous_ops_per_sec", ops);
    field(out, "total_net_input_bytes", get(&st.net_input_bytes));
    field(out, "total_net_output_bytes", get(&st.net_output_bytes));
    field(out, "total_net_repl_input_bytes", 0);
    field(out, "total_net_repl_output_bytes", 0);
    field(out, "instantaneous_input_kbps", format!("{input_kbps:.2}"));
    field(
        out,
        "instantaneous_output_kbps",
        format!("{output_kbps:.2}"),
    );
    field(out, "instantaneous_input_repl_kbps", "0.00");
    field(out, "instantaneous_output_repl_kbps", "0.00");
    field(out, "rejected_connections", get(&st.rejected_connections));
    field(out, "sync_full", 0);
    field(out, "sync_partial_ok", 0);
    field(out, "sync_partial_err", 0);
    field(out, "expired_keys", engine.expirations);
    field(out, "evicted_keys", engine.evictions);
    field(out, "evicted_clients", 0);
    field(out, "keyspace_hits", engine.hits);
    field(out, "keyspace_misses", engine.misses.total());
    field(out, "pubsub_channels", shared.pubsub.channels(None).len());
    field(out, "pubsub_patterns", shared.pubsub.numpat());
    field(out, "pubsubshard_channels", 0);
    field(out, "latest_fork_usec", 0);
    field(out, "total_forks", 0);
    field(out, "migrate_cached_sockets", 0);
    field(out, "slave_expires_tracked_keys", 0);
    field(out, "active_defrag_hits", 0);
    field(out, "active_defrag_misses", 0);
    field(out, "active_defrag_key_hits", 0);
    field(out, "active_defrag_key_misses", 0);
    field(out, "total_active_defrag_time", 0);
    field(out, "current_active_defrag_time", 0);
    let tracking = shared.tracking.stats();
    field(out, "tracking_total_keys", tracking.keys);
    field(out, "tracking_total_items", tracking.items);
    field(out, "tracking_total_prefixes", tracking.prefixes);
    field(out, "unexpected_error_replies", 0);
    field(out, "total_error_replies", get(&st.error_replies));
    field(out, "dump_payload_sanitizations", 0);
    field(out, "io_threaded_reads_processed", 0);
    field(out, "io_threaded_writes_processed", 0);
}

fn info_replication(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Replication\r\n");
    field(out, "role", "master");
    field(out, "connected_slaves", 0);
    field(out, "master_failover_state", "no-failover");
    // No replication: the replication id is the run id, and nothing was ever replicated.
    field(out, "master_replid", &ctx.shared.run_id);
    field(out, "master_replid2", "0".repeat(40));
    field(out, "master_repl_offset", 0);
    field(out, "second_repl_offset", -1);
    field(out, "repl_backlog_active", 0);
    field(out, "repl_backlog_size", 0);
    field(out, "repl_backlog_first_byte_offset", 0);
    field(out, "repl_backlog_histlen", 0);
}

fn seconds(s: f64) -> String {
    let micros = (s * 1e6).round() as u64;
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

fn info_cpu(out: &mut String) {
    let (sys, user) = memory::cpu_times().unwrap_or((0.0, 0.0));
    out.push_str("# CPU\r\n");
    field(out, "used_cpu_sys", seconds(sys));
    field(out, "used_cpu_user", seconds(user));
    field(out, "used_cpu_sys_children", seconds(0.0));
    field(out, "used_cpu_user_children", seconds(0.0));
}

fn info_commandstats(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    let stats = &ctx.shared.command_stats;
    let mut names: Vec<&&str> = stats.keys().collect();
    names.sort();
    for name in names {
        let s = &stats[*name];
        let calls = s.calls.load(Ordering::Relaxed);
        let rejected = s.rejected_calls.load(Ordering::Relaxed);
        let failed = s.failed_calls.load(Ordering::Relaxed);
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let usec = s.nanos.load(Ordering::Relaxed) / 1000;
        let per_call = if calls == 0 {
            0.0
        } else {
            s.nanos.load(Ordering::Relaxed) as f64 / 1000.0 / calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n"
        );
    }
}

fn info_errorstats(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    for (code, count) in ctx.shared.errors.lock().iter() {
        let _ = write!(
            out,
            "errorstat_{}:count={count}\r\n",
            info_safe(code.as_bytes())
        );
    }
}

fn info_keyspace(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    let keyspace = &ctx.shared.keyspace;
    for db in 0..DATABASES {
        let keys = keyspace.dbsize(db);
        let expires = keyspace.volatile_count(db);
        if keys > 0 || expires > 0 {
            let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
}

/// Hot keys shown in `INFO larder`.
const INFO_HOT_KEYS: usize = 10;

fn info_larder(ctx: &Ctx<'_>, out: &mut String) {
    let keyspace = &ctx.shared.keyspace;
    let f = super::larder::figures(ctx);
    out.push_str("# Larder\r\n");
    field(out, "larder_version", env!("CARGO_PKG_VERSION"));
    field(out, "maxmemory_policy", &f.maxmemory_policy);
    field(out, "engine_policy", &f.engine_policy);
    for (name, value) in &f.counters {
        field(out, name, value);
    }
    field(out, "hit_ratio", format!("{:.4}", f.hit_ratio));
    if let Some(p) = predicted_hit_ratio(ctx, 2.0) {
        field(out, "predicted_hit_ratio_2x_memory", format!("{p:.4}"));
    }
    field(out, "namespaces", f.namespaces.len());
    for ns in &f.namespaces {
        let _ = write!(
            out,
            "ns_{}:hits={},misses={},hit_ratio={:.4}\r\n",
            info_safe(ns.namespace.as_bytes()),
            ns.hits,
            ns.misses,
            ns.hit_ratio()
        );
    }
    for (i, hot) in keyspace.hot_keys(INFO_HOT_KEYS).iter().enumerate() {
        let _ = write!(
            out,
            "hotkey_{i}:key={},count={},error={},rate_per_sec={:.2}\r\n",
            info_safe(&hot.key),
            hot.count,
            hot.error,
            hot.rate_per_sec
        );
    }
}

/// The LRU hit ratio predicted with `multiplier` × the memory, from the engine's miss-ratio
/// curve: only meaningful when the engine's budget is the limit (`maxmemory` with an
/// `allkeys-*` policy) and after some lookups.
pub fn predicted_hit_ratio(ctx: &Ctx<'_>, multiplier: f64) -> Option<f64> {
    let (maxmemory, policy) = ctx.shared.keyspace.limit();
    if maxmemory == 0 || !matches!(policy, MaxmemoryPolicy::AllKeys(_)) {
        return None;
    }
    ctx.shared.keyspace.store().predicted_hit_ratio(multiplier)
}
