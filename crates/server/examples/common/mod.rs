//! What the benchmark clients share: a blocking RESP2 (and memcached text) client over one TCP
//! connection, deterministic keys and values, a small seeded random generator, flag parsing and
//! readings of a server's memory (`INFO memory` when the server has it, `/proc/PID/status`).
//!
//! No dependency beyond the standard library, so the same bytes go to every server.

// Each example uses a different part of this module.
#![allow(dead_code)]

use std::error::Error;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;

/// Errors of the benchmark clients: they end the run with a message.
pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+text`
    Simple(String),
    /// `-text`
    Error(String),
    /// `:n`
    Integer(i64),
    /// `$n` (None for `$-1`)
    Bulk(Option<Vec<u8>>),
    /// `*n` (None for `*-1`)
    Array(Option<Vec<Reply>>),
}

/// One connection, buffered both ways: `send` queues a command, `flush` writes the queue
/// (pipelining), `read` takes the next reply.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    line: Vec<u8>,
}

impl Conn {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("cannot connect to 127.0.0.1:{port}: {e}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::with_capacity(1 << 16, stream.try_clone()?),
            writer: BufWriter::with_capacity(1 << 16, stream),
            line: Vec::with_capacity(64),
        })
    }

    /// Queues one command (a RESP array of bulk strings).
    pub fn send(&mut self, args: &[&[u8]]) -> Result<()> {
        write!(self.writer, "*{}\r\n", args.len())?;
        for arg in args {
            write!(self.writer, "${}\r\n", arg.len())?;
            self.writer.write_all(arg)?;
            self.writer.write_all(b"\r\n")?;
        }
        Ok(())
    }

    /// Queues raw bytes (memcached text protocol).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write_all(bytes)?;
        Ok(())
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush()?;
        Ok(())
    }

    /// One command, flushed, and its reply.
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Reply> {
        self.send(args)?;
        self.flush()?;
        self.read()
    }

    /// Reads one line without its CRLF into `self.line`.
    fn read_line(&mut self) -> Result<()> {
        self.line.clear();
        let n = self.reader.read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        if self.line.ends_with(b"\r\n") {
            self.line.truncate(self.line.len() - 2);
        } else {
            return Err("a reply line without CRLF".into());
        }
        Ok(())
    }

    /// One memcached reply line (e.g. `STORED`), without CRLF.
    pub fn read_text_line(&mut self) -> Result<String> {
        self.read_line()?;
        Ok(String::from_utf8_lossy(&self.line).into_owned())
    }

    fn length(&self) -> Result<i64> {
        let text = std::str::from_utf8(&self.line[1..])?;
        Ok(text.parse()?)
    }

    /// Reads the next reply.
    pub fn read(&mut self) -> Result<Reply> {
        self.read_line()?;
        let Some(&kind) = self.line.first() else {
            return Err("an empty reply line".into());
        };
        let text = || String::from_utf8_lossy(&self.line[1..]).into_owned();
        Ok(match kind {
            b'+' => Reply::Simple(text()),
            b'-' => Reply::Error(text()),
            b':' => Reply::Integer(self.length()?),
            b'$' => {
                let n = self.length()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut data = vec![0; n as usize + 2];
                    self.reader.read_exact(&mut data)?;
                    data.truncate(n as usize);
                    Reply::Bulk(Some(data))
                }
            }
            b'*' => {
                let n = self.length()?;
                if n < 0 {
                    Reply::Array(None)
                } else {
                    let mut items = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        items.push(self.read()?);
                    }
                    Reply::Array(Some(items))
                }
            }
            other => return Err(format!("unexpected reply type byte {other:#x}").into()),
        })
    }

    /// A field of `INFO <section>` (e.g. `used_memory`), or `None` when the server has no INFO
    /// or no such field.
    pub fn info_field(&mut self, section: &str, field: &str) -> Result<Option<String>> {
        let reply = self.call(&[b"INFO", section.as_bytes()])?;
        let Reply::Bulk(Some(text)) = reply else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&text);
        Ok(text.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name == field).then(|| value.trim().to_owned())
        }))
    }

    /// `INFO memory`'s `used_memory` in bytes, when the server reports it.
    pub fn used_memory(&mut self) -> Result<Option<u64>> {
        Ok(self
            .info_field("memory", "used_memory")?
            .and_then(|v| v.parse().ok()))
    }
}

/// Resident set size of process `pid` in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS line")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .ok_or("no VmRSS value")?
        .parse()?;
    Ok(kb * 1024)
}

/// The key of index `i`: `key-size` bytes, a fixed prefix and zero-padded decimal digits
/// (distinct for distinct `i` while the digits fit).
pub fn key(i: u64, size: usize, out: &mut Vec<u8>) {
    out.clear();
    let digits = i.to_string();
    let prefix = b"key:";
    let pad = size.saturating_sub(prefix.len() + digits.len());
    out.extend_from_slice(&prefix[..prefix.len().min(size.saturating_sub(digits.len()))]);
    out.resize(out.len() + pad, b'0');
    out.extend_from_slice(digits.as_bytes());
}

/// A value of `size` bytes that is not an integer's decimal form (so no server stores it as
/// an integer): `v` then letters.
pub fn value(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'v' + (i % 4) as u8).collect()
}

/// SplitMix64: a small, seeded, reproducible generator.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Command-line flags `--name value`, read by name with a default.
pub struct Flags(Vec<String>);

impl Flags {
    /// The process's arguments after the program name.
    pub fn from_env() -> Flags {
        Flags(std::env::args().skip(1).collect())
    }

    /// The positional argument at `index` (arguments that are neither flags nor flag values).
    pub fn positional(&self, index: usize) -> Option<&str> {
        let mut found = 0;
        let mut i = 0;
        while i < self.0.len() {
            if self.0[i].starts_with("--") {
                i += 2;
                continue;
            }
            if found == index {
                return Some(&self.0[i]);
            }
            found += 1;
            i += 1;
        }
        None
    }

    /// The value of `--name`, parsed, or `default`.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T> {
        let flag = format!("--{name}");
        match self.0.iter().position(|a| *a == flag) {
            None => Ok(default),
            Some(i) => {
                let text = self
                    .0
                    .get(i + 1)
                    .ok_or_else(|| format!("{flag} needs a value"))?;
                text.parse()
                    .map_err(|_| format!("{flag}: cannot parse '{text}'").into())
            }
        }
    }

    /// Whether `--name` was given.
    pub fn has(&self, name: &str) -> bool {
        let flag = format!("--{name}");
        self.0.contains(&flag)
    }
}
