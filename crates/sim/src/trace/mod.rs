//! Trace readers: turn a trace file of any supported format into a list of
//! [`Request`]s.
//!
//! * [`open`] guesses the format from the file name ([`guess_format`]) and
//!   reads the whole file; [`open_as`] takes the format explicitly.
//! * Both decompress zstd, gzip and xz transparently, chosen by the magic
//!   bytes of the file, not its extension ([`decompress`]).
//! * [`read`] parses an already-decompressed stream.
//!
//! Keys are `u64`. Formats without sizes give every request size 1; formats
//! whose keys are not integers map them with fixed functions ([`fnv1a64`],
//! [`id_size_key`]) so that a trace always reads to the same keys.
//!
//! ```
//! use larder_sim::trace::{self, Request, TraceFormat};
//!
//! let requests = trace::read(&b"100 2 0 0\n7 1 0 1\n"[..], TraceFormat::ArcLis)?;
//! assert_eq!(requests.iter().map(|r| r.key).collect::<Vec<_>>(), [100, 101, 7]);
//!
//! let requests = trace::read(&b"key,size\nuser:1,300\n"[..], TraceFormat::Csv)?;
//! assert_eq!(requests, [Request { key: trace::fnv1a64(b"user:1"), size: 300 }]);
//! # Ok::<(), trace::TraceError>(())
//! ```

mod binary;
mod compress;
mod error;
mod keys;
mod text;

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use compress::decompress;
pub use error::TraceError;
pub use keys::{fnv1a64, id_size_key};

/// Longest accepted line of a text trace, in bytes (64 KiB, without the line
/// terminator). A longer line is a [`TraceError::LineTooLong`], so a binary
/// file read as text fails fast instead of being buffered whole.
pub const MAX_LINE_LEN: usize = 64 * 1024;

/// Most requests one ARC `.lis` line may expand to (2^20; the published ARC
/// traces use at most 128). A larger block count is a
/// [`TraceError::Malformed`], so one bad line cannot exhaust memory.
pub const MAX_ARC_RUN: u64 = 1 << 20;

/// Capacity of the buffer between the (decompressed) input and the parsers.
const READ_BUFFER: usize = 64 * 1024;

/// One request of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request {
    /// The requested object.
    pub key: u64,
    /// The object's size in bytes for sized formats, 1 for the others.
    pub size: u32,
}

/// The trace formats this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    /// ARC paper traces (`*.lis`): text lines `start_block block_count ignore
    /// request_no`, each expanding to `block_count` requests for keys
    /// `start_block..start_block + block_count`. Size 1. At most
    /// [`MAX_ARC_RUN`] requests per line.
    ArcLis,
    /// LIRS traces: one decimal integer key per line (a negative key is taken
    /// as its two's complement bits); lines that are `*` (checkpoint markers)
    /// or blank are skipped. Size 1.
    Lirs,
    /// Caffeine simulator binary traces (Corda, Scarab): a bare stream of
    /// big-endian `i64` keys, one per request, no header; key = the `i64`'s
    /// bits. Size 1.
    CaffeineI64,
    /// cache2k binary traces (web07, ...): a bare stream of big-endian `i32`
    /// keys, sign-extended to 64 bits (as Java widens `int` to `long`). Size 1.
    Cache2kI32,
    /// libCacheSim oracleGeneral: packed little-endian 24-byte records
    /// `{u32 timestamp; u64 obj_id; u32 obj_size; i64 next_access_vtime}`;
    /// key = `obj_id`, size = `obj_size`. An incomplete last record is an
    /// error.
    OracleGeneral,
    /// AdaptSize sample trace: text lines `time id size`. The same id appears
    /// with different sizes, and each `(id, size)` pair is its own object:
    /// key = [`id_size_key`]`(id, size)`, size = `size`. `time` is ignored.
    AdaptSize,
    /// Comma-separated `key` or `key,size` per line (blank lines skipped).
    ///
    /// * A key that is a decimal `u64` is used as is; any other key is hashed
    ///   with [`fnv1a64`] over its bytes (after trimming surrounding
    ///   whitespace, and unquoting a double-quoted key, in which `""` is a
    ///   literal quote and commas are allowed).
    /// * The size is a decimal `u32`, 1 if absent.
    /// * The first line is a header, and skipped, when its size column is
    ///   text, or when its key is text and the second line's key is a
    ///   number. (A one-column file with text keys and a header therefore
    ///   counts the header as a request: give such files a size column.)
    Csv,
}

