//! Files made through a shared folder never carry privileges on the host: virtiofsd runs under
//! a seccomp filter of Berth's that refuses set-uid and set-gid modes and device nodes.
//!
//! virtiofsd writes what the guest asks for with the host user's rights (or root's, when Berth
//! runs as root), and an owner may always `chmod u+s` their own file; so a container could
//! leave a set-uid program in the user's home for another local user to run, or, under a root
//! Berth, a set-uid-root one or a device node. The filter is installed between fork and exec
//! (seccomp filters outlive `exec` and stack with virtiofsd's own allow-list) and answers
//! `EPERM` to:
//!
//! - `chmod`, `fchmod`, `fchmodat`, `fchmodat2` with `S_ISUID` or `S_ISGID` in the mode;
//! - `open`, `openat`, `creat` that create a file (`O_CREAT`, `O_TMPFILE`) with either bit;
//! - `mknod`, `mknodat` of a character or block device, or with either bit.
//!
//! `openat2` answers `ENOSYS`: its mode sits in a struct a filter cannot read, and virtiofsd
//! probes for it at start and uses `openat` without it. The container sees `Operation not
//! permitted` for the refused calls; everything else (modes without those bits, directories'
//! inherited set-gid) is unchanged. virtiofsd's extended attributes are off (no `--xattr`), so
//! no file capabilities can be planted either. macOS (Virtualization.framework's own virtiofs)
//! and Windows (WSL's drive mounts) run no virtiofsd; see `ARCHITECTURE.md`.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// `fchmodat2` (Linux 6.6), the same number on every architecture; not in every libc yet.
const SYS_FCHMODAT2: i64 = 452;
/// The mode bits that grant privileges on `exec`.
const SET_ID: [u64; 2] = [libc::S_ISUID as u64, libc::S_ISGID as u64];

/// Why the filter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the shared folders' privilege filter could not be built: {0}")]
pub struct FilterError(String);

/// The compiled filters, ready to install in a child.
#[derive(Debug, Clone)]
pub struct Filters {
    refused: BpfProgram,
    missing: BpfProgram,
}

