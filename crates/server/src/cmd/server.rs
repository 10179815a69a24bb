//! Server commands (INFO is in [`info`](super::info)): CONFIG, COMMAND, TIME, LASTSAVE, FUNCTION, DEBUG, SHUTDOWN, SAVE,
//! BGSAVE, BGREWRITEAOF, MONITOR and MEMORY.
//!
//! What Larder does not have is answered with a clear error, never a pretend success: it keeps
//! nothing on disk (SAVE, BGSAVE, BGREWRITEAOF), has no scripting (FUNCTION except FLUSH)
//! and no DEBUG. MONITOR streams the commands run (see [`crate::monitor`]).

use super::info::{memory_figures, ratio};
use super::{Ctx, Spec, TABLE, err, flag, int_arg};
use crate::config::{self, Config};
use crate::keyspace::{ENTRY_OVERHEAD, Key};
use crate::memory::{self, human};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

const SERVER: &str = "server";
const LS: u32 = flag::LOADING | flag::STALE;

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    Spec {
        name: "config",
        arity: -2,
        flags: flag::ADMIN | flag::NOSCRIPT | LS,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "A container for server configuration commands",
        since: "2.0.0",
        handler: config,
    },
    Spec {
        name: "command",
        arity: -1,
        flags: LS,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "Get array of Redis command details",
        since: "2.8.13",
        handler: command,
    },
    Spec {
        name: "time",
        arity: 1,
        flags: flag::FAST | LS,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "Return the current server time",
        since: "2.6.0",
        handler: time,
    },
    Spec {
        name: "lastsave",
        arity: 1,
        flags: flag::FAST | LS,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "Get the UNIX time stamp of the last successful save to disk",
        since: "1.0.0",
        handler: lastsave,
    },
    Spec {
        name: "function",
        arity: -2,
        flags: flag::NOSCRIPT,
        keys: (0, 0, 0),
        group: "scripting",
        summary: "A container for function commands",
        since: "7.0.0",
        handler: function,
    },
    Spec {
        name: "debug",
        arity: -2,
        flags: flag::ADMIN | flag::NOSCRIPT | LS,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "A container for debugging commands",
        since: "1.0.0",
        handler: debug,
    },
    Spec {
        name: "shutdown",
        arity: -1,
        flags: flag::ADMIN | flag::NOSCRIPT | LS,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "Synchronously save the dataset to disk and then shut down the server",
        since: "1.0.0",
        handler: shutdown,
    },
    Spec {
        name: "save",
        arity: 1,
        flags: flag::ADMIN | flag::NOSCRIPT,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "Synchronously save the dataset to disk",
        since: "1.0.0",
        handler: no_persistence,
    },
    Spec {
        name: "bgsave",
        arity: -1,
        flags: flag::ADMIN | flag::NOSCRIPT,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "Asynchronously save the dataset to disk",
        since: "1.0.0",
        handler: no_persistence,
    },
    Spec {
        name: "bgrewriteaof",
        arity: 1,
        flags: flag::ADMIN | flag::NOSCRIPT,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "Asynchronously rewrite the append-only file",
        since: "1.0.0",
        handler: no_persistence,
    },
    Spec {
        name: "monitor",
        arity: 1,
        flags: flag::ADMIN | flag::NOSCRIPT | LS,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "Listen for all requests received by the server in real time",
        since: "1.0.0",
        handler: monitor,
    },
    Spec {
        name: "memory",
        arity: -2,
        flags: 0,
        keys: (0, 0, 0),
        group: SERVER,
        summary: "A container for memory diagnostics commands",
        since: "4.0.0",
        handler: memory,
    },
];

/// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.` (Redis's answer for a container command).
fn unknown_subcommand(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    ctx.error(&format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(&args[1][..args[1].len().min(128)]),
        String::from_utf8_lossy(args[0]).to_ascii_uppercase()
    ));
}

/// Redis's `addReplySubcommandSyntaxError`: `ERR unknown subcommand or wrong number of
/// arguments for '<sub>'. Try <CMD> HELP.`
pub fn subcommand_syntax_error(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    ctx.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&args[1][..args[1].len().min(128)]),
        String::from_utf8_lossy(args[0]).to_ascii_uppercase()
    ));
}

