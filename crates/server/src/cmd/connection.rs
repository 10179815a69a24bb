//! Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET and CLIENT.

use super::{Ctx, Spec, err, flag, int_arg};
use crate::client::ClientHandle;
use crate::keyspace::DATABASES;
use crate::tracking::Mode;
use larder_protocol::Version;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const F: u32 = flag::FAST;

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    Spec {
        name: "ping",
        arity: -1,
        flags: F | flag::SUBSCRIBED,
        keys: (0, 0, 0),
        group: "connection",
        summary: "Ping the server",
        since: "1.0.0",
        handler: ping,
    },
    Spec {
        name: "echo",
        arity: 2,
        flags: F,
        keys: (0, 0, 0),
        group: "connection",
        summary: "Echo the given string",
        since: "1.0.0",
        handler: echo,
    },
    Spec {
        name: "quit",
        arity: -1,
        flags: F | flag::NO_AUTH | flag::SUBSCRIBED,
        keys: (0, 0, 0),
        group: "connection",
        summary: "Close the connection",
        since: "1.0.0",
        handler: quit,
    },
    Spec {
        name: "select",
        arity: 2,
        flags: F | flag::LOADING | flag::STALE,
        keys: (0, 0, 0),
        group: "connection",
        summary: "Change the selected database for the current connection",
        since: "1.0.0",
        handler: select,
    },
    Spec {
        name: "hello",
        arity: -1,
        flags: F | flag::NO_AUTH | flag::SUBSCRIBED,
        keys: (0, 0, 0),
        group: "connection",
        summary: "Handshake with Redis",
        since: "6.0.0",
        handler: hello,
    },
    Spec {
        name: "auth",
        arity: -2,
        flags: F | flag::NO_AUTH | flag::SUBSCRIBED,
        keys: (0, 0, 0),
        group: "connection",
        summary: "Authenticate to the server",
        since: "1.0.0",
        handler: auth,
    },
    Spec {
        name: "reset",
        arity: 1,
        flags: F | flag::NO_AUTH | flag::SUBSCRIBED,
        keys: (0, 0, 0),
        group: "connection",
        summary: "Reset the connection",
        since: "6.2.0",
        handler: reset,
    },
    Spec {
        name: "client",
        arity: -2,
        flags: flag::LOADING | flag::STALE,
        keys: (0, 0, 0),
        group: "connection",
        summary: "A container for client connection commands",
        since: "2.4.0",
        handler: client,
    },
];

fn ping(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if args.len() > 2 {
        return ctx.arity_error("ping");
    }
    if ctx.session.version == Version::Resp2 && ctx.session.subscriptions() > 0 {
        ctx.reply.array(2);
        ctx.reply.bulk(b"pong");
        ctx.reply.bulk(args.get(1).copied().unwrap_or(b""));
    } else if let Some(message) = args.get(1) {
        ctx.reply.bulk(message);
    } else {
        ctx.reply.simple(b"PONG");
    }
}

fn echo(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    ctx.reply.bulk(args[1]);
}

fn quit(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    ctx.reply.ok();
    ctx.session.close = true;
}

