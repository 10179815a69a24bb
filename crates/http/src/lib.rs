//! # larder-http
//!
//! The HTTP caching reverse proxy behind `larder edge`: a shared cache with RFC 9111 semantics,
//! responses stored in larder-engine. (Being built; see issue 6.)