impl TraceFormat {
    /// Every format, in declaration order.
    pub const ALL: [Self; 7] = [
        Self::ArcLis,
        Self::Lirs,
        Self::CaffeineI64,
        Self::Cache2kI32,
        Self::OracleGeneral,
        Self::AdaptSize,
        Self::Csv,
    ];

    /// The format's short name, as accepted by [`FromStr`]: `arc-lis`,
    /// `lirs`, `caffeine-i64`, `cache2k-i32`, `oracle-general`, `adaptsize`,
    /// `csv`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ArcLis => "arc-lis",
            Self::Lirs => "lirs",
            Self::CaffeineI64 => "caffeine-i64",
            Self::Cache2kI32 => "cache2k-i32",
            Self::OracleGeneral => "oracle-general",
            Self::AdaptSize => "adaptsize",
            Self::Csv => "csv",
        }
    }

    /// Which file names [`guess_format`] maps to this format.
    pub const fn file_names(self) -> &'static str {
        match self {
            Self::ArcLis => "*.lis",
            Self::Lirs => "in a `lirs` directory, or a text *.trace[.gz]",
            Self::CaffeineI64 => "corda, scarab",
            Self::Cache2kI32 => "web07, cache2k",
            Self::OracleGeneral => "*oracleGeneral*",
            Self::AdaptSize => "adaptsize, adapt_size, request.trace",
            Self::Csv => "*.csv",
        }
    }

    /// The list of formats and their file names, for error messages.
    pub(crate) fn accepted() -> String {
        Self::ALL
            .iter()
            .map(|f| format!("{} ({})", f.name(), f.file_names()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TraceFormat {
    type Err = TraceError;

    /// Parses a [`name`](Self::name), ignoring case and treating `_` as `-`.
    fn from_str(s: &str) -> Result<Self, TraceError> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|f| f.name() == wanted)
            .ok_or_else(|| TraceError::UnknownFormatName { name: s.to_owned() })
    }
}

/// A whole trace, read into memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The file name without directory and without format and compression
    /// extensions (`arc/OLTP.lis.zst` is `OLTP`).
    pub name: String,
    /// The format it was read as.
    pub format: TraceFormat,
    /// The requests, in trace order.
    pub requests: Vec<Request>,
}

impl Trace {
    /// Number of requests.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether the trace has no requests.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Number of distinct keys.
    pub fn unique_keys(&self) -> usize {
        let mut seen = HashSet::with_hasher(keys::BuildKeyHasher);
        for request in &self.requests {
            seen.insert(request.key);
        }
        seen.len()
    }
}

/// Parses an already-decompressed trace stream (see [`decompress`] for a
/// compressed one). `reader` need not be buffered.
///
/// # Errors
///
/// [`TraceError::Io`] if reading fails, [`TraceError::Malformed`] or
/// [`TraceError::LineTooLong`] (with the line number) for bad text, and
/// [`TraceError::Truncated`] for a binary stream that ends inside a record.
pub fn read(reader: impl Read, format: TraceFormat) -> Result<Vec<Request>, TraceError> {
    let mut requests = Vec::new();
    read_into(reader, format, &mut requests)?;
    Ok(requests)
}

/// [`read`], appending to `out`.
fn read_into(
    reader: impl Read,
    format: TraceFormat,
    out: &mut Vec<Request>,
) -> Result<(), TraceError> {
    let reader = BufReader::with_capacity(READ_BUFFER, reader);
    match format {
        TraceFormat::ArcLis => text::read_arc(text::Lines::new(reader), out),
        TraceFormat::Lirs => text::read_lirs(text::Lines::new(reader), out),
        TraceFormat::AdaptSize => text::read_adaptsize(text::Lines::new(reader), out),
        TraceFormat::Csv => text::read_csv(text::Lines::new(reader), out),
        TraceFormat::CaffeineI64 => binary::read_i64_be(reader, out),
        TraceFormat::Cache2kI32 => binary::read_i32_be(reader, out),
        TraceFormat::OracleGeneral => binary::read_oracle_general(reader, out),
    }
}

