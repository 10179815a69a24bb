//! What the process uses: the allocator's figures (jemalloc, when it is the global allocator),
//! resident memory and CPU time from `/proc`, for `INFO memory`, `INFO cpu` and the
//! reconciliation of `maxmemory` with real memory (see [`Keyspace::reconcile`]); and the purge
//! that has jemalloc return its freed pages ([`purge`]).
//!
//! [`Keyspace::reconcile`]: crate::keyspace::Keyspace::reconcile

/// jemalloc's view of the heap, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocatorStats {
    /// Bytes allocated (`stats.allocated`), the threads' allocation caches included.
    pub allocated: u64,
    /// Of those, the bytes the threads' caches hold, free for the program to allocate again
    /// (`stats.arenas.<all>.tcache_bytes`).
    pub cached: u64,
    /// Bytes in pages with at least one allocation (`stats.active`).
    pub active: u64,
    /// Of the bytes allocated, those in free blocks of the string arena's pages
    /// ([`ArenaStats::free_bytes`](crate::value::arena::ArenaStats::free_bytes)).
    pub arena_free: u64,
    /// Bytes of allocator memory mapped and resident (`stats.resident`).
    pub resident: u64,
    /// Bytes in pages the program freed and the allocator has not returned to the system yet:
    /// its dirty and muzzy pages (`stats.arenas.<all>.pdirty` and `pmuzzy`, times the page
    /// size). They are resident, and returned by the allocator's decay or by [`purge`].
    pub freed_pages: u64,
}

impl AllocatorStats {
    /// Bytes the program holds: [`AllocatorStats::allocated`] less the threads' caches and the
    /// string arena's free blocks. This is what Redis's `used_memory` counts (its own count of
    /// live allocations), and what `INFO memory`'s `used_memory` reports here. A thread's cache
    /// of freed blocks (up to hundreds of kilobytes per thread) is the allocator's, not data;
    /// counting it made an idle server look twice its size. The arena's free blocks are room
    /// in its pages, as the free regions of jemalloc's own slabs are (which `stats.allocated`
    /// leaves out): counted, they kept `used_memory` at its peak after evictions scattered over
    /// the pages, and the reconciliation cut the data budget again and again to make up for
    /// memory that eviction could not give back.
    pub fn held(&self) -> u64 {
        self.allocated
            .saturating_sub(self.cached)
            .saturating_sub(self.arena_free)
    }

    /// The bytes `maxmemory` is held to ([`Keyspace::reconcile`]): what the program holds
    /// ([`AllocatorStats::held`]) plus the freed pages the allocator keeps resident
    /// ([`AllocatorStats::freed_pages`]). Under churn jemalloc keeps freed pages resident for
    /// seconds (its decay), so that part of the RSS grows with the rate of writes, not the
    /// data; counting it keeps the RSS within `maxmemory` of the idle RSS, which the bytes held
    /// alone do not. The allocator's metadata is not counted: it is part of the idle RSS, and
    /// grows with the heap by a fraction of a percent.
    ///
    /// [`Keyspace::reconcile`]: crate::keyspace::Keyspace::reconcile
    pub fn limited_bytes(&self) -> u64 {
        self.held() + self.freed_pages
    }
}

/// What [`Keyspace::reconcile`] is given: [`AllocatorStats::limited_bytes`], or `None` without
/// allocator figures.
///
/// [`Keyspace::reconcile`]: crate::keyspace::Keyspace::reconcile
pub fn limited_bytes() -> Option<u64> {
    allocator_stats().map(|a| a.limited_bytes())
}

/// The allocator's figures, or `None` when jemalloc is not the process's global allocator (the
/// `jemalloc` feature is off, or the program installed another allocator — the server's own
/// tests do).
pub fn allocator_stats() -> Option<AllocatorStats> {
    #[cfg(feature = "jemalloc")]
    {
        jemalloc::stats()
    }
    #[cfg(not(feature = "jemalloc"))]
    {
        None
    }
}

