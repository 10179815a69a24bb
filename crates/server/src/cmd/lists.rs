//! List commands, including the blocking `BLPOP` family.

use super::Spec;

/// The commands of this module.
pub static SPECS: &[Spec] = &[];
