//! Synchronisation primitives used by the single-flight path, swapped for loom's under `--cfg loom`
//! so that the model checker explores every interleaving of the real code.

#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex};