/// Asks the allocator to return to the system, now, the pages it keeps resident after frees
/// (jemalloc's `arena.<all>.purge`; `MEMORY PURGE`). `false` when jemalloc is not the
/// allocator or refuses.
pub fn purge() -> bool {
    #[cfg(feature = "jemalloc")]
    {
        jemalloc::purge()
    }
    #[cfg(not(feature = "jemalloc"))]
    {
        false
    }
}

/// `mem_allocator` in `INFO memory`: `jemalloc-<version>` or `libc`.
pub fn allocator_name() -> String {
    #[cfg(feature = "jemalloc")]
    if let Some(version) = jemalloc::version() {
        return format!("jemalloc-{version}");
    }
    "libc".to_owned()
}

#[cfg(feature = "jemalloc")]
mod jemalloc {
    use super::AllocatorStats;
    use std::sync::OnceLock;
    use tikv_jemalloc_ctl::{epoch, stats, thread};

    /// Whether jemalloc serves this process's allocations: the calling thread's allocation
    /// counter must grow by at least the size of a fresh allocation. (The crate links jemalloc
    /// even when the program's global allocator is another one; its statistics are then
    /// those of an unused heap.)
    fn in_use() -> bool {
        static IN_USE: OnceLock<bool> = OnceLock::new();
        *IN_USE.get_or_init(|| {
            let Ok(counter) = thread::allocatedp::read() else {
                return false;
            };
            let before = counter.get();
            let probe = std::hint::black_box(vec![1u8; 64 << 10]);
            let after = counter.get();
            drop(probe);
            after.saturating_sub(before) >= 64 << 10
        })
    }

    pub(super) fn stats() -> Option<AllocatorStats> {
        if !in_use() {
            return None;
        }
        // The statistics are a snapshot refreshed by advancing the epoch.
        epoch::advance().ok()?;
        Some(AllocatorStats {
            allocated: stats::allocated::read().ok()? as u64,
            cached: thread_caches().unwrap_or(0) as u64,
            active: stats::active::read().ok()? as u64,
            resident: stats::resident::read().ok()? as u64,
            arena_free: crate::value::arena::ARENA.stats().free_bytes as u64,
            freed_pages: freed_pages().unwrap_or(0) as u64,
        })
    }

    /// `stats.arenas.<MALLCTL_ARENAS_ALL>.pdirty` and `pmuzzy`, in bytes: the pages freed
    /// and not yet returned to the system, over all arenas (as of the last epoch advance).
    #[allow(unsafe_code)]
    fn freed_pages() -> Option<usize> {
        const DIRTY: &[u8] = b"stats.arenas.4096.pdirty\0";
        const MUZZY: &[u8] = b"stats.arenas.4096.pmuzzy\0";
        const PAGE: &[u8] = b"arenas.page\0";
        // SAFETY: as in `thread_caches`: NUL-terminated mallctl names (4096 is
        // MALLCTL_ARENAS_ALL) whose documented type is `size_t`, which is `usize`.
        let (dirty, muzzy, page) = unsafe {
            (
                tikv_jemalloc_ctl::raw::read::<usize>(DIRTY).ok()?,
                tikv_jemalloc_ctl::raw::read::<usize>(MUZZY).ok()?,
                tikv_jemalloc_ctl::raw::read::<usize>(PAGE).ok()?,
            )
        };
        Some((dirty + muzzy) * page)
    }

    /// `stats.arenas.<MALLCTL_ARENAS_ALL>.tcache_bytes`: the bytes held by the threads' caches,
    /// over all arenas (as of the last epoch advance). `tikv-jemalloc-ctl` has no typed
    /// accessor for it, so it is read by name.
    #[allow(unsafe_code)]
    fn thread_caches() -> Option<usize> {
        const NAME: &[u8] = b"stats.arenas.4096.tcache_bytes\0";
        // SAFETY: `raw::read` is unsafe because the caller must name the value's type: this
        // name is a NUL-terminated mallctl name (4096 is MALLCTL_ARENAS_ALL) whose documented
        // type is `size_t`, which is `usize`.
        unsafe { tikv_jemalloc_ctl::raw::read::<usize>(NAME) }.ok()
    }

