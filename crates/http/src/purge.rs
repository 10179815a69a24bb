//! Purging: what to purge ([`Selector`], gathered into a [`Selection`]), how ([`Mode`]: hard
//! removes, soft marks stale so the next request revalidates conditionally), the trait a store
//! implements to be purged ([`Purgeable`]), and the bounded [`TagIndex`] (tag → cache keys, fed
//! from `Cache-Tag` and `Surrogate-Key` response fields) that makes purging by tag cost the
//! number of tagged objects instead of a scan of the cache.
//!
//! ## URLs
//!
//! Selectors are matched against the URL a response was stored for, as the cache normalized it
//! (`http://host/path?query`, query parameters sorted and unkeyed ones dropped). A selector
//! that starts with `/` is matched against the path and query only, on every host; any other
//! selector is matched against the whole URL.
//!
//! ## Bounds
//!
//! The tag index holds at most `max_pairs` (tag, key) pairs and at most `max_tags_per_key` tags
//! per key. A pair that does not fit is not indexed and the index says so
//! ([`TagIndex::complete`] turns false); a purge by tag then scans the cache (correct, slower)
//! until [`TagIndex::clear`] (a purge of everything) makes the index complete again.

use crate::key::glob;
use crate::stored::{ResponseCache, StoredResponse};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};

/// One purge selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Exactly this URL (or path and query, when it starts with `/`).
    Url(String),
    /// Every URL starting with this (or every path starting with it, when it starts with `/`).
    Prefix(String),
    /// Every URL matching this glob (`*` any run of characters, `?` one character).
    Wildcard(String),
    /// Every response tagged with this by `Cache-Tag` or `Surrogate-Key`.
    Tag(String),
    /// Everything.
    All,
}

/// Hard or soft purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Remove the stored responses.
    #[default]
    Hard,
    /// Mark them stale: the next request revalidates them (conditionally when they carry
    /// validators), and a 304 makes them fresh again without transferring the body.
    Soft,
}

impl Mode {
    /// `"hard"` or `"soft"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hard => "hard",
            Mode::Soft => "soft",
        }
    }
}

/// Several selectors, matched together in one pass over the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    urls: HashSet<String>,
    prefixes: Vec<String>,
    globs: Vec<String>,
    tags: HashSet<String>,
    all: bool,
}

impl Selection {
    /// A selection of `selectors`.
    pub fn new(selectors: impl IntoIterator<Item = Selector>) -> Self {
        let mut s = Self::default();
        for selector in selectors {
            s.add(selector);
        }
        s
    }

    /// Adds one selector.
    pub fn add(&mut self, selector: Selector) {
        match selector {
            Selector::Url(u) => {
                self.urls.insert(u);
            }
            Selector::Prefix(p) => self.prefixes.push(p),
            Selector::Wildcard(g) => self.globs.push(g),
            Selector::Tag(t) => {
                self.tags.insert(t);
            }
            Selector::All => self.all = true,
        }
    }

    /// Whether it selects nothing.
    pub fn is_empty(&self) -> bool {
        !self.all
            && self.urls.is_empty()
            && self.prefixes.is_empty()
            && self.globs.is_empty()
            && self.tags.is_empty()
    }

    /// Number of selectors in it.
    pub fn len(&self) -> usize {
        self.urls.len()
            + self.prefixes.len()
            + self.globs.len()
            + self.tags.len()
            + self.all as usize
    }

    /// Whether it selects everything.
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// The tags it selects.
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(String::as_str)
    }

    /// Whether it selects by tag only (so the tag index can answer without a scan).
    pub fn tags_only(&self) -> bool {
        !self.all && self.urls.is_empty() && self.prefixes.is_empty() && self.globs.is_empty()
    }

    /// Whether a response stored for `url` with `tags` is selected.
    pub fn matches(&self, url: &str, tags: &[String]) -> bool {
        if self.all {
            return true;
        }
        let path = path_of(url);
        let side = |s: &str| if s.starts_with('/') { path } else { url };
        self.urls.contains(url)
            || self.urls.contains(path)
            || self
                .prefixes
                .iter()
                .any(|p| side(p).starts_with(p.as_str()))
            || self.globs.iter().any(|g| glob(g, side(g)))
            || tags.iter().any(|t| self.tags.contains(t))
    }
}

