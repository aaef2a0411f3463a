//! Berth refuses to run its VM as root unless asked to.
//!
//! As root, virtiofsd writes every file a container makes in a shared folder as root, the
//! engine socket, the VM's disk and its state belong to root, and a mistake in a container
//! reaches a root process on the host: none of it is needed, since the VM needs no privilege
//! here (`/dev/kvm` is group-accessible, vsock and the helpers run as the user). So a start
//! as root fails with the reason and what to do, unless `BERTH_ALLOW_ROOT=1` says it is meant
//! (a throwaway machine, CI): the test scripts set it when they run as root, and say so.

use crate::error::DaemonError;

/// The environment variable that allows running as root.
pub const ALLOW_ROOT: &str = "BERTH_ALLOW_ROOT";

/// Whether a start by user `euid`, with `allow` the value of [`ALLOW_ROOT`], is refused.
pub fn refusal(euid: u32, allow: Option<&std::ffi::OsStr>) -> Option<DaemonError> {
    (euid == 0 && allow.is_none_or(|v| v != "1")).then_some(DaemonError::Root)
}

/// The refusal for this process, on Unix; never on Windows, where Berth runs as the signed-in
/// user through WSL.
pub fn check() -> Result<(), DaemonError> {
    #[cfg(unix)]
    if let Some(err) = refusal(
        nix::unistd::geteuid().as_raw(),
        std::env::var_os(ALLOW_ROOT).as_deref(),
    ) {
        return Err(err);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_refused_unless_explicitly_allowed() {
        let err = refusal(0, None).expect("refused");
        let text = err.to_string();
        assert!(
            text.contains("as root") && text.contains("BERTH_ALLOW_ROOT=1"),
            "{text}"
        );
        assert_eq!(err.code(), "root");
        assert!(refusal(0, Some("0".as_ref())).is_some());
        assert!(refusal(0, Some("1".as_ref())).is_none());
        assert!(refusal(1000, None).is_none());
    }
}
