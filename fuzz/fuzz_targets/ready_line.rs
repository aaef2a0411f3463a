//! The agent's console lines the host matches (`berth_protocol::boot`): the ready line and the
//! WSL data distribution's data-ready line. Never panics; a parsed ready line prints to a line
//! that parses to the same; a data-ready path is absolute and round-trips.
#![no_main]

use berth_protocol::boot::{data_ready_line, parse_data_ready, ReadyLine};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    match ReadyLine::parse(&line) {
        Ok(Some(ready)) => {
            assert_eq!(ReadyLine::parse(&ready.to_string()), Ok(Some(ready)));
        }
        Ok(None) => {}
        Err(err) => assert!(err.line.len() <= 200),
    }
    if let Some(path) = parse_data_ready(&line) {
        assert!(path.starts_with('/'));
        assert_eq!(parse_data_ready(&data_ready_line(path)), Some(path));
    }
});
