//! Host file-event paths (`berth_agent::share_paths::locate`): which shared folder a path from
//! a `FilesChanged` batch lies in. The input's lines are the shares' paths, the last one the
//! event's path. Never panics; a located path is the share's path joined with a relative path
//! free of empty, `.` and `..` parts and NUL bytes.
#![no_main]

use berth_agent::share_paths::locate;
use berth_protocol::settings::Share;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines: Vec<&str> = text.split('\n').collect();
    let path = lines.pop().unwrap_or("");
    let shares: Vec<Share> = lines
        .iter()
        .enumerate()
        .map(|(i, p)| Share {
            tag: format!("s{i}"),
            path: (*p).to_owned(),
            read_only: false,
        })
        .collect();
    let Some((share, rel)) = locate(&shares, path) else {
        return;
    };
    assert!(!path.contains('\0'));
    if rel.is_empty() {
        assert_eq!(path, share.path);
    } else {
        assert_eq!(path, format!("{}/{rel}", share.path));
        assert!(rel
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != ".."));
    }
});
