//! The server's configuration: a TOML file (`--config larder.toml`, keys named as in
//! `redis.conf`), command-line flags over it, and `CONFIG GET`/`CONFIG SET` at run time.
//!
//! Every parameter is documented in `docs/configuration.md`.

use crate::keyspace::MaxmemoryPolicy;
use serde::Deserialize;
use std::path::Path;

/// The server's configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (default `127.0.0.1`).
    pub bind: String,
    /// TCP port (default 6379; 0 picks a free one).
    pub port: u16,
    /// Worker threads for connections (0: one per core).
    pub threads: usize,
    /// Most simultaneous clients; more are refused with Redis's error.
    pub maxclients: usize,
    /// Close a client idle this many seconds (0: never). Subscribers are never closed for idleness.
    pub timeout: u64,
    /// Password for `AUTH` (empty: none).
    pub requirepass: String,
    /// With no password and a non-loopback bind, refuse clients from other hosts.
    pub protected_mode: bool,
    /// Memory limit in bytes (0: none). Accepts `100mb`-style units in the file and in `CONFIG SET`.
    #[serde(deserialize_with = "de_memory")]
    pub maxmemory: u64,
    /// What to do at the limit: Redis's names plus `allkeys-{arc,wtinylfu,s3fifo,sieve,fifo,larder}`.
    pub maxmemory_policy: String,
    /// Active expiry cycles per second.
    pub hz: u32,
    /// With one worker thread, how long the worker keeps polling its sockets after the last
    /// input before it sleeps, in microseconds (0: never; `crate::busy_poll`).
    pub busy_poll_us: u64,
    /// Largest bulk string a client may send.
    #[serde(deserialize_with = "de_memory")]
    pub proto_max_bulk_len: u64,
    /// Largest query buffer per client; a client over it is closed.
    #[serde(deserialize_with = "de_memory")]
    pub client_query_buffer_limit: u64,
    /// Pub/sub output limit: `hard soft soft-seconds`, as in `client-output-buffer-limit pubsub`.
    pub client_output_buffer_limit_pubsub: String,
    /// Keyspace notification classes (Redis's `notify-keyspace-events` letters).
    pub notify_keyspace_events: String,
    /// Hot keys tracked (top-k over a sliding window) for `INFO larder` and `LARDER HOTKEYS`.
    pub hotkeys_top: usize,
    /// Keys with a TTL sampled per shard to pick each victim of a `volatile-*` policy.
    pub maxmemory_samples: usize,
    /// Hashes up to this many fields keep the compact (`listpack`) encoding.
    pub hash_max_listpack_entries: usize,
    /// Hashes whose fields and values are all at most this long keep the compact encoding.
    pub hash_max_listpack_value: usize,
    /// Sets of at most this many integers keep the `intset` encoding.
    pub set_max_intset_entries: usize,
    /// Sorted sets up to this many members keep the compact (`listpack`) encoding.
    pub zset_max_listpack_entries: usize,
    /// Sorted sets whose members are all at most this long keep the compact encoding.
    pub zset_max_listpack_value: usize,
    /// List node size: positive, elements per node; -1 to -5, 4 KiB to 64 KiB per node.
    pub list_max_listpack_size: i64,
    /// List nodes left uncompressed at each end (accepted; Larder never compresses lists).
    pub list_compress_depth: usize,
    /// Keys remembered for client-side caching (0: no limit); over it, the oldest are
    /// invalidated.
    pub tracking_table_max_keys: usize,
    /// The file this configuration was read from (`INFO server`'s `config_file`); not a key of
    /// the file itself.
    #[serde(skip)]
    pub config_file: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1".to_owned(),
            port: 6379,
            threads: 0,
            maxclients: 10_000,
            timeout: 0,
            requirepass: String::new(),
            protected_mode: true,
            maxmemory: 0,
            maxmemory_policy: "allkeys-larder".to_owned(),
            hz: 10,
            busy_poll_us: 50,
            proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30,
            client_output_buffer_limit_pubsub: "33554432 8388608 60".to_owned(),
            notify_keyspace_events: String::new(),
            hotkeys_top: 16,
            maxmemory_samples: 5,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            tracking_table_max_keys: 1_000_000,
            config_file: None,
        }
    }
}

