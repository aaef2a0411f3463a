//! The host's reader of the guest's serial console (`berth_core::vm::console`): the line
//! splitter of the output the guest writes and the classifier of each line. Never panics;
//! lines hold no newline and stay bounded however long the guest's output; the tail stays
//! bounded.
#![no_main]

use berth_core::vm::console::{classify, Console, Signal};
use libfuzzer_sys::fuzz_target;

/// A line is cut at 4096 bytes; invalid UTF-8 may triple it (U+FFFD).
const MAX_LINE_TEXT: usize = 3 * 4096;

fuzz_target!(|data: &[u8]| {
    let mut console = Console::new();
    // In two pieces, as a pipe read while the guest writes.
    let (a, b) = data.split_at(data.len() / 2);
    let mut lines = console.feed(a);
    lines.extend(console.feed(b));
    assert_eq!(lines.len(), data.iter().filter(|&&b| b == b'\n').count());
    for line in &lines {
        assert!(
            !line.contains('\n') && line.len() <= MAX_LINE_TEXT,
            "{}",
            line.len()
        );
        match classify(line) {
            Ok(Signal::Fatal(text)) => assert!(text.len() <= line.len()),
            Ok(Signal::Ready(_) | Signal::Other) | Err(_) => {}
        }
    }
    assert!(console.tail().len() <= 41 * (MAX_LINE_TEXT + 1));
});
