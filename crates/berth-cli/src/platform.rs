//! The VM backend for this OS, configured from the settings: QEMU on Linux,
//! Virtualization.framework on macOS. (Windows' WSL 2 backend is not wired into the CLI yet.)

use anyhow::{Context, Result};
use berth_core::image::GuestImage;
use berth_core::paths::Paths;
use berth_core::settings::Settings;

use crate::VmOptions;

/// A configured backend, before it boots.
pub struct Prepared<B> {
    /// The backend.
    pub vm: B,
    /// Where the guest's console is written.
    pub console_log: std::path::PathBuf,
    /// What runs the VM, for the user.
    pub description: String,
}

async fn open_image(options: &VmOptions) -> Result<GuestImage> {
    let image_dir = options.image.clone();
    tokio::task::spawn_blocking(move || GuestImage::open(&image_dir))
        .await?
        .context("the guest image cannot be used")
}

/// QEMU with KVM or TCG, the qcow2 data disk.
#[cfg(not(target_os = "macos"))]
pub async fn prepare(
    options: &VmOptions,
    paths: &Paths,
    settings: &Settings,
    shares: &[berth_core::shares::ShareDevice],
) -> Result<Prepared<berth_core::qemu::QemuBackend>> {
    use berth_core::{accel, disk, qemu};
    let binary = qemu::find_binary()?;
    let image = open_image(options).await?;
    let detected = accel::detect();
    let mut config = qemu::QemuConfig::for_image(&image, binary, detected.accel, &paths.runtime);
    config.cpus = settings.cpus;
    config.memory_mib = settings.memory_mib;
    config.agent = settings.agent();
    config.shares = shares.to_vec();
    let data_disk = paths.data.join("data.qcow2");
    disk::ensure_data_disk(&data_disk, settings.disk_gib).await?;
    config.data_disk = Some(data_disk);
    Ok(Prepared {
        console_log: config.console_log.clone(),
        description: format!("{}: {}", detected.accel, detected.reason),
        vm: qemu::QemuBackend::new(config),
    })
}

/// Virtualization.framework, the raw data disk.
#[cfg(target_os = "macos")]
pub async fn prepare(
    options: &VmOptions,
    paths: &Paths,
    settings: &Settings,
    _shares: &[berth_core::shares::ShareDevice],
) -> Result<Prepared<berth_core::vz::VzBackend>> {
    use berth_core::vz::{config, VzBackend, VzConfig};
    let image = open_image(options).await?;
    let mut config = VzConfig::for_image(&image, &paths.runtime, std::env::consts::ARCH)?;
    config.cpus = settings.cpus;
    config.memory_mib = settings.memory_mib;
    config.agent = settings.agent();
    let data_disk = paths.data.join("data.img");
    let (disk, gib) = (data_disk.clone(), settings.disk_gib);
    tokio::task::spawn_blocking(move || config::ensure_raw_disk(&disk, gib))
        .await?
        .with_context(|| format!("cannot create the data disk {}", data_disk.display()))?;
    config.data_disk = Some(data_disk);
    Ok(Prepared {
        console_log: config.console_log.clone(),
        description: "Virtualization.framework".into(),
        vm: VzBackend::new(config),
    })
}
