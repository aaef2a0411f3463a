//! The chunk stream (`berth_protocol::stream`): a data connection's bytes from the peer, with
//! the control records of an interactive shell. Never panics; the plain bytes that come out
//! are exactly the chunks' bytes; re-chunked, they read back the same; a plain stream refuses
//! what only a control stream accepts.
#![no_main]

use berth_fuzz::now;
use berth_protocol::stream::{from_chunks, from_chunks_with_control, write_chunk, write_resize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut controls = Vec::new();
    let with_control = now(from_chunks_with_control(&mut &data[..], &mut out, |c| {
        controls.push(c)
    }));
    if let Ok(total) = with_control {
        assert_eq!(total, out.len() as u64);
        // Written back as chunks and records, it reads back the same.
        let mut wire = Vec::new();
        for chunk in out.chunks(1000) {
            now(write_chunk(&mut wire, chunk)).expect("a chunk");
        }
        for berth_protocol::stream::Control::Resize { cols, rows } in &controls {
            now(write_resize(&mut wire, *cols, *rows)).expect("a record");
        }
        now(write_chunk(&mut wire, &[])).expect("the end");
        let (mut again, mut seen) = (Vec::new(), Vec::new());
        now(from_chunks_with_control(&mut &wire[..], &mut again, |c| {
            seen.push(c)
        }))
        .expect("re-chunked bytes read back");
        assert_eq!((again, seen), (out.clone(), controls.clone()));
    }
    let mut plain = Vec::new();
    match now(from_chunks(&mut &data[..], &mut plain)) {
        Ok(total) => {
            assert_eq!(total, plain.len() as u64);
            assert!(controls.is_empty());
            assert_eq!(Some(&plain), with_control.as_ref().ok().map(|_| &out));
        }
        Err(_) => assert!(plain.len() <= data.len()),
    }
});
