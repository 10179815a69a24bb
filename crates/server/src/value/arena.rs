//! The string arena: blocks of 136 to 256 bytes in steps of 8, for string values of 129 to 256
//! bytes.
//!
//! jemalloc spaces its size classes four to a doubling, so between 128 and 256 bytes they are
//! 32 bytes apart (160, 192, 224, 256): a 200-byte value takes 224 bytes, and a string of that
//! range wastes 16 bytes on average. A cache of such values spends that slack on every key (a
//! tenth of what each key costs under a small `maxmemory`, index and policy included). The
//! arena rounds up to 8 bytes instead: a 200-byte value takes a 200-byte block, plus its share
//! of the page (2 bytes).
//!
//! # Parts
//!
//! * 16 classes, one per block size; each is a [`Mutex`] over its pages, in its own cache line.
//! * A page is 16 KB from the global allocator (jemalloc's 16 KB class, exactly), cut into as
//!   many blocks as fit (64 of 256 bytes, 81 of 200, 120 of 136). Its header lives in the
//!   class's table of pages, not in the page: a block is found by its page's number, which the
//!   owner keeps beside the pointer ([`Block`]).
//! * A page's header keeps a 128-bit map of its free blocks (a page holds at most 120): a page
//!   hands out its lowest free block, and neither handing out nor freeing touches the block's
//!   memory (a free list threaded through the blocks cost a cache miss on every free, on the
//!   old value's cold bytes).
//! * A bitmap marks the pages with a free block; new blocks go to the lowest-numbered of them,
//!   and a new page is taken only when none has room. So blocks gather in the oldest pages and
//!   the newest drain as their blocks are freed, as jemalloc fills its oldest slabs first.
//!
//! # Bounds
//!
//! * A page whose last block is freed goes back to the allocator at once unless it is the
//!   class's only page with room: a class keeps at most one empty page. Scattered frees leave
//!   partly used pages, as in any slab allocator; new blocks fill the lowest of them first, so
//!   under churn the pages shrink back to what the blocks in use need (a test replaces blocks
//!   one for one after a 30 % cut and checks it).
//! * Page numbers are `u32`, the lowest free one reused first: 64 TB of pages per class.
//!
//! # Concurrency
//!
//! Any thread allocates and frees; a class's lock is held for a few dozen instructions
//! (no allocation under it but a new page's, or the table of pages growing).
//!
//! # Safety
//!
//! This module and [`super::str_bytes`], its one user, hold the server's `unsafe` code besides
//! two jemalloc controls in `memory.rs` (the workspace denies it elsewhere). A [`Block`] is a raw
//! pointer with a single owner, which must give it back once with the length it asked for;
//! `StrBytes` does so in its `Drop`, and its length never changes. The tests exercise the arena
//! alone, under a model, under churn and from several threads; they and `StrBytes`'s pass under
//! Miri (`MIRIFLAGS=-Zmiri-disable-isolation cargo +nightly miri test -p larder-server --lib --
//! value::arena value::str_bytes`, about 6 minutes; not part of `.ci/run`).
#![allow(unsafe_code)]

use parking_lot::{Mutex, const_mutex};
use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ptr::NonNull;

/// The shortest string the arena holds; shorter ones fit jemalloc's 16-byte spacing.
pub const SMALLEST: usize = 129;
/// The longest string the arena holds.
pub const LARGEST: usize = 256;
/// Block sizes are multiples of this.
const STEP: usize = 8;
const CLASSES: usize = (LARGEST - (SMALLEST - 1)) / STEP;
const _: () = assert!(
    PAGE_BYTES / (SMALLEST - 1 + STEP) <= 128,
    "a page's map holds its blocks"
);
/// The bytes of a page.
pub const PAGE_BYTES: usize = 16 * 1024;

/// The class of a string of `len` bytes (`SMALLEST..=LARGEST`).
#[inline]
fn class_of(len: usize) -> usize {
    debug_assert!((SMALLEST..=LARGEST).contains(&len));
    (len - SMALLEST) / STEP
}

