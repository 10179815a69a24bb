//! Stored responses and the cache that holds them ([`ResponseCache`], over larder-engine's
//! `Store`).
//!
//! One engine entry per primary cache key holds that key's variants (responses selected by
//! `Vary`), newest first, at most `max_variants` of them. The entry weighs the bytes of its
//! key, header fields and bodies. Each entry lives until its longest-lived variant is past its
//! freshness plus the longest stale window (`stale-while-revalidate`, `stale-if-error`, or the
//! configured retention kept for revalidation), or until the byte budget evicts it.
//!
//! Every stored response records the URL it was fetched for and the tags of its `Cache-Tag` and
//! `Surrogate-Key` fields, for purging.

use crate::freshness::current_age;
use crate::purge::TagIndex;
use crate::storable::ReusePolicy;
use crate::vary::{self, Captured};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use larder_engine::{Clock, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A complete response as stored.
#[derive(Debug)]
pub struct StoredResponse {
    /// The URL it was fetched for (`scheme://host/path?query`, after key normalization).
    pub url: String,
    /// The values of its `Cache-Tag` and `Surrogate-Key` fields, split into tags.
    pub tags: Vec<String>,
    /// Its status.
    pub status: StatusCode,
    /// Its header fields, hop-by-hop fields removed.
    pub headers: HeaderMap,
    /// Its whole body.
    pub body: Bytes,
    /// When the request that fetched it was sent (ms on the proxy's clock).
    pub request_time: u64,
    /// When the response was received (ms on the proxy's clock).
    pub response_time: u64,
    /// `corrected_initial_age` in seconds (RFC 9111 §4.2.3).
    pub initial_age: u64,
    /// How it may be reused.
    pub policy: ReusePolicy,
    /// The request values of the fields its `Vary` names.
    pub vary: Captured,
    /// Soft-purged: treated as stale from now on (revalidated before reuse).
    purged: AtomicBool,
}

impl StoredResponse {
    /// A stored response; see the fields for the arguments' meaning.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        url: String,
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        request_time: u64,
        response_time: u64,
        initial_age: u64,
        policy: ReusePolicy,
        vary: Captured,
    ) -> Self {
        let tags = tags_of(&headers);
        Self {
            url,
            tags,
            status,
            headers,
            body,
            request_time,
            response_time,
            initial_age,
            policy,
            vary,
            purged: AtomicBool::new(false),
        }
    }

    /// Its current age in seconds at `now`.
    pub fn age(&self, now: u64) -> u64 {
        current_age(self.initial_age, self.response_time, now)
    }

    /// Seconds of freshness left at `now` (negative when stale). A soft-purged response is
    /// always stale.
    pub fn ttl(&self, now: u64) -> i64 {
        if self.is_purged() {
            return -1;
        }
        self.policy.lifetime as i64 - self.age(now) as i64
    }

    /// Marks it stale (soft purge): it will be revalidated before reuse.
    pub fn mark_stale(&self) {
        self.purged.store(true, Ordering::Relaxed);
    }

    /// Whether it was soft-purged.
    pub fn is_purged(&self) -> bool {
        self.purged.load(Ordering::Relaxed)
    }

    /// Its weight in bytes for the engine's budget.
    pub fn weight(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        self.body.len() + headers + self.url.len() + 64
    }

    /// How long the engine keeps it: freshness plus the longest stale window.
    fn retention(&self, keep_stale: u64) -> u64 {
        let stale = keep_stale
            .max(self.policy.stale_while_revalidate)
            .max(self.policy.stale_if_error);
        self.policy
            .lifetime
            .saturating_sub(self.initial_age)
            .saturating_add(stale)
    }
}

/// The tags of `Cache-Tag` and `Surrogate-Key` (comma- or space-separated).
fn tags_of(headers: &HeaderMap) -> Vec<String> {
    let mut tags = Vec::new();
    for name in ["cache-tag", "surrogate-key"] {
        for line in headers.get_all(name) {
            let text = String::from_utf8_lossy(line.as_bytes());
            for tag in text
                .split([',', ' '])
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                if !tags.iter().any(|t: &String| t == tag) {
                    tags.push(tag.to_string());
                }
            }
        }
    }
    tags
}

/// The variants stored under one primary key, newest first.
pub type Variants = Arc<Vec<Arc<StoredResponse>>>;

/// The proxy's cache: primary key → variants, in larder-engine's `Store`.
#[derive(Debug)]
pub struct ResponseCache {
    store: Store<String, Variants>,
    clock: Arc<dyn Clock>,
    max_variants: usize,
    keep_stale: u64,
    tags: TagIndex,
}

/// Most (tag, key) pairs the tag index holds, and tags per key (see [`TagIndex`]).
const TAG_PAIRS: usize = 1 << 20;
const TAGS_PER_KEY: usize = 64;
/// Most expired or evicted keys recorded between two drains (for the tag index).
const DEPARTURES: usize = 1 << 16;