/// A configuration problem, with the message shown to the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid value for '{name}': {message}")]
    Invalid {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Reads a TOML file; keys not in the file keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.message().to_owned(),
        })?;
        config.validate()?;
        config.config_file = Some(
            std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
        );
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if MaxmemoryPolicy::parse(&self.maxmemory_policy).is_none() {
            return Err(ConfigError::Invalid {
                name: "maxmemory-policy",
                message: format!(
                    "'{}' is not one of {}",
                    self.maxmemory_policy,
                    MaxmemoryPolicy::NAMES.join(", ")
                ),
            });
        }
        if self.maxclients == 0 {
            return Err(ConfigError::Invalid {
                name: "maxclients",
                message: "must be at least 1".to_owned(),
            });
        }
        if self.maxmemory_samples == 0 {
            return Err(ConfigError::Invalid {
                name: "maxmemory-samples",
                message: "must be at least 1".to_owned(),
            });
        }
        if self.busy_poll_us > MAX_BUSY_POLL_US as u64 {
            return Err(ConfigError::Invalid {
                name: "busy-poll-us",
                message: format!("must be at most {MAX_BUSY_POLL_US}"),
            });
        }
        if parse_output_limit(&self.client_output_buffer_limit_pubsub).is_none() {
            return Err(ConfigError::Invalid {
                name: "client-output-buffer-limit-pubsub",
                message: "expected '<hard bytes> <soft bytes> <soft seconds>'".to_owned(),
            });
        }
        Ok(())
    }

    /// The parsed eviction policy.
    pub fn policy(&self) -> MaxmemoryPolicy {
        MaxmemoryPolicy::parse(&self.maxmemory_policy).unwrap_or(MaxmemoryPolicy::NoEviction)
    }

    /// The parsed pub/sub output limit: (hard, soft, soft seconds).
    pub fn pubsub_output_limit(&self) -> (u64, u64, u64) {
        parse_output_limit(&self.client_output_buffer_limit_pubsub).unwrap_or((
            32 << 20,
            8 << 20,
            60,
        ))
    }
}

/// One parameter of `CONFIG GET` / `CONFIG SET`, under its `redis.conf` name.
#[derive(Debug)]
pub struct Param {
    /// The name, lower case.
    pub name: &'static str,
    /// The value as `CONFIG GET` shows it.
    pub get: fn(&Config) -> String,
    /// Sets the value from `CONFIG SET`'s argument, or says why not (the text after
    /// `CONFIG SET failed (possibly related to argument '...') - `); `None`: it cannot change
    /// while the server runs.
    pub set: Option<Setter>,
}

/// Sets a parameter from its `CONFIG SET` argument, or says why not.
pub type Setter = fn(&mut Config, &str) -> Result<(), String>;

