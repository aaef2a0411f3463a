//! The root filesystem of the WSL data distribution, written by the host as a small tarball
//! for `wsl --import`: the agent (copied out of the image's root tarball, so it is the same
//! static binary) as `/usr/sbin/init`, an empty `/var/lib/berth` that will hold the engine's
//! data, the accounts `wsl --user root` looks up, and a `wsl.conf` that keeps WSL from adding
//! anything the distribution does not need. The data distribution is imported once and never
//! replaced, so its agent only ever does one small thing (`--wsl-data`, see
//! `guest-agent/src/wsl.rs`); the engine always runs in the image's own system distribution.

use std::io::{Read, Write};
use std::path::Path;

use super::command::AGENT_PATH;

/// `/etc/wsl.conf` of the data distribution: no systemd, no Windows interop or `PATH`, no
/// generated network files; `root` by default.
pub const WSL_CONF: &str = "\
# Written by Berth: the data distribution only holds the engine's data.
[boot]
systemd=false

[interop]
enabled=false
appendWindowsPath=false

[network]
generateHosts=false
generateResolvConf=false

[user]
default=root
";

/// Marks the distribution as Berth's data distribution (for a person looking inside).
pub const MARKER: &str = "etc/berth-distribution";

/// Why the data root could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DataRootError {
    /// The image's root tarball could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The tarball.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It has no agent.
    #[error("{0} holds no {AGENT_PATH}: it is not a Berth root (rebuild the image with vm-image/build.sh --format tar)")]
    NoAgent(String),
    /// The data root could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The tarball being written.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The agent binary in the root tarball `root_tar` (`./usr/sbin/init`, a regular file).
pub fn agent_from_root(root_tar: &Path) -> Result<Vec<u8>, DataRootError> {
    let read = |source| DataRootError::Read {
        path: root_tar.display().to_string(),
        source,
    };
    let file = std::fs::File::open(root_tar).map_err(read)?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let wanted = AGENT_PATH.trim_start_matches('/');
    for entry in archive.entries().map_err(read)? {
        let mut entry = entry.map_err(read)?;
        let is_agent = entry.header().entry_type().is_file()
            && entry.path().is_ok_and(|p| {
                let p = p.to_string_lossy();
                p.trim_start_matches("./") == wanted
            });
        if is_agent {
            let mut agent = Vec::with_capacity(entry.size().min(64 << 20) as usize);
            entry.read_to_end(&mut agent).map_err(read)?;
            return Ok(agent);
        }
    }
    Err(DataRootError::NoAgent(root_tar.display().to_string()))
}

/// Writes the data distribution's root, with `agent` as its `/usr/sbin/init`, to `out`.
pub fn write(agent: &[u8], out: impl Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    let dir = |tar: &mut tar::Builder<_>, path: &str, mode: u32| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(mode);
        header.set_size(0);
        header.set_mtime(0);
        tar.append_data(&mut header, path, std::io::empty())
    };
    for path in [
        "dev", "etc", "mnt", "proc", "run", "sys", "usr", "usr/sbin", "var", "var/lib",
    ] {
        dir(&mut tar, path, 0o755)?;
    }
    dir(&mut tar, "root", 0o700)?;
    dir(&mut tar, "tmp", 0o1777)?;
    dir(&mut tar, "var/lib/berth", 0o710)?;
    let mut file = |path: &str, mode: u32, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_mtime(0);
        tar.append_data(&mut header, path, data)
    };
    file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")?;
    file("etc/group", 0o644, b"root:x:0:\n")?;
    file("etc/wsl.conf", 0o644, WSL_CONF.as_bytes())?;
    file(MARKER, 0o644, b"berth data distribution\n")?;
    file(AGENT_PATH.trim_start_matches('/'), 0o755, agent)?;
    tar.into_inner()?.flush()
}

/// Writes the data root for the image whose root tarball is `root_tar` to `out` (a file).
/// Reads the whole root tarball: call it off async workers.
pub fn write_for_image(root_tar: &Path, out: &Path) -> Result<(), DataRootError> {
    let agent = agent_from_root(root_tar)?;
    let write_err = |source| DataRootError::Write {
        path: out.display().to_string(),
        source,
    };
    let file = std::fs::File::create(out).map_err(write_err)?;
    write(&agent, std::io::BufWriter::new(file)).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A root tarball as build.sh writes it (`./` prefixes), the agent among other files.
    fn root_tar(dir: &Path, with_agent: bool) -> std::path::PathBuf {
        let path = dir.join("root.tar");
        let mut tar = tar::Builder::new(std::fs::File::create(&path).expect("create"));
        let mut add = |name: &str, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o755);
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, name, data).expect("append");
        };
        add("./etc/os-release", b"ID=debian\n");
        add("./usr/sbin/initctl", b"not the agent");
        if with_agent {
            add("./usr/sbin/init", b"\x7fELF the agent");
        }
        add("./usr/sbin/zz", b"after");
        tar.into_inner().expect("finish");
        path
    }

    #[test]
    fn the_data_root_carries_the_images_agent_and_an_empty_data_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("data.tar");
        write_for_image(&root_tar(dir.path(), true), &out).expect("written");
        let mut archive = tar::Archive::new(std::fs::File::open(&out).expect("open"));
        let mut entries = BTreeMap::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let mode = entry.header().mode().expect("mode");
            let kind = entry.header().entry_type();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            entries.insert(path.trim_end_matches('/').to_owned(), (kind, mode, data));
        }
        let agent = &entries["usr/sbin/init"];
        assert_eq!(agent.2, b"\x7fELF the agent");
        assert_eq!(agent.1, 0o755);
        assert_eq!(entries["var/lib/berth"].0, tar::EntryType::Directory);
        assert_eq!(entries["tmp"].1, 0o1777);
        assert!(String::from_utf8_lossy(&entries["etc/passwd"].2).starts_with("root:x:0:0:"));
        assert!(String::from_utf8_lossy(&entries["etc/wsl.conf"].2).contains("systemd=false"));
        assert!(entries.contains_key(MARKER));
        assert!(!entries.contains_key("etc/os-release"));
    }

    #[test]
    fn a_root_without_the_agent_or_no_root_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("data.tar");
        let err = write_for_image(&root_tar(dir.path(), false), &out).expect_err("no agent");
        assert!(matches!(err, DataRootError::NoAgent(_)), "{err}");
        assert!(err.to_string().contains("--format tar"), "{err}");
        let err = write_for_image(&dir.path().join("missing.tar"), &out).expect_err("no root");
        assert!(matches!(err, DataRootError::Read { .. }), "{err}");
        std::fs::write(dir.path().join("junk.tar"), vec![0x5a; 700]).expect("junk");
        assert!(write_for_image(&dir.path().join("junk.tar"), &out).is_err());
    }
}
