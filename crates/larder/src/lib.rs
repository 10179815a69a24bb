//! # larder
//!
//! Application caching patterns, in-process and over the network, on larder-engine.
//! (Being built; see issue 7.)
