//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB
//! (CHANNELS, NUMSUB, NUMPAT, HELP).
//!
//! A connection's subscriptions live in its session (what it unsubscribes from, what `RESET`
//! and disconnection drop) and in the server's registry (what publishers look up); the
//! counts `CLIENT LIST` shows are kept on its handle. Confirmations are pushes: RESP2 arrays
//! or RESP3 `>` pushes, never silenced by `CLIENT REPLY`. While a RESP2 client has a
//! subscription, [`super::execute`] lets it run only the commands flagged `SUBSCRIBED`; a RESP3
//! client may run anything and receives messages between replies.

use super::{Ctx, Session, Spec, flag};
use std::sync::Arc;
use std::sync::atomic::Ordering;

const SUB: u32 = flag::PUBSUB | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::SUBSCRIBED;

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    Spec {
        name: "subscribe",
        arity: -2,
        flags: SUB,
        keys: (0, 0, 0),
        group: "pubsub",
        summary: "Listen for messages published to the given channels",
        since: "2.0.0",
        handler: subscribe,
    },
    Spec {
        name: "unsubscribe",
        arity: -1,
        flags: SUB,
        keys: (0, 0, 0),
        group: "pubsub",
        summary: "Stop listening for messages posted to the given channels",
        since: "2.0.0",
        handler: unsubscribe,
    },
    Spec {
        name: "psubscribe",
        arity: -2,
        flags: SUB,
        keys: (0, 0, 0),
        group: "pubsub",
        summary: "Listen for messages published to channels matching the given patterns",
        since: "2.0.0",
        handler: psubscribe,
    },
    Spec {
        name: "punsubscribe",
        arity: -1,
        flags: SUB,
        keys: (0, 0, 0),
        group: "pubsub",
        summary: "Stop listening for messages posted to channels matching the given patterns",
        since: "2.0.0",
        handler: punsubscribe,
    },
    Spec {
        name: "publish",
        arity: 3,
        flags: flag::PUBSUB | flag::LOADING | flag::STALE | flag::FAST,
        keys: (0, 0, 0),
        group: "pubsub",
        summary: "Post a message to a channel",
        since: "2.0.0",
        handler: publish,
    },
    Spec {
        name: "pubsub",
        arity: -2,
        flags: 0,
        keys: (0, 0, 0),
        group: "pubsub",
        summary: "A container for Pub/Sub commands",
        since: "2.8.0",
        handler: pubsub,
    },
];

/// Channels or patterns: the two kinds of subscription.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
}

impl Kind {
    fn subscribed(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
        }
    }

    fn unsubscribed(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
        }
    }
}

/// Keeps the handle's counts (`CLIENT LIST`'s `sub=` and `psub=`) equal to the session's.
fn sync_counts(session: &Session) {
    let handle = &session.handle;
    handle
        .subscriptions
        .store(session.channels.len(), Ordering::Relaxed);
    handle
        .patterns
        .store(session.patterns.len(), Ordering::Relaxed);
}

/// Moves the messages already queued for this client into its output first, so that they
/// reach it before what the current command writes (as they would in Redis, where a publish
/// writes straight into the receivers' output buffers).
fn flush_pushes(ctx: &mut Ctx<'_>) {
    if ctx.session.handle.has_pushes() {
        let handle = Arc::clone(&ctx.session.handle);
        ctx.pushing(|reply| handle.drain_into(reply.out));
    }
}

/// A confirmation: `[kind, name or nil, subscriptions left]`.
fn confirm(ctx: &mut Ctx<'_>, kind: &[u8], name: Option<&[u8]>) {
    let count = ctx.session.subscriptions() as i64;
    ctx.pushing(|reply| {
        reply.push(3);
        reply.bulk(kind);
        match name {
            Some(name) => reply.bulk(name),
            None => reply.null(),
        }
        reply.integer(count);
    });
}

fn subscribe_to(ctx: &mut Ctx<'_>, kind: Kind, names: &[&[u8]]) {
    flush_pushes(ctx);
    for &name in names {
        let set = match kind {
            Kind::Channel => &mut ctx.session.channels,
            Kind::Pattern => &mut ctx.session.patterns,
        };
        if set.insert(name.to_vec()) {
            let pubsub = &ctx.shared.pubsub;
            match kind {
                Kind::Channel => pubsub.subscribe(name, &ctx.session.handle),
                Kind::Pattern => pubsub.psubscribe(name, &ctx.session.handle),
            };
            sync_counts(ctx.session);
        }
        confirm(ctx, kind.subscribed(), Some(name));
    }
}

