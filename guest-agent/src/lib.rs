//! The agent's pure parsers of bytes from containers and the host, as a library beside the
//! binary (`main.rs` uses them from here) so the fuzz targets in `fuzz/` reach them.

pub mod dns_message;
pub mod share_paths;
