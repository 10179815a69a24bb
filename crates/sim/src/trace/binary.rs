//! Readers of the fixed-size binary record formats: Caffeine's big-endian
//! `i64` and cache2k's big-endian `i32` key streams, and libCacheSim's
//! oracleGeneral records.

use std::io::{ErrorKind, Read};

use super::{Request, TraceError};

/// Size of the read buffer, rounded down to whole records.
const CHUNK: usize = 64 * 1024;

/// Size of one oracleGeneral record: `{u32 ts; u64 id; u32 size; i64 next}`.
pub(crate) const ORACLE_RECORD: usize = 24;

/// Reads `N`-byte records until the end of `reader`, decoding each with
/// `decode`. An incomplete last record is a [`TraceError::Truncated`].
fn read_records<const N: usize>(
    mut reader: impl Read,
    out: &mut Vec<Request>,
    decode: impl Fn(&[u8; N]) -> Request,
) -> Result<(), TraceError> {
    let mut buf = vec![0u8; (CHUNK / N).max(1) * N];
    // Bytes at the start of `buf` not yet decoded (less than one record
    // between reads), and the stream offset of `buf[0]`.
    let mut filled = 0;
    let mut offset: u64 = 0;
    loop {
        let n = match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(TraceError::io(e)),
        };
        filled += n;
        let whole = filled - filled % N;
        let mut record = [0u8; N];
        for chunk in buf[..whole].chunks_exact(N) {
            record.copy_from_slice(chunk);
            out.push(decode(&record));
        }
        buf.copy_within(whole..filled, 0);
        filled -= whole;
        offset += whole as u64;
    }
    if filled > 0 {
        return Err(TraceError::Truncated {
            path: None,
            record: offset / N as u64,
            offset,
            got: filled,
            record_len: N,
        });
    }
    Ok(())
}

/// Caffeine (Corda, Scarab): big-endian `i64` keys, one per request.
pub(crate) fn read_i64_be(reader: impl Read, out: &mut Vec<Request>) -> Result<(), TraceError> {
    read_records::<8>(reader, out, |b| Request {
        key: u64::from_be_bytes(*b),
        size: 1,
    })
}

/// cache2k: big-endian `i32` keys, one per request, sign-extended to 64 bits
/// (as Java widens `int` to `long`).
pub(crate) fn read_i32_be(reader: impl Read, out: &mut Vec<Request>) -> Result<(), TraceError> {
    read_records::<4>(reader, out, |b| Request {
        key: i64::from(i32::from_be_bytes(*b)) as u64,
        size: 1,
    })
}

