//! # wikisync-core
//!
//! The portable sync engine of wikisync. **Sans-IO**: no I/O, no clock, no randomness. The host
//! (the DokuWiki plugin through the PHP extension, a JS CMS through WASM, the CLI, tests) does
//! all I/O and passes time in as `now`.

pub mod entry;
pub mod hash;
pub mod id;
pub mod merge;
pub mod sync;
pub mod time;