/// Redis's arity error for a subcommand: `'config|get'`.
fn subcommand_arity(ctx: &mut Ctx<'_>, command: &str, sub: &str) {
    ctx.error(&format!(
        "ERR wrong number of arguments for '{command}|{sub}' command"
    ));
}

/// Replies Redis's `addReplyHelp`: a header, the lines, and the HELP footer, as status lines.
pub fn help(ctx: &mut Ctx<'_>, command: &str, lines: &[&str]) {
    ctx.reply.array(lines.len() + 3);
    ctx.reply.simple(
        format!(
            "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            command.to_ascii_uppercase()
        )
        .as_bytes(),
    );
    for line in lines {
        ctx.reply.simple(line.as_bytes());
    }
    ctx.reply.simple(b"HELP");
    ctx.reply.simple(b"    Prints this help.");
}

/// An argument, lower-cased.
pub fn lower(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_lowercase()
}

/// Time since the Unix epoch.
pub fn unix_now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// CONFIG

fn config(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let sub = lower(args[1]);
    match sub.as_str() {
        "get" if args.len() < 3 => subcommand_arity(ctx, "config", "get"),
        "get" => config_get(ctx, &args[2..]),
        "set" if args.len() < 4 => subcommand_arity(ctx, "config", "set"),
        "set" => config_set(ctx, &args[2..]),
        "resetstat" if args.len() != 2 => subcommand_arity(ctx, "config", "resetstat"),
        "resetstat" => {
            ctx.shared.reset_stats();
            ctx.reply.ok();
        }
        "rewrite" if args.len() != 2 => subcommand_arity(ctx, "config", "rewrite"),
        "rewrite" => ctx.error(
            "ERR CONFIG REWRITE is not supported by Larder: edit the TOML configuration file",
        ),
        "help" if args.len() == 2 => help(
            ctx,
            "config",
            &[
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Not supported: Larder's configuration file is TOML; edit it instead.",
            ],
        ),
        "help" => subcommand_arity(ctx, "config", "help"),
        _ => unknown_subcommand(ctx, args),
    }
}

/// `CONFIG GET pattern [pattern ...]`: every parameter matching any pattern, once each, in
/// table order.
fn config_get(ctx: &mut Ctx<'_>, patterns: &[&[u8]]) {
    let config = ctx.shared.config.read().clone();
    let matched: Vec<&config::Param> = config::PARAMS
        .iter()
        .filter(|p| {
            patterns
                .iter()
                .any(|pat| crate::glob::matches(pat, p.name.as_bytes(), true))
        })
        .collect();
    ctx.reply.map(matched.len());
    for p in matched {
        ctx.reply.bulk(p.name.as_bytes());
        ctx.reply.bulk((p.get)(&config).as_bytes());
    }
}

/// `CONFIG SET name value [name value ...]`: all or nothing. The new values are applied to a
/// copy of the configuration; any error leaves the running one untouched.
fn config_set(ctx: &mut Ctx<'_>, pairs: &[&[u8]]) {
    if pairs.len() % 2 != 0 {
        return ctx.error(err::SYNTAX);
    }
    let mut seen: Vec<&'static str> = Vec::new();
    let mut params = Vec::new();
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(pair[0]).into_owned();
        let Some(param) = config::param(&name) else {
            return ctx.error(&format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        };
        // An immutable parameter set to the value it has changes nothing: accepted (clients
        // and tools write back what CONFIG GET showed).
        if param.set.is_none() && (param.get)(&ctx.shared.config.read()).as_bytes() != pair[1] {
            return ctx.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
            ));
        }
        if seen.contains(&param.name) {
            return ctx.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            ));
        }
        seen.push(param.name);
        params.push((param, pair[1]));
    }
    let mut config = ctx.shared.config.write();
    let mut new: Config = config.clone();
    for (param, value) in &params {
        let Some(set) = param.set else { continue };
        let value = String::from_utf8_lossy(value);
        if let Err(why) = set(&mut new, &value) {
            drop(config);
            return ctx.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
                param.name
            ));
        }
    }
    let memory_changed =
        new.maxmemory != config.maxmemory || new.maxmemory_policy != config.maxmemory_policy;
    let hot_changed = new.hotkeys_top != config.hotkeys_top;
    if new.notify_keyspace_events != config.notify_keyspace_events {
        ctx.shared.notify.configure(&new.notify_keyspace_events);
    }
    *config = new;
    let (maxmemory, policy, top) = (config.maxmemory, config.policy(), config.hotkeys_top);
    drop(config);
    if memory_changed {
        ctx.shared.keyspace.configure(maxmemory, policy);
    }
    if hot_changed {
        ctx.shared.keyspace.set_hot_keys_top(top);
    }
    ctx.reply.ok();
}