/// The block size of `class`.
#[inline]
const fn block_size(class: usize) -> usize {
    SMALLEST - 1 + STEP * (class + 1)
}

/// Blocks in a page of `class`.
#[inline]
const fn blocks_per_page(class: usize) -> usize {
    PAGE_BYTES / block_size(class)
}

/// What a string of `len` bytes costs in the arena: its block and its share of the page's
/// unused tail, rounded up.
pub fn charged_bytes(len: usize) -> usize {
    PAGE_BYTES.div_ceil(blocks_per_page(class_of(len)))
}

/// A block handed out by [`Arena::alloc`]: where it is and which page holds it. The owner
/// gives both back to [`Arena::free`], with the length it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// The page's number in its class.
    pub page: u32,
    /// The block's first byte.
    pub ptr: NonNull<u8>,
}

/// The header of one page.
struct Page {
    /// The page's memory; `None` when the number is free for reuse.
    base: Option<NonNull<u8>>,
    /// One bit per block: the block is free.
    free: u128,
    /// Blocks handed out and not freed.
    used: u16,
}

/// One block size's pages.
struct Class {
    pages: Vec<Page>,
    /// Numbers of freed pages, the lowest reused first.
    vacant: BinaryHeap<Reverse<u32>>,
    /// One bit per page number: the page has a free block.
    room: Vec<u64>,
    /// One bit per word of `room`: the word has a bit set. The lowest page with room is found
    /// in two steps whatever the pages in between (a scan of `room` alone crossed every full
    /// page below the one a free had just opened, and cost a tenth of a SET's time).
    words_with_room: Vec<u64>,
    /// Bits set in `room`.
    with_room: usize,
    /// Pages held.
    held: usize,
    /// Blocks handed out and not freed.
    used: usize,
}

// SAFETY: a `Class` owns its pages' memory; the pointers are only dereferenced under the
// class's lock (or by a block's single owner, for the block's own bytes).
unsafe impl Send for Class {}

impl Class {
    const EMPTY: Class = Class {
        pages: Vec::new(),
        vacant: BinaryHeap::new(),
        room: Vec::new(),
        words_with_room: Vec::new(),
        with_room: 0,
        held: 0,
        used: 0,
    };

    fn set_room(&mut self, id: u32) {
        let word = id as usize / 64;
        if word >= self.room.len() {
            self.room.resize(word + 1, 0);
            self.words_with_room.resize(word / 64 + 1, 0);
        }
        self.room[word] |= 1 << (id % 64);
        self.words_with_room[word / 64] |= 1 << (word % 64);
        self.with_room += 1;
    }

    fn clear_room(&mut self, id: u32) {
        let word = id as usize / 64;
        self.room[word] &= !(1 << (id % 64));
        if self.room[word] == 0 {
            self.words_with_room[word / 64] &= !(1 << (word % 64));
        }
        self.with_room -= 1;
    }

    /// The lowest-numbered page with a free block: new blocks fill the oldest pages first, so
    /// that the newest ones drain as their blocks are freed and go back to the allocator (a
    /// page taken most recently freed into spread the blocks over every page, and none emptied).
    fn first_with_room(&self) -> Option<u32> {
        let (group, bits) = self
            .words_with_room
            .iter()
            .enumerate()
            .find(|&(_, &bits)| bits != 0)?;
        let word = group * 64 + bits.trailing_zeros() as usize;
        Some((word * 64) as u32 + self.room[word].trailing_zeros())
    }

    /// Takes a new page of `blocks` blocks, all free.
    fn add_page(&mut self, blocks: usize) -> u32 {
        let layout = page_layout();
        // SAFETY: the layout has a non-zero size.
        let base =
            NonNull::new(unsafe { alloc(layout) }).unwrap_or_else(|| handle_alloc_error(layout));
        let page = Page {
            base: Some(base),
            free: all_blocks(blocks),
            used: 0,
        };
        let id = match self.vacant.pop() {
            Some(Reverse(id)) => {
                self.pages[id as usize] = page;
                id
            }
            None => {
                let id =
                    u32::try_from(self.pages.len()).expect("string arena: page numbers exhausted");
                self.pages.push(page);
                id
            }
        };
        self.set_room(id);
        self.held += 1;
        id
    }
}

