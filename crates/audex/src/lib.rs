//! The library side of the audex binary: what tests and the fuzz targets
//! reach without a process (the config loader). Everything else lives in the
//! binary's modules.
pub mod config;
