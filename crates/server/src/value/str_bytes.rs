//! [`StrBytes`], the bytes of a string value in 16 bytes.
//!
//! A `Box<[u8]>` is a pointer and a length (16 bytes) and leaves no room in a [`Value`] for the
//! tag, so a value holding one is 24 bytes. `StrBytes` keeps the length beside a *thin* pointer
//! instead, to a buffer whose size is known from the variant and the length, which is stored in
//! the spare bytes next to the tag; a `Value` holding it stays at 16 bytes. That saves 8 bytes in
//! every entry's slot.
//!
//! * up to [`INLINE`] bytes: inline, no allocation;
//! * up to 128 bytes: a `Box<[u8; N]>` for the smallest of jemalloc's size classes `N` (16 bytes
//!   apart) that holds it; each class is its own array type;
//! * 129 to 256 bytes: a block of the [string arena](super::arena), the length rounded up to 8
//!   bytes (jemalloc's classes are 32 bytes apart there: a 200-byte value took 224 bytes, it
//!   now takes 203 with its share of the arena's page);
//! * longer: a boxed `Box<[u8]>`, whose 16-byte outer box is under 7 % of the string.
//!
//! The length of a `StrBytes` never changes (an edit in place, `SETRANGE` or `SETBIT` within the
//! string, rewrites bytes; anything longer builds a new one), which is what lets the arena's
//! block be found again from the length alone.
//!
//! The arena's blocks are raw pointers: this module reads, writes and frees them in `unsafe`
//! blocks, each with its reason beside it (see the arena's "Safety" section).
#![allow(unsafe_code)]
//!
//! [`Value`]: super::Value

use super::arena::{self, ARENA, Block};
use larder_engine::prefetch::prefetch;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The longest string kept inline, without an allocation.
pub const INLINE: usize = 14;

/// The longest string kept in a size-class buffer or an arena block; longer ones are boxed
/// slices.
pub const LARGEST_CLASS: usize = arena::LARGEST;

macro_rules! size_classes {
    ($($class:ident = $size:literal),* $(,)?) => {
        enum Repr {
            /// `bytes[..len]` is the string.
            Inline { len: u8, bytes: [u8; INLINE] },
            $(
                /// `bytes[..len]` is the string, `len` over the next smaller class.
                $class { len: u16, bytes: Box<[u8; $size]> },
            )*
            /// `len` bytes at `ptr`, in an arena block (see [`super::arena`]).
            Arena { len: u16, page: u32, ptr: NonNull<u8> },
            /// A string over [`LARGEST_CLASS`] bytes.
            Large(Box<Box<[u8]>>),
        }

        impl StrBytes {
            /// A copy of `src`.
            pub fn from_slice(src: &[u8]) -> StrBytes {
                let len = src.len();
                if len <= INLINE {
                    let mut bytes = [0; INLINE];
                    bytes[..len].copy_from_slice(src);
                    return StrBytes(Repr::Inline { len: len as u8, bytes });
                }
                $(
                    if len <= $size {
                        let mut bytes = Box::new([0; $size]);
                        bytes[..len].copy_from_slice(src);
                        return StrBytes(Repr::$class { len: len as u16, bytes });
                    }
                )*
                if len <= arena::LARGEST {
                    let Block { page, ptr } = ARENA.alloc(len);
                    // SAFETY: the block holds at least `len` bytes, is fresh, and cannot overlap
                    // `src`, which is borrowed.
                    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), ptr.as_ptr(), len) };
                    return StrBytes(Repr::Arena { len: len as u16, page, ptr });
                }
                StrBytes(Repr::Large(Box::new(src.into())))
            }

            /// The string's bytes.
            #[inline]
            pub fn as_slice(&self) -> &[u8] {
                match &self.0 {
                    Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
                    $(Repr::$class { len, bytes } => &bytes[..usize::from(*len)],)*
                    // SAFETY: the block holds `len` initialised bytes, owned by `self`.
                    Repr::Arena { len, ptr, .. } => unsafe {
                        std::slice::from_raw_parts(ptr.as_ptr(), usize::from(*len))
                    },
                    Repr::Large(bytes) => bytes,
                }
            }

            /// The string's bytes, to edit in place (the length cannot change).
            #[inline]
            pub fn as_mut_slice(&mut self) -> &mut [u8] {
                match &mut self.0 {
                    Repr::Inline { len, bytes } => &mut bytes[..usize::from(*len)],
                    $(Repr::$class { len, bytes } => &mut bytes[..usize::from(*len)],)*
                    // SAFETY: as in `as_slice`, borrowed mutably through `self`.
                    Repr::Arena { len, ptr, .. } => unsafe {
                        std::slice::from_raw_parts_mut(ptr.as_ptr(), usize::from(*len))
                    },
                    Repr::Large(bytes) => bytes,
                }
            }

            /// Asks the processor for the first cache line of the heap buffer, if any (a hint,
            /// see `larder_engine::prefetch`): reads nothing but the pointer.
            #[inline]
            pub fn prefetch(&self) {
                match &self.0 {
                    Repr::Inline { .. } => {}
                    $(Repr::$class { bytes, .. } => prefetch(&**bytes),)*
                    // SAFETY: the block's first byte is initialised and owned by `self`.
                    Repr::Arena { ptr, .. } => prefetch(unsafe { ptr.as_ref() }),
                    Repr::Large(bytes) => prefetch(&**bytes),
                }
            }

            /// The heap bytes held: the buffer's size class, an arena block with its share of
            /// the page, or a large string's length and its 16-byte outer box; 0 inline.
            pub fn heap_bytes(&self) -> usize {
                match &self.0 {
                    Repr::Inline { .. } => 0,
                    $(Repr::$class { .. } => $size,)*
                    Repr::Arena { len, .. } => arena::charged_bytes(usize::from(*len)),
                    Repr::Large(bytes) => size_of::<Box<[u8]>>() + bytes.len(),
                }
            }
        }
    };
}

