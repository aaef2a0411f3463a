//! The QEMU command line, generated from typed settings so it can be unit-tested without QEMU.
//!
//! The shape follows what was measured fastest under TCG (see `ARCHITECTURE.md`): q35,
//! `-cpu max`, a bounded translation-block cache, memfd-backed shared memory (vhost-user
//! devices need it), direct kernel boot, the root image as a read-only virtio disk, the serial
//! console on QEMU's standard output (the daemon copies it to the bounded console log:
//! [`crate::vm::console::follow`]) and QMP on a Unix socket. `-no-reboot` turns a guest panic or reboot
//! into a QEMU exit the host can see.

use std::ffi::OsString;
use std::path::PathBuf;

use berth_protocol::settings::AgentSettings;

use crate::accel::Accel;
use crate::backend::VmSpec;
use crate::image::{GuestImage, Role, RootFormat};
use crate::shares::ShareDevice;
use crate::vsock::VsockDevice;

/// The guest device name of the data disk (the second virtio disk, after the root).
pub const DATA_DISK_DEVICE: &str = "/dev/vdb";

/// TCG translation cache in MiB: halves QEMU's idle RSS compared to the default, at no
/// measurable speed cost.
pub const TCG_TB_SIZE_MIB: u32 = 256;

/// Everything the command line is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuConfig {
    /// The QEMU binary.
    pub binary: PathBuf,
    /// KVM or TCG.
    pub accel: Accel,
    /// Virtual CPUs.
    pub cpus: u32,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// Kernel image.
    pub kernel: PathBuf,
    /// Stage-1 initramfs, or the whole root for [`RootFormat::Initramfs`].
    pub initrd: PathBuf,
    /// Root image for disk formats; `None` when the root is the initramfs.
    pub root_disk: Option<(PathBuf, RootFormat)>,
    /// Where the daemon writes the serial console (QEMU's standard output).
    pub console_log: PathBuf,
    /// The QMP socket QEMU listens on.
    pub qmp_socket: PathBuf,
    /// The vsock device, if any.
    pub vsock: Option<VsockDevice>,
    /// The engine's qcow2 data disk, if any.
    pub data_disk: Option<PathBuf>,
    /// Shared host folders, one virtiofs device each (served by virtiofsd).
    pub shares: Vec<ShareDevice>,
    /// QEMU user networking (10.0.2.0/24, the host at 10.0.2.2).
    pub network: bool,
    /// The agent's settings: the public ones as kernel parameters, the engine's with the boot's
    /// secret through [`QemuConfig::boot_channel`].
    pub agent: AgentSettings,
    /// The 0600 file of the boot channel ([`berth_protocol::auth::BootChannel`]), given to the
    /// guest as the `fw_cfg` item [`berth_protocol::auth::FW_CFG_NAME`] (`berth.secret=fw_cfg`);
    /// [`crate::vm::boot`] writes it. None boots an agent that serves no connection.
    pub boot_channel: Option<PathBuf>,
    /// Further raw kernel parameters.
    pub kernel_params: Vec<String>,
}

/// The file of the qcow2 data disk in `data_dir` (created by [`crate::disk::ensure_data_disk`]).
pub fn data_disk_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join(crate::paths::QEMU_DATA_DISK)
}

impl QemuConfig {
    /// The configuration running `spec` with `binary` and `accel`: the spec's resources, its
    /// data disk ([`data_disk_path`] in its data directory), one virtiofs device and one
    /// `berth.share` kernel parameter per shared folder, and its agent settings.
    pub fn from_spec(spec: &VmSpec, binary: PathBuf, accel: Accel) -> QemuConfig {
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
        QemuConfig {
            cpus: *cpus,
            memory_mib: *memory_mib,
            data_disk: Some(data_disk_path(data_dir)),
            shares: shares.clone(),
            agent: agent.clone(),
            ..QemuConfig::for_image(image, binary, accel, run_dir)
        }
    }