// ---------------------------------------------------------------------------------------------
// COMMAND

fn command(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if args.len() == 1 {
        let mut specs: Vec<&Spec> = TABLE.values().copied().collect();
        specs.sort_by_key(|s| s.name);
        ctx.reply.array(specs.len());
        for spec in specs {
            command_info(ctx, spec);
        }
        return;
    }
    let sub = lower(args[1]);
    match sub.as_str() {
        "count" if args.len() == 2 => ctx.reply.integer(TABLE.len() as i64),
        "count" => subcommand_arity(ctx, "command", "count"),
        "info" => {
            if args.len() == 2 {
                let mut specs: Vec<&Spec> = TABLE.values().copied().collect();
                specs.sort_by_key(|s| s.name);
                ctx.reply.array(specs.len());
                for spec in specs {
                    command_info(ctx, spec);
                }
            } else {
                ctx.reply.array(args.len() - 2);
                for name in &args[2..] {
                    match super::lookup(name) {
                        Some(spec) => command_info(ctx, spec),
                        None => ctx.reply.null_array(),
                    }
                }
            }
        }
        "docs" => {
            let specs: Vec<&Spec> = if args.len() == 2 {
                let mut all: Vec<&Spec> = TABLE.values().copied().collect();
                all.sort_by_key(|s| s.name);
                all
            } else {
                args[2..].iter().filter_map(|n| super::lookup(n)).collect()
            };
            ctx.reply.map(specs.len());
            for spec in specs {
                ctx.reply.bulk(spec.name.as_bytes());
                ctx.reply.map(3);
                ctx.reply.bulk(b"summary");
                ctx.reply.bulk(spec.summary.as_bytes());
                ctx.reply.bulk(b"since");
                ctx.reply.bulk(spec.since.as_bytes());
                ctx.reply.bulk(b"group");
                ctx.reply.bulk(spec.group.as_bytes());
            }
        }
        "list" => command_list(ctx, args),
        "getkeys" if args.len() < 3 => subcommand_arity(ctx, "command", "getkeys"),
        "getkeys" => command_getkeys(ctx, &args[2..]),
        "help" if args.len() == 2 => help(
            ctx,
            "command",
            &[
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
            ],
        ),
        "help" => subcommand_arity(ctx, "command", "help"),
        _ => unknown_subcommand(ctx, args),
    }
}

/// The ACL categories Redis derives from a command's flags and group.
fn acl_categories(spec: &Spec) -> Vec<&'static str> {
    let mut cats = Vec::new();
    if spec.flags & flag::WRITE != 0 {
        cats.push("@write");
    }
    if spec.flags & flag::READONLY != 0 {
        cats.push("@read");
    }
    match spec.group {
        "string" => cats.push("@string"),
        "generic" => cats.push("@keyspace"),
        "connection" => cats.push("@connection"),
        "pubsub" => cats.push("@pubsub"),
        "hash" => cats.push("@hash"),
        "list" => cats.push("@list"),
        "set" => cats.push("@set"),
        "sorted_set" => cats.push("@sortedset"),
        "transactions" => cats.push("@transaction"),
        "scripting" => cats.push("@scripting"),
        _ => {}
    }
    if spec.flags & flag::PUBSUB != 0 && !cats.contains(&"@pubsub") {
        cats.push("@pubsub");
    }
    if spec.flags & flag::ADMIN != 0 {
        cats.push("@admin");
        cats.push("@dangerous");
    }
    cats.push(if spec.flags & flag::FAST != 0 {
        "@fast"
    } else {
        "@slow"
    });
    cats
}