/// A map with the first `blocks` bits set.
const fn all_blocks(blocks: usize) -> u128 {
    if blocks >= 128 {
        u128::MAX
    } else {
        (1 << blocks) - 1
    }
}

fn page_layout() -> Layout {
    Layout::from_size_align(PAGE_BYTES, STEP).expect("a valid page layout")
}

/// A cache-line-aligned class lock, so that two classes in use on two cores do not share a line.
#[repr(align(64))]
struct Padded(Mutex<Class>);

/// The arena (see the [module docs](self)). The server uses one, [`ARENA`]; tests make their own.
pub struct Arena {
    classes: [Padded; CLASSES],
}

/// The arena the server's string values use.
pub static ARENA: Arena = Arena::new();

/// Pages and blocks in use, over all classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArenaStats {
    /// Pages held.
    pub pages: usize,
    /// Blocks handed out and not freed.
    pub blocks: usize,
    /// The bytes of the free blocks in those pages: room the arena holds for new strings, as
    /// jemalloc's slabs hold free regions (which its `stats.allocated` does not count either).
    pub free_bytes: usize,
}

impl ArenaStats {
    /// The bytes of the pages held.
    pub fn bytes(&self) -> usize {
        self.pages * PAGE_BYTES
    }
}

impl Arena {
    /// An arena holding no page.
    pub const fn new() -> Arena {
        Arena {
            classes: [const { Padded(const_mutex(Class::EMPTY)) }; CLASSES],
        }
    }

    /// A block of at least `len` bytes (`SMALLEST..=LARGEST`), uninitialised.
    pub fn alloc(&self, len: usize) -> Block {
        let class = class_of(len);
        let size = block_size(class);
        let blocks = blocks_per_page(class) as u16;
        let mut c = self.classes[class].0.lock();
        let id = match c.first_with_room() {
            Some(id) => id,
            None => c.add_page(usize::from(blocks)),
        };
        let page = &mut c.pages[id as usize];
        let base = page.base.expect("a page with room is held");
        let index = page.free.trailing_zeros() as usize;
        debug_assert!(
            index < usize::from(blocks),
            "a page with room has a free block"
        );
        page.free &= !(1 << index);
        page.used += 1;
        let full = page.used == blocks;
        c.used += 1;
        if full {
            c.clear_room(id);
        }
        // SAFETY: `index` < blocks, so the block lies inside the page.
        let ptr = unsafe { base.add(index * size) };
        Block { page: id, ptr }
    }

    /// Gives back a block that [`Arena::alloc`] handed out for `len` bytes.
    ///
    /// # Safety
    ///
    /// `block` came from this arena's `alloc(len)` (with a `len` of the same class), was not
    /// freed since, and is not used after this call.
    pub unsafe fn free(&self, block: Block, len: usize) {
        let class = class_of(len);
        let size = block_size(class);
        let blocks = blocks_per_page(class) as u16;
        let mut c = self.classes[class].0.lock();
        let page = &mut c.pages[block.page as usize];
        let base = page.base.expect("a freed block's page is held");
        let index = (block.ptr.as_ptr() as usize - base.as_ptr() as usize) / size;
        debug_assert!(page.free & (1 << index) == 0, "a block freed twice");
        page.free |= 1 << index;
        page.used -= 1;
        let used = page.used;
        c.used -= 1;
        if used == blocks - 1 {
            c.set_room(block.page);
        }
        if used == 0 && c.with_room > 1 {
            c.clear_room(block.page);
            let page = &mut c.pages[block.page as usize];
            let base = page.base.take().expect("held");
            // SAFETY: the page was allocated with this layout and none of its blocks is in use.
            unsafe { dealloc(base.as_ptr(), page_layout()) };
            c.vacant.push(Reverse(block.page));
            c.held -= 1;
        }
    }

