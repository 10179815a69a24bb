//! [`StrBytes`], the bytes of a string value in 16 bytes.
//!
//! A `Box<[u8]>` is a pointer and a length (16 bytes) and leaves no room in a [`Value`] for the
//! tag, so a value holding one is 24 bytes. `StrBytes` keeps the length beside a *thin* pointer
//! instead, to a buffer of one of the allocator's size classes (jemalloc's 16 to 256 bytes): the
//! buffer's size is known from the variant, the string's length is stored in the spare bytes
//! next to the tag, and a `Value` holding it stays at 16 bytes. That saves 8 bytes in every
//! entry's slot; the buffer costs what the allocator would have charged for an exact-size one.
//!
//! * up to [`INLINE`] bytes: inline, no allocation;
//! * up to 256 bytes: a `Box<[u8; N]>` for the smallest class `N` that holds it; an in-place
//!   edit (`SETRANGE`, `SETBIT`) may use the rest of the buffer without reallocating;
//! * longer: a boxed `Box<[u8]>`, whose 16-byte outer box is under 7 % of the string.
//!
//! No `unsafe`: each class is its own array type.
//!
//! [`Value`]: super::Value

use larder_engine::prefetch::prefetch;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// The longest string kept inline, without an allocation.
pub const INLINE: usize = 14;

/// The longest string kept in a size-class buffer; longer ones are boxed slices.
pub const LARGEST_CLASS: usize = 256;

macro_rules! size_classes {
    ($($class:ident = $size:literal),* $(,)?) => {
        #[derive(Clone)]
        enum Repr {
            /// `bytes[..len]` is the string.
            Inline { len: u8, bytes: [u8; INLINE] },
            $(
                /// `bytes[..len]` is the string, `len` over the next smaller class.
                $class { len: u16, bytes: Box<[u8; $size]> },
            )*
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
                StrBytes(Repr::Large(Box::new(src.into())))
            }

            /// The string's bytes.
            #[inline]
            pub fn as_slice(&self) -> &[u8] {
                match &self.0 {
                    Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
                    $(Repr::$class { len, bytes } => &bytes[..usize::from(*len)],)*
                    Repr::Large(bytes) => bytes,
                }
            }

            /// The string's bytes, to edit in place (the length cannot change).
            #[inline]
            pub fn as_mut_slice(&mut self) -> &mut [u8] {
                match &mut self.0 {
                    Repr::Inline { len, bytes } => &mut bytes[..usize::from(*len)],
                    $(Repr::$class { len, bytes } => &mut bytes[..usize::from(*len)],)*
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
                    Repr::Large(bytes) => prefetch(&**bytes),
                }
            }

            /// The heap bytes held: the buffer's size class, or a large string's length and
            /// its 16-byte outer box; 0 inline.
            pub fn heap_bytes(&self) -> usize {
                match &self.0 {
                    Repr::Inline { .. } => 0,
                    $(Repr::$class { .. } => $size,)*
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
    C160 = 160,
    C192 = 192,
    C224 = 224,
    C256 = 256,
}

/// A string value's bytes (see the [module docs](self)).
#[derive(Clone)]
pub struct StrBytes(Repr);

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
        assert_eq!(heap(129), 160);
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