/// Reads the trace at `path`, guessing its format from the file name (see
/// [`guess_format`]).
///
/// # Errors
///
/// [`TraceError::UnknownFormat`] if the name matches no format (the message
/// lists the accepted ones), and every error of [`open_as`].
pub fn open(path: &Path) -> Result<Trace, TraceError> {
    let format = guess_format(path)?;
    open_as(path, format)
}

/// Reads the trace at `path` as `format`, decompressing it if it is zstd,
/// gzip or xz.
///
/// # Errors
///
/// As [`read`], with the path in the error.
pub fn open_as(path: &Path, format: TraceFormat) -> Result<Trace, TraceError> {
    let io_error = |source| TraceError::Io {
        path: Some(path.to_path_buf()),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let file_len = file.metadata().map_err(io_error)?.len();
    let mut requests = Vec::new();
    if let Some(record_len) = record_len(format) {
        // Exact for an uncompressed file, a harmless underestimate otherwise.
        let records = file_len / record_len as u64;
        requests.reserve(usize::try_from(records).unwrap_or(0));
    }
    decompress(file)
        .and_then(|stream| read_into(stream, format, &mut requests))
        .map_err(|e| e.in_file(path))?;
    Ok(Trace {
        name: trace_name(path),
        format,
        requests,
    })
}

/// Size of one record of a binary format, `None` for text formats.
fn record_len(format: TraceFormat) -> Option<usize> {
    match format {
        TraceFormat::CaffeineI64 => Some(8),
        TraceFormat::Cache2kI32 => Some(4),
        TraceFormat::OracleGeneral => Some(binary::ORACLE_RECORD),
        TraceFormat::ArcLis | TraceFormat::Lirs | TraceFormat::AdaptSize | TraceFormat::Csv => None,
    }
}

/// Extensions of compressed files, stripped before looking at a file name.
const COMPRESSION_EXTENSIONS: [&str; 4] = [".gz", ".xz", ".zst", ".zstd"];

/// How many decompressed bytes [`guess_format`] looks at to tell a text
/// `*.trace` file.
const SNIFF_LEN: usize = 4096;

/// Guesses the format of a trace from its path, case-insensitively; rules in
/// order, first match wins:
///
/// 1. File name, after dropping a compression extension (`.gz`, `.xz`,
///    `.zst`, `.zstd`): `*.lis` → [`ArcLis`](TraceFormat::ArcLis), `*.csv` →
///    [`Csv`](TraceFormat::Csv); contains `oracleGeneral` →
///    [`OracleGeneral`](TraceFormat::OracleGeneral), `corda` or `scarab` →
///    [`CaffeineI64`](TraceFormat::CaffeineI64), `web07` or `cache2k` →
///    [`Cache2kI32`](TraceFormat::Cache2kI32), `adaptsize`, `adapt_size` or
///    `request.trace` → [`AdaptSize`](TraceFormat::AdaptSize), `lirs` →
///    [`Lirs`](TraceFormat::Lirs).
/// 2. The nearest parent directory named `lirs`, `corda`, `scarab`,
///    `cache2k`, `adaptsize` or `adapt_size` (Caffeine's layout) → that
///    format.
/// 3. A `*.trace` file (compressed or not) whose first 4 KiB decompressed are
///    text of digits, `*` and whitespace → [`Lirs`](TraceFormat::Lirs). This
///    is the only rule that reads the file.
///
/// # Errors
///
/// [`TraceError::UnknownFormat`] when no rule matches (its message lists the
/// formats and their names), [`TraceError::Io`] if rule 3 cannot read the
/// file.
pub fn guess_format(path: &Path) -> Result<TraceFormat, TraceError> {
    let unknown = || TraceError::UnknownFormat {
        path: path.to_path_buf(),
    };
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().to_ascii_lowercase())
        .ok_or_else(unknown)?;
    let base = strip_compression(&file_name);
    if base.ends_with(".lis") {
        return Ok(TraceFormat::ArcLis);
    }
    if base.ends_with(".csv") {
        return Ok(TraceFormat::Csv);
    }
    if let Some(format) = format_of_name(base) {
        return Ok(format);
    }
    let parents = path.ancestors().skip(1).filter_map(Path::file_name);
    for dir in parents {
        let dir = dir.to_string_lossy().to_ascii_lowercase();
        if let Some(format) = format_of_dir(&dir) {
            return Ok(format);
        }
    }
    if base.ends_with(".trace") && looks_like_lirs(path)? {
        return Ok(TraceFormat::Lirs);
    }
    Err(unknown())
}