    /// Pages held, blocks in use and free (locks each class in turn, briefly).
    pub fn stats(&self) -> ArenaStats {
        let mut stats = ArenaStats::default();
        for (class, lock) in self.classes.iter().enumerate() {
            let (held, used) = {
                let c = lock.0.lock();
                (c.held, c.used)
            };
            stats.pages += held;
            stats.blocks += used;
            stats.free_bytes += (held * blocks_per_page(class) - used) * block_size(class);
        }
        stats
    }
}

impl Default for Arena {
    fn default() -> Self {
        Arena::new()
    }
}

impl Drop for Arena {
    /// Returns every page (a test's arena; the server's is a `static` and never dropped). Blocks
    /// still handed out dangle afterwards, so an arena is dropped only once its blocks are freed.
    fn drop(&mut self) {
        for class in &mut self.classes {
            for page in &mut class.0.get_mut().pages {
                if let Some(base) = page.base.take() {
                    // SAFETY: allocated with this layout; the owner dropped every block.
                    unsafe { dealloc(base.as_ptr(), page_layout()) };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fill(block: Block, len: usize, seed: u8) {
        // SAFETY: the block holds at least `len` bytes and is owned by the caller.
        unsafe { std::ptr::write_bytes(block.ptr.as_ptr(), seed, len) };
    }

    fn holds(block: Block, len: usize, seed: u8) -> bool {
        // SAFETY: as in `fill`.
        unsafe { std::slice::from_raw_parts(block.ptr.as_ptr(), len) }
            .iter()
            .all(|&b| b == seed)
    }

    #[test]
    fn a_block_is_the_length_rounded_up_to_eight_and_costs_its_share_of_the_page() {
        assert_eq!(block_size(class_of(129)), 136);
        assert_eq!(block_size(class_of(136)), 136);
        assert_eq!(block_size(class_of(137)), 144);
        assert_eq!(block_size(class_of(200)), 200);
        assert_eq!(block_size(class_of(256)), 256);
        assert_eq!(charged_bytes(200), 203, "81 blocks in 16 KB");
        assert_eq!(charged_bytes(256), 256, "64 blocks exactly");
        for len in SMALLEST..=LARGEST {
            let charged = charged_bytes(len);
            assert!(
                charged >= len && charged < len + STEP + 4,
                "{len}: {charged}"
            );
        }
    }

    #[test]
    fn blocks_never_overlap_and_freed_pages_go_back() {
        let arena = Arena::new();
        let len = 200;
        let blocks: Vec<Block> = (0..1_000).map(|_| arena.alloc(len)).collect();
        for (i, &b) in blocks.iter().enumerate() {
            fill(b, len, i as u8);
        }
        for (i, &b) in blocks.iter().enumerate() {
            assert!(holds(b, len, i as u8), "block {i} was overwritten");
        }
        let full = arena.stats();
        assert_eq!(full.blocks, 1_000);
        assert_eq!(full.pages, 1_000usize.div_ceil(81));
        for b in blocks {
            // SAFETY: from this arena, for this length, freed once.
            unsafe { arena.free(b, len) };
        }
        let empty = arena.stats();
        assert_eq!(
            (empty.pages, empty.blocks, empty.free_bytes),
            (1, 0, 81 * 200),
            "one empty page kept, the rest returned"
        );
    }

    #[test]
    fn new_blocks_fill_the_pages_with_room_first() {
        let arena = Arena::new();
        let len = 256;
        let blocks: Vec<Block> = (0..64 * 10).map(|_| arena.alloc(len)).collect();
        // Free every other block: ten half-empty pages.
        for b in blocks.iter().step_by(2) {
            // SAFETY: each freed once.
            unsafe { arena.free(*b, len) };
        }
        assert_eq!(arena.stats().pages, 10);
        let again: Vec<Block> = (0..320).map(|_| arena.alloc(len)).collect();
        assert_eq!(arena.stats().pages, 10, "the holes were reused");
        for b in blocks.iter().skip(1).step_by(2).chain(&again) {
            // SAFETY: each freed once.
            unsafe { arena.free(*b, len) };
        }
        let empty = arena.stats();
        assert_eq!((empty.pages, empty.blocks), (1, 0));
    }

    #[test]
    fn under_churn_the_pages_shrink_to_what_the_live_blocks_need() {
        // A cache that filled 10 pages, then lost 30 % of its entries (a lower memory limit),
        // then replaced entries one for one, evicting at random: the emptied pages go back.
        let arena = Arena::new();
        let len = 200;
        let mut live: Vec<Block> = (0..81 * 10).map(|_| arena.alloc(len)).collect();
        let mut x = 7u64;
        let mut random = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as usize % n
        };
        for _ in 0..243 {
            let b = live.swap_remove(random(live.len()));
            // SAFETY: freed once.
            unsafe { arena.free(b, len) };
        }
        assert_eq!(arena.stats().pages, 10, "scattered frees empty no page");
        for _ in 0..if cfg!(miri) { 3_000 } else { 20_000 } {
            let b = live.swap_remove(random(live.len()));
            // SAFETY: freed once.
            unsafe { arena.free(b, len) };
            live.push(arena.alloc(len));
        }
        let need = live.len().div_ceil(81);
        assert!(
            arena.stats().pages <= need + 1,
            "{} pages for {need} pages of blocks",
            arena.stats().pages
        );
        for b in live {
            // SAFETY: freed once.
            unsafe { arena.free(b, len) };
        }
    }

    #[test]
    fn threads_allocate_and_free_concurrently() {
        let arena = Arena::new();
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let arena = &arena;
                s.spawn(move || {
                    let mut held: Vec<(Block, usize, u8)> = Vec::new();
                    let mut x = u64::from(t) + 1;
                    for i in 0..if cfg!(miri) { 600 } else { 20_000u32 } {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        if held.len() > 300 || (x % 3 == 0 && !held.is_empty()) {
                            let (b, len, seed) = held.swap_remove(x as usize % held.len());
                            assert!(holds(b, len, seed));
                            // SAFETY: owned by this thread, freed once.
                            unsafe { arena.free(b, len) };
                        } else {
                            let len = SMALLEST + (x >> 20) as usize % (LARGEST - SMALLEST + 1);
                            let b = arena.alloc(len);
                            let seed = (i as u8) ^ t;
                            fill(b, len, seed);
                            held.push((b, len, seed));
                        }
                    }
                    for (b, len, seed) in held {
                        assert!(holds(b, len, seed));
                        // SAFETY: as above.
                        unsafe { arena.free(b, len) };
                    }
                });
            }
        });
        let stats = arena.stats();
        assert_eq!(stats.blocks, 0);
        assert!(stats.pages <= CLASSES, "at most one empty page per class");
    }