/// One command's `COMMAND INFO` entry (Redis 7's ten fields).
fn command_info(ctx: &mut Ctx<'_>, spec: &Spec) {
    let r = &mut ctx.reply;
    r.array(10);
    r.bulk(spec.name.as_bytes());
    r.integer(i64::from(spec.arity));
    let flags: Vec<&str> = flag::NAMES
        .iter()
        .filter(|(f, _)| spec.flags & f != 0)
        .map(|(_, n)| *n)
        .collect();
    r.set(flags.len());
    for f in flags {
        r.simple(f.as_bytes());
    }
    let (first, last, step) = spec.keys;
    r.integer(i64::from(first));
    r.integer(i64::from(last));
    r.integer(i64::from(step));
    let cats = acl_categories(spec);
    r.set(cats.len());
    for c in cats {
        r.simple(c.as_bytes());
    }
    r.set(0); // tips
    if first > 0 {
        // One key specification equivalent to (first, last, step).
        let write = spec.flags & flag::WRITE != 0;
        r.array(1);
        r.map(3);
        r.bulk(b"flags");
        r.set(2);
        r.simple(if write { b"RW" } else { b"RO" });
        r.simple(if write { b"UPDATE" } else { b"ACCESS" });
        r.bulk(b"begin_search");
        r.map(2);
        r.bulk(b"type");
        r.bulk(b"index");
        r.bulk(b"spec");
        r.map(1);
        r.bulk(b"index");
        r.integer(i64::from(first));
        r.bulk(b"find_keys");
        r.map(2);
        r.bulk(b"type");
        r.bulk(b"range");
        r.bulk(b"spec");
        r.map(3);
        r.bulk(b"lastkey");
        r.integer(i64::from(if last < 0 { last } else { last - first }));
        r.bulk(b"keystep");
        r.integer(i64::from(step));
        r.bulk(b"limit");
        r.integer(0);
    } else {
        r.array(0);
    }
    r.array(0); // subcommands
}

fn command_list(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let mut names: Vec<&'static str> = TABLE.keys().copied().collect();
    names.sort_unstable();
    match args.len() {
        2 => {}
        5 if args[2].eq_ignore_ascii_case(b"filterby") => {
            let value = args[4];
            match lower(args[3]).as_str() {
                "module" => names.clear(),
                "aclcat" => {
                    let cat = format!("@{}", lower(value));
                    names.retain(|n| acl_categories(TABLE[n]).contains(&cat.as_str()));
                }
                "pattern" => names.retain(|n| crate::glob::matches(value, n.as_bytes(), true)),
                _ => return ctx.error(err::SYNTAX),
            }
        }
        _ => return ctx.error(err::SYNTAX),
    }
    ctx.reply.array(names.len());
    for name in names {
        ctx.reply.bulk(name.as_bytes());
    }
}

/// `COMMAND GETKEYS <command> <args...>`: the key arguments by the command's key positions.
fn command_getkeys(ctx: &mut Ctx<'_>, command: &[&[u8]]) {
    let Some(spec) = super::lookup(command[0]) else {
        return ctx.error("ERR Invalid command specified");
    };
    let (first, last, step) = spec.keys;
    if first <= 0 {
        return ctx.error("ERR The command has no key arguments");
    }
    let n = command.len() as i32;
    let arity_ok = if spec.arity >= 0 {
        n == spec.arity
    } else {
        n >= -spec.arity
    };
    if !arity_ok {
        return ctx.error("ERR Invalid number of arguments specified for command");
    }
    let last = if last < 0 { n + last } else { last.min(n - 1) };
    // SORT's STORE destination can be anywhere among its options.
    let keys: Vec<&[u8]> = if spec.name == "sort" {
        super::sort::getkeys(command)
    } else {
        (first..=last)
            .step_by(step.max(1) as usize)
            .filter_map(|i| command.get(i as usize).copied())
            .collect()
    };
    ctx.reply.array(keys.len());
    for key in keys {
        ctx.reply.bulk(key);
    }
}

// ---------------------------------------------------------------------------------------------
// TIME, LASTSAVE, FUNCTION, DEBUG, SHUTDOWN, SAVE, MONITOR

fn time(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    let now = unix_now();
    ctx.reply.array(2);
    ctx.reply.bulk_int(now.as_secs() as i64);
    ctx.reply.bulk_int(i64::from(now.subsec_micros()));
}

fn lastsave(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    ctx.reply.integer(ctx.shared.lastsave as i64);
}