/// Rule 1 of [`guess_format`] after the extensions: names that appear in a
/// (lowercase) file name.
fn format_of_name(name: &str) -> Option<TraceFormat> {
    const RULES: [(&str, TraceFormat); 9] = [
        ("oraclegeneral", TraceFormat::OracleGeneral),
        ("corda", TraceFormat::CaffeineI64),
        ("scarab", TraceFormat::CaffeineI64),
        ("web07", TraceFormat::Cache2kI32),
        ("cache2k", TraceFormat::Cache2kI32),
        ("adaptsize", TraceFormat::AdaptSize),
        ("adapt_size", TraceFormat::AdaptSize),
        ("request.trace", TraceFormat::AdaptSize),
        ("lirs", TraceFormat::Lirs),
    ];
    RULES
        .iter()
        .find(|(needle, _)| name.contains(needle))
        .map(|&(_, format)| format)
}

/// Rule 2 of [`guess_format`]: (lowercase) directory names.
fn format_of_dir(dir: &str) -> Option<TraceFormat> {
    match dir {
        "lirs" => Some(TraceFormat::Lirs),
        "corda" | "scarab" => Some(TraceFormat::CaffeineI64),
        "cache2k" => Some(TraceFormat::Cache2kI32),
        "adaptsize" | "adapt_size" => Some(TraceFormat::AdaptSize),
        _ => None,
    }
}

/// Rule 3 of [`guess_format`]: whether the start of the file reads as LIRS
/// text.
fn looks_like_lirs(path: &Path) -> Result<bool, TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io {
        path: Some(path.to_path_buf()),
        source,
    })?;
    let head = compress::peek_decompressed(file, SNIFF_LEN).map_err(|e| e.in_file(path))?;
    let text_byte =
        |b: &u8| b.is_ascii_digit() || matches!(b, b'*' | b'-' | b' ' | b'\t' | b'\r' | b'\n');
    Ok(head.iter().any(u8::is_ascii_digit) && head.iter().all(text_byte))
}

/// `name` without one compression extension.
fn strip_compression(name: &str) -> &str {
    COMPRESSION_EXTENSIONS
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(name)
}

/// The display name of a trace: its file name without compression and
/// format extensions.
fn trace_name(path: &Path) -> String {
    const FORMAT_EXTENSIONS: [&str; 6] =
        [".lis", ".trace", ".csv", ".bin", ".txt", ".oraclegeneral"];
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = file_name.as_str();
    let mut stripped = true;
    while stripped {
        stripped = false;
        let lower = name.to_ascii_lowercase();
        for ext in COMPRESSION_EXTENSIONS.iter().chain(&FORMAT_EXTENSIONS) {
            // ASCII lowercasing keeps byte offsets, so `lower`'s suffix
            // length applies to `name`.
            if lower.len() > ext.len() && lower.ends_with(ext) {
                name = &name[..name.len() - ext.len()];
                stripped = true;
                break;
            }
        }
    }
    name.to_owned()
}

/// The directory of the real traces: `$LARDER_TRACES` if set (and not
/// empty), else `shared/traces` beside the workspace (found from this crate's
/// source directory at build time); `None` if that directory does not exist.
pub fn traces_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LARDER_TRACES").filter(|dir| !dir.is_empty()) {
        let dir = PathBuf::from(dir);
        return dir.is_dir().then_some(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
    if !dir.is_dir() {
        return None;
    }
    Some(dir.canonicalize().unwrap_or(dir))
}

