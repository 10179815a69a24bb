//! Hash commands: `HSET`, `HGET`, ... with Redis 7.0's semantics and error texts.

use super::Spec;

/// The commands of this module.
pub static SPECS: &[Spec] = &[];
