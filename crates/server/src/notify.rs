//! Keyspace notifications (`notify-keyspace-events`): key events published over pub/sub.
//!
//! An event of a class the configuration selects is published on
//! `__keyspace@<db>__:<key>` with the event name as message (flag `K`) and on
//! `__keyevent@<db>__:<event>` with the key as message (flag `E`), as Redis does. The
//! configured classes are cached in one atomic, so a write costs one load while notifications
//! are off (the default).

use crate::events::class;
use crate::shared::Shared;
use std::sync::atomic::{AtomicU16, Ordering};

/// The flag letters and their classes (`A` is every class but `m` and `n`).
const LETTERS: &[(char, u16)] = &[
    ('g', class::GENERIC),
    ('$', class::STRING),
    ('l', class::LIST),
    ('s', class::SET),
    ('h', class::HASH),
    ('z', class::ZSET),
    ('x', class::EXPIRED),
    ('e', class::EVICTED),
    ('t', class::STREAM),
    ('m', class::KEY_MISS),
    ('n', class::NEW),
    ('K', class::KEYSPACE),
    ('E', class::KEYEVENT),
];

/// What `A` selects.
const ALL: u16 = class::GENERIC
    | class::STRING
    | class::LIST
    | class::SET
    | class::HASH
    | class::ZSET
    | class::EXPIRED
    | class::EVICTED
    | class::STREAM;

/// Parses `notify-keyspace-events` letters into class bits; `None` for an unknown letter.
/// `d` (module events) is accepted and selects nothing: Larder has no modules.
pub fn parse_flags(letters: &str) -> Option<u16> {
    let mut flags = 0;
    for c in letters.chars() {
        flags |= match c {
            'A' => ALL,
            'd' => 0,
            _ => LETTERS.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(flags)
}

/// The selected classes, cached from the configuration.
#[derive(Debug, Default)]
pub struct Notifier {
    flags: AtomicU16,
}

impl Notifier {
    /// A notifier for the `notify-keyspace-events` letters `letters`.
    pub fn new(letters: &str) -> Notifier {
        let notifier = Notifier::default();
        notifier.configure(letters);
        notifier
    }

    /// Applies a new `notify-keyspace-events` value (already validated).
    pub fn configure(&self, letters: &str) {
        self.flags
            .store(parse_flags(letters).unwrap_or(0), Ordering::Relaxed);
    }

    /// Whether events of `class` are published (one atomic load).
    pub fn wants(&self, class: u16) -> bool {
        let flags = self.flags.load(Ordering::Relaxed);
        flags & class != 0 && flags & (class::KEYSPACE | class::KEYEVENT) != 0
    }

    /// Publishes `event` on `key` of database `db` if its class is selected.
    pub fn publish(&self, shared: &Shared, db: usize, class: u16, event: &str, key: &[u8]) {
        if !self.wants(class) {
            return;
        }
        let flags = self.flags.load(Ordering::Relaxed);
        let limit = shared.pubsub_limit();
        if flags & class::KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            shared.pubsub.publish(&channel, event.as_bytes(), limit);
        }
        if flags & class::KEYEVENT != 0 {
            let channel = format!("__keyevent@{db}__:{event}");
            shared.pubsub.publish(channel.as_bytes(), key, limit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_as_redis_does() {
        assert_eq!(parse_flags(""), Some(0));
        assert_eq!(parse_flags("KA"), Some(class::KEYSPACE | ALL));
        assert_eq!(
            parse_flags("E$n"),
            Some(class::KEYEVENT | class::STRING | class::NEW)
        );
        assert_eq!(parse_flags("Kd"), Some(class::KEYSPACE));
        assert_eq!(parse_flags("Kq"), None);
        let n = Notifier::new("Kg");
        assert!(n.wants(class::GENERIC) && !n.wants(class::STRING));
        // A class without K or E publishes nothing.
        assert!(!Notifier::new("g").wants(class::GENERIC));
        assert!(!Notifier::new("KA").wants(class::KEY_MISS));
    }
}
