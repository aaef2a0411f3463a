//! UDP datagram frames (`berth_protocol::datagram`) from the peer of a data connection. Never
//! panics; a frame uses only bytes it has; it re-encodes to the same bytes; the slice decoder
//! and the stream reader agree.
#![no_main]

use berth_fuzz::now;
use berth_protocol::datagram::{decode, encode, read_datagram, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut buf = Vec::new();
    loop {
        let decoded = decode(rest);
        let mut reader = rest;
        let read = now(read_datagram(&mut reader, &mut buf));
        match decoded {
            Some((payload, used)) => {
                assert_eq!(used, HEADER_LEN + payload.len());
                assert!(used <= rest.len());
                let mut out = Vec::new();
                encode(payload, &mut out).expect("encodes");
                assert_eq!(out, &rest[..used]);
                assert!(read.expect("the reader reads it"));
                assert_eq!(buf, payload);
                rest = &rest[used..];
            }
            None => {
                assert!(
                    !matches!(read, Ok(true)),
                    "the reader saw a frame decode did not"
                );
                break;
            }
        }
    }
});