/// `FUNCTION FLUSH [ASYNC|SYNC]` succeeds (there are no functions to flush); the rest of
/// FUNCTION needs scripting, which Larder does not have.
fn function(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let sub = lower(args[1]);
    match sub.as_str() {
        "flush" => {
            if args.len() > 3 {
                return subcommand_syntax_error(ctx, args);
            }
            if args.len() == 3
                && !args[2].eq_ignore_ascii_case(b"sync")
                && !args[2].eq_ignore_ascii_case(b"async")
            {
                return ctx.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
            ctx.reply.ok();
        }
        "help" if args.len() == 2 => help(
            ctx,
            "function",
            &[
                "FLUSH [ASYNC|SYNC]",
                "    Delete all the libraries and functions (Larder has none: scripting is not supported).",
            ],
        ),
        "load" | "delete" | "list" | "dump" | "restore" | "stats" | "kill" => ctx.error(&format!(
            "ERR FUNCTION {} is not supported by Larder: it has no scripting",
            sub.to_ascii_uppercase()
        )),
        _ => unknown_subcommand(ctx, args),
    }
}

fn debug(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    ctx.error("ERR DEBUG is not supported by Larder");
}

/// `MONITOR`: from now on the connection receives every command executed (see
/// [`crate::monitor`]); a second `MONITOR` is ignored, as in Redis.
fn monitor(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    if ctx.session.in_multi {
        return ctx.error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    if ctx.shared.monitors.add(&ctx.session.handle) {
        ctx.reply.ok();
    }
}

fn no_persistence(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    ctx.error(&format!(
        "ERR {} is not supported: Larder keeps nothing on disk (persistence is not implemented)",
        String::from_utf8_lossy(args[0]).to_ascii_uppercase()
    ));
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: stops the server gracefully (every
/// connection closes, no reply). Larder keeps nothing on disk, so `SAVE` cannot be honoured:
/// it is refused unless `FORCE` says to stop anyway. `ABORT` has nothing to abort: a shutdown
/// never waits.
fn shutdown(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let (mut nosave, mut save, mut force, mut abort, mut now) = (false, false, false, false, false);
    for arg in &args[1..] {
        match lower(arg).as_str() {
            "nosave" => nosave = true,
            "save" => save = true,
            "now" => now = true,
            "force" => force = true,
            "abort" => abort = true,
            _ => return ctx.error(err::SYNTAX),
        }
    }
    if (abort && (nosave || save || now || force)) || (nosave && save) {
        return ctx.error(err::SYNTAX);
    }
    if abort {
        return ctx.error("ERR No shutdown in progress.");
    }
    if save && !force {
        return ctx.error(
            "ERR Errors trying to SHUTDOWN: SAVE is not supported, Larder keeps nothing on disk (use NOSAVE, or FORCE to stop anyway)",
        );
    }
    ctx.session.close = true;
    ctx.shared.shut_down();
}

// ---------------------------------------------------------------------------------------------
// MEMORY

fn memory(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let sub = lower(args[1]);
    match sub.as_str() {
        "usage" if args.len() >= 3 => memory_usage(ctx, args),
        "stats" if args.len() == 2 => memory_stats(ctx),
        "doctor" if args.len() == 2 => memory_doctor(ctx),
        "malloc-stats" if args.len() == 2 => {
            let text = match memory::allocator_stats() {
                Some(a) => format!(
                    "{}: allocated {} (in thread caches {}) active {} resident {}\n",
                    memory::allocator_name(),
                    a.allocated,
                    a.cached,
                    a.active,
                    a.resident
                ),
                None => "Stats not supported for the current allocator".to_owned(),
            };
            ctx.reply.verbatim("txt", text.as_bytes());
        }
        // As in Redis: without jemalloc there is nothing to purge, and the answer is OK.
        "purge" if args.len() == 2 => {
            if memory::allocator_stats().is_none() || memory::purge() {
                ctx.reply.ok();
            } else {
                ctx.error("ERR Error purging dirty pages");
            }
        }
        "help" if args.len() == 2 => help(
            ctx,
            "memory",
            &[
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value: the key, the value and",
                "    the per-entry overhead Larder charges against maxmemory.",
            ],
        ),
        _ => subcommand_syntax_error(ctx, args),
    }
}

/// `MEMORY USAGE key [SAMPLES n]`: what the key is charged against `maxmemory` — its heap
/// bytes (with the database byte; none when stored inline), its value's bytes and the
/// per-entry overhead. Strings need no
/// sampling, so `SAMPLES` is checked and otherwise ignored.
fn memory_usage(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let mut at = 3;
    while at < args.len() {
        if args[at].eq_ignore_ascii_case(b"samples") && at + 1 < args.len() {
            match int_arg(args[at + 1]) {
                None => return ctx.error(err::NOT_INTEGER),
                Some(n) if n < 0 => return ctx.error(err::SYNTAX),
                Some(_) => {}
            }
            at += 2;
        } else {
            return ctx.error(err::SYNTAX);
        }
    }
    let key = args[2];
    let db = ctx.db();
    match ctx.shared.keyspace.peek_with(db, key, |value, _| {
        Key::heap_bytes_for(key.len() + 1) + value.heap_bytes() + ENTRY_OVERHEAD
    }) {
        Some(bytes) => ctx.reply.integer(bytes as i64),
        None => ctx.reply.null(),
    }
}

fn memory_stats(ctx: &mut Ctx<'_>) {
    let m = memory_figures(ctx);
    let keys = ctx.shared.keyspace.store().stats().entries;
    let fields: Vec<(&str, String)> = vec![
        ("peak.allocated", m.peak.to_string()),
        ("total.allocated", m.used.to_string()),
        ("startup.allocated", m.startup.to_string()),
        ("replication.backlog", "0".to_owned()),
        ("clients.slaves", "0".to_owned()),
        ("aof.buffer", "0".to_owned()),
        ("overhead.total", (m.used - m.dataset).to_string()),
        ("keys.count", keys.to_string()),
        (
            "keys.bytes-per-key",
            m.used
                .saturating_sub(m.startup)
                .checked_div(keys)
                .unwrap_or(0)
                .to_string(),
        ),
        ("dataset.bytes", m.dataset.to_string()),
        (
            "dataset.percentage",
            format!(
                "{:.2}",
                ratio(m.dataset, m.used.saturating_sub(m.startup)).min(1.0) * 100.0
            ),
        ),
        (
            "peak.percentage",
            format!("{:.2}", ratio(m.used, m.peak) * 100.0),
        ),
        (
            "allocator.allocated",
            m.allocator.map_or(m.used, |a| a.allocated).to_string(),
        ),
        (
            "allocator.active",
            m.allocator.map_or(m.used, |a| a.active).to_string(),
        ),
        (
            "allocator.resident",
            m.allocator.map_or(m.rss, |a| a.resident).to_string(),
        ),
        ("rss", m.rss.to_string()),
        ("fragmentation", format!("{:.2}", ratio(m.rss, m.used))),
        (
            "fragmentation.bytes",
            (m.rss as i64 - m.used as i64).to_string(),
        ),
    ];
    ctx.reply.map(fields.len());
    for (name, value) in fields {
        ctx.reply.bulk(name.as_bytes());
        match value.parse::<i64>() {
            Ok(n) => ctx.reply.integer(n),
            Err(_) => ctx.reply.double(value.parse().unwrap_or(0.0)),
        }
    }
}

fn memory_doctor(ctx: &mut Ctx<'_>) {
    let m = memory_figures(ctx);
    let (maxmemory, _) = ctx.shared.keyspace.limit();
    let mut report = String::new();
    if m.used < 5 << 20 {
        report.push_str("Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n");
    } else {
        let frag = ratio(m.rss, m.used);
        let _ = writeln!(
            report,
            "Memory in use: {} (RSS {}, fragmentation ratio {frag:.2}).",
            human(m.used),
            human(m.rss)
        );
        if maxmemory > 0 {
            let _ = writeln!(
                report,
                "maxmemory is {}; the data is budgeted {} of engine weight.",
                human(maxmemory),
                human(ctx.shared.keyspace.data_budget())
            );
        }
        if frag > 1.4 {
            report.push_str("High fragmentation: RSS is well above the memory in use; the allocator holds freed pages it has not returned yet.\n");
        } else {
            report.push_str("Sam, I detected no memory issue in this instance.\n");
        }
    }
    ctx.reply.verbatim("txt", report.as_bytes());
}