    proptest! {
        /// Against a model of live blocks: every block keeps its bytes until freed, and the pages
        /// held are never more than the live blocks need plus one spare page per class in use
        /// plus the pages that frees left partly used.
        #[test]
        fn the_arena_keeps_every_live_block(ops in proptest::collection::vec((0..3u8, SMALLEST..=LARGEST, any::<u16>()), 1..600)) {
            let arena = Arena::new();
            let mut live: Vec<(Block, usize, u8)> = Vec::new();
            for (op, len, pick) in ops {
                if op == 0 && !live.is_empty() {
                    let (b, len, seed) = live.swap_remove(usize::from(pick) % live.len());
                    prop_assert!(holds(b, len, seed));
                    // SAFETY: freed once.
                    unsafe { arena.free(b, len) };
                } else {
                    let b = arena.alloc(len);
                    let seed = pick as u8;
                    fill(b, len, seed);
                    live.push((b, len, seed));
                }
                let stats = arena.stats();
                prop_assert_eq!(stats.blocks, live.len());
                let live_bytes: usize = live.iter().map(|&(_, len, _)| block_size(class_of(len))).sum();
                prop_assert!(stats.free_bytes + live_bytes <= stats.bytes());
                prop_assert!(stats.bytes() - stats.free_bytes - live_bytes < stats.pages * 256, "only page tails are neither");
            }
            for (b, len, seed) in live.drain(..) {
                prop_assert!(holds(b, len, seed));
                // SAFETY: freed once.
                unsafe { arena.free(b, len) };
            }
            prop_assert!(arena.stats().pages <= CLASSES);
        }
    }
}
