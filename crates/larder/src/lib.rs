//! # larder
//!
//! Application caching patterns, in-process and over the network, on larder-engine.
//! (Being built; see issue 7.)

mod shim;
pub use shim::Cache;

pub mod consistency;
pub mod lease;
pub mod versioned;
pub mod warm;
pub mod write_behind;
pub mod write_through;