fn select(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    match int_arg(args[1]) {
        None => ctx.error(err::NOT_INTEGER),
        Some(db) if db < 0 || db >= DATABASES as i64 => ctx.error(err::DB_INDEX),
        Some(db) => {
            ctx.session.db = db as usize;
            ctx.reply.ok();
        }
    }
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Checks `user`/`password`; replies the error itself and returns `false` on failure.
fn check_password(ctx: &mut Ctx<'_>, user: &[u8], password: &[u8]) -> bool {
    let required = ctx.shared.config.read().requirepass.clone();
    if user.eq_ignore_ascii_case(b"default")
        && (required.is_empty() || required.as_bytes() == password)
    {
        ctx.session.authenticated = true;
        true
    } else {
        ctx.error(WRONGPASS);
        false
    }
}

fn auth(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let (user, password) = match args.len() {
        2 => (&b"default"[..], args[1]),
        3 => (args[1], args[2]),
        _ => return ctx.error(err::SYNTAX),
    };
    if args.len() == 2 && ctx.shared.config.read().requirepass.is_empty() {
        return ctx.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    if check_password(ctx, user, password) {
        ctx.reply.ok();
    }
}

fn hello(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let mut version = ctx.session.version;
    let mut at = 1;
    if let Some(v) = args.get(1) {
        match int_arg(v) {
            None => return ctx.error("ERR Protocol version is not an integer or out of range"),
            Some(2) => version = Version::Resp2,
            Some(3) => version = Version::Resp3,
            Some(_) => return ctx.error("NOPROTO unsupported protocol version"),
        }
        at = 2;
    }
    let mut name = None;
    while at < args.len() {
        let option = args[at];
        if option.eq_ignore_ascii_case(b"AUTH") && at + 2 < args.len() {
            if !check_password(ctx, args[at + 1], args[at + 2]) {
                return;
            }
            at += 3;
        } else if option.eq_ignore_ascii_case(b"SETNAME") && at + 1 < args.len() {
            if !valid_name(args[at + 1]) {
                return ctx.error(NAME_ERROR);
            }
            name = Some(args[at + 1]);
            at += 2;
        } else {
            return ctx.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(option)
            ));
        }
    }
    if !ctx.session.authenticated {
        return ctx.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = name {
        *ctx.session.handle.name.lock() = (!name.is_empty()).then(|| name.to_vec());
    }
    ctx.session.version = version;
    ctx.reply.version = version;
    ctx.session.handle.resp.store(
        if version == Version::Resp3 { 3 } else { 2 },
        Ordering::Relaxed,
    );
    ctx.reply.map(7);
    ctx.reply.bulk(b"server");
    ctx.reply.bulk(b"redis");
    ctx.reply.bulk(b"version");
    ctx.reply.bulk(crate::REDIS_VERSION.as_bytes());
    ctx.reply.bulk(b"proto");
    ctx.reply
        .integer(if version == Version::Resp3 { 3 } else { 2 });
    ctx.reply.bulk(b"id");
    ctx.reply.integer(ctx.session.handle.id as i64);
    ctx.reply.bulk(b"mode");
    ctx.reply.bulk(b"standalone");
    ctx.reply.bulk(b"role");
    ctx.reply.bulk(b"master");
    ctx.reply.bulk(b"modules");
    ctx.reply.array(0);
}

fn reset(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    super::transactions::discard_transaction(ctx);
    let id = ctx.session.handle.id;
    for channel in ctx.session.channels.drain() {
        ctx.shared.pubsub.unsubscribe(&channel, id);
    }
    for pattern in ctx.session.patterns.drain() {
        ctx.shared.pubsub.punsubscribe(&pattern, id);
    }
    ctx.session.handle.subscriptions.store(0, Ordering::Relaxed);
    ctx.session.handle.patterns.store(0, Ordering::Relaxed);
    ctx.session.db = 0;
    ctx.session.version = Version::Resp2;
    ctx.reply.version = Version::Resp2;
    ctx.session.handle.resp.store(2, Ordering::Relaxed);
    ctx.session.reply_mode = super::ReplyMode::On;
    ctx.session.authenticated = ctx.shared.config.read().requirepass.is_empty();
    *ctx.session.handle.name.lock() = None;
    ctx.session.handle.no_evict.store(false, Ordering::Relaxed);
    ctx.shared.tracking.disable(id);
    ctx.session.tracking = Default::default();
    ctx.reply.simple(b"RESET");
}

const NAME_ERROR: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// One `CLIENT LIST` / `CLIENT INFO` line (without the newline); `qbuf` is the size of the
/// request being executed (the caller's own line shows its `CLIENT` request).
pub fn info_line(client: &ClientHandle, db: usize, qbuf: usize) -> String {
    let name = client
        .name
        .lock()
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let age = client.created.elapsed().as_secs();
    let idle = (client.created.elapsed().as_millis() as u64)
        .saturating_sub(client.last_active_ms.load(Ordering::Relaxed))
        / 1000;
    let sub = client.subscriptions.load(Ordering::Relaxed);
    let psub = client.patterns.load(Ordering::Relaxed);
    let flags = if sub + psub > 0 { "P" } else { "N" };
    let (omem, oll) = client.outbox_size();
    let cmd = *client.last_command.lock();
    format!(
        "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll={} omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={}",
        client.id,
        client.addr,
        client.laddr,
        name,
        age,
        idle,
        flags,
        db,
        sub,
        psub,
        qbuf,
        oll,
        omem,
        omem + 16384,
        cmd,
        client.resp.load(Ordering::Relaxed),
    )
}

/// The size of a request as sent in RESP (`qbuf=` while it executes).
fn request_size(args: &[&[u8]]) -> usize {
    let mut out = Vec::new();
    larder_protocol::encode_command(&mut out, args);
    out.len()
}

/// `CLIENT` subcommands: name, Redis arity and the name `CLIENT LIST` shows in `cmd=`.
const CLIENT_SUBCOMMANDS: &[(&str, i32, &str)] = &[
    ("caching", 3, "client|caching"),
    ("getname", 2, "client|getname"),
    ("getredir", 2, "client|getredir"),
    ("help", 2, "client|help"),
    ("id", 2, "client|id"),
    ("info", 2, "client|info"),
    ("kill", -3, "client|kill"),
    ("list", -2, "client|list"),
    ("no-evict", 3, "client|no-evict"),
    ("pause", -3, "client|pause"),
    ("reply", 3, "client|reply"),
    ("setname", 3, "client|setname"),
    ("tracking", -3, "client|tracking"),
    ("trackinginfo", 2, "client|trackinginfo"),
    ("unblock", -3, "client|unblock"),
    ("unpause", 2, "client|unpause"),
];

fn client(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let n = args.len();
    if let Some(&(_, arity, full)) = CLIENT_SUBCOMMANDS.iter().find(|(name, ..)| *name == sub) {
        let ok = if arity >= 0 {
            n == arity as usize
        } else {
            n >= arity.unsigned_abs() as usize
        };
        if !ok {
            return ctx.arity_error(full);
        }
        *ctx.session.handle.last_command.lock() = full;
    }
    match (sub.as_str(), n) {
        ("id", 2) => ctx.reply.integer(ctx.session.handle.id as i64),
        ("getname", 2) => match ctx.session.handle.name.lock().clone() {
            Some(name) => ctx.reply.bulk(&name),
            None => ctx.reply.null(),
        },
        ("setname", 3) => {
            if !valid_name(args[2]) {
                return ctx.error(NAME_ERROR);
            }
            *ctx.session.handle.name.lock() = (!args[2].is_empty()).then(|| args[2].to_vec());
            ctx.reply.ok();
        }
        ("info", 2) => {
            let line = info_line(&ctx.session.handle, ctx.session.db, request_size(args)) + "\n";
            ctx.reply.verbatim("txt", line.as_bytes());
        }
        ("list", _) => client_list(ctx, args),
        ("unblock", 3 | 4) => client_unblock(ctx, args),
        ("tracking", 3..) => client_tracking(ctx, args),
        ("caching", 3..) => client_caching(ctx, args),
        ("getredir", 2) => {
            let redirect = if ctx.session.tracking.mode.on {
                ctx.shared.tracking.redirect_of(ctx.session.handle.id)
            } else {
                -1
            };
            ctx.reply.integer(redirect);
        }
        ("trackinginfo", 2) => client_trackinginfo(ctx),
        ("kill", _) => client_kill(ctx, args),
        ("reply", 3) => {
            let mode = String::from_utf8_lossy(args[2]).to_ascii_lowercase();
            match mode.as_str() {
                "on" => {
                    ctx.session.reply_mode = super::ReplyMode::On;
                    ctx.reply.ok();
                }
                "off" => ctx.session.reply_mode = super::ReplyMode::Off,
                "skip" => {
                    if ctx.session.reply_mode != super::ReplyMode::Off {
                        ctx.session.reply_mode = super::ReplyMode::Skip;
                    }
                }
                _ => ctx.error(err::SYNTAX),
            }
        }
        ("no-evict", 3) => {
            let on = if args[2].eq_ignore_ascii_case(b"on") {
                true
            } else if args[2].eq_ignore_ascii_case(b"off") {
                false
            } else {
                return ctx.error(err::SYNTAX);
            };
            ctx.session.handle.no_evict.store(on, Ordering::Relaxed);
            ctx.reply.ok();
        }
        ("help", 2) => {
            let lines: &[&[u8]] = &[
                b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                b"ID",
                b"    Return the ID of the current connection.",
                b"GETNAME",
                b"    Return the name of the current connection.",
                b"SETNAME <name>",
                b"    Assign the name <name> to the current connection.",
                b"INFO",
                b"    Return information about the current client connection.",
                b"LIST [TYPE <normal|pubsub>] [ID <id> [<id> ...]]",
                b"    Return information about client connections.",
                b"KILL <ip:port> | <option> <value> [<option> <value> ...]",
                b"    Kill connections (options: ID, ADDR, LADDR, TYPE, USER, SKIPME).",
                b"REPLY (ON|OFF|SKIP)",
                b"    Control the replies sent to the current connection.",
                b"UNBLOCK <clientid> [TIMEOUT|ERROR]",
                b"    Unblock the specified blocked client.",
                b"NO-EVICT (ON|OFF)",
                b"    Protect the current client connection from eviction.",
                b"HELP",
                b"    Print this help.",
            ];
            ctx.reply.array(lines.len());
            for line in lines {
                ctx.reply.simple(line);
            }
        }
        _ => ctx.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(args[1])
        )),
    }
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: recorded here, applied once the command completes
/// (see [`super::serve_blocked`]).
fn client_unblock(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let error = match args.get(3) {
        None => false,
        Some(reason) if reason.eq_ignore_ascii_case(b"timeout") => false,
        Some(reason) if reason.eq_ignore_ascii_case(b"error") => true,
        Some(_) => return ctx.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let Some(id) = int_arg(args[2]) else {
        return ctx.error(err::NOT_INTEGER);
    };
    let blocked = id > 0 && ctx.shared.blocking.is_blocked(id as u64);
    if blocked {
        ctx.session.unblock.push((id as u64, error));
    }
    ctx.reply.integer(i64::from(blocked));
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`.
fn client_tracking(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let mut redirect: i64 = 0;
    let mut mode = Mode::default();
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut at = 3;
    while at < args.len() {
        let option = args[at];
        let more = at + 1 < args.len();
        if option.eq_ignore_ascii_case(b"redirect") && more {
            at += 1;
            if redirect != 0 {
                return ctx.error("ERR A client can only redirect to a single other client");
            }
            let Some(id) = int_arg(args[at]) else {
                return ctx.error(err::NOT_INTEGER);
            };
            if id <= 0 || ctx.shared.clients.get(id as u64).is_none() {
                return ctx.error("ERR The client ID you want redirect to does not exist");
            }
            redirect = id;
        } else if option.eq_ignore_ascii_case(b"bcast") {
            mode.bcast = true;
        } else if option.eq_ignore_ascii_case(b"optin") {
            mode.optin = true;
        } else if option.eq_ignore_ascii_case(b"optout") {
            mode.optout = true;
        } else if option.eq_ignore_ascii_case(b"noloop") {
            mode.noloop = true;
        } else if option.eq_ignore_ascii_case(b"prefix") && more {
            at += 1;
            prefixes.push(args[at]);
        } else {
            return ctx.error(err::SYNTAX);
        }
        at += 1;
    }
    let current = ctx.session.tracking.mode;
    if args[2].eq_ignore_ascii_case(b"on") {
        if !mode.bcast && !prefixes.is_empty() {
            return ctx.error("ERR PREFIX option requires BCAST mode to be enabled");
        }
        if current.on && current.bcast != mode.bcast {
            return ctx.error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        if mode.bcast && (mode.optin || mode.optout) {
            return ctx.error("ERR OPTIN and OPTOUT are not compatible with BCAST");
        }
        if mode.optin && mode.optout {
            return ctx.error("ERR You can't specify both OPTIN mode and OPTOUT mode");
        }
        if (mode.optin && current.optout) || (mode.optout && current.optin) {
            return ctx.error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        let handle = Arc::clone(&ctx.session.handle);
        if let Err(e) = ctx
            .shared
            .tracking
            .enable(&handle, redirect as u64, mode, &prefixes)
        {
            return ctx.error(&e);
        }
        ctx.session.tracking.mode = Mode { on: true, ..mode };
    } else if args[2].eq_ignore_ascii_case(b"off") {
        ctx.shared.tracking.disable(ctx.session.handle.id);
        ctx.session.tracking.mode = Mode::default();
        ctx.session.tracking.caching = false;
    } else {
        return ctx.error(err::SYNTAX);
    }
    ctx.reply.ok();
}

/// `CLIENT CACHING YES|NO`.
fn client_caching(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let mode = ctx.session.tracking.mode;
    if !mode.on {
        return ctx.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    }
    if args[2].eq_ignore_ascii_case(b"yes") {
        if !mode.optin {
            return ctx.error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if args[2].eq_ignore_ascii_case(b"no") {
        if !mode.optout {
            return ctx.error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return ctx.error(err::SYNTAX);
    }
    ctx.session.tracking.caching = true;
    ctx.reply.ok();
}

/// `CLIENT TRACKINGINFO`: flags, redirect and prefixes.
fn client_trackinginfo(ctx: &mut Ctx<'_>) {
    let id = ctx.session.handle.id;
    let mode = ctx.session.tracking.mode;
    let caching = ctx.session.tracking.caching;
    let mut flags: Vec<&[u8]> = vec![if mode.on { b"on" } else { b"off" }];
    if mode.bcast {
        flags.push(b"bcast");
    }
    if mode.optin {
        flags.push(b"optin");
        if caching {
            flags.push(b"caching-yes");
        }
    }
    if mode.optout {
        flags.push(b"optout");
        if caching {
            flags.push(b"caching-no");
        }
    }
    if mode.noloop {
        flags.push(b"noloop");
    }
    if mode.on && ctx.shared.tracking.redirect_broken(id) {
        flags.push(b"broken_redirect");
    }
    let redirect = if mode.on {
        ctx.shared.tracking.redirect_of(id)
    } else {
        -1
    };
    let prefixes = ctx.shared.tracking.prefixes_of(id);
    ctx.reply.map(3);
    ctx.reply.bulk(b"flags");
    ctx.reply.set(flags.len());
    for flag in flags {
        ctx.reply.bulk(flag);
    }
    ctx.reply.bulk(b"redirect");
    ctx.reply.integer(redirect);
    ctx.reply.bulk(b"prefixes");
    ctx.reply.array(prefixes.len());
    for prefix in prefixes {
        ctx.reply.bulk(&prefix);
    }
}

fn client_list(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind: Option<String> = None;
    let mut at = 2;
    while at < args.len() {
        if args[at].eq_ignore_ascii_case(b"TYPE") && at + 1 < args.len() {
            let t = String::from_utf8_lossy(args[at + 1]).to_ascii_lowercase();
            if !matches!(
                t.as_str(),
                "normal" | "pubsub" | "master" | "replica" | "slave"
            ) {
                return ctx.error(&format!("ERR Unknown client type '{t}'"));
            }
            kind = Some(t);
            at += 2;
        } else if args[at].eq_ignore_ascii_case(b"ID") && at + 1 < args.len() {
            let mut list = Vec::new();
            for id in &args[at + 1..] {
                match int_arg(id) {
                    Some(id) if id > 0 => list.push(id as u64),
                    _ => return ctx.error("ERR Invalid client ID"),
                }
            }
            ids = Some(list);
            at = args.len();
        } else {
            return ctx.error(err::SYNTAX);
        }
    }
    let mut text = String::new();
    for client in ctx.shared.clients.all() {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&client.id)) {
            continue;
        }
        let pubsub = client.subscriptions.load(Ordering::Relaxed)
            + client.patterns.load(Ordering::Relaxed)
            > 0;
        match kind.as_deref() {
            Some("normal") if pubsub => continue,
            Some("pubsub") if !pubsub => continue,
            Some("master" | "replica" | "slave") => continue,
            _ => {}
        }
        let db = if client.id == ctx.session.handle.id {
            ctx.session.db
        } else {
            client.db.load(Ordering::Relaxed)
        };
        let qbuf = if client.id == ctx.session.handle.id {
            request_size(args)
        } else {
            0
        };
        text.push_str(&info_line(&client, db, qbuf));
        text.push('\n');
    }
    ctx.reply.verbatim("txt", text.as_bytes());
}

fn client_kill(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let me = ctx.session.handle.id;
    // Old form: CLIENT KILL ip:port — one client, error if none.
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(args[2]).into_owned();
        return match ctx
            .shared
            .clients
            .all()
            .into_iter()
            .find(|c| c.addr.to_string() == addr)
        {
            Some(client) => {
                if client.id == me {
                    ctx.session.close = true;
                } else {
                    client.kill();
                }
                ctx.reply.ok();
            }
            None => ctx.error("ERR No such client"),
        };
    }
    if args.len() % 2 != 0 {
        return ctx.error(err::SYNTAX);
    }
    let (mut id, mut addr, mut laddr, mut kind, mut skipme) = (None, None, None, None, true);
    for pair in args[2..].chunks(2) {
        let value = String::from_utf8_lossy(pair[1]).into_owned();
        match String::from_utf8_lossy(pair[0])
            .to_ascii_lowercase()
            .as_str()
        {
            "id" => match int_arg(pair[1]) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return ctx.error("ERR client-id should be greater than 0"),
            },
            "addr" => addr = Some(value),
            "laddr" => laddr = Some(value),
            "type" => {
                let t = value.to_ascii_lowercase();
                if !matches!(
                    t.as_str(),
                    "normal" | "pubsub" | "master" | "replica" | "slave"
                ) {
                    return ctx.error(&format!("ERR Unknown client type '{value}'"));
                }
                kind = Some(t);
            }
            "user" => {
                if value != "default" {
                    return ctx.error(&format!("ERR No such user '{value}'"));
                }
            }
            "skipme" => match value.to_ascii_lowercase().as_str() {
                "yes" => skipme = true,
                "no" => skipme = false,
                _ => return ctx.error(err::SYNTAX),
            },
            _ => return ctx.error(err::SYNTAX),
        }
    }
    let mut killed = 0;
    for client in ctx.shared.clients.all() {
        let pubsub = client.subscriptions.load(Ordering::Relaxed)
            + client.patterns.load(Ordering::Relaxed)
            > 0;
        let selected = id.is_none_or(|id| id == client.id)
            && addr.as_ref().is_none_or(|a| *a == client.addr.to_string())
            && laddr
                .as_ref()
                .is_none_or(|a| *a == client.laddr.to_string())
            && kind.as_deref().is_none_or(|t| match t {
                "normal" => !pubsub,
                "pubsub" => pubsub,
                _ => false,
            });
        if !selected || (skipme && client.id == me) {
            continue;
        }
        if client.id == me {
            ctx.session.close = true;
        } else {
            client.kill();
        }
        killed += 1;
    }
    ctx.reply.integer(killed);
}