size_classes! {
    C16 = 16,
    C32 = 32,
    C48 = 48,
    C64 = 64,
    C80 = 80,
    C96 = 96,
    C112 = 112,
    C128 = 128,
}

/// A string value's bytes (see the [module docs](self)).
pub struct StrBytes(Repr);

// SAFETY: a `StrBytes` owns its arena block as a `Box` owns its buffer: no other value points
// to it, and it is read through `&self` and written through `&mut self` only.
unsafe impl Send for StrBytes {}
// SAFETY: as above; `&StrBytes` only reads.
unsafe impl Sync for StrBytes {}

impl Drop for StrBytes {
    fn drop(&mut self) {
        if let Repr::Arena { len, page, ptr } = self.0 {
            // SAFETY: the block came from `ARENA.alloc(len)` and `len` never changes; it is
            // freed once, here.
            unsafe { ARENA.free(Block { page, ptr }, usize::from(len)) };
        }
    }
}

impl Clone for StrBytes {
    fn clone(&self) -> StrBytes {
        match &self.0 {
            Repr::Inline { len, bytes } => StrBytes(Repr::Inline {
                len: *len,
                bytes: *bytes,
            }),
            _ => StrBytes::from_slice(self),
        }
    }
}

impl Deref for StrBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl DerefMut for StrBytes {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl From<&[u8]> for StrBytes {
    fn from(src: &[u8]) -> StrBytes {
        StrBytes::from_slice(src)
    }
}

impl From<Vec<u8>> for StrBytes {
    /// Takes the vector's buffer as it is when the string is over [`LARGEST_CLASS`] bytes
    /// (shrunk to fit), copies it into a size class otherwise.
    fn from(src: Vec<u8>) -> StrBytes {
        if src.len() > LARGEST_CLASS {
            StrBytes(Repr::Large(Box::new(src.into_boxed_slice())))
        } else {
            StrBytes::from_slice(&src)
        }
    }
}

impl PartialEq for StrBytes {
    fn eq(&self, other: &StrBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for StrBytes {}

impl fmt::Debug for StrBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_two_words_and_leaves_a_niche_for_the_value_tag() {
        assert_eq!(size_of::<StrBytes>(), 16);
        assert_eq!(size_of::<super::super::Value>(), 16);
    }

    #[test]
    fn every_length_round_trips_through_each_constructor() {
        for len in (0..=600).chain([4096, 70_000]) {
            let src: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let from_slice = StrBytes::from_slice(&src);
            let from_vec = StrBytes::from(src.clone());
            assert_eq!(&*from_slice, &src[..], "len {len}");
            assert_eq!(&*from_vec, &src[..], "len {len}");
            assert_eq!(from_slice.clone(), from_vec);
        }
    }

    #[test]
    fn the_buffer_is_the_smallest_size_class_that_holds_the_string() {
        let heap = |len: usize| StrBytes::from_slice(&vec![1; len]).heap_bytes();
        assert_eq!(heap(0), 0);
        assert_eq!(heap(INLINE), 0);
        assert_eq!(heap(INLINE + 1), 16);
        assert_eq!(heap(32), 32);
        assert_eq!(heap(33), 48);
        assert_eq!(heap(128), 128);
        assert_eq!(heap(129), 137, "120 blocks of 136 bytes in a 16 KB page");
        assert_eq!(heap(200), 203);
        assert_eq!(heap(LARGEST_CLASS), 256);
        assert_eq!(heap(LARGEST_CLASS + 1), 16 + 257);
    }

    #[test]
    fn an_edit_in_place_changes_only_the_bytes_edited() {
        for len in [3, 20, 200, 1000] {
            let mut s = StrBytes::from_slice(&vec![b'a'; len]);
            s[len - 1] = b'z';
            s[0] ^= 0x20;
            assert_eq!(s.len(), len);
            assert_eq!(s[0], b'A');
            assert_eq!(s[len - 1], b'z');
            assert!(s[1..len - 1].iter().all(|&b| b == b'a'));
        }
    }
}