    /// A configuration booting `image` with default resources, no data disk and no shared
    /// folder (the end-to-end benchmarks' starting point; the VM is [`QemuConfig::from_spec`]).
    pub fn for_image(
        image: &GuestImage,
        binary: PathBuf,
        accel: Accel,
        run_dir: &std::path::Path,
    ) -> QemuConfig {
        let format = image.manifest.root_format;
        let (initrd, root_disk) = match format {
            RootFormat::Initramfs => (image.path(Role::Root), None),
            disk => (
                image.path(Role::Initrd),
                Some((image.path(Role::Root), disk)),
            ),
        };
        QemuConfig {
            binary,
            accel,
            cpus: crate::backend::spec::DEFAULT_CPUS,
            memory_mib: crate::backend::spec::DEFAULT_MEMORY_MIB,
            kernel: image.path(Role::Kernel),
            initrd,
            root_disk,
            console_log: run_dir.join(crate::paths::CONSOLE_LOG),
            qmp_socket: run_dir.join(crate::paths::run_dir::QMP_SOCKET),
            vsock: Some(VsockDevice::for_host(run_dir)),
            data_disk: None,
            shares: Vec::new(),
            network: true,
            agent: AgentSettings::default(),
            boot_channel: Some(run_dir.join(crate::paths::run_dir::BOOT_CHANNEL)),
            kernel_params: Vec::new(),
        }
    }

    /// The kernel command line.
    pub fn kernel_cmdline(&self) -> String {
        // `ia32_emulation=0`: no 32-bit system calls at all, so no container reaches vsock
        // through the 32-bit `socketcall`, which the engine's seccomp profile does not filter
        // by address family (its AF_VSOCK block covers `socket` only).
        let mut params = vec![
            "console=ttyS0",
            "quiet",
            "panic=-1",
            "8250.nr_uarts=1",
            "ia32_emulation=0",
        ];
        let root;
        if let Some((_, format)) = &self.root_disk {
            root = format!(
                "berth.root=/dev/vda berth.rootfstype={}",
                match format {
                    RootFormat::Erofs => "erofs",
                    _ => "squashfs",
                }
            );
            params.push(&root);
        }
        let mut agent = self.agent.clone();
        if self.boot_channel.is_some() {
            agent.secret = berth_protocol::settings::SecretSource::FwCfg;
        }
        if self.data_disk.is_some() {
            agent.data_disk = Some(DATA_DISK_DEVICE.to_owned());
        }
        agent
            .shares
            .extend(self.shares.iter().map(ShareDevice::agent_share));
        let agent = agent.to_cmdline();
        params.extend(agent.iter().map(String::as_str));
        params.extend(self.kernel_params.iter().map(String::as_str));
        params.join(" ")
    }

    /// Where QEMU's own messages (stderr) go: beside the console log.
    pub fn stderr_log(&self) -> PathBuf {
        self.console_log
            .with_file_name(crate::paths::run_dir::QEMU_LOG)
    }

    /// The arguments after the binary name.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |parts: &[&str]| args.extend(parts.iter().map(OsString::from));
        let mem = format!("{}M", self.memory_mib);
        push(&[
            "-name",
            "berth",
            "-nodefaults",
            "-no-user-config",
            "-nographic",
            "-no-reboot",
        ]);
        match self.accel {
            Accel::Kvm => push(&["-accel", "kvm", "-cpu", "host"]),
            Accel::Tcg => {
                let tcg = format!("tcg,tb-size={TCG_TB_SIZE_MIB}");
                push(&["-accel", &tcg, "-cpu", "max"]);
            }
        }
        let memfd = format!("memory-backend-memfd,id=mem,size={mem},share=on");
        push(&[
            "-machine",
            "q35,memory-backend=mem",
            "-object",
            &memfd,
            "-m",
            &mem,
        ]);
        push(&["-smp", &self.cpus.to_string()]);
        let mut path_arg = |flag: &str, value: OsString| {
            args.push(flag.into());
            args.push(value);
        };
        path_arg("-kernel", self.kernel.clone().into_os_string());
        path_arg("-initrd", self.initrd.clone().into_os_string());
        path_arg("-append", self.kernel_cmdline().into());
        if let Some((root, _)) = &self.root_disk {
            let mut drive = OsString::from("file=");
            drive.push(escape_commas(root));
            drive.push(",format=raw,if=none,id=root,readonly=on");
            path_arg("-drive", drive);
            path_arg("-device", "virtio-blk-pci,drive=root".into());
        }
        if let Some(disk) = &self.data_disk {
            let mut drive = OsString::from("file=");
            drive.push(escape_commas(disk));
            drive.push(",format=qcow2,if=none,id=data,discard=unmap,detect-zeroes=unmap");
            path_arg("-drive", drive);
            path_arg("-device", "virtio-blk-pci,drive=data".into());
        }
        if self.network {
            path_arg("-netdev", "user,id=net0".into());
            path_arg("-device", "virtio-net-pci,netdev=net0".into());
        }
        match &self.vsock {
            Some(VsockDevice::VhostUser(paths)) => {
                let mut chardev = OsString::from("socket,id=vsock,path=");
                chardev.push(escape_commas(&paths.backend));
                path_arg("-chardev", chardev);
                path_arg("-device", "vhost-user-vsock-pci,chardev=vsock".into());
            }
            Some(VsockDevice::Kernel { cid }) => {
                path_arg("-device", format!("vhost-vsock-pci,guest-cid={cid}").into());
            }
            None => {}
        }
        for (i, share) in self.shares.iter().enumerate() {
            let mut chardev = OsString::from(format!("socket,id=vfs{i},path="));
            chardev.push(escape_commas(&share.socket));
            path_arg("-chardev", chardev);
            let device = format!(
                "vhost-user-fs-pci,chardev=vfs{i},tag={},queue-size=1024",
                share.tag
            );
            path_arg("-device", device.into());
        }
        if let Some(channel) = &self.boot_channel {
            let mut item =
                OsString::from(format!("name={},file=", berth_protocol::auth::FW_CFG_NAME));
            item.push(escape_commas(channel));
            path_arg("-fw_cfg", item);
        }
        path_arg(
            "-device",
            "virtio-balloon-pci,free-page-reporting=on".into(),
        );
        // Not a file QEMU would grow without bound: its standard output, a pipe the daemon
        // reads. `signal=off`: a byte from the guest is never a signal to QEMU.
        path_arg("-chardev", "stdio,id=console,signal=off".into());
        path_arg("-serial", "chardev:console".into());
        let mut qmp = OsString::from("socket,id=qmp,server=on,wait=off,path=");
        qmp.push(escape_commas(&self.qmp_socket));
        path_arg("-chardev", qmp);
        path_arg("-mon", "chardev=qmp,mode=control".into());
        args
    }
}

