//! The hybrid vsock handshake lines (`berth_core::vsock`): the bridge's parser of a client's
//! `CONNECT <port>` and the client's check of the backend's `OK <port>` answer. Never panic;
//! a parsed port prints to a line that parses to it; only `OK ` answers are accepted.
#![no_main]

use berth_core::vsock::bridge::parse_request;
use berth_core::vsock::hybrid::check_reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(port) = parse_request(data) {
        assert!(data.starts_with(b"CONNECT "));
        assert_eq!(
            parse_request(format!("CONNECT {port}").as_bytes()),
            Some(port)
        );
    }
    match check_reply(data) {
        Ok(()) => assert!(data.starts_with(b"OK ")),
        Err(answer) => assert!(!answer.starts_with("OK ")),
    }
});