/// The path and query of `scheme://host/path?query` (the whole string when it has no scheme).
pub fn path_of(url: &str) -> &str {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => url,
    }
}

/// A store that can be purged.
pub trait Purgeable: Send + Sync {
    /// Purges what `selection` selects, hard or soft; returns how many stored objects (cache
    /// keys) it affected.
    fn purge(&self, selection: &Selection, mode: Mode) -> usize;
}

impl Purgeable for ResponseCache {
    /// Hard: removes every key with a selected variant (all its variants go). Soft: marks the
    /// selected variants stale. A purge by tag only asks the tag index for its keys when the
    /// index is complete; everything else is one pass over the cache.
    fn purge(&self, selection: &Selection, mode: Mode) -> usize {
        self.forget_departed();
        let selected = |r: &StoredResponse| selection.matches(&r.url, &r.tags);
        if selection.is_all() && mode == Mode::Hard {
            let n = self.len();
            self.clear();
            return n;
        }
        if selection.tags_only() {
            if let Some(keys) = self.tag_index().keys(selection.tags()) {
                let mut n = 0;
                for key in keys {
                    let Some(variants) = self.variants(&key) else {
                        self.tag_index().remove(&key);
                        continue;
                    };
                    n += apply(self, &key, &variants, mode, &selected) as usize;
                }
                return n;
            }
        }
        match mode {
            Mode::Hard => {
                let mut removed = Vec::new();
                let n = self.retain(|key, variants| {
                    let hit = variants.iter().any(|r| selected(r));
                    if hit {
                        removed.push(key.to_string());
                    }
                    !hit
                });
                for key in removed {
                    self.tag_index().remove(&key);
                }
                n
            }
            Mode::Soft => {
                let mut n = 0;
                self.for_each(|_, variants| {
                    let mut hit = false;
                    for r in variants.iter().filter(|r| selected(r)) {
                        r.mark_stale();
                        hit = true;
                    }
                    n += hit as usize;
                });
                n
            }
        }
    }
}

/// Purges one key's selected variants; whether any was selected.
fn apply(
    cache: &ResponseCache,
    key: &str,
    variants: &[std::sync::Arc<StoredResponse>],
    mode: Mode,
    selected: &impl Fn(&StoredResponse) -> bool,
) -> bool {
    let mut hit = false;
    for r in variants.iter().filter(|r| selected(r)) {
        hit = true;
        if mode == Mode::Soft {
            r.mark_stale();
        }
    }
    if hit && mode == Mode::Hard {
        cache.remove(key);
    }
    hit
}

/// The bounded tag → cache keys index.
#[derive(Debug)]
pub struct TagIndex {
    inner: Mutex<Index>,
    max_pairs: usize,
    max_tags_per_key: usize,
}

#[derive(Debug, Default)]
struct Index {
    by_tag: HashMap<String, HashSet<String>>,
    by_key: HashMap<String, Vec<String>>,
    pairs: usize,
    complete: bool,
}

impl Index {
    fn remove_key(&mut self, key: &str) {
        let Some(tags) = self.by_key.remove(key) else {
            return;
        };
        for tag in tags {
            if let Some(keys) = self.by_tag.get_mut(&tag) {
                if keys.remove(key) {
                    self.pairs -= 1;
                }
                if keys.is_empty() {
                    self.by_tag.remove(&tag);
                }
            }
        }
    }
}

impl TagIndex {
    /// An index of at most `max_pairs` (tag, key) pairs and `max_tags_per_key` tags per key.
    pub fn new(max_pairs: usize, max_tags_per_key: usize) -> Self {
        Self {
            inner: Mutex::new(Index {
                complete: true,
                ..Index::default()
            }),
            max_pairs,
            max_tags_per_key,
        }
    }

