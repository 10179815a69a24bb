//! Loads distinct keys into a server with pipelined `SET`s (or memcached `set`s), over one
//! connection, checking every reply; optionally samples the server's memory while it writes.
//!
//! ```text
//! load_keys --port P [--keys 1000000] [--first 0] [--key-size 16] [--value-size 32]
//!           [--batch 1000] [--protocol resp|memcache]
//!           [--pid PID --sample-every N]     # print "written,bytes,used_memory,rss" every N writes
//! ```
//!
//! Keys are `key:` then zero-padded decimal digits (`key:000000000042` at 16 bytes), indices
//! `first..first+keys`, so a run loads exactly `keys` distinct keys. Values are `value-size`
//! bytes that are not an integer. Replies other than `+OK` / `STORED` are counted and the first
//! one is shown. Used by `bench/server-memory.sh` and `bench/server-maxmemory.sh`.

mod common;

use common::{Conn, Flags, Reply, Result, key, rss_bytes, value};
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("load_keys: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let flags = Flags::from_env();
    let port: u16 = flags.get("port", 6379)?;
    let keys: u64 = flags.get("keys", 1_000_000)?;
    let first: u64 = flags.get("first", 0)?;
    let key_size: usize = flags.get("key-size", 16)?;
    let value_size: usize = flags.get("value-size", 32)?;
    let batch: u64 = flags.get("batch", 1000)?.max(1);
    let protocol: String = flags.get("protocol", "resp".to_owned())?;
    let pid: u32 = flags.get("pid", 0)?;
    let sample_every: u64 = flags.get("sample-every", 0)?;
    let memcache = match protocol.as_str() {
        "resp" => false,
        "memcache" => true,
        other => return Err(format!("--protocol: '{other}' is not resp or memcache").into()),
    };
    if sample_every > 0 && pid == 0 {
        return Err("--sample-every needs --pid".into());
    }

    let mut conn = Conn::connect(port)?;
    // A second connection for INFO, so samples never wait behind a pipeline.
    let mut probe = if sample_every > 0 && !memcache {
        Some(Conn::connect(port)?)
    } else {
        None
    };
    let data = value(value_size);
    let header = format!(" 0 0 {value_size}\r\n");
    let mut k = Vec::with_capacity(key_size);
    let mut errors = 0u64;
    let mut first_error = None;
    let mut next_sample = sample_every;
    let sample = |probe: &mut Option<Conn>, written: u64| -> Result<()> {
        let used = match probe {
            Some(p) => p.used_memory()?.map_or("-".to_owned(), |v| v.to_string()),
            None => "-".to_owned(),
        };
        let bytes = written * (key_size + value_size) as u64;
        println!("{written},{bytes},{used},{}", rss_bytes(pid)?);
        Ok(())
    };
    if sample_every > 0 {
        println!("written,data_bytes,used_memory,rss");
        sample(&mut probe, 0)?;
    }

    let started = Instant::now();
    let mut done = 0;
    while done < keys {
        let n = batch.min(keys - done);
        for i in done..done + n {
            key(first + i, key_size, &mut k);
            if memcache {
                conn.send_raw(b"set ")?;
                conn.send_raw(&k)?;
                conn.send_raw(header.as_bytes())?;
                conn.send_raw(&data)?;
                conn.send_raw(b"\r\n")?;
            } else {
                conn.send(&[b"SET", &k, &data])?;
            }
        }
        conn.flush()?;
        for _ in 0..n {
            let ok = if memcache {
                let line = conn.read_text_line()?;
                (line != "STORED").then_some(line)
            } else {
                match conn.read()? {
                    Reply::Simple(s) if s == "OK" => None,
                    other => Some(format!("{other:?}")),
                }
            };
            if let Some(bad) = ok {
                errors += 1;
                first_error.get_or_insert(bad);
            }
        }
        done += n;
        if sample_every > 0 && done >= next_sample {
            sample(&mut probe, done)?;
            next_sample += sample_every;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "loaded {keys} keys of {key_size} B with {value_size} B values in {secs:.1} s \
         ({:.0}/s), {errors} error replies{}",
        keys as f64 / secs,
        first_error.map_or(String::new(), |e| format!(" (first: {e})"))
    );
    Ok(())
}
