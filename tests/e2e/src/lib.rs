//! Helpers shared by Berth's end-to-end tests and measurements, which run against real guest
//! images and a real QEMU.
//!
//! The image under test comes from `BERTH_IMAGE` (set by `installer/berth-test`, which builds
//! it first). A missing image is an error, never a skipped test.

pub mod berth;
pub mod cpu;
pub mod engine;
pub mod foreign;
pub mod ports;
pub mod pty;
pub mod report;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_core::image::GuestImage;
use berth_core::qemu::QemuConfig;
use berth_core::{accel, qemu, vm};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|e| {
            panic!("cannot resolve the repository root: {e}");
        })
}

/// The image directory under test, from `BERTH_IMAGE`.
pub fn image_dir() -> PathBuf {
    match std::env::var_os("BERTH_IMAGE") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "BERTH_IMAGE is not set: run the suite with installer/berth-test, which builds the \
             guest image and points BERTH_IMAGE at it"
        ),
    }
}

/// Opens and verifies an image, panicking with the reason if it is unusable.
pub fn open_image(dir: &Path) -> GuestImage {
    GuestImage::open(dir).unwrap_or_else(|e| panic!("image {}: {e}", dir.display()))
}

/// A QEMU configuration for `image` with runtime files in `run_dir`.
pub fn qemu_config(image: &GuestImage, run_dir: &Path) -> QemuConfig {
    let binary = qemu::find_binary().unwrap_or_else(|e| panic!("{e}"));
    QemuConfig::for_image(image, binary, accel::detect().accel, run_dir)
}

/// A configuration booting only the kernel and the stage-1 initramfs of the image under test,
/// with busybox `init` (and its arguments) as PID 1: no root disk, vsock or network. The
/// baseline of boot and idle benchmarks, on the same machine type and acceleration.
pub fn bare_kernel_config(run_dir: &Path, init: &[&str]) -> QemuConfig {
    let image = open_image(&image_dir());
    let mut config = qemu_config(&image, run_dir);
    config.root_disk = None;
    config.vsock = None;
    config.network = false;
    config.kernel_params = match init.split_first() {
        Some((program, args)) => std::iter::once(format!("rdinit={program}"))
            .chain(std::iter::once("--".to_owned()))
            .chain(args.iter().map(|a| (*a).to_owned()))
            .collect(),
        None => Vec::new(),
    };
    config
}

/// Boots `image` as the product does (a guest that dies during boot is retried once), returning
/// the running VM; the caller powers it off.
pub async fn boot(image: &GuestImage, run_dir: &Path, timeout: Duration) -> vm::RunningVm {
    let config = qemu_config(image, run_dir);
    vm::boot_with_retry(&config, timeout)
        .await
        .unwrap_or_else(|e| panic!("boot failed: {e}"))
}

/// A QEMU configuration for `image` with runtime files and a data disk (`data.qcow2`, created
/// blank if missing, so a second call boots the same disk) in `dir`.
pub async fn config_with_data_disk(image: &GuestImage, dir: &Path) -> QemuConfig {
    let disk = dir.join("data.qcow2");
    berth_core::disk::ensure_data_disk(&disk, 16)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut config = qemu_config(image, dir);
    config.data_disk = Some(disk);
    config
}

/// Runs `vm-image/build.sh` with `args` and extra environment; returns (image dir, stderr).
pub fn build_image(args: &[&str], env: &[(&str, &Path)]) -> (PathBuf, String) {
    let mut cmd = Command::new(repo_root().join("vm-image/build.sh"));
    cmd.args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run build.sh: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build.sh {args:?} failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout.lines().last().unwrap_or_default().trim().to_owned();
    (PathBuf::from(dir), stderr)
}

/// Extracts one file from a squashfs image with `unsquashfs -cat`.
pub fn squashfs_cat(image: &Path, path: &str) -> Vec<u8> {
    let out = Command::new("unsquashfs")
        .arg("-cat")
        .arg(image)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run unsquashfs (apt-get install squashfs-tools): {e}"));
    assert!(
        out.status.success(),
        "unsquashfs -cat {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Median of a non-empty slice of durations.
pub fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}