/// libCacheSim oracleGeneral: little-endian `{u32 timestamp; u64 obj_id;
/// u32 obj_size; i64 next_access_vtime}`; key = `obj_id`, size = `obj_size`.
pub(crate) fn read_oracle_general(
    reader: impl Read,
    out: &mut Vec<Request>,
) -> Result<(), TraceError> {
    read_records::<ORACLE_RECORD>(reader, out, |b| {
        let [
            _,
            _,
            _,
            _,
            i0,
            i1,
            i2,
            i3,
            i4,
            i5,
            i6,
            i7,
            s0,
            s1,
            s2,
            s3,
            ..,
        ] = *b;
        Request {
            key: u64::from_le_bytes([i0, i1, i2, i3, i4, i5, i6, i7]),
            size: u32::from_le_bytes([s0, s1, s2, s3]),
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io;

    use super::*;

    fn run(
        reader: fn(&[u8], &mut Vec<Request>) -> Result<(), TraceError>,
        data: &[u8],
    ) -> Result<Vec<Request>, TraceError> {
        let mut out = Vec::new();
        reader(data, &mut out)?;
        Ok(out)
    }

    fn i64s(data: &[u8], out: &mut Vec<Request>) -> Result<(), TraceError> {
        read_i64_be(data, out)
    }
    fn i32s(data: &[u8], out: &mut Vec<Request>) -> Result<(), TraceError> {
        read_i32_be(data, out)
    }
    fn oracle(data: &[u8], out: &mut Vec<Request>) -> Result<(), TraceError> {
        read_oracle_general(data, out)
    }

    fn oracle_record(ts: u32, id: u64, size: u32, next: i64) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend(ts.to_le_bytes());
        r.extend(id.to_le_bytes());
        r.extend(size.to_le_bytes());
        r.extend(next.to_le_bytes());
        r
    }

    #[test]
    fn i64_big_endian() {
        let mut data = Vec::new();
        for k in [1i64, -1, 0x0102_0304_0506_0708, i64::MIN] {
            data.extend(k.to_be_bytes());
        }
        let keys: Vec<u64> = run(i64s, &data).unwrap().iter().map(|r| r.key).collect();
        assert_eq!(keys, [1, u64::MAX, 0x0102_0304_0506_0708, 1 << 63]);
        assert!(run(i64s, &[]).unwrap().is_empty());
    }

    #[test]
    fn i32_big_endian_sign_extended() {
        let mut data = Vec::new();
        for k in [1i32, -1, 0x0a0b_0c0d] {
            data.extend(k.to_be_bytes());
        }
        let out = run(i32s, &data).unwrap();
        let keys: Vec<u64> = out.iter().map(|r| r.key).collect();
        assert_eq!(keys, [1, u64::MAX, 0x0a0b_0c0d]);
        assert!(out.iter().all(|r| r.size == 1));
    }

    #[test]
    fn oracle_general_records() {
        let mut data = oracle_record(1, 42, 4096, -1);
        data.extend(oracle_record(2, u64::MAX, 512, 7));
        let out = run(oracle, &data).unwrap();
        assert_eq!(
            out,
            [
                Request {
                    key: 42,
                    size: 4096
                },
                Request {
                    key: u64::MAX,
                    size: 512
                }
            ]
        );
    }

    #[test]
    fn truncated_records_are_errors() {
        let e = run(i64s, &[0; 8 * 3 + 5]).unwrap_err();
        assert!(
            matches!(
                e,
                TraceError::Truncated {
                    record: 3,
                    offset: 24,
                    got: 5,
                    record_len: 8,
                    ..
                }
            ),
            "{e}"
        );
        let e = run(i32s, &[0; 3]).unwrap_err();
        assert!(
            matches!(
                e,
                TraceError::Truncated {
                    record: 0,
                    got: 3,
                    ..
                }
            ),
            "{e}"
        );
        let mut data = oracle_record(1, 2, 3, 4);
        data.extend([0; 23]);
        let e = run(oracle, &data).unwrap_err();
        assert!(
            matches!(
                e,
                TraceError::Truncated {
                    record: 1,
                    offset: 24,
                    got: 23,
                    ..
                }
            ),
            "{e}"
        );
    }

    /// Delivers its data in reads of awkward sizes, with interruptions.
    struct Ragged {
        data: Vec<u8>,
        pos: usize,
        calls: usize,
    }

    impl Read for Ragged {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 5 == 0 {
                return Err(io::Error::new(ErrorKind::Interrupted, "again"));
            }
            let want = [1, 7, 23, 4093][self.calls % 4].min(buf.len());
            let n = want.min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn records_split_across_reads() {
        let count = 10_000u64;
        let mut data = Vec::new();
        for id in 0..count {
            data.extend(oracle_record(0, id, id as u32, -1));
        }
        let mut out = Vec::new();
        read_oracle_general(
            Ragged {
                data,
                pos: 0,
                calls: 0,
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len() as u64, count);
        assert!(
            out.iter()
                .enumerate()
                .all(|(i, r)| r.key == i as u64 && r.size == i as u32)
        );
    }

    #[test]
    fn read_errors_are_reported() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let e = read_i64_be(Broken, &mut Vec::new()).unwrap_err();
        assert!(matches!(e, TraceError::Io { .. }), "{e}");
        assert!(e.to_string().contains("disk on fire"));
    }
}
