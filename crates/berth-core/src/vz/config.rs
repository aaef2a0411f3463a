//! The Virtualization.framework VM as plain data: what [`super::VzBackend`] builds, decided and
//! validated here so it is tested on every OS.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use berth_protocol::settings::{AgentSettings, NetworkMode};

use crate::backend::VmSpec;
use crate::image::{GuestImage, Role, RootFormat};

/// The guest device name of the data disk (the second virtio disk, after the root).
pub const DATA_DISK_DEVICE: &str = "/dev/vdb";
/// Virtualization.framework's limit on a virtio file system tag, in bytes.
pub const MAX_TAG_BYTES: usize = 36;
/// The virtio file system tag of the Rosetta share.
pub const ROSETTA_TAG: &str = "rosetta";
/// Where the agent mounts the Rosetta share.
pub const ROSETTA_MOUNT: &str = "/run/rosetta";
/// The guest's smallest useful memory, in MiB (the engine needs room).
pub const MIN_MEMORY_MIB: u32 = 512;

/// One virtio file system device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The virtio file system tag the guest mounts.
    pub tag: String,
    /// The host folder.
    pub host_path: PathBuf,
    /// Shared read-only (`VZSharedDirectory`'s `readOnly`): the framework refuses every change.
    pub read_only: bool,
}

/// Everything the VM is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VzConfig {
    /// Virtual CPUs.
    pub cpus: u32,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// The kernel: an uncompressed `Image` on arm64 (the framework does not decompress).
    pub kernel: PathBuf,
    /// Stage-1 initramfs, or the whole root for [`RootFormat::Initramfs`].
    pub initrd: PathBuf,
    /// Root image for disk formats; `None` when the root is the initramfs.
    pub root_disk: Option<(PathBuf, RootFormat)>,
    /// The engine's raw, sparse data disk.
    pub data_disk: Option<PathBuf>,
    /// Where the console (virtio console port, `hvc0`) is written.
    pub console_log: PathBuf,
    /// The Unix socket bridging other processes to the virtio socket device.
    pub vsock_bridge: PathBuf,
    /// The 0600 file of the boot channel ([`berth_protocol::auth::BootChannel`]), which feeds
    /// the second virtio console port (`hvc1`, `berth.secret=hvc1`).
    pub boot_channel: PathBuf,
    /// Expose Rosetta to the guest when the host has it (Apple silicon).
    pub rosetta: bool,
    /// Shared host folders: each is a virtio file system device ([`VzConfig::shares`]) and a
    /// `berth.share` kernel parameter ([`VzConfig::kernel_cmdline`]).
    pub shares: Vec<Share>,
    /// The agent's settings, passed as kernel parameters. Shares found in `agent.shares` are
    /// devices too (merged with [`VzConfig::shares`](field@VzConfig::shares)), so a folder is
    /// never a parameter without its device.
    pub agent: AgentSettings,
    /// Further raw kernel parameters.
    pub kernel_params: Vec<String>,
}

/// A configuration the framework would refuse, or that cannot boot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The image was built for another CPU architecture.
    #[error("the guest image is for {image}, this Mac needs {host}: build it with vm-image/build.sh --arch {host}")]
    WrongArch {
        /// The image's Debian architecture.
        image: String,
        /// The host's.
        host: String,
    },
    /// The image's root cannot be booted by this backend.
    #[error("a {0:?} root cannot be booted by Virtualization.framework (use squashfs)")]
    RootFormat(RootFormat),
    /// Too little memory or no CPU.
    #[error("{0}")]
    Resources(String),
    /// A shared folder's tag or path is unusable.
    #[error("shared folder {tag:?}: {why}")]
    Share {
        /// The tag.
        tag: String,
        /// What is wrong.
        why: String,
    },
    /// The arm64 kernel is compressed or not a kernel.
    #[error("{path}: {why}; rebuild the guest image (vm-image/build.sh --arch arm64 unpacks it)")]
    Kernel {
        /// The kernel file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// The Debian architecture of a Rust `target_arch`.
pub fn debian_arch(target_arch: &str) -> Option<&'static str> {
    match target_arch {
        "aarch64" => Some("arm64"),
        "x86_64" => Some("amd64"),
        _ => None,
    }
}

/// The file of the raw data disk in `data_dir` (created by [`ensure_raw_disk`]).
pub fn data_disk_path(data_dir: &Path) -> PathBuf {
    data_dir.join(crate::paths::VZ_DATA_DISK)
}

