//! Transactions: `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`.

use super::Spec;

/// The commands of this module.
pub static SPECS: &[Spec] = &[];
