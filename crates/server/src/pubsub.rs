//! Pub/sub: channels and patterns, each with its subscribers' handles.
//!
//! A publish encodes the message once per protocol version (once per pattern and version for
//! pattern subscribers) and appends the shared encoding to each receiver's bounded outbox
//! ([`ClientHandle::deliver`]); it never waits on a slow subscriber. A connection's own
//! subscriptions are kept in its session; this registry is the reverse index publishers use.
//!
//! ## The arrival-order fence
//!
//! Redis runs every command on one thread, in the order requests reach it, so a client that
//! sends `UNSUBSCRIBE` and then has another connection send `PUBLISH` finds the subscriber
//! gone (Redis's own tests rely on it). Larder runs connections in parallel: the `PUBLISH`
//! could run before the `UNSUBSCRIBE` that arrived first. So before a `PUBLISH` runs, its
//! connection asks [`PubSub::pending_receivers`] for receivers with input the runtime has
//! already seen but they have not executed yet, and waits for those to catch up
//! ([`ClientHandle::settled`]) — briefly and boundedly: a receiver stuck writing to a peer
//! that does not read is never waited for, nor one that keeps sending (two rounds at most),
//! and the wait ends after a few milliseconds whatever happens.

use crate::client::{ClientHandle, OutputLimit};
use crate::glob;
use larder_protocol::{Reply, Version};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

type Subscribers = HashMap<u64, Arc<ClientHandle>>;

/// The channel and pattern registry.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Box<[u8]>, Subscribers>>,
    patterns: RwLock<HashMap<Box<[u8]>, Subscribers>>,
}

/// Encodes a pushed message (`message`, `pmessage`, `subscribe` …) as an array (RESP2) or a
/// push (RESP3) of bulk strings.
pub fn push_message(version: Version, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    let mut reply = Reply {
        out: &mut out,
        version,
    };
    reply.push(parts.len());
    for part in parts {
        reply.bulk(part);
    }
    out
}

/// One message, encoded lazily for each protocol version and shared by every receiver.
struct Encoded<'a> {
    parts: [&'a [u8]; 4],
    len: usize,
    by_version: [Option<Arc<[u8]>>; 2],
}

impl<'a> Encoded<'a> {
    fn new(parts: &[&'a [u8]]) -> Encoded<'a> {
        let mut all: [&[u8]; 4] = [b""; 4];
        all[..parts.len()].copy_from_slice(parts);
        Encoded {
            parts: all,
            len: parts.len(),
            by_version: [None, None],
        }
    }

    fn for_client(&mut self, client: &ClientHandle) -> &Arc<[u8]> {
        let version = version_of(client);
        let parts = &self.parts[..self.len];
        self.by_version[version as usize]
            .get_or_insert_with(|| Arc::from(push_message(version, parts)))
    }
}

impl PubSub {
    /// Subscribes `client` to `channel`; `true` if it was not subscribed yet.
    pub fn subscribe(&self, channel: &[u8], client: &Arc<ClientHandle>) -> bool {
        add(&self.channels, channel, client)
    }

    /// Unsubscribes client `id` from `channel`; `true` if it was subscribed.
    pub fn unsubscribe(&self, channel: &[u8], id: u64) -> bool {
        remove(&self.channels, channel, id)
    }

    /// Subscribes `client` to `pattern`; `true` if it was not subscribed yet.
    pub fn psubscribe(&self, pattern: &[u8], client: &Arc<ClientHandle>) -> bool {
        add(&self.patterns, pattern, client)
    }

    /// Unsubscribes client `id` from `pattern`; `true` if it was subscribed.
    pub fn punsubscribe(&self, pattern: &[u8], id: u64) -> bool {
        remove(&self.patterns, pattern, id)
    }

    /// Delivers `message` on `channel` to its subscribers (`message`) and to the subscribers
    /// of every matching pattern (`pmessage`); returns how many received it, as Redis counts
    /// them (a client subscribed to the channel and to two matching patterns counts three
    /// times). A client already disconnected for its output limit receives nothing and is not
    /// counted.
    pub fn publish(&self, channel: &[u8], message: &[u8], limit: OutputLimit) -> usize {
        let mut receivers = 0;
        if let Some(subscribers) = self.channels.read().get(channel) {
            let mut encoded = Encoded::new(&[b"message", channel, message]);
            for client in subscribers.values() {
                if client.deliver(encoded.for_client(client), limit) {
                    receivers += 1;
                }
            }
        }
        for (pattern, subscribers) in self.patterns.read().iter() {
            if !glob::matches(pattern, channel, false) {
                continue;
            }
            let mut encoded = Encoded::new(&[b"pmessage", pattern, channel, message]);
            for client in subscribers.values() {
                if client.deliver(encoded.for_client(client), limit) {
                    receivers += 1;
                }
            }
        }
        receivers
    }

    /// The receivers of a message on `channel`, other than client `me`, with input waiting
    /// that they have not executed yet (see the arrival-order fence in the module docs).
    pub fn pending_receivers(&self, channel: &[u8], me: u64) -> Vec<Arc<ClientHandle>> {
        let mut pending: Vec<Arc<ClientHandle>> = Vec::new();
        let mut visit = |subscribers: &Subscribers| {
            for client in subscribers.values() {
                if client.id != me
                    && client.input_pending()
                    && !pending.iter().any(|c| c.id == client.id)
                {
                    pending.push(Arc::clone(client));
                }
            }
        };
        if let Some(subscribers) = self.channels.read().get(channel) {
            visit(subscribers);
        }
        for (pattern, subscribers) in self.patterns.read().iter() {
            if glob::matches(pattern, channel, false) {
                visit(subscribers);
            }
        }
        pending
    }

    /// Active channels (with at least one subscriber) matching `pattern` (all when `None`).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.channels
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false)))
            .map(|c| c.to_vec())
            .collect()
    }

    /// Subscribers of `channel` (patterns not counted, as in Redis).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.read().get(channel).map_or(0, HashMap::len)
    }

    /// Patterns with at least one subscriber.
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }
}

fn add(
    map: &RwLock<HashMap<Box<[u8]>, Subscribers>>,
    name: &[u8],
    client: &Arc<ClientHandle>,
) -> bool {
    let mut map = map.write();
    let subscribers = match map.get_mut(name) {
        Some(subscribers) => subscribers,
        None => map.entry(name.into()).or_default(),
    };
    subscribers.insert(client.id, Arc::clone(client)).is_none()
}

fn remove(map: &RwLock<HashMap<Box<[u8]>, Subscribers>>, name: &[u8], id: u64) -> bool {
    let mut map = map.write();
    let Some(subscribers) = map.get_mut(name) else {
        return false;
    };
    let removed = subscribers.remove(&id).is_some();
    if subscribers.is_empty() {
        // Forget the channel with its last subscriber, so that a client cannot grow the
        // registry by subscribing to many names and leaving.
        map.remove(name);
    }
    removed
}

fn version_of(client: &ClientHandle) -> Version {
    if client.resp.load(Ordering::Relaxed) >= 3 {
        Version::Resp3
    } else {
        Version::Resp2
    }
}