impl VzConfig {
    /// The configuration running `spec` on a host whose Rust `target_arch` is `host_arch`:
    /// the spec's resources, its raw data disk ([`data_disk_path`] in its data directory), one
    /// virtio file system device and one `berth.share` kernel parameter per shared folder, and
    /// its agent settings. Refuses an image for another architecture or a tarball root.
    pub fn from_spec(spec: &VmSpec, host_arch: &str) -> Result<VzConfig, ConfigError> {
        let VmSpec {
            cpus,
            memory_mib,
            image,
            run_dir,
            data_dir,
            disk_gib: _,
            shares,
            agent,
        } = spec;
        Ok(VzConfig {
            cpus: *cpus,
            memory_mib: *memory_mib,
            data_disk: Some(data_disk_path(data_dir)),
            shares: shares
                .iter()
                .map(|s| Share {
                    tag: s.tag.clone(),
                    host_path: s.host_path.clone(),
                    read_only: s.read_only,
                })
                .collect(),
            agent: agent.clone(),
            ..VzConfig::for_image(image, run_dir, host_arch)?
        })
    }

    /// A configuration booting `image` with its files in `run_dir`, for a host whose Rust
    /// `target_arch` is `host_arch`.
    pub fn for_image(
        image: &GuestImage,
        run_dir: &Path,
        host_arch: &str,
    ) -> Result<VzConfig, ConfigError> {
        let host = debian_arch(host_arch).unwrap_or(host_arch);
        if image.manifest.arch != host {
            return Err(ConfigError::WrongArch {
                image: image.manifest.arch.clone(),
                host: host.to_owned(),
            });
        }
        let (initrd, root_disk) = match image.manifest.root_format {
            RootFormat::Initramfs => (image.path(Role::Root), None),
            RootFormat::Tar => return Err(ConfigError::RootFormat(RootFormat::Tar)),
            disk => (
                image.path(Role::Initrd),
                Some((image.path(Role::Root), disk)),
            ),
        };
        Ok(VzConfig {
            cpus: crate::backend::spec::DEFAULT_CPUS,
            memory_mib: crate::backend::spec::DEFAULT_MEMORY_MIB,
            kernel: image.path(Role::Kernel),
            initrd,
            root_disk,
            data_disk: None,
            console_log: run_dir.join(crate::paths::CONSOLE_LOG),
            vsock_bridge: run_dir.join(crate::paths::run_dir::VSOCK_SOCKET),
            boot_channel: run_dir.join(crate::paths::run_dir::BOOT_CHANNEL),
            rosetta: host == "arm64",
            shares: Vec::new(),
            agent: AgentSettings::default(),
            kernel_params: Vec::new(),
        })
    }

    /// The shared folders: [`VzConfig::shares`](field@VzConfig::shares), then those of
    /// `agent.shares` not already among them (a folder in both is one folder; a tag in both
    /// with different folders is refused by [`VzConfig::validate`]).
    fn folders(&self) -> Vec<Share> {
        let mut folders = self.shares.clone();
        let from_agent = self.agent.shares.iter().map(|share| Share {
            tag: share.tag.clone(),
            host_path: PathBuf::from(&share.path),
            read_only: share.read_only,
        });
        folders.extend(from_agent.filter(|share| !self.shares.contains(share)));
        folders
    }

    /// The virtio file system devices: one per shared folder, tag → the folder the agent
    /// mounts it at, plus Rosetta's when `rosetta_available`.
    pub fn shares(&self, rosetta_available: bool) -> Vec<Share> {
        let mut shares = self.folders();
        if self.rosetta && rosetta_available {
            shares.push(Share {
                tag: ROSETTA_TAG.into(),
                host_path: PathBuf::new(),
                read_only: false,
            });
        }
        shares
    }

    /// The kernel command line: the console on the virtio console port, the root device, DHCP
    /// on the NAT network, the data disk and the agent's settings (shares included, and the
    /// Rosetta share's mount point when it is attached).
    pub fn kernel_cmdline(&self, rosetta_available: bool) -> String {
        // `ia32_emulation=0` as on QEMU (an amd64 guest on an Intel Mac); an arm64 kernel
        // passes the unknown parameter to init's environment, which ignores it.
        let mut params: Vec<String> = ["console=hvc0", "quiet", "panic=-1", "ia32_emulation=0"]
            .map(String::from)
            .to_vec();
        if let Some((_, format)) = &self.root_disk {
            params.push("berth.root=/dev/vda".into());
            params.push(format!(
                "berth.rootfstype={}",
                match format {
                    RootFormat::Erofs => "erofs",
                    _ => "squashfs",
                }
            ));
        }
        let mut agent = self.agent.clone();
        agent.shares = self
            .folders()
            .iter()
            .map(|s| berth_protocol::settings::Share {
                tag: s.tag.clone(),
                path: s.host_path.to_string_lossy().into_owned(),
                read_only: s.read_only,
            })
            .collect();
        agent.network = NetworkMode::Dhcp;
        agent.secret = berth_protocol::settings::SecretSource::Hvc1;
        if self.data_disk.is_some() {
            agent.data_disk = Some(DATA_DISK_DEVICE.to_owned());
        }
        if self.rosetta && rosetta_available {
            agent.shares.push(berth_protocol::settings::Share {
                tag: ROSETTA_TAG.into(),
                path: ROSETTA_MOUNT.into(),
                read_only: false,
            });
        }
        params.extend(agent.to_cmdline());
        params.extend(self.kernel_params.iter().cloned());
        params.join(" ")
    }

