//! The daemon's open-file limit. It holds a socket per forwarded port (up to
//! `berth_core::ports::plan::MAX_FORWARDS`), two per relayed connection, the engine socket's
//! clients and the helpers' pipes: the usual soft limit of 1,024 would run out at the first
//! large port range, so the daemon raises its soft limit to its hard one (at most
//! [`WANTED`]) at start. Unprivileged: the hard limit is never raised.

/// Open files the daemon asks for.
pub const WANTED: u64 = 65_536;

/// Raises the soft limit towards the hard one; returns the soft limit now.
#[cfg(unix)]
pub fn raise_open_files() -> std::io::Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let target = hard.min(WANTED);
    if soft >= target {
        return Ok(soft);
    }
    setrlimit(Resource::RLIMIT_NOFILE, target, hard)?;
    Ok(target)
}

/// Windows has no such limit for sockets.
#[cfg(not(unix))]
pub fn raise_open_files() -> std::io::Result<u64> {
    Ok(u64::MAX)
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn the_soft_limit_rises_to_the_hard_one_and_never_falls() {
        use nix::sys::resource::{getrlimit, Resource};
        let (before, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
        let now = super::raise_open_files().expect("raise");
        assert_eq!(now, before.max(hard.min(super::WANTED)));
        assert_eq!(
            getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit").0,
            now
        );
    }
}
