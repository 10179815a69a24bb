//! Pub/sub: channels and patterns, each with its subscribers' handles.
//!
//! A publish encodes the message once per protocol version and appends it to each receiver's
//! bounded outbox ([`ClientHandle::deliver`]); it never waits on a slow subscriber.

use crate::client::{ClientHandle, OutputLimit};
use crate::glob;
use larder_protocol::{Reply, Version};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

type Subscribers = HashMap<u64, Arc<ClientHandle>>;

/// The channel and pattern registry.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Box<[u8]>, Subscribers>>,
    patterns: RwLock<HashMap<Box<[u8]>, Subscribers>>,
}

/// Encodes a pushed message (`message`, `pmessage`, `subscribe` …) as an array/push of bulks.
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

impl PubSub {
    /// Subscribes `client` to `channel`; `true` if it was not subscribed yet.
    pub fn subscribe(&self, channel: &[u8], client: &Arc<ClientHandle>) -> bool {
        self.channels
            .write()
            .entry(channel.into())
            .or_default()
            .insert(client.id, Arc::clone(client))
            .is_none()
    }

    /// Unsubscribes client `id` from `channel`; `true` if it was subscribed.
    pub fn unsubscribe(&self, channel: &[u8], id: u64) -> bool {
        let mut channels = self.channels.write();
        let Some(subscribers) = channels.get_mut(channel) else {
            return false;
        };
        let removed = subscribers.remove(&id).is_some();
        if subscribers.is_empty() {
            channels.remove(channel);
        }
        removed
    }

    /// Subscribes `client` to `pattern`; `true` if it was not subscribed yet.
    pub fn psubscribe(&self, pattern: &[u8], client: &Arc<ClientHandle>) -> bool {
        self.patterns
            .write()
            .entry(pattern.into())
            .or_default()
            .insert(client.id, Arc::clone(client))
            .is_none()
    }

    /// Unsubscribes client `id` from `pattern`; `true` if it was subscribed.
    pub fn punsubscribe(&self, pattern: &[u8], id: u64) -> bool {
        let mut patterns = self.patterns.write();
        let Some(subscribers) = patterns.get_mut(pattern) else {
            return false;
        };
        let removed = subscribers.remove(&id).is_some();
        if subscribers.is_empty() {
            patterns.remove(pattern);
        }
        removed
    }

    /// Delivers `message` on `channel` to channel and pattern subscribers; returns how many
    /// received it.
    pub fn publish(&self, channel: &[u8], message: &[u8], limit: OutputLimit) -> usize {
        let mut receivers = 0;
        let mut encoded: [Option<Vec<u8>>; 2] = [None, None];
        if let Some(subscribers) = self.channels.read().get(channel) {
            for client in subscribers.values() {
                let version = version_of(client);
                let bytes = encoded[version as usize]
                    .get_or_insert_with(|| push_message(version, &[b"message", channel, message]))
                    .clone();
                client.deliver(bytes, limit);
                receivers += 1;
            }
        }
        for (pattern, subscribers) in self.patterns.read().iter() {
            if !glob::matches(pattern, channel, false) {
                continue;
            }
            for client in subscribers.values() {
                let version = version_of(client);
                client.deliver(
                    push_message(version, &[b"pmessage", pattern, channel, message]),
                    limit,
                );
                receivers += 1;
            }
        }
        receivers
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

fn version_of(client: &ClientHandle) -> Version {
    if client.resp.load(std::sync::atomic::Ordering::Relaxed) >= 3 {
        Version::Resp3
    } else {
        Version::Resp2
    }
}