    /// Checks what can be checked without the framework: resources, shares, the kernel.
    pub fn validate(&self, host_cpus: u32) -> Result<(), ConfigError> {
        if self.cpus == 0 || self.cpus > host_cpus {
            return Err(ConfigError::Resources(format!(
                "{} virtual CPUs requested; this Mac has {host_cpus}",
                self.cpus
            )));
        }
        if self.memory_mib < MIN_MEMORY_MIB {
            return Err(ConfigError::Resources(format!(
                "{} MiB of guest memory is below the {MIN_MEMORY_MIB} MiB the engine needs",
                self.memory_mib
            )));
        }
        let mut seen = std::collections::HashSet::new();
        let folders = self.folders();
        for share in &folders {
            let fail = |why: &str| ConfigError::Share {
                tag: share.tag.clone(),
                why: why.into(),
            };
            if share.tag.is_empty() || share.tag.len() > MAX_TAG_BYTES {
                return Err(fail("a tag must be 1 to 36 bytes"));
            }
            if share.tag == ROSETTA_TAG {
                return Err(fail("the tag is reserved for Rosetta"));
            }
            if !seen.insert(share.tag.as_str()) {
                return Err(fail("the tag is used twice"));
            }
            let path = share.host_path.to_string_lossy();
            if !share.host_path.is_absolute() || path.split('/').any(|p| p == "..") {
                return Err(fail("the folder must be an absolute path without '..'"));
            }
        }
        Ok(())
    }
}

/// Checks the first bytes of an arm64 kernel: Virtualization.framework boots only the
/// uncompressed `Image` (magic `ARM\x64` at offset 56), not a gzip or EFI zboot one.
pub fn check_arm64_kernel(path: &Path, header: &[u8]) -> Result<(), ConfigError> {
    let fail = |why: &str| ConfigError::Kernel {
        path: path.to_path_buf(),
        why: why.into(),
    };
    if header.starts_with(&[0x1f, 0x8b]) {
        return Err(fail("the kernel is gzip-compressed"));
    }
    if header.len() >= 8 && header.starts_with(b"MZ") && &header[4..8] == b"zimg" {
        return Err(fail("the kernel is an EFI zboot (compressed) image"));
    }
    if header.get(56..60) != Some(b"ARM\x64".as_slice()) {
        return Err(fail(
            "not an arm64 Linux Image (no ARM\\x64 magic at offset 56)",
        ));
    }
    Ok(())
}

