//! The VM every backend runs, as plain data: [`VmSpec`] holds the host's decisions (resources,
//! the verified guest image, where the runtime files and the data disk live, the shared
//! folders, the engine's settings), made once from the settings. Each backend builds its own
//! configuration from it in one function (`QemuConfig::from_spec`, `VzConfig::from_spec`,
//! `WslConfig::from_spec`), so no backend can drift from the others by forgetting a field.

use std::path::{Path, PathBuf};

use berth_protocol::settings::AgentSettings;

use crate::image::GuestImage;
#[cfg(any(test, feature = "fake-backend"))]
use crate::image::{Artifact, Manifest, Role, RootFormat, SCHEMA};
use crate::shares::ShareDevice;

/// Virtual CPUs of a spec made by [`VmSpec::new`].
pub const DEFAULT_CPUS: u32 = 2;
/// Guest memory of a spec made by [`VmSpec::new`], in MiB.
pub const DEFAULT_MEMORY_MIB: u32 = 1024;
/// Data disk size of a spec made by [`VmSpec::new`], in GiB (the settings' default).
pub const DEFAULT_DISK_GIB: u32 = 64;

/// The VM to run, whichever backend runs it.
#[derive(Debug, Clone)]
pub struct VmSpec {
    /// Virtual CPUs.
    pub cpus: u32,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// The verified guest image.
    pub image: GuestImage,
    /// The runtime directory: the console log, sockets.
    pub run_dir: PathBuf,
    /// Where the data disk lives (each backend names its file: [`VmSpec`]'s users ask the
    /// backend's configuration, e.g. `QemuConfig::data_disk`).
    pub data_dir: PathBuf,
    /// The data disk's size when it is created, in GiB.
    pub disk_gib: u32,
    /// Shared host folders (tag, host path, virtiofsd socket, cache mode). The backends turn
    /// them into devices and into the agent's `berth.share` settings; WSL, whose shared
    /// folders are its drive mounts, ignores them.
    pub shares: Vec<ShareDevice>,
    /// The engine's settings for the agent. Leave `shares` empty here: the backends add the
    /// shared folders from [`VmSpec::shares`], each with its device.
    pub agent: AgentSettings,
}

impl VmSpec {
    /// A spec booting `image` with its runtime files in `run_dir` and its data disk in
    /// `data_dir`: [`DEFAULT_CPUS`], [`DEFAULT_MEMORY_MIB`], [`DEFAULT_DISK_GIB`], no shared
    /// folder, default agent settings. The caller sets the rest from the settings.
    pub fn new(image: GuestImage, run_dir: &Path, data_dir: &Path) -> VmSpec {
        VmSpec {
            cpus: DEFAULT_CPUS,
            memory_mib: DEFAULT_MEMORY_MIB,
            image,
            run_dir: run_dir.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            disk_gib: DEFAULT_DISK_GIB,
            shares: Vec::new(),
            agent: AgentSettings::default(),
        }
    }

    /// Where the console log is written (every backend writes the guest's console there).
    pub fn console_log(&self) -> PathBuf {
        self.run_dir.join(crate::paths::CONSOLE_LOG)
    }
}

/// A guest image that was never on disk, for tests: a manifest for `arch` (Debian name:
/// `amd64`, `arm64`) and `root_format`, with its files named in `dir` (`vmlinuz`,
/// `initrd.img`, `root.<format>`) and placeholder checksums. Nothing is read or verified.
#[cfg(any(test, feature = "fake-backend"))]
pub fn sample_image(dir: &Path, arch: &str, root_format: RootFormat) -> GuestImage {
    let artifact = |role, file: &str| Artifact {
        role,
        file: file.into(),
        sha256: "0".repeat(64),
        size: 1,
    };
    let root = match root_format {
        RootFormat::Squashfs => "root.squashfs",
        RootFormat::Erofs => "root.erofs",
        RootFormat::Initramfs => "root.cpio",
        RootFormat::Tar => "root.tar",
    };
    GuestImage {
        dir: dir.to_path_buf(),
        manifest: Manifest {
            schema: SCHEMA,
            recipe_hash: "0".repeat(64),
            suite: "trixie".into(),
            arch: arch.into(),
            root_format,
            source_date_epoch: 0,
            packages_date: None,
            components: Default::default(),
            agent_sha256: "0".repeat(64),
            artifacts: vec![
                artifact(Role::Kernel, "vmlinuz"),
                artifact(Role::Initrd, "initrd.img"),
                artifact(Role::Root, root),
            ],
        },
    }
}

/// A spec for the backend tests: 3 CPUs, 3072 MiB, two shared folders (one with a space),
/// a registry mirror and a proxy, so each backend's test can see them arrive. The second folder
/// is read-only.
#[cfg(test)]
pub(crate) fn sample_spec(arch: &str, root_format: RootFormat) -> VmSpec {
    use crate::shares::CacheMode;
    let mut spec = VmSpec::new(
        sample_image(Path::new("/img"), arch, root_format),
        Path::new("/run/berth"),
        Path::new("/data/berth"),
    );
    spec.cpus = 3;
    spec.memory_mib = 3072;
    spec.disk_gib = 32;
    for (i, path) in ["/home/ana", "/work/My Projects"].iter().enumerate() {
        spec.shares.push(ShareDevice {
            tag: crate::shares::tag(i, Path::new(path)),
            host_path: path.into(),
            socket: format!("/run/berth/virtiofs-{i}.sock").into(),
            cache: CacheMode::Metadata,
            read_only: i == 1,
        });
    }
    spec.agent
        .engine
        .registry_mirrors
        .push("http://mirror.internal:5000".into());
    spec.agent.engine.https_proxy = Some("http://proxy.internal:3128".into());
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_spec_has_the_defaults_and_no_share() {
        let image = sample_image(Path::new("/img"), "amd64", RootFormat::Squashfs);
        let spec = VmSpec::new(image, Path::new("/run/berth"), Path::new("/data"));
        assert_eq!(
            (spec.cpus, spec.memory_mib, spec.disk_gib),
            (DEFAULT_CPUS, DEFAULT_MEMORY_MIB, DEFAULT_DISK_GIB)
        );
        assert!(spec.shares.is_empty());
        assert_eq!(spec.agent, AgentSettings::default());
        assert_eq!(spec.console_log(), Path::new("/run/berth/console.log"));
        assert_eq!(spec.image.path(Role::Root), Path::new("/img/root.squashfs"));
    }
}
