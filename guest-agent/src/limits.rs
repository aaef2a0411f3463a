//! The agent's resource limits, inherited by everything it starts. The kernel gives init 1,024
//! open files (4,096 hard): far below what the agent relays at once (every data connection is
//! a vsock socket and a socket to its target, up to `server::MAX_DATA_CONNECTIONS`), so the
//! first crowd of clients on a published port would leave no descriptor for `docker ps`.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Open files the agent asks for (capped by the kernel's `fs.nr_open`).
const OPEN_FILES: u64 = 1 << 20;

/// Raises the open-file limit to [`OPEN_FILES`] or the kernel's ceiling; returns the new soft
/// limit.
pub fn raise_open_files() -> nix::Result<u64> {
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(OPEN_FILES);
    let wanted = OPEN_FILES.min(ceiling);
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= wanted {
        return Ok(soft);
    }
    // Root raises the hard limit too; otherwise up to the hard limit it has.
    match setrlimit(Resource::RLIMIT_NOFILE, wanted, wanted.max(hard)) {
        Ok(()) => Ok(wanted),
        Err(_) => setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map(|()| hard),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_never_goes_down() {
        let (before, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
        let after = raise_open_files().expect("raise");
        assert!(after >= before, "{after} < {before}");
        assert_eq!(
            getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit").0,
            after
        );
    }
}
