//! Transparent decompression, chosen by the magic bytes of the stream.

use std::io::{Cursor, ErrorKind, Read};

use super::TraceError;

/// Magic bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Magic bytes of a gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Magic bytes of an xz stream.
const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// The compression of a stream, as told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    /// Not compressed (or not a compression this crate reads).
    None,
    /// gzip, possibly several concatenated members.
    Gzip,
    /// xz, possibly several concatenated streams.
    Xz,
    /// zstd, possibly several concatenated frames.
    Zstd,
}

impl Compression {
    /// Tells the compression from the first bytes of a stream.
    fn detect(magic: &[u8]) -> Self {
        if magic.starts_with(&ZSTD_MAGIC) {
            Self::Zstd
        } else if magic.starts_with(&XZ_MAGIC) {
            Self::Xz
        } else if magic.starts_with(&GZIP_MAGIC) {
            Self::Gzip
        } else {
            Self::None
        }
    }
}

/// Wraps `reader` in a decompressor if its first bytes are the magic of a
/// zstd, gzip or xz stream, and returns it unchanged (but for the peeked
/// bytes, which are replayed) otherwise.
///
/// The file name plays no part: a `.gz` that is not gzip is read as is, and a
/// compressed file without extension is decompressed. Concatenated frames,
/// members or streams are all read.
///
/// ```
/// use std::io::Read;
/// let mut plain = String::new();
/// larder_sim::trace::decompress(&b"1\n2\n"[..])?.read_to_string(&mut plain)?;
/// assert_eq!(plain, "1\n2\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`TraceError::Io`] if the first bytes cannot be read or the zstd decoder
/// cannot be set up. Corrupt compressed data shows up later, as an
/// [`std::io::Error`] from the returned reader.
pub fn decompress<'a>(mut reader: impl Read + 'a) -> Result<Box<dyn Read + 'a>, TraceError> {
    let mut magic = [0u8; XZ_MAGIC.len()];
    let mut got = 0;
    while got < magic.len() {
        match reader.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(TraceError::io(e)),
        }
    }
    let magic = &magic[..got];
    let compression = Compression::detect(magic);
    let stream = Cursor::new(magic.to_vec()).chain(reader);
    Ok(match compression {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(stream)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(stream).map_err(TraceError::io)?)
        }
    })
}

/// Reads up to `limit` decompressed bytes from the start of `reader`, for
/// sniffing the content of a file.
pub(crate) fn peek_decompressed(reader: impl Read, limit: usize) -> Result<Vec<u8>, TraceError> {
    let mut head = Vec::with_capacity(limit);
    decompress(reader)?
        .take(limit as u64)
        .read_to_end(&mut head)
        .map_err(TraceError::io)?;
    Ok(head)
}

/// Compresses `data` with `kind` (`gzip`, `xz` or `zstd`), for tests.
#[cfg(test)]
pub(crate) fn compress_for_test(data: &[u8], kind: &str) -> Vec<u8> {
    use std::io::Write;
    match kind {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).expect("gzip");
            e.finish().expect("gzip")
        }
        "xz" => {
            let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).expect("xz");
            e.finish().expect("xz")
        }
        "zstd" => zstd::stream::encode_all(data, 1).expect("zstd"),
        other => panic!("unknown compression {other}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io;

    use super::*;

    fn roundtrip(data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decompress(data)
            .map_err(io::Error::other)?
            .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn detects_by_magic_not_name() {
        let data = b"100 1 0 0\n101 2 0 1\n".repeat(50);
        for kind in ["gzip", "xz", "zstd"] {
            let packed = compress_for_test(&data, kind);
            assert_ne!(packed, data);
            assert_eq!(roundtrip(&packed).unwrap(), data, "{kind}");
        }
        assert_eq!(roundtrip(&data).unwrap(), data);
    }

    #[test]
    fn short_and_empty_inputs_pass_through() {
        assert_eq!(roundtrip(b"").unwrap(), b"");
        assert_eq!(roundtrip(b"7").unwrap(), b"7");
        // A lone gzip magic without a body is a decompression error, not a panic.
        assert!(roundtrip(&GZIP_MAGIC).is_err());
    }

    #[test]
    fn concatenated_members_are_all_read() {
        for kind in ["gzip", "xz", "zstd"] {
            let mut packed = compress_for_test(b"1\n2\n", kind);
            packed.extend(compress_for_test(b"3\n", kind));
            assert_eq!(roundtrip(&packed).unwrap(), b"1\n2\n3\n", "{kind}");
        }
    }

    #[test]
    fn corrupt_data_is_an_error() {
        for kind in ["gzip", "xz", "zstd"] {
            let mut packed = compress_for_test(&b"123456789\n".repeat(100), kind);
            let mid = packed.len() / 2;
            packed.truncate(mid);
            assert!(roundtrip(&packed).is_err(), "{kind}");
        }
    }

    #[test]
    fn reader_delivering_one_byte_at_a_time() {
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match (self.0.split_first(), buf.first_mut()) {
                    (Some((b, rest)), Some(slot)) => {
                        *slot = *b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let packed = compress_for_test(b"42\n", "xz");
        let mut out = String::new();
        decompress(OneByte(&packed))
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "42\n");
    }
}
