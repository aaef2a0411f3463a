//! Images of other CPU architectures for the tests and benchmarks: Debian's static busybox of
//! those architectures, and the docker CLI's buildx plugin, as `installer/lib.sh`'s
//! `fetch_test_debs` downloads them into Berth's cache (Docker Hub is out of reach here).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::berth::{busybox_tree_with, tar_of, Env};

/// The commands of the foreign busybox images.
pub const APPLETS: &[&str] = &[
    "sh",
    "uname",
    "cat",
    "echo",
    "dd",
    "sha256sum",
    "head",
    "true",
];

/// Berth's cache (`BERTH_CACHE_DIR`, else `$XDG_CACHE_HOME/berth`, else `~/.cache/berth`).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    cache.join("berth")
}

fn missing(what: &Path) -> String {
    format!(
        "{} is missing: run `. installer/lib.sh && fetch_test_debs` first (installer/berth-test does)",
        what.display()
    )
}

/// Debian's static busybox for the Debian architecture `arch` (`arm64`, `armhf`), unpacked
/// from its cached .deb into `dir`.
pub fn busybox_of(arch: &str, dir: &Path) -> PathBuf {
    let debs = cache_dir().join("debs");
    let suffix = format!("_{arch}.deb");
    let deb = std::fs::read_dir(&debs)
        .unwrap_or_else(|_| panic!("{}", missing(&debs)))
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("busybox-static_") && name.ends_with(&suffix)
        })
        .unwrap_or_else(|| {
            panic!(
                "{}",
                missing(&debs.join(format!("busybox-static_*{suffix}")))
            )
        });
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(dir)
        .status()
        .expect("dpkg-deb");
    assert!(status.success(), "cannot unpack {}", deb.display());
    ["usr/bin/busybox", "bin/busybox"]
        .iter()
        .map(|p| dir.join(p))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{} has no busybox", deb.display()))
}

/// A root filesystem tarball of the `arch` busybox with [`APPLETS`], for `docker import`.
pub fn busybox_rootfs_of(arch: &str) -> Vec<u8> {
    let unpacked = tempfile::tempdir().expect("tempdir");
    let tree = busybox_tree_with(&busybox_of(arch, unpacked.path()), APPLETS);
    tar_of(tree.path())
}

/// Makes the cached buildx plugin a plugin of `env`'s docker CLI (`$DOCKER_CONFIG/cli-plugins`).
pub fn install_buildx(env: &Env) {
    let plugin = cache_dir().join("cli-plugins/docker-buildx");
    assert!(plugin.is_file(), "{}", missing(&plugin));
    let plugins = env.home.join("docker/cli-plugins");
    std::fs::create_dir_all(&plugins).expect("cli-plugins");
    std::os::unix::fs::symlink(&plugin, plugins.join("docker-buildx")).expect("plugin link");
}
