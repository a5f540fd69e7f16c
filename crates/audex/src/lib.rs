//! The library side of the audex binary: what tests, benches and the fuzz
//! targets reach without a process (the config loader, the local socket's
//! registry). Everything else lives in the binary's modules.
pub mod config;
pub mod local;