    /// Records that `key` now holds responses tagged `tags` (replacing what it held before).
    /// Tags beyond the bounds are not indexed and the index becomes incomplete.
    pub fn set<'a>(&self, key: &str, tags: impl IntoIterator<Item = &'a str>) {
        let mut index = self.inner.lock();
        index.remove_key(key);
        let mut kept: Vec<String> = Vec::new();
        for tag in tags {
            if kept.iter().any(|t| t == tag) {
                continue;
            }
            if kept.len() >= self.max_tags_per_key || index.pairs >= self.max_pairs {
                index.complete = false;
                break;
            }
            index
                .by_tag
                .entry(tag.to_string())
                .or_default()
                .insert(key.to_string());
            index.pairs += 1;
            kept.push(tag.to_string());
        }
        if !kept.is_empty() {
            index.by_key.insert(key.to_string(), kept);
        }
    }

    /// Forgets `key` (its object left the cache).
    pub fn remove(&self, key: &str) {
        self.inner.lock().remove_key(key);
    }

    /// The keys tagged with any of `tags`, or `None` when the index is incomplete (scan
    /// instead).
    pub fn keys<'a>(&self, tags: impl IntoIterator<Item = &'a str>) -> Option<Vec<String>> {
        let index = self.inner.lock();
        if !index.complete {
            return None;
        }
        let mut out: HashSet<&String> = HashSet::new();
        for tag in tags {
            if let Some(keys) = index.by_tag.get(tag) {
                out.extend(keys.iter());
            }
        }
        Some(out.into_iter().cloned().collect())
    }

    /// Whether every stored tag is indexed.
    pub fn complete(&self) -> bool {
        self.inner.lock().complete
    }

    /// Number of (tag, key) pairs indexed.
    pub fn pairs(&self) -> usize {
        self.inner.lock().pairs
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.inner.lock().pairs == 0
    }

    /// Number of distinct tags indexed.
    pub fn tag_count(&self) -> usize {
        self.inner.lock().by_tag.len()
    }

    /// Empties the index (the cache was emptied); it is complete again.
    pub fn clear(&self) {
        let mut index = self.inner.lock();
        *index = Index {
            complete: true,
            ..Index::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn selectors_match_urls_paths_and_tags() {
        let url = "http://a.test/shop/item?id=1";
        let m = |s: Selector| Selection::new([s]).matches(url, &tags(&["product", "p-1"]));
        assert!(m(Selector::Url(url.into())));
        assert!(m(Selector::Url("/shop/item?id=1".into())));
        assert!(!m(Selector::Url("/shop/item".into())));
        assert!(m(Selector::Prefix("/shop/".into())));
        assert!(m(Selector::Prefix("http://a.test/sh".into())));
        assert!(!m(Selector::Prefix("http://b.test/".into())));
        assert!(m(Selector::Wildcard("/shop/*?id=?".into())));
        assert!(m(Selector::Wildcard("http://*.test/*".into())));
        assert!(!m(Selector::Wildcard("/shop/*.css".into())));
        assert!(m(Selector::Tag("p-1".into())));
        assert!(!m(Selector::Tag("p-2".into())));
        assert!(m(Selector::All));
        assert!(Selection::default().is_empty());
        assert!(!Selection::default().matches(url, &tags(&["product"])));
    }

    #[test]
    fn path_of_urls() {
        assert_eq!(path_of("http://h/x?y"), "/x?y");
        assert_eq!(path_of("http://h"), "/");
        assert_eq!(path_of("/x"), "/x");
    }

    #[test]
    fn tag_index_follows_keys() {
        let index = TagIndex::new(100, 8);
        index.set("k1", ["a", "b"]);
        index.set("k2", ["b"]);
        let mut keys = index.keys(["b"]).expect("complete");
        keys.sort();
        assert_eq!(keys, ["k1", "k2"]);
        // Re-storing a key replaces its tags.
        index.set("k1", ["c"]);
        assert_eq!(index.keys(["a"]).expect("complete"), Vec::<String>::new());
        assert_eq!(index.keys(["c"]).expect("complete"), ["k1"]);
        index.remove("k1");
        index.remove("k2");
        assert_eq!(index.pairs(), 0);
        assert_eq!(index.tag_count(), 0);
    }

    #[test]
    fn tag_index_is_bounded_and_says_when_incomplete() {
        let index = TagIndex::new(3, 2);
        index.set("k1", ["a", "b", "c"]);
        assert_eq!(index.pairs(), 2);
        assert!(!index.complete());
        assert_eq!(index.keys(["a"]), None);
        index.clear();
        assert!(index.complete());
        for i in 0..10 {
            index.set(&format!("k{i}"), ["t"]);
        }
        assert_eq!(index.pairs(), 3);
        assert!(!index.complete());
    }
}
