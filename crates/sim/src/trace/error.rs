//! The error type of the trace readers.

use std::io;
use std::path::{Path, PathBuf};

use super::TraceFormat;

/// Why a trace could not be read.
///
/// Errors from [`read`](super::read) carry no path (the input is an anonymous
/// stream); errors from [`open`](super::open) and [`open_as`](super::open_as)
/// name the file. Text formats report the 1-based line number, binary formats
/// the 0-based record index and its byte offset in the decompressed stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The file could not be opened or read, or its compressed data is corrupt.
    #[error("{}: {source}", origin(.path))]
    Io {
        /// The file, or `None` for a stream given to [`read`](super::read).
        path: Option<PathBuf>,
        /// The underlying I/O or decompression error.
        source: io::Error,
    },

    /// The trace format could not be guessed from the file name.
    #[error(
        "{}: cannot tell the trace format from the file name; accepted formats: {}; \
         or pass the format explicitly",
        .path.display(),
        TraceFormat::accepted()
    )]
    UnknownFormat {
        /// The file whose name matched no format.
        path: PathBuf,
    },

    /// A format name given as text (e.g. on a command line) is not known.
    #[error(
        "unknown trace format `{name}`; accepted formats: {}",
        TraceFormat::accepted()
    )]
    UnknownFormatName {
        /// The name that was given.
        name: String,
    },

    /// A text line does not follow the format.
    #[error("{}:{line}: {reason}: `{text}`", origin(.path))]
    Malformed {
        /// The file, or `None` for a stream.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: u64,
        /// What is wrong with the line.
        reason: &'static str,
        /// The start of the offending line (at most 80 characters, lossy UTF-8).
        text: String,
    },

    /// A text line is longer than [`MAX_LINE_LEN`](super::MAX_LINE_LEN) bytes.
    #[error("{}:{line}: line longer than {limit} bytes", origin(.path))]
    LineTooLong {
        /// The file, or `None` for a stream.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: u64,
        /// The limit that was exceeded.
        limit: usize,
    },

    /// A binary trace ends in the middle of a fixed-size record.
    #[error(
        "{}: truncated record {record} at byte offset {offset}: {got} of {record_len} bytes",
        origin(.path)
    )]
    Truncated {
        /// The file, or `None` for a stream.
        path: Option<PathBuf>,
        /// 0-based index of the incomplete record.
        record: u64,
        /// Byte offset of the incomplete record in the decompressed stream.
        offset: u64,
        /// Bytes present of the incomplete record.
        got: usize,
        /// Size of one record of the format.
        record_len: usize,
    },
}

impl TraceError {
    /// The file the error is about, if it came from a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::UnknownFormat { path } => Some(path),
            Self::UnknownFormatName { .. } => None,
            Self::Io { path, .. }
            | Self::Malformed { path, .. }
            | Self::LineTooLong { path, .. }
            | Self::Truncated { path, .. } => path.as_deref(),
        }
    }

    /// The 1-based line number, for errors about a text line.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::Malformed { line, .. } | Self::LineTooLong { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// Attaches `file` to an error that came from a stream.
    pub(crate) fn in_file(mut self, file: &Path) -> Self {
        match &mut self {
            Self::Io { path, .. }
            | Self::Malformed { path, .. }
            | Self::LineTooLong { path, .. }
            | Self::Truncated { path, .. } => {
                if path.is_none() {
                    *path = Some(file.to_path_buf());
                }
            }
            Self::UnknownFormat { .. } | Self::UnknownFormatName { .. } => {}
        }
        self
    }

    /// An I/O error on an anonymous stream.
    pub(crate) fn io(source: io::Error) -> Self {
        Self::Io { path: None, source }
    }

    /// A malformed line on an anonymous stream.
    pub(crate) fn malformed(line: u64, reason: &'static str, text: &[u8]) -> Self {
        Self::Malformed {
            path: None,
            line,
            reason,
            text: snippet(text),
        }
    }
}

/// How an error names its input.
fn origin(path: &Option<PathBuf>) -> String {
    match path {
        Some(path) => path.display().to_string(),
        None => "<stream>".to_owned(),
    }
}

/// The first 80 characters of a line, for error messages.
fn snippet(text: &[u8]) -> String {
    const MAX_CHARS: usize = 80;
    let text = String::from_utf8_lossy(text);
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_and_line() {
        let e = TraceError::malformed(7, "bad key", b"x y").in_file(Path::new("a/b.lis"));
        assert_eq!(e.to_string(), "a/b.lis:7: bad key: `x y`");
        assert_eq!(e.line(), Some(7));
        assert_eq!(e.path(), Some(Path::new("a/b.lis")));

        let e = TraceError::malformed(3, "bad key", b"z");
        assert_eq!(e.to_string(), "<stream>:3: bad key: `z`");
        assert_eq!(e.path(), None);
    }

    #[test]
    fn in_file_keeps_an_existing_path() {
        let e = TraceError::malformed(1, "r", b"").in_file(Path::new("first"));
        let e = e.in_file(Path::new("second"));
        assert_eq!(e.path(), Some(Path::new("first")));
    }

    #[test]
    fn long_lines_are_cut_in_messages() {
        let long = "é".repeat(200);
        let e = TraceError::malformed(1, "r", long.as_bytes());
        let TraceError::Malformed { text, .. } = e else {
            panic!("wrong variant");
        };
        assert_eq!(text.chars().count(), 83);
        assert!(text.ends_with("..."));
    }

    #[test]
    fn unknown_format_lists_accepted_formats() {
        let e = TraceError::UnknownFormat {
            path: PathBuf::from("x.dat"),
        };
        let msg = e.to_string();
        for format in TraceFormat::ALL {
            assert!(msg.contains(format.name()), "{msg}");
        }
    }
}