/// Every parameter `CONFIG GET` shows and `CONFIG SET` may change, in `docs/configuration.md`
/// order: the server's own (the fields of [`Config`]) and the Redis parameters clients and
/// tools read, answered truthfully (`save ""` and `appendonly no`: Larder keeps nothing on
/// disk). Add a parameter here and in the docs together.
pub static PARAMS: &[Param] = &[
    Param {
        name: "bind",
        get: |c| c.bind.clone(),
        set: None,
    },
    Param {
        name: "port",
        get: |c| c.port.to_string(),
        set: None,
    },
    Param {
        name: "threads",
        get: |c| c.threads.to_string(),
        set: None,
    },
    Param {
        name: "databases",
        get: |_| crate::keyspace::DATABASES.to_string(),
        set: None,
    },
    Param {
        name: "maxclients",
        get: |c| c.maxclients.to_string(),
        set: Some(|c, v| {
            c.maxclients = int_in(v, 1, u32::MAX.into())? as usize;
            Ok(())
        }),
    },
    Param {
        name: "timeout",
        get: |c| c.timeout.to_string(),
        set: Some(|c, v| {
            c.timeout = int_in(v, 0, i32::MAX.into())? as u64;
            Ok(())
        }),
    },
    Param {
        name: "requirepass",
        get: |c| c.requirepass.clone(),
        set: Some(|c, v| {
            c.requirepass = v.to_owned();
            Ok(())
        }),
    },
    Param {
        name: "protected-mode",
        get: |c| yes_no(c.protected_mode),
        set: Some(|c, v| {
            c.protected_mode = parse_yes_no(v)?;
            Ok(())
        }),
    },
    Param {
        name: "maxmemory",
        get: |c| c.maxmemory.to_string(),
        set: Some(|c, v| {
            c.maxmemory = memory_arg(v)?;
            Ok(())
        }),
    },
    Param {
        name: "maxmemory-policy",
        get: |c| c.maxmemory_policy.to_ascii_lowercase(),
        set: Some(|c, v| match MaxmemoryPolicy::parse(v) {
            Some(_) => {
                c.maxmemory_policy = v.to_ascii_lowercase();
                Ok(())
            }
            None => Err(format!(
                "argument(s) must be one of the following: {}",
                MaxmemoryPolicy::NAMES.join(", ")
            )),
        }),
    },
    Param {
        name: "maxmemory-samples",
        get: |c| c.maxmemory_samples.to_string(),
        set: Some(|c, v| {
            c.maxmemory_samples = int_in(v, 1, i32::MAX.into())? as usize;
            Ok(())
        }),
    },
    Param {
        name: "hz",
        get: |c| c.hz.to_string(),
        set: Some(|c, v| {
            // Redis accepts any non-negative number and runs at 1 to 500.
            c.hz = int_in(v, 0, i32::MAX.into())?.clamp(1, 500) as u32;
            Ok(())
        }),
    },
    Param {
        name: "busy-poll-us",
        get: |c| c.busy_poll_us.to_string(),
        set: Some(|c, v| {
            c.busy_poll_us = int_in(v, 0, MAX_BUSY_POLL_US)? as u64;
            Ok(())
        }),
    },
    Param {
        name: "proto-max-bulk-len",
        get: |c| c.proto_max_bulk_len.to_string(),
        set: Some(|c, v| {
            c.proto_max_bulk_len = memory_in(v, 1 << 20, i64::MAX as u64)?;
            Ok(())
        }),
    },
    Param {
        name: "client-query-buffer-limit",
        get: |c| c.client_query_buffer_limit.to_string(),
        set: Some(|c, v| {
            c.client_query_buffer_limit = memory_in(v, 1 << 20, i64::MAX as u64)?;
            Ok(())
        }),
    },
    Param {
        name: "client-output-buffer-limit",
        get: |c| {
            let (hard, soft, secs) = c.pubsub_output_limit();
            format!("{FIXED_OUTPUT_LIMITS} pubsub {hard} {soft} {secs}")
        },
        set: Some(set_output_limits),
    },
    Param {
        name: "notify-keyspace-events",
        get: |c| c.notify_keyspace_events.clone(),
        set: Some(|c, v| {
            c.notify_keyspace_events = keyspace_events(v).ok_or_else(|| {
                "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_owned()
            })?;
            Ok(())
        }),
    },
    Param {
        name: "hash-max-listpack-entries",
        get: |c| c.hash_max_listpack_entries.to_string(),
        set: Some(|c, v| {
            c.hash_max_listpack_entries = int_in(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "hash-max-ziplist-entries",
        get: |c| c.hash_max_listpack_entries.to_string(),
        set: Some(|c, v| {
            c.hash_max_listpack_entries = int_in(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "hash-max-listpack-value",
        get: |c| c.hash_max_listpack_value.to_string(),
        set: Some(|c, v| {
            c.hash_max_listpack_value = int_in(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "hash-max-ziplist-value",
        get: |c| c.hash_max_listpack_value.to_string(),
        set: Some(|c, v| {
            c.hash_max_listpack_value = int_in(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "set-max-intset-entries",
        get: |c| c.set_max_intset_entries.to_string(),
        set: Some(|c, v| {
            c.set_max_intset_entries = int_in(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "zset-max-listpack-entries",
        get: |c| c.zset_max_listpack_entries.to_string(),
        set: Some(|c, v| {
            c.zset_max_listpack_entries = int_in(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "zset-max-ziplist-entries",
        get: |c| c.zset_max_listpack_entries.to_string(),
        set: Some(|c, v| {
            c.zset_max_listpack_entries = int_in(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "zset-max-listpack-value",
        get: |c| c.zset_max_listpack_value.to_string(),
        set: Some(|c, v| {
            c.zset_max_listpack_value = int_in(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "zset-max-ziplist-value",
        get: |c| c.zset_max_listpack_value.to_string(),
        set: Some(|c, v| {
            c.zset_max_listpack_value = int_in(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "list-max-listpack-size",
        get: |c| c.list_max_listpack_size.to_string(),
        set: Some(|c, v| {
            c.list_max_listpack_size = int_in(v, i32::MIN.into(), i32::MAX.into())?;
            Ok(())
        }),
    },
    Param {
        name: "list-max-ziplist-size",
        get: |c| c.list_max_listpack_size.to_string(),
        set: Some(|c, v| {
            c.list_max_listpack_size = int_in(v, i32::MIN.into(), i32::MAX.into())?;
            Ok(())
        }),
    },
    Param {
        name: "list-compress-depth",
        get: |c| c.list_compress_depth.to_string(),
        set: Some(|c, v| {
            c.list_compress_depth = int_in(v, 0, i32::MAX.into())? as usize;
            Ok(())
        }),
    },
    Param {
        name: "tracking-table-max-keys",
        get: |c| c.tracking_table_max_keys.to_string(),
        set: Some(|c, v| {
            c.tracking_table_max_keys = int_in(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "hotkeys-top",
        get: |c| c.hotkeys_top.to_string(),
        set: Some(|c, v| {
            c.hotkeys_top = int_in(v, 1, 4096)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "save",
        get: |_| String::new(),
        set: Some(|_, v| {
            if v.trim().is_empty() {
                Ok(())
            } else {
                Err("Larder keeps nothing on disk: snapshots (RDB) are not implemented".to_owned())
            }
        }),
    },
    Param {
        name: "maxmemory-clients",
        get: |_| "0".to_owned(),
        set: Some(|_, v| {
            let v = v.trim();
            let zero = match v.strip_suffix('%') {
                Some(percent) => match percent.parse::<u64>() {
                    Ok(p) if p > 100 => {
                        return Err("percentage argument must be less or equal to 100".to_owned());
                    }
                    Ok(p) => p == 0,
                    Err(_) => return Err("argument must be a memory or percent value".to_owned()),
                },
                None => match parse_memory(v) {
                    Some(bytes) => bytes == 0,
                    None => return Err("argument must be a memory or percent value".to_owned()),
                },
            };
            if zero {
                Ok(())
            } else {
                Err(
                    "Larder never evicts clients: a client memory limit is not implemented"
                        .to_owned(),
                )
            }
        }),
    },
    Param {
        name: "daemonize",
        get: |_| "no".to_owned(),
        set: None,
    },
    Param {
        name: "replicaof",
        get: |_| String::new(),
        set: None,
    },
    Param {
        name: "slaveof",
        get: |_| String::new(),
        set: None,
    },
    Param {
        name: "appendonly",
        get: |_| "no".to_owned(),
        set: Some(|_, v| {
            if parse_yes_no(v)? {
                Err(
                    "Larder keeps nothing on disk: the append-only file is not implemented"
                        .to_owned(),
                )
            } else {
                Ok(())
            }
        }),
    },
];

/// The longest `busy-poll-us` accepted: a second.
const MAX_BUSY_POLL_US: i64 = 1_000_000;

/// The output limits of the classes Larder does not limit: normal clients none, and replicas,
/// which do not exist, Redis's default.
const FIXED_OUTPUT_LIMITS: &str = "normal 0 0 0 slave 268435456 67108864 60";

/// Looks a parameter up by name, case-insensitively.
pub fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn parse_yes_no(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".to_owned()),
    }
}

fn int_in(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let n = crate::value::parse_i64(v.as_bytes())
        .ok_or_else(|| "argument couldn't be parsed into an integer".to_owned())?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

fn memory_arg(v: &str) -> Result<u64, String> {
    parse_memory(v).ok_or_else(|| "argument must be a memory value".to_owned())
}

fn memory_in(v: &str, min: u64, max: u64) -> Result<u64, String> {
    let n = memory_arg(v)?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

/// `CONFIG SET client-output-buffer-limit "<class> <hard> <soft> <seconds> ..."`: the pubsub
/// class changes the limit Larder enforces on subscribers; the others must keep the values
/// Larder has (it limits no normal client's output, and has no replicas).
fn set_output_limits(c: &mut Config, v: &str) -> Result<(), String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".to_owned());
    }
    let mut pubsub = None;
    for class in words.chunks(4) {
        let limits = parse_output_limit(&class[1..].join(" ")).ok_or_else(|| {
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_owned()
        })?;
        match class[0].to_ascii_lowercase().as_str() {
            "pubsub" => pubsub = Some(limits),
            "normal" if limits == (0, 0, 0) => {}
            "slave" | "replica" if limits == (268_435_456, 67_108_864, 60) => {}
            "normal" | "slave" | "replica" => {
                return Err(format!(
                    "Larder enforces only the pubsub class's limit; the {} class stays as it is",
                    class[0]
                ));
            }
            _ => {
                return Err(
                    "Invalid client class specified in buffer limit configuration.".to_owned(),
                );
            }
        }
    }
    if let Some((hard, soft, secs)) = pubsub {
        c.client_output_buffer_limit_pubsub = format!("{hard} {soft} {secs}");
    }
    Ok(())
}

/// Validates `notify-keyspace-events` classes and writes them in Redis's canonical form
/// (`keyspaceEventsFlagsToString`); `None` for a character that names no class.
pub fn keyspace_events(classes: &str) -> Option<String> {
    const ALL: &str = "g$lshzxetd";
    let mut set = std::collections::BTreeSet::new();
    for c in classes.chars() {
        match c {
            'A' => set.extend(ALL.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 't' | 'd' | 'n' | 'K' | 'E' | 'm' => {
                set.insert(c);
            }
            _ => return None,
        }
    }
    let mut out = String::new();
    if ALL.chars().all(|c| set.contains(&c)) {
        out.push('A');
        if set.contains(&'n') {
            // Redis's NOTIFY_ALL excludes 'n'; its canonical string then prints only 'A' — the
            // new-key class stays set but unprinted. Keep it visible instead of losing it.
            out.push('n');
        }
    } else {
        out.extend("g$lshzxetdn".chars().filter(|c| set.contains(c)));
    }
    out.extend("KEm".chars().filter(|c| set.contains(c)));
    Some(out)
}

/// Parses `hard soft seconds` (sizes accept memory units).
pub fn parse_output_limit(text: &str) -> Option<(u64, u64, u64)> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    match parts.as_slice() {
        [hard, soft, secs] => Some((parse_memory(hard)?, parse_memory(soft)?, secs.parse().ok()?)),
        _ => None,
    }
}

/// Parses a memory amount as Redis's `memtoull` does: a number with an optional unit
/// (`b`, `k`/`kb`, `m`/`mb`, `g`/`gb`; `k` is 1000, `kb` is 1024), case-insensitive.
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1 << 10,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(multiplier)
}

fn de_memory<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Amount {
        Number(u64),
        Text(String),
    }
    match Amount::deserialize(d)? {
        Amount::Number(n) => Ok(n),
        Amount::Text(t) => parse_memory(&t)
            .ok_or_else(|| serde::de::Error::custom(format!("'{t}' is not a memory amount"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units_follow_redis() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2mb"), Some(2 << 20));
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1x"), None);
        assert_eq!(parse_memory("-1"), None);
    }

    #[test]
    fn a_file_sets_some_keys_and_rejects_unknown_ones() {
        let c: Config = toml::from_str("port = 7000\nmaxmemory = \"64mb\"\n").unwrap();
        assert_eq!((c.port, c.maxmemory), (7000, 64 << 20));
        assert_eq!(c.bind, "127.0.0.1");
        assert!(toml::from_str::<Config>("nonsense = 1").is_err());
        let bad = Config {
            maxmemory_policy: "allkeys-magic".into(),
            ..Config::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn every_param_reads_back_what_it_sets() {
        let mut c = Config::default();
        for (name, value, shown) in [
            ("maxmemory", "1gb", "1073741824"),
            ("maxmemory-policy", "VOLATILE-TTL", "volatile-ttl"),
            ("maxmemory-samples", "10", "10"),
            ("hz", "1000", "500"),
            ("busy-poll-us", "0", "0"),
            ("timeout", "60", "60"),
            ("protected-mode", "no", "no"),
            ("requirepass", "secret", "secret"),
            ("hotkeys-top", "32", "32"),
            ("save", "", ""),
            ("appendonly", "no", "no"),
            ("notify-keyspace-events", "Ex", "xE"),
            (
                "client-output-buffer-limit",
                "pubsub 1mb 512kb 10",
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10",
            ),
        ] {
            let p = param(name).expect(name);
            (p.set.expect(name))(&mut c, value).expect(name);
            assert_eq!((p.get)(&c), shown, "{name}");
        }
        assert!(c.validate().is_ok());
        for name in ["port", "bind", "threads", "databases"] {
            assert!(param(name).expect(name).set.is_none(), "{name}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_redis_texts() {
        let mut c = Config::default();
        let set = |c: &mut Config, name: &str, v: &str| (param(name).unwrap().set.unwrap())(c, v);
        assert_eq!(
            set(&mut c, "maxclients", "0"),
            Err("argument must be between 1 and 4294967295 inclusive".to_owned())
        );
        assert_eq!(
            set(&mut c, "protected-mode", "maybe"),
            Err("argument must be 'yes' or 'no'".to_owned())
        );
        assert_eq!(
            set(&mut c, "maxmemory", "lots"),
            Err("argument must be a memory value".to_owned())
        );
        assert_eq!(
            set(&mut c, "notify-keyspace-events", "Q"),
            Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_owned())
        );
        assert!(set(&mut c, "save", "900 1").is_err());
        assert!(set(&mut c, "client-output-buffer-limit", "normal 1 2 3").is_err());
        assert!(set(&mut c, "client-output-buffer-limit", "pubsub 1 2").is_err());
        assert_eq!(c, Config::default());
    }

    #[test]
    fn keyspace_event_classes_are_canonical() {
        assert_eq!(keyspace_events("").as_deref(), Some(""));
        assert_eq!(keyspace_events("KA").as_deref(), Some("AK"));
        assert_eq!(keyspace_events("xgE").as_deref(), Some("gxE"));
        assert_eq!(keyspace_events("mK$").as_deref(), Some("$Km"));
        assert_eq!(keyspace_events("?"), None);
    }
}
