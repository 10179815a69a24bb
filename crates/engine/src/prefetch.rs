//! A hint to the processor to start loading a cache line that will be read soon.
//!
//! A pipelined batch of requests names its keys before the first one runs. Each lookup is a
//! chain of dependent cache misses (the index group, then the slot, then the value's own
//! allocation), and run one after another a batch waits for every one of them in turn. Asking
//! for the lines of every request first lets the misses of the whole batch overlap (see
//! [`Store::prefetch_index`](crate::Store::prefetch_index)).
//!
//! This is the engine's one use of `unsafe`: the intrinsic is `unsafe` only because it is a
//! `#[target_feature]` function, and SSE, which it needs, is part of the x86-64 baseline. A
//! prefetch reads nothing into the program and cannot fault, whatever the address. On other
//! architectures the hint is a no-op (their intrinsics are not stable).

/// Asks for the cache line holding the start of `value` (a hint; no effect on the program).
#[inline(always)]
#[allow(unsafe_code)]
pub fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let address = std::ptr::from_ref(value).cast::<i8>();
        // SAFETY: SSE is in the x86-64 baseline, so the target feature the intrinsic asks for
        // is always present; a prefetch does not access memory as far as the program is
        // concerned and cannot fault, and `address` comes from a live reference anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(address) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