impl Filters {
    /// Compiles the filters for this machine's architecture.
    pub fn new() -> Result<Filters, FilterError> {
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| FilterError(format!("{e:?}")))?;
        let build = |rules, errno: i32| -> Result<BpfProgram, FilterError> {
            SeccompFilter::new(
                rules,
                SeccompAction::Allow,
                SeccompAction::Errno(errno as u32),
                arch,
            )
            .and_then(BpfProgram::try_from)
            .map_err(|e| FilterError(e.to_string()))
        };
        let missing = BTreeMap::from([(libc::SYS_openat2, Vec::new())]);
        Ok(Filters {
            refused: build(refused_rules()?, libc::EPERM)?,
            missing: build(missing, libc::ENOSYS)?,
        })
    }

    /// Installs both filters on the calling thread (and sets `no_new_privs`, which seccomp
    /// needs). Only system calls: safe between fork and exec.
    pub fn install(&self) -> std::io::Result<()> {
        for program in [&self.refused, &self.missing] {
            seccompiler::apply_filter(program).map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    /// Has `command`'s child install the filters before it runs its program.
    pub fn apply(self, command: &mut tokio::process::Command) {
        // SAFETY: the closure only makes the prctl(2) and seccomp(2) calls of `install`, which
        // are async-signal-safe; the programs were compiled (allocated) before the fork.
        unsafe {
            command.pre_exec(move || self.install());
        }
    }
}

fn condition(arg: u8, mask: u64, value: u64) -> Result<SeccompCondition, FilterError> {
    SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(mask),
        value,
    )
    .map_err(|e| FilterError(e.to_string()))
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, FilterError> {
    SeccompRule::new(conditions).map_err(|e| FilterError(e.to_string()))
}

/// A rule per set-id bit in argument `mode`.
fn set_id(mode: u8) -> Result<Vec<SeccompRule>, FilterError> {
    SET_ID
        .iter()
        .map(|&bit| rule(vec![condition(mode, bit, bit)?]))
        .collect()
}

/// A rule per set-id bit in `mode` of an open that creates a file (`flags` argument).
fn creating(flags: u8, mode: u8) -> Result<Vec<SeccompRule>, FilterError> {
    let tmpfile = (libc::O_TMPFILE & !libc::O_DIRECTORY) as u64;
    let mut rules = Vec::new();
    for create in [libc::O_CREAT as u64, tmpfile] {
        for bit in SET_ID {
            rules.push(rule(vec![
                condition(flags, create, create)?,
                condition(mode, bit, bit)?,
            ])?);
        }
    }
    Ok(rules)
}

/// Device nodes, and set-id bits, in argument `mode` of a mknod.
fn devices(mode: u8) -> Result<Vec<SeccompRule>, FilterError> {
    let kind = libc::S_IFMT as u64;
    let mut rules = set_id(mode)?;
    for device in [libc::S_IFCHR as u64, libc::S_IFBLK as u64] {
        rules.push(rule(vec![condition(mode, kind, device)?])?);
    }
    Ok(rules)
}

fn refused_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, FilterError> {
    let mut rules = BTreeMap::from([
        (libc::SYS_fchmod, set_id(1)?),
        (libc::SYS_fchmodat, set_id(2)?),
        (SYS_FCHMODAT2, set_id(2)?),
        (libc::SYS_openat, creating(2, 3)?),
        (libc::SYS_mknodat, devices(2)?),
    ]);
    #[cfg(target_arch = "x86_64")]
    rules.extend([
        (libc::SYS_chmod, set_id(1)?),
        (libc::SYS_open, creating(1, 2)?),
        (libc::SYS_creat, set_id(1)?),
        (libc::SYS_mknod, devices(1)?),
    ]);
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    /// Runs `script` under the filters in `dir`; its exit status and stderr.
    async fn filtered(dir: &std::path::Path, script: &str) -> (bool, String) {
        let mut command = tokio::process::Command::new("sh");
        command.arg("-c").arg(script).current_dir(dir);
        Filters::new().expect("filters").apply(&mut command);
        let out = command.output().await.expect("sh");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn mode(path: std::path::PathBuf) -> u32 {
        std::fs::symlink_metadata(path)
            .expect("meta")
            .permissions()
            .mode()
    }

    #[tokio::test]
    async fn set_id_modes_and_device_nodes_are_refused_and_the_rest_works() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = |name: &str| dir.path().join(name);
        // Ordinary work is untouched.
        let (ok, err) = filtered(
            dir.path(),
            "echo x > f && chmod 0750 f && mkdir d && chmod 2775 d; ln -s f l && mv f g && cat g",
        )
        .await;
        assert!(ok, "{err}");
        assert_eq!(mode(at("g")) & 0o7777, 0o750);

        for (script, what) in [
            ("chmod u+s g", "chmod u+s"),
            ("chmod g+s g", "chmod g+s"),
            ("chmod 4755 g", "chmod 4755"),
        ] {
            let (ok, err) = filtered(dir.path(), script).await;
            assert!(!ok && err.contains("not permitted"), "{what}: {err}");
            assert_eq!(mode(at("g")) & 0o7000, 0, "{what} left a set-id bit");
        }
        // Created with the bits: `open(O_CREAT, 04755)` through Python, when it is here.
        if std::path::Path::new("/usr/bin/python3").exists() {
            let (ok, err) = filtered(
                dir.path(),
                "/usr/bin/python3 -c 'import os; os.open(\"s\", os.O_CREAT | os.O_WRONLY, 0o4755)'",
            )
            .await;
            assert!(!ok && err.contains("PermissionError"), "{err}");
            assert!(!at("s").exists(), "a set-uid file was created");
        }
        // Device nodes (as root the kernel would allow them; as a user it refuses anyway).
        let (ok, _) = filtered(dir.path(), "mknod c c 1 3").await;
        assert!(!ok);
        assert!(
            !at("c").exists()
                || !std::fs::metadata(at("c"))
                    .expect("meta")
                    .file_type()
                    .is_char_device()
        );
        // A FIFO is no privilege: allowed.
        let (ok, err) = filtered(dir.path(), "mkfifo p").await;
        assert!(ok, "{err}");
        assert!(std::fs::metadata(at("p"))
            .expect("meta")
            .file_type()
            .is_fifo());
    }
}