/// Creates a sparse raw disk of `size_gib` at `path` unless a file is there (the framework
/// takes raw images, not qcow2; APFS keeps them sparse). An existing disk, and so the user's
/// images and volumes, is never touched. Returns whether it was created.
pub fn ensure_raw_disk(path: &Path, size_gib: u32) -> std::io::Result<bool> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    if let Err(e) = file.set_len(u64::from(size_gib) << 30) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::settings::Share as AgentShare;

    fn config() -> VzConfig {
        VzConfig {
            cpus: 2,
            memory_mib: 2048,
            kernel: "/img/vmlinuz".into(),
            initrd: "/img/initrd.img".into(),
            root_disk: Some(("/img/root.squashfs".into(), RootFormat::Squashfs)),
            data_disk: None,
            console_log: "/run/berth/console.log".into(),
            vsock_bridge: "/run/berth/vsock.sock".into(),
            boot_channel: "/run/berth/boot-channel".into(),
            rosetta: true,
            shares: Vec::new(),
            agent: AgentSettings {
                shares: vec![AgentShare {
                    tag: "home".into(),
                    path: "/Users/ann lee".into(),
                    read_only: false,
                }],
                ..AgentSettings::default()
            },
            kernel_params: vec!["berth.log=debug".into()],
        }
    }

    #[test]
    fn the_command_line_names_console_root_network_and_settings() {
        let mut c = config();
        c.data_disk = Some("/data/data.img".into());
        let line = c.kernel_cmdline(false);
        assert!(
            line.starts_with(
                "console=hvc0 quiet panic=-1 ia32_emulation=0 berth.root=/dev/vda \
                 berth.rootfstype=squashfs"
            ),
            "{line}"
        );
        assert!(line.contains("berth.data=/dev/vdb"), "{line}");
        assert!(line.contains("berth.net=dhcp"), "{line}");
        assert!(line.contains("berth.share=home:/Users/ann%20lee"), "{line}");
        assert!(line.contains("berth.secret=hvc1"), "{line}");
        assert!(!line.contains("rosetta"), "{line}");
        assert!(line.ends_with("berth.log=debug"));
        let (parsed, warnings) = AgentSettings::from_cmdline(&line);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(parsed.shares, c.agent.shares);
        assert_eq!(parsed.network, NetworkMode::Dhcp);
    }

    #[test]
    fn each_shared_folder_is_a_device_and_rosetta_only_when_available() {
        let c = config();
        assert_eq!(
            c.shares(false),
            [Share {
                tag: "home".into(),
                host_path: "/Users/ann lee".into(),
                read_only: false,
            }]
        );
        let with = c.shares(true);
        assert_eq!(with.len(), 2);
        assert_eq!(with[1].tag, ROSETTA_TAG);
        assert!(c
            .kernel_cmdline(true)
            .contains("berth.share=rosetta:/run/rosetta"));
        let mut off = config();
        off.rosetta = false;
        assert_eq!(off.shares(true).len(), 1);
    }

    #[test]
    fn an_initramfs_root_needs_no_disk() {
        let mut c = config();
        c.root_disk = None;
        assert!(!c.kernel_cmdline(false).contains("berth.root"));
    }

    // Virtualization.framework is macOS: its shared folders are Unix paths.
    #[cfg(unix)]
    #[test]
    fn validation_refuses_what_cannot_run() {
        assert_eq!(config().validate(8), Ok(()));
        let mut c = config();
        c.cpus = 9;
        assert!(matches!(c.validate(8), Err(ConfigError::Resources(_))));
        c.cpus = 0;
        assert!(c.validate(8).is_err());
        let mut c = config();
        c.memory_mib = 256;
        assert!(matches!(c.validate(8), Err(ConfigError::Resources(_))));
        for (tag, path) in [
            ("", "/a"),
            ("a-very-long-tag-that-exceeds-36-bytes!", "/a"),
            ("rosetta", "/a"),
            ("x", "relative"),
            ("x", "/a/../b"),
        ] {
            let mut c = config();
            c.agent.shares = vec![AgentShare {
                tag: tag.into(),
                path: path.into(),
                read_only: false,
            }];
            assert!(
                matches!(c.validate(8), Err(ConfigError::Share { .. })),
                "{tag:?} {path:?}"
            );
        }
        let mut c = config();
        c.agent.shares.push(c.agent.shares[0].clone());
        assert!(c.validate(8).is_err(), "duplicate tags");
    }

    #[test]
    fn only_an_uncompressed_arm64_image_boots() {
        let path = Path::new("/img/vmlinuz");
        let mut image = vec![0u8; 64];
        image[56..60].copy_from_slice(b"ARM\x64");
        assert_eq!(check_arm64_kernel(path, &image), Ok(()));
        assert!(check_arm64_kernel(path, &[0x1f, 0x8b, 8, 0]).is_err());
        let mut zboot = vec![0u8; 64];
        zboot[..2].copy_from_slice(b"MZ");
        zboot[4..8].copy_from_slice(b"zimg");
        let err = check_arm64_kernel(path, &zboot).expect_err("zboot");
        assert!(err.to_string().contains("zboot"), "{err}");
        assert!(check_arm64_kernel(path, b"short").is_err());
    }

    fn image(arch: &str, format: RootFormat) -> GuestImage {
        crate::backend::spec::sample_image(Path::new("/img"), arch, format)
    }

    // Virtualization.framework is macOS: its shared folders are Unix paths.
    #[cfg(unix)]
    #[test]
    fn the_spec_arrives_whole_each_share_as_a_device_and_a_parameter_once() {
        let spec = crate::backend::spec::sample_spec("arm64", RootFormat::Squashfs);
        let c = VzConfig::from_spec(&spec, "aarch64").expect("arm64 on Apple silicon");
        assert_eq!((c.cpus, c.memory_mib), (3, 3072));
        assert_eq!(
            c.data_disk.as_deref(),
            Some(Path::new("/data/berth/data.img"))
        );
        assert_eq!(c.console_log, Path::new("/run/berth/console.log"));
        let devices = |c: &VzConfig| {
            c.shares(false)
                .into_iter()
                .map(|s| (s.tag, s.host_path, s.read_only))
                .collect::<Vec<_>>()
        };
        let expected: Vec<(String, PathBuf, bool)> = spec
            .shares
            .iter()
            .map(|s| (s.tag.clone(), s.host_path.clone(), s.read_only))
            .collect();
        assert!(expected[1].2, "the sample's second folder is read-only");
        assert_eq!(devices(&c), expected);
        let line = c.kernel_cmdline(false);
        assert_eq!(line.matches("berth.share=").count(), 1, "{line}");
        assert!(line.contains("berth.share=s0-ana:/home/ana"), "{line}");
        assert!(
            line.contains("berth.share_ro=s1-my-projects:/work/My%20Projects"),
            "{line}"
        );
        assert!(line.contains("berth.data=/dev/vdb"), "{line}");
        // The engine's settings travel with the boot's secret, not on the command line.
        assert!(
            !line.contains("berth.mirror") && !line.contains("proxy"),
            "{line}"
        );
        let secret = berth_protocol::auth::BootSecret::from_bytes([2; 32]);
        let channel = berth_protocol::auth::BootChannel::new(secret, &c.agent);
        let (agent, warnings) = AgentSettings::from_cmdline(&channel.params.join(" "));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            agent.engine.registry_mirrors,
            spec.agent.engine.registry_mirrors
        );
        assert_eq!(agent.engine.https_proxy, spec.agent.engine.https_proxy);
        assert_eq!(c.validate(8), Ok(()));
        // Replacing the agent's settings afterwards keeps the folders.
        let mut replaced = c.clone();
        replaced.agent = AgentSettings::default();
        assert_eq!(devices(&replaced), expected);
        let shares = |line: String| line.matches("berth.share").count();
        assert_eq!(shares(replaced.kernel_cmdline(false)), 2);
        // A folder also listed in the agent's settings is still one device, one parameter.
        let mut both = c.clone();
        both.agent.shares = spec.shares.iter().map(|s| s.agent_share()).collect();
        assert_eq!(devices(&both), expected);
        assert_eq!(shares(both.kernel_cmdline(false)), 2);
        assert_eq!(both.validate(8), Ok(()));
    }

    #[test]
    fn the_image_must_match_the_mac() {
        let run = Path::new("/run/berth");
        let c = VzConfig::for_image(&image("arm64", RootFormat::Squashfs), run, "aarch64")
            .expect("arm64 on Apple silicon");
        assert_eq!(c.kernel, Path::new("/img/vmlinuz"));
        assert_eq!(c.initrd, Path::new("/img/initrd.img"));
        assert_eq!(c.vsock_bridge, run.join("vsock.sock"));
        assert_eq!(c.boot_channel, run.join("boot-channel"));
        assert!(c.rosetta);
        let intel = VzConfig::for_image(&image("amd64", RootFormat::Squashfs), run, "x86_64")
            .expect("amd64 on Intel");
        assert!(!intel.rosetta);
        let err = VzConfig::for_image(&image("amd64", RootFormat::Squashfs), run, "aarch64")
            .expect_err("wrong arch");
        assert!(err.to_string().contains("--arch arm64"), "{err}");
        assert_eq!(
            VzConfig::for_image(&image("arm64", RootFormat::Tar), run, "aarch64"),
            Err(ConfigError::RootFormat(RootFormat::Tar))
        );
    }

    #[test]
    fn architectures_map_to_debian_names() {
        assert_eq!(debian_arch("aarch64"), Some("arm64"));
        assert_eq!(debian_arch("x86_64"), Some("amd64"));
        assert_eq!(debian_arch("riscv64"), None);
    }

    #[test]
    fn the_raw_data_disk_is_sparse_and_never_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state").join("data.img");
        assert!(ensure_raw_disk(&path, 64).expect("create"));
        let meta = std::fs::metadata(&path).expect("disk");
        assert_eq!(meta.len(), 64 << 30);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            assert!(meta.blocks() * 512 < 1 << 20, "the disk must be sparse");
        }
        std::fs::write(&path, b"user data").expect("write");
        assert!(!ensure_raw_disk(&path, 64).expect("exists"));
        assert_eq!(std::fs::read(&path).expect("read"), b"user data");
    }
}
