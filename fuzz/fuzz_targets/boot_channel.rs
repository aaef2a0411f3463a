//! The boot channel's text (`berth_protocol::auth`): the secret's hex line, the private
//! parameters, the `end` line. Never panics; a parsed channel prints to text that parses to the
//! same channel; whatever parses is complete; a secret's hex round-trips.
#![no_main]

use berth_protocol::auth::{BootChannel, BootSecret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(secret) = BootSecret::parse_hex(&text) {
        assert_eq!(BootSecret::parse_hex(&secret.to_hex()), Ok(secret));
    }
    let _ = BootChannel::is_complete(&text);
    if let Ok(channel) = BootChannel::parse(&text) {
        assert!(BootChannel::is_complete(&text));
        let again = channel.to_text();
        assert!(BootChannel::is_complete(&again));
        assert_eq!(BootChannel::parse(&again), Ok(channel));
    }
});
