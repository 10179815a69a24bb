//! Set commands.

use super::Spec;

/// The commands of this module.
pub static SPECS: &[Spec] = &[];
