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
            proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30,
            client_output_buffer_limit_pubsub: "33554432 8388608 60".to_owned(),
            notify_keyspace_events: String::new(),
            hotkeys_top: 16,
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
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.message().to_owned(),
        })?;
        config.validate()?;
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
}