    /// `arena.<MALLCTL_ARENAS_ALL>.purge`: returns every arena's unused dirty pages. The control
    /// takes and gives nothing, which `tikv-jemalloc-ctl`'s calls cannot express (they always
    /// pass a value), so it is called through `mallctl` itself.
    #[allow(unsafe_code)]
    pub(super) fn purge() -> bool {
        use std::ptr::null_mut;
        const NAME: &[u8] = b"arena.4096.purge\0";
        if !in_use() {
            return false;
        }
        // SAFETY: `NAME` is a NUL-terminated mallctl name (4096 is MALLCTL_ARENAS_ALL); the
        // control reads and writes nothing, and is called, as jemalloc requires, with null
        // pointers and a zero length.
        let status = unsafe {
            tikv_jemalloc_sys::mallctl(NAME.as_ptr().cast(), null_mut(), null_mut(), null_mut(), 0)
        };
        status == 0
    }

    pub(super) fn version() -> Option<&'static str> {
        if !in_use() {
            return None;
        }
        let v = tikv_jemalloc_ctl::version::read().ok()?;
        Some(v.split('-').next().unwrap_or(v))
    }
}

/// A `Name: <n> kB` line of a `/proc` file, in bytes.
fn proc_kb(path: &str, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix(name))?;
    let kb: u64 = line
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Resident set size of the process in bytes (`VmRSS` of `/proc/self/status`), when known.
pub fn rss() -> Option<u64> {
    proc_kb("/proc/self/status", "VmRSS")
}

/// Physical memory of the machine in bytes (`MemTotal` of `/proc/meminfo`), or 0.
pub fn total_system_memory() -> u64 {
    proc_kb("/proc/meminfo", "MemTotal").unwrap_or(0)
}

/// CPU time used by the process so far: (system, user) in seconds, from `/proc/self/stat`
/// (clock ticks of 1/100 s, the `USER_HZ` Linux reports there), when known.
pub fn cpu_times() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are
    // fixed: state is field 3, utime field 14, stime field 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((stime as f64 / 100.0, utime as f64 / 100.0))
}

/// Redis's `bytesToHuman`: `1.50M`-style figures for the `*_human` fields.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    const UNITS: [(f64, &str); 6] = [
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "E"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0, "M"),
        (1024.0, "K"),
    ];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    for (unit, suffix) in UNITS {
        if b >= unit {
            return format!("{:.2}{suffix}", b / unit);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_follow_redis() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(1536 * 1024), "1.50M");
        assert_eq!(human(3 << 30), "3.00G");
    }

    #[test]
    fn proc_figures_are_read() {
        assert!(rss().is_some_and(|r| r > 0));
        assert!(cpu_times().is_some());
        assert!(total_system_memory() > 0);
    }

    #[test]
    fn the_limited_figure_counts_the_freed_pages() {
        let at = |allocated, freed_pages| AllocatorStats {
            allocated,
            cached: 0,
            active: allocated,
            resident: allocated + freed_pages + 2_000_000,
            arena_free: 0,
            freed_pages,
        };
        assert_eq!(at(1_000_000, 0).limited_bytes(), 1_000_000);
        // Under churn the allocator keeps 10 MB of freed pages: they count.
        assert_eq!(at(60_000_000, 10_000_000).limited_bytes(), 70_000_000);
        // The threads' caches and the string arena's free blocks are room, not what the program
        // holds: they count as neither held nor limited.
        let cached = AllocatorStats {
            cached: 600_000,
            arena_free: 200_000,
            ..at(1_000_000, 50_000)
        };
        assert_eq!(cached.held(), 200_000);
        assert_eq!(cached.limited_bytes(), 250_000);
    }
}
