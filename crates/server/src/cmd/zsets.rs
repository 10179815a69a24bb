//! Sorted set commands, including the blocking `BZPOPMIN` family.

use super::Spec;

/// The commands of this module.
pub static SPECS: &[Spec] = &[];