fn unsubscribe_from(ctx: &mut Ctx<'_>, kind: Kind, names: &[&[u8]]) {
    flush_pushes(ctx);
    let all: Vec<Vec<u8>>;
    let names: Vec<&[u8]> = if names.is_empty() {
        all = match kind {
            Kind::Channel => ctx.session.channels.iter().cloned().collect(),
            Kind::Pattern => ctx.session.patterns.iter().cloned().collect(),
        };
        if all.is_empty() {
            // Subscribed to nothing: Redis still replies, with a nil name.
            return confirm(ctx, kind.unsubscribed(), None);
        }
        all.iter().map(Vec::as_slice).collect()
    } else {
        names.to_vec()
    };
    let id = ctx.session.handle.id;
    for name in names {
        let removed = match kind {
            Kind::Channel => ctx.session.channels.remove(name),
            Kind::Pattern => ctx.session.patterns.remove(name),
        };
        if removed {
            let pubsub = &ctx.shared.pubsub;
            match kind {
                Kind::Channel => pubsub.unsubscribe(name, id),
                Kind::Pattern => pubsub.punsubscribe(name, id),
            };
            sync_counts(ctx.session);
        }
        confirm(ctx, kind.unsubscribed(), Some(name));
    }
}

fn subscribe(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    subscribe_to(ctx, Kind::Channel, &args[1..]);
}

fn unsubscribe(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    unsubscribe_from(ctx, Kind::Channel, &args[1..]);
}

fn psubscribe(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    subscribe_to(ctx, Kind::Pattern, &args[1..]);
}

fn punsubscribe(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    unsubscribe_from(ctx, Kind::Pattern, &args[1..]);
}

fn publish(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let limit = ctx.shared.pubsub_limit();
    let receivers = ctx.shared.pubsub.publish(args[1], args[2], limit);
    // A client publishing to itself gets the message before the count, as in Redis.
    flush_pushes(ctx);
    ctx.reply.integer(receivers as i64);
}

const HELP: &[&[u8]] = &[
    b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CHANNELS [<pattern>]",
    b"    Return the currently active channels matching a <pattern> (default: '*').",
    b"NUMPAT",
    b"    Return number of subscriptions to patterns.",
    b"NUMSUB [<channel> ...]",
    b"    Return the number of subscribers for the specified channels, excluding",
    b"    pattern subscriptions(default: no channels).",
    b"HELP",
    b"    Prints this help.",
];

/// User text in an error reply, cut as Redis's `%.128s` cuts it (the reply writer turns CR
/// and LF into spaces).
fn shown(text: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&text[..text.len().min(max)]).into_owned()
}

fn pubsub(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let sub = args[1].to_ascii_lowercase();
    // Redis's subcommand arities: HELP and NUMPAT take none, CHANNELS and NUMSUB any.
    let arity_ok = match sub.as_slice() {
        b"help" | b"numpat" => Some(args.len() == 2),
        b"channels" | b"numsub" => Some(true),
        _ => None,
    };
    match arity_ok {
        None => {
            return ctx.error(&format!(
                "ERR unknown subcommand '{}'. Try PUBSUB HELP.",
                shown(args[1], 128)
            ));
        }
        Some(false) => {
            return ctx.error(&format!(
                "ERR wrong number of arguments for 'pubsub|{}' command",
                String::from_utf8_lossy(&sub)
            ));
        }
        Some(true) => {}
    }
    match sub.as_slice() {
        b"help" => {
            ctx.reply.array(HELP.len());
            for line in HELP {
                ctx.reply.simple(line);
            }
        }
        b"numpat" => ctx.reply.integer(ctx.shared.pubsub.numpat() as i64),
        b"numsub" => {
            ctx.reply.array((args.len() - 2) * 2);
            for channel in &args[2..] {
                ctx.reply.bulk(channel);
                ctx.reply.integer(ctx.shared.pubsub.numsub(channel) as i64);
            }
        }
        _ if args.len() > 3 => ctx.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            shown(args[1], 128)
        )),
        _ => {
            let channels = ctx.shared.pubsub.channels(args.get(2).copied());
            ctx.reply.array(channels.len());
            for channel in &channels {
                ctx.reply.bulk(channel);
            }
        }
    }
}