impl ResponseCache {
    /// A cache of `capacity` bytes, at most `max_variants` variants per key, keeping stale
    /// responses `keep_stale` seconds past their freshness for revalidation.
    ///
    /// The engine splits the budget over its shards; the shard count is chosen so that a shard
    /// holds at least four objects of `max_object` bytes (so the largest storable object is not
    /// refused for being larger than its shard).
    pub fn new(
        capacity: u64,
        max_object: u64,
        clock: Arc<dyn Clock>,
        max_variants: usize,
        keep_stale: u64,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let by_size = capacity / max_object.saturating_mul(4).max(1);
        let shards = (by_size as usize).clamp(1, 16 * cores);
        let store = Store::builder(capacity)
            .shards(shards)
            .weigher(|k: &String, v: &Variants| {
                let bytes: usize = v.iter().map(|r| r.weight()).sum::<usize>() + k.len();
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .clock(clock.clone())
            .record_departures(DEPARTURES)
            .build();
        Self {
            store,
            clock,
            max_variants: max_variants.max(1),
            keep_stale,
            tags: TagIndex::new(TAG_PAIRS, TAGS_PER_KEY),
        }
    }

    /// The clock the cache and the proxy use.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The stored response for `key` whose `Vary` matches `request`, newest first.
    pub fn lookup(&self, key: &str, request: &HeaderMap) -> Option<Arc<StoredResponse>> {
        let variants = self.store.get(key)?;
        variants
            .iter()
            .find(|r| vary::matches(&r.vary, request))
            .cloned()
    }

    /// Whether anything is stored under `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.store.contains(key)
    }

    /// Stores `response` under `key`, replacing the variant with the same `Vary` values and
    /// dropping the oldest variant beyond the cap. Returns false when the engine refused it
    /// (larger than a shard's budget).
    pub fn insert(&self, key: String, response: StoredResponse) -> bool {
        self.insert_shared(key, Arc::new(response))
    }

    /// [`ResponseCache::insert`] for a response already shared.
    pub fn insert_shared(&self, key: String, response: Arc<StoredResponse>) -> bool {
        let mut variants: Vec<Arc<StoredResponse>> = vec![response.clone()];
        if let Some(old) = self.store.get(&key) {
            variants.extend(
                old.iter()
                    .filter(|r| r.vary != response.vary)
                    .take(self.max_variants - 1)
                    .cloned(),
            );
        }
        let retention = variants
            .iter()
            .map(|r| r.retention(self.keep_stale))
            .max()
            .unwrap_or(0)
            .max(1);
        self.forget_departed();
        let tags: Vec<&str> = variants
            .iter()
            .flat_map(|r| r.tags.iter().map(String::as_str))
            .collect();
        if !tags.is_empty() || !self.tags.is_empty() {
            self.tags.set(&key, tags);
        }
        self.store
            .insert_with_ttl(key, Arc::new(variants), Duration::from_secs(retention))
            .is_ok()
    }

    /// Drops expired and evicted keys from the tag index (still-present keys were stored
    /// again and keep their tags).
    pub fn forget_departed(&self) {
        if !self.store.departures_pending() {
            return;
        }
        let mut gone = Vec::new();
        self.store.drain_departures(&mut gone);
        for (key, _) in gone {
            if !self.store.contains(&key) {
                self.tags.remove(&key);
            }
        }
    }

    /// The tag index (tag → keys).
    pub fn tag_index(&self) -> &TagIndex {
        &self.tags
    }

    /// The variants stored under `key`, without touching its recency.
    pub fn variants(&self, key: &str) -> Option<Variants> {
        self.store.peek(key)
    }

    /// Removes everything.
    pub fn clear(&self) {
        self.store.clear();
        self.tags.clear();
    }

    /// Hard purge: removes every variant of `key`. Returns whether something was stored.
    pub fn remove(&self, key: &str) -> bool {
        self.tags.remove(key);
        self.store.remove(key).is_some()
    }

    /// Soft purge: marks every variant of `key` stale, so the next request revalidates it
    /// (conditionally when it has validators). Returns whether something was stored.
    pub fn mark_stale(&self, key: &str) -> bool {
        match self.store.peek(key) {
            Some(variants) => {
                variants.iter().for_each(|r| r.mark_stale());
                true
            }
            None => false,
        }
    }

    /// Visits every stored key with its variants (for purging by URL prefix or tag).
    pub fn for_each(&self, mut visit: impl FnMut(&str, &[Arc<StoredResponse>])) {
        let mut cursor = 0;
        loop {
            cursor = self
                .store
                .scan_with(cursor, 256, |k, v, _| visit(k.as_str(), v.as_slice()));
            if cursor == 0 {
                break;
            }
        }
    }

    /// Removes every key for which `keep` answers false; returns how many were removed.
    pub fn retain(&self, mut keep: impl FnMut(&str, &[Arc<StoredResponse>]) -> bool) -> usize {
        self.store.retain(|k, v| keep(k.as_str(), v.as_slice()))
    }

    /// Number of stored keys.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// Bytes stored (the engine's weighted size).
    pub fn weighted_size(&self) -> u64 {
        self.store.weighted_size()
    }

    /// The engine's statistics.
    pub fn stats(&self) -> larder_engine::Snapshot {
        self.store.stats()
    }
}