/// The path of a shared trace, `relative` to [`traces_dir`] (e.g. `"arc/OLTP.lis.zst"`), or `None`
/// after saying on stderr why: for tests and benchmarks that use the real traces and skip, clearly,
/// when they are absent.
pub fn shared_trace(relative: &str) -> Option<PathBuf> {
    let Some(dir) = traces_dir() else {
        eprintln!("skipped: traces not found (set LARDER_TRACES or provide ../shared/traces)");
        return None;
    };
    let path = dir.join(relative);
    if !path.exists() {
        eprintln!("skipped: {} not found", path.display());
        return None;
    }
    Some(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use super::compress::compress_for_test;
    use super::*;

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("larder-sim-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn file(&self, rel: &str, data: &[u8]) -> PathBuf {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            File::create(&path).unwrap().write_all(data).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn guess(path: &str) -> Option<TraceFormat> {
        guess_format(Path::new(path)).ok()
    }

    #[test]
    fn guesses_from_names() {
        use TraceFormat::*;
        assert_eq!(guess("arc/OLTP.lis.zst"), Some(ArcLis));
        assert_eq!(guess("P3.lis"), Some(ArcLis));
        assert_eq!(guess("x/lirs/gli.trace.gz"), Some(Lirs));
        assert_eq!(
            guess("caffeine/corda_trace_vaultservice.gz"),
            Some(CaffeineI64)
        );
        assert_eq!(guess("caffeine/scarab-recs.trace.xz"), Some(CaffeineI64));
        assert_eq!(guess("cache2k/web07.trace.xz"), Some(Cache2kI32));
        assert_eq!(
            guess("sized/cloudPhysicsIO.oracleGeneral.bin"),
            Some(OracleGeneral)
        );
        assert_eq!(guess("sized/adaptsize_request.trace.xz"), Some(AdaptSize));
        assert_eq!(guess("parser/adapt_size/request.trace.xz"), Some(AdaptSize));
        assert_eq!(guess("t/keys.CSV.gz"), Some(Csv));
        // Caffeine's directory layout.
        assert_eq!(
            guess("parser/corda/trace_vaultservice_large.gz"),
            Some(CaffeineI64)
        );
        assert_eq!(guess("parser/cache2k/orm-busy.trace.xz"), Some(Cache2kI32));
        // The file name beats the directory.
        assert_eq!(guess("lirs/extra.csv"), Some(Csv));
    }

    #[test]
    fn unknown_names_are_clear_errors() {
        let e = guess_format(Path::new("/nowhere/data.bin")).unwrap_err();
        assert!(matches!(e, TraceError::UnknownFormat { .. }));
        let msg = e.to_string();
        assert!(
            msg.starts_with("/nowhere/data.bin: cannot tell the trace format"),
            "{msg}"
        );
        assert!(
            msg.contains("arc-lis (*.lis)") && msg.contains("csv (*.csv)"),
            "{msg}"
        );
        assert!(guess_format(Path::new("/")).is_err());
    }

    #[test]
    fn text_trace_files_are_sniffed_as_lirs() {
        let dir = Scratch::new("sniff");
        let text = dir.file(
            "a/loop.trace.gz",
            &compress_for_test(b"0\r\n1\r\n*\r\n2\r\n", "gzip"),
        );
        assert_eq!(guess_format(&text).unwrap(), TraceFormat::Lirs);
        let plain = dir.file("a/b.trace", b"5\n6\n");
        assert_eq!(guess_format(&plain).unwrap(), TraceFormat::Lirs);
        let binary = dir.file(
            "a/keys.trace.gz",
            &compress_for_test(&[0, 0, 0, 1, 0xff], "gzip"),
        );
        assert!(matches!(
            guess_format(&binary),
            Err(TraceError::UnknownFormat { .. })
        ));
        let empty = dir.file("a/empty.trace", b"");
        assert!(matches!(
            guess_format(&empty),
            Err(TraceError::UnknownFormat { .. })
        ));
        let missing = dir.0.join("a/missing.trace");
        assert!(matches!(guess_format(&missing), Err(TraceError::Io { .. })));
    }

    #[test]
    fn format_names_round_trip() {
        for format in TraceFormat::ALL {
            assert_eq!(format.name().parse::<TraceFormat>().unwrap(), format);
            assert_eq!(format.to_string(), format.name());
        }
        assert_eq!(
            "Oracle_General".parse::<TraceFormat>().unwrap(),
            TraceFormat::OracleGeneral
        );
        let e = "parquet".parse::<TraceFormat>().unwrap_err();
        assert!(
            e.to_string().contains("unknown trace format `parquet`"),
            "{e}"
        );
    }

    #[test]
    fn trace_names_drop_extensions() {
        assert_eq!(trace_name(Path::new("arc/OLTP.lis.zst")), "OLTP");
        assert_eq!(trace_name(Path::new("lirs/gli.trace.gz")), "gli");
        assert_eq!(
            trace_name(Path::new("corda_trace_vaultservice.gz")),
            "corda_trace_vaultservice"
        );
        assert_eq!(
            trace_name(Path::new("cloudPhysicsIO.oracleGeneral.bin")),
            "cloudPhysicsIO"
        );
        assert_eq!(trace_name(Path::new("x/.gz")), ".gz");
    }

    #[test]
    fn open_decompresses_by_content_and_names_the_file() {
        let dir = Scratch::new("open");
        // zstd data behind a misleading extension.
        let path = dir.file(
            "t/OLTP.lis.gz",
            &compress_for_test(b"1 2 0 0\n1 1 0 1\n", "zstd"),
        );
        let trace = open(&path).unwrap();
        assert_eq!(trace.name, "OLTP");
        assert_eq!(trace.format, TraceFormat::ArcLis);
        assert_eq!(trace.len(), 3);
        assert_eq!(trace.unique_keys(), 2);
        assert!(!trace.is_empty());

        let bad = dir.file("t/bad.lis", b"1 1 0 0\n1 x 0 0\n");
        let e = open(&bad).unwrap_err();
        assert_eq!(e.path(), Some(bad.as_path()));
        assert_eq!(e.line(), Some(2));
        assert!(
            e.to_string().starts_with(&format!("{}:2: ", bad.display())),
            "{e}"
        );

        let e = open_as(&dir.0.join("none.lis"), TraceFormat::ArcLis).unwrap_err();
        assert!(matches!(e, TraceError::Io { path: Some(_), .. }), "{e}");
    }

    #[test]
    fn open_as_binary_formats() {
        let dir = Scratch::new("binary");
        let mut data = Vec::new();
        for k in [3i64, 4, 3] {
            data.extend(k.to_be_bytes());
        }
        let path = dir.file("k.bin", &compress_for_test(&data, "xz"));
        let trace = open_as(&path, TraceFormat::CaffeineI64).unwrap();
        assert_eq!(
            trace.requests.iter().map(|r| r.key).collect::<Vec<_>>(),
            [3, 4, 3]
        );
        assert_eq!(trace.unique_keys(), 2);

        // The same bytes as i32 are 6 keys; one byte short is truncation.
        let path = dir.file("short.bin", &data[..data.len() - 1]);
        let e = open_as(&path, TraceFormat::Cache2kI32).unwrap_err();
        assert!(
            matches!(
                e,
                TraceError::Truncated {
                    record: 5,
                    got: 3,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("short.bin"), "{e}");
    }

    #[test]
    fn read_dispatches_every_format() {
        let cases: [(TraceFormat, Vec<u8>, usize); 7] = [
            (TraceFormat::ArcLis, b"1 3 0 0\n".to_vec(), 3),
            (TraceFormat::Lirs, b"1\n*\n2\n".to_vec(), 2),
            (TraceFormat::CaffeineI64, vec![0; 16], 2),
            (TraceFormat::Cache2kI32, vec![0; 16], 4),
            (TraceFormat::OracleGeneral, vec![0; 48], 2),
            (TraceFormat::AdaptSize, b"1 2 3\n".to_vec(), 1),
            (TraceFormat::Csv, b"a,1\nb,2\n".to_vec(), 2),
        ];
        for (format, data, len) in cases {
            assert_eq!(
                read(data.as_slice(), format).unwrap().len(),
                len,
                "{format}"
            );
        }
    }

    #[test]
    fn binary_garbage_as_text_fails_without_panicking() {
        let garbage: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for format in [
            TraceFormat::ArcLis,
            TraceFormat::Lirs,
            TraceFormat::AdaptSize,
            TraceFormat::Csv,
        ] {
            assert!(read(garbage.as_slice(), format).is_err(), "{format}");
        }
    }

    #[test]
    fn traces_dir_is_an_existing_directory() {
        // Only the default lookup is checked: changing the environment in a
        // test would race with other tests.
        if std::env::var_os("LARDER_TRACES").is_none() {
            if let Some(dir) = traces_dir() {
                assert!(dir.is_dir());
            }
        }
    }
}
