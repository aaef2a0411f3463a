//! The VM for this OS: [`spec`] describes it once from the settings (the same code on every
//! OS), and [`prepare`] only chooses the backend and its data disk: QEMU on Linux,
//! Virtualization.framework on macOS, WSL 2 on Windows.

use berth_core::backend::VmSpec;
use berth_core::image::GuestImage;
use berth_core::paths::Paths;
use berth_core::settings::Settings;
use berth_core::shares::ShareDevice;

use crate::error::DaemonError;
use crate::options::StartOptions;

/// A configured backend, before it boots.
pub struct Prepared<B> {
    /// The backend.
    pub vm: B,
    /// Where the guest's console is written.
    pub console_log: std::path::PathBuf,
    /// What runs the VM, for the user.
    pub description: String,
}

/// Opens and verifies the guest image (checksums: off the async workers).
pub async fn open_image(options: &StartOptions) -> Result<GuestImage, DaemonError> {
    let image_dir = options.image.clone();
    tokio::task::spawn_blocking(move || GuestImage::open(&image_dir))
        .await
        .map_err(|e| DaemonError::Hypervisor(format!("the image check failed: {e}")))?
        .map_err(DaemonError::from)
}

/// The VM the settings describe, whichever backend runs it.
pub fn spec(
    settings: &Settings,
    paths: &Paths,
    image: GuestImage,
    shares: Vec<ShareDevice>,
) -> VmSpec {
    VmSpec {
        cpus: settings.cpus,
        memory_mib: settings.memory_mib,
        disk_gib: settings.disk_gib,
        shares,
        agent: settings.agent(),
        ..VmSpec::new(image, &paths.runtime, &paths.data)
    }
}

/// QEMU with KVM or TCG, the qcow2 data disk.
#[cfg(not(any(target_os = "macos", windows)))]
pub async fn prepare(
    spec: &VmSpec,
    _paths: &Paths,
) -> Result<Prepared<berth_core::qemu::QemuBackend>, DaemonError> {
    use berth_core::{accel, disk, qemu};
    let binary = qemu::find_binary().map_err(|e| DaemonError::Hypervisor(e.to_string()))?;
    let detected = accel::detect();
    let config = qemu::QemuConfig::from_spec(spec, binary, detected.accel);
    let data_disk = qemu::cmdline::data_disk_path(&spec.data_dir);
    disk::ensure_data_disk(&data_disk, spec.disk_gib)
        .await
        .map_err(|e| DaemonError::Hypervisor(e.to_string()))?;
    Ok(Prepared {
        console_log: config.console_log.clone(),
        description: format!("{}: {}", detected.accel, detected.reason),
        vm: qemu::QemuBackend::new(config),
    })
}

/// Virtualization.framework, the raw data disk.
#[cfg(target_os = "macos")]
pub async fn prepare(
    spec: &VmSpec,
    _paths: &Paths,
) -> Result<Prepared<berth_core::vz::VzBackend>, DaemonError> {
    use berth_core::vz::{config, VzBackend, VzConfig};
    let config = VzConfig::from_spec(spec, std::env::consts::ARCH)
        .map_err(|e| DaemonError::Hypervisor(e.to_string()))?;
    let data_disk = config::data_disk_path(&spec.data_dir);
    let (disk, gib) = (data_disk.clone(), spec.disk_gib);
    tokio::task::spawn_blocking(move || config::ensure_raw_disk(&disk, gib))
        .await
        .map_err(|e| DaemonError::Hypervisor(e.to_string()))?
        .map_err(|e| {
            DaemonError::Hypervisor(format!(
                "cannot create the data disk {}: {e}",
                data_disk.display()
            ))
        })?;
    Ok(Prepared {
        console_log: config.console_log.clone(),
        description: "Virtualization.framework".into(),
        vm: VzBackend::new(config),
    })
}

/// WSL 2: the image's root imported as its system distribution, the engine's data in the data
/// distribution, both in `Paths::wsl_dir`.
#[cfg(windows)]
pub async fn prepare(
    spec: &VmSpec,
    paths: &Paths,
) -> Result<Prepared<berth_core::wsl::WslBackend>, DaemonError> {
    use berth_core::wsl::{WslBackend, WslConfig};
    let config = WslConfig::from_spec(spec, &paths.wsl_dir())?;
    Ok(Prepared {
        console_log: config.console_log.clone(),
        description: "WSL 2".into(),
        vm: WslBackend::new(config),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::image::RootFormat;
    use berth_core::settings::Host;

    #[test]
    fn the_spec_carries_the_settings_and_the_shares() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::under(dir.path());
        let host = Host {
            cpus: 8,
            memory_mib: 16384,
        };
        let mut settings = Settings::defaults_for(host, Vec::new());
        settings.cpus = 3;
        settings.memory_mib = 3072;
        settings.disk_gib = 20;
        settings.engine.registry_mirrors = vec!["http://10.0.2.2:5000".into()];
        // Windows shares are WSL's drive mounts, planned elsewhere (none here).
        let shares = if cfg!(unix) {
            let folders = [berth_core::shares::SharedFolder::read_only(dir.path())];
            berth_core::shares::plan(&folders, &paths.runtime).expect("a share")
        } else {
            Vec::new()
        };
        let image =
            berth_core::backend::spec::sample_image(dir.path(), "amd64", RootFormat::Squashfs);
        let spec = spec(&settings, &paths, image, shares.clone());
        assert_eq!((spec.cpus, spec.memory_mib, spec.disk_gib), (3, 3072, 20));
        assert_eq!(spec.shares, shares);
        assert_eq!(spec.agent.engine, settings.engine);
        assert_eq!(spec.data_dir, paths.data);
        assert_eq!(spec.run_dir, paths.runtime);
    }
}
