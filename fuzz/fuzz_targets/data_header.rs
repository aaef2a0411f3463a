//! The header and reply that open a data connection (`berth_protocol::data`): the agent reads
//! the header, the host the reply. Never panics, never reads past the frame, and what it
//! decodes re-encodes to the same frame's meaning.
#![no_main]

use berth_fuzz::now;
use berth_protocol::data::{read_header, read_reply, write_header, write_reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    if let Ok(header) = now(read_header(&mut rest)) {
        let used = data.len() - rest.len();
        let claimed = u32::from_be_bytes(data[..4].try_into().expect("a prefix")) as usize;
        assert_eq!(used, 4 + claimed, "read exactly one frame");
        let mut wire = Vec::new();
        now(write_header(&mut wire, &header)).expect("encodes");
        assert_eq!(now(read_header(&mut &wire[..])).expect("decodes"), header);
    }
    let mut rest = data;
    if let Ok(reply) = now(read_reply(&mut rest)) {
        let mut wire = Vec::new();
        now(write_reply(&mut wire, &reply)).expect("encodes");
        assert_eq!(now(read_reply(&mut &wire[..])).expect("decodes"), reply);
    }
});