/// QEMU option values separate properties with commas; a literal comma is doubled.
fn escape_commas(path: &std::path::Path) -> OsString {
    OsString::from(path.to_string_lossy().replace(',', ",,"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(accel: Accel) -> QemuConfig {
        QemuConfig {
            binary: "/usr/bin/qemu-system-x86_64".into(),
            accel,
            cpus: 2,
            memory_mib: 1024,
            kernel: "/img/vmlinuz".into(),
            initrd: "/img/initrd.img".into(),
            root_disk: Some(("/img/root.squashfs".into(), RootFormat::Squashfs)),
            console_log: "/run/berth/console.log".into(),
            qmp_socket: "/run/berth/qmp.sock".into(),
            vsock: Some(VsockDevice::VhostUser(crate::vsock::VsockPaths::in_dir(
                std::path::Path::new("/run/berth"),
            ))),
            data_disk: None,
            shares: Vec::new(),
            network: true,
            agent: AgentSettings::default(),
            boot_channel: Some("/run/berth/boot-channel".into()),
            kernel_params: vec!["berth.log=debug".into()],
        }
    }

    fn joined(c: &QemuConfig) -> String {
        c.args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn tcg_bounds_the_translation_cache_and_uses_cpu_max() {
        let line = joined(&config(Accel::Tcg));
        assert!(line.contains("-accel tcg,tb-size=256 -cpu max"), "{line}");
        assert!(!line.contains("kvm"));
    }

    #[test]
    fn kvm_uses_the_host_cpu() {
        let line = joined(&config(Accel::Kvm));
        assert!(line.contains("-accel kvm -cpu host"), "{line}");
        assert!(!line.contains("tcg"));
    }

    #[test]
    fn memory_is_shared_memfd_of_the_configured_size() {
        let line = joined(&config(Accel::Tcg));
        assert!(line.contains("-machine q35,memory-backend=mem"));
        assert!(line.contains("memory-backend-memfd,id=mem,size=1024M,share=on"));
        assert!(line.contains("-m 1024M -smp 2"));
    }

    #[test]
    fn root_disk_is_read_only_and_named_on_the_kernel_line() {
        let c = config(Accel::Tcg);
        let line = joined(&c);
        assert!(line.contains("file=/img/root.squashfs,format=raw,if=none,id=root,readonly=on"));
        assert!(line.contains("-device virtio-blk-pci,drive=root"));
        let cmdline = c.kernel_cmdline();
        assert!(cmdline.contains("console=ttyS0"));
        assert!(cmdline.contains("panic=-1"));
        assert!(cmdline.contains("berth.root=/dev/vda berth.rootfstype=squashfs"));
        assert!(cmdline.ends_with("berth.log=debug"));
    }

    #[test]
    fn initramfs_root_has_no_disk() {
        let mut c = config(Accel::Tcg);
        c.root_disk = None;
        assert!(!joined(&c).contains("virtio-blk"));
        assert!(!c.kernel_cmdline().contains("berth.root"));
    }

    #[test]
    fn a_guest_panic_or_reboot_ends_qemu_and_nothing_defaults_in() {
        let line = joined(&config(Accel::Tcg));
        assert!(line.contains("-nodefaults -no-user-config -nographic -no-reboot"));
    }

    #[test]
    fn kernel_vsock_needs_no_helper_socket() {
        let mut config = config(Accel::Tcg);
        config.vsock = Some(VsockDevice::Kernel { cid: 0x4265_03e8 });
        let line = joined(&config);
        assert!(line.contains("-device vhost-vsock-pci,guest-cid=1113916392"));
        assert!(!line.contains("vhost-user-vsock"));
    }

    // QEMU runs Berth on Linux only: its paths are Unix paths.
    #[cfg(unix)]
    #[test]
    fn vsock_network_and_balloon_devices() {
        let line = joined(&config(Accel::Tcg));
        assert!(line.contains("-chardev socket,id=vsock,path=/run/berth/vhost-vsock.sock"));
        assert!(line.contains("-device vhost-user-vsock-pci,chardev=vsock"));
        assert!(line.contains("-netdev user,id=net0 -device virtio-net-pci,netdev=net0"));
        assert!(line.contains("virtio-balloon-pci,free-page-reporting=on"));
    }

    #[test]
    fn the_guest_kernel_has_no_32_bit_system_calls() {
        assert!(config(Accel::Tcg)
            .kernel_cmdline()
            .split(' ')
            .any(|p| p == "ia32_emulation=0"));
    }

    #[test]
    fn the_data_disk_discards_and_is_named_to_the_agent() {
        let mut c = config(Accel::Tcg);
        assert!(!c.kernel_cmdline().contains("berth.data"));
        c.data_disk = Some("/data/berth.qcow2".into());
        c.agent
            .engine
            .registry_mirrors
            .push("http://10.0.2.2:5000".into());
        let line = joined(&c);
        assert!(line.contains("file=/data/berth.qcow2,format=qcow2,if=none,id=data,discard=unmap"));
        assert!(line.contains("-device virtio-blk-pci,drive=data"));
        let cmdline = c.kernel_cmdline();
        assert!(cmdline.contains("berth.data=/dev/vdb"), "{cmdline}");
        assert!(!cmdline.contains("berth.mirror"), "private: {cmdline}");
    }

    // QEMU runs Berth on Linux only: its paths are Unix paths.
    #[cfg(unix)]
    #[test]
    fn the_boot_channel_is_a_fw_cfg_file_and_holds_the_engine_settings() {
        let mut c = config(Accel::Tcg);
        c.agent.engine.https_proxy = Some("http://user:pass@proxy:3128".into());
        c.agent.engine.registry_mirrors = vec!["https://token@mirror:5000".into()];
        let line = joined(&c);
        assert!(
            line.contains("-fw_cfg name=opt/berth/secret,file=/run/berth/boot-channel"),
            "{line}"
        );
        for secret in ["pass", "token"] {
            assert!(
                !line.contains(secret),
                "{secret} on QEMU's command line: {line}"
            );
        }
        assert!(c.kernel_cmdline().contains("berth.secret=fw_cfg"));
        let secret = berth_protocol::auth::BootSecret::from_bytes([9; 32]);
        let channel = berth_protocol::auth::BootChannel::parse(
            &berth_protocol::auth::BootChannel::new(secret.clone(), &c.agent).to_text(),
        )
        .expect("parse");
        assert_eq!(channel.secret, secret);
        let (agent, warnings) = AgentSettings::from_cmdline(&channel.params.join(" "));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(agent.engine, c.agent.engine);
        c.boot_channel = None;
        assert!(!joined(&c).contains("-fw_cfg"));
        assert!(!c.kernel_cmdline().contains("berth.secret"));
    }

    #[test]
    fn each_shared_folder_is_a_virtiofs_device_and_a_kernel_parameter() {
        let mut c = config(Accel::Tcg);
        assert!(!joined(&c).contains("vhost-user-fs-pci"));
        for (i, path) in ["/home/ana", "/work/My Projects"].iter().enumerate() {
            c.shares.push(ShareDevice {
                tag: crate::shares::tag(i, std::path::Path::new(path)),
                host_path: path.into(),
                socket: format!("/run/a,b/virtiofs-{i}.sock").into(),
                cache: crate::shares::CacheMode::Metadata,
                read_only: i == 1,
            });
        }
        let line = joined(&c);
        assert!(
            line.contains(
                "-chardev socket,id=vfs0,path=/run/a,,b/virtiofs-0.sock \
                 -device vhost-user-fs-pci,chardev=vfs0,tag=s0-ana,queue-size=1024"
            ),
            "{line}"
        );
        assert!(line.contains("vhost-user-fs-pci,chardev=vfs1,tag=s1-my-projects,queue-size=1024"));
        // vhost-user devices need shared guest memory.
        assert!(line.contains("share=on"));
        let cmdline = c.kernel_cmdline();
        assert!(
            cmdline.contains("berth.share=s0-ana:/home/ana"),
            "{cmdline}"
        );
        assert!(
            cmdline.contains("berth.share_ro=s1-my-projects:/work/My%20Projects"),
            "{cmdline}"
        );
        let (agent, warnings) = AgentSettings::from_cmdline(&cmdline);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(agent.shares[1].path, "/work/My Projects");
        assert!(!agent.shares[0].read_only && agent.shares[1].read_only);
    }

    // QEMU runs Berth on Linux only: its paths are Unix paths.
    #[cfg(unix)]
    #[test]
    fn the_spec_arrives_whole_on_the_command_line() {
        let spec = crate::backend::spec::sample_spec("amd64", RootFormat::Squashfs);
        let c = QemuConfig::from_spec(&spec, "/usr/bin/qemu-system-x86_64".into(), Accel::Kvm);
        assert_eq!(
            c.data_disk.as_deref(),
            Some(std::path::Path::new("/data/berth/data.qcow2"))
        );
        assert_eq!(
            c.console_log,
            std::path::Path::new("/run/berth/console.log")
        );
        let line = joined(&c);
        assert!(line.contains("-m 3072M -smp 3"), "{line}");
        // The console on QEMU's standard output, no file of QEMU's own to grow.
        assert!(
            line.contains("-chardev stdio,id=console,signal=off -serial chardev:console"),
            "{line}"
        );
        assert!(!line.contains("console.log"), "{line}");
        assert!(line.contains("size=3072M,share=on"), "{line}");
        assert!(
            line.contains("file=/data/berth/data.qcow2,format=qcow2,if=none,id=data"),
            "{line}"
        );
        assert_eq!(line.matches("vhost-user-fs-pci").count(), 2, "{line}");
        assert!(line.contains(
            "-chardev socket,id=vfs1,path=/run/berth/virtiofs-1.sock \
             -device vhost-user-fs-pci,chardev=vfs1,tag=s1-my-projects"
        ));
        let cmdline = c.kernel_cmdline();
        assert_eq!(cmdline.matches("berth.share=").count(), 1, "{cmdline}");
        assert_eq!(cmdline.matches("berth.share_ro=").count(), 1, "{cmdline}");
        assert!(cmdline.contains("berth.data=/dev/vdb"), "{cmdline}");
        let secret = berth_protocol::auth::BootSecret::from_bytes([1; 32]);
        let channel = berth_protocol::auth::BootChannel::parse(
            &berth_protocol::auth::BootChannel::new(secret.clone(), &c.agent).to_text(),
        )
        .expect("parse");
        let (agent, warnings) =
            AgentSettings::from_cmdline(&format!("{cmdline} {}", channel.params.join(" ")));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            agent.shares,
            spec.shares
                .iter()
                .map(ShareDevice::agent_share)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            agent.engine.registry_mirrors,
            ["http://mirror.internal:5000"]
        );
        assert_eq!(
            agent.engine.https_proxy.as_deref(),
            Some("http://proxy.internal:3128")
        );
    }

    #[test]
    fn commas_in_paths_are_escaped() {
        let mut c = config(Accel::Tcg);
        c.qmp_socket = "/home/a,b/qmp.sock".into();
        assert!(joined(&c).contains("path=/home/a,,b/qmp.sock"));
    }
}
