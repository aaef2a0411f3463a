//! Benchmark: what running other CPU architectures' images costs, each against a baseline
//! measured in the same run:
//!
//! - the guest root image (root.squashfs) against the same root without the qemu-user
//!   emulators (their files packed alone with the image's squashfs options, subtracted);
//! - a small workload (busybox `sha256sum` of 16 MiB of zeros, timed inside the container) in
//!   the arm64 and arm/v7 busybox images, under qemu-user, against the amd64 busybox image.
//!
//!     cargo run --release -p berth-e2e --bin multiarch
//!
//! Needs `BERTH_IMAGE` and `installer/lib.sh`'s `fetch_test_debs` (Debian's arm busybox).

use std::path::Path;
use std::process::Command;

use berth_e2e::engine::{docker, EngineVm};
use berth_e2e::foreign::{busybox_rootfs_of, APPLETS};
use berth_e2e::image_dir;
use berth_e2e::report::{Better, Goal, Row};

/// Repetitions of the workload, in one container each image.
const RUNS: usize = 5;
/// The workload, timed by busybox `time` (seconds on its stderr, sent to stdout).
const WORKLOAD: &str =
    "time -f %e sh -c 'dd if=/dev/zero bs=1M count=16 2>/dev/null | sha256sum >/dev/null' 2>&1";
/// What the image keeps for other architectures (vm-image/hooks/customize.sh).
const EMULATOR_PATHS: &[&str] = &[
    "usr/bin/qemu-*",
    "usr/libexec/qemu-binfmt",
    "usr/share/qemu",
    "usr/lib/binfmt.d",
    "usr/lib/berth/unemulated.d",
];

const MIB: f64 = 1024.0 * 1024.0;

/// The size of the emulators' files packed alone as the image packs its root, in bytes.
fn emulators_packed(root: &Path) -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    let status = Command::new("unsquashfs")
        .args(["-q", "-n", "-d"])
        .arg(&tree)
        .arg(root)
        .args(EMULATOR_PATHS)
        .status()
        .expect("unsquashfs (squashfs-tools)");
    assert!(status.success(), "unsquashfs of {} failed", root.display());
    let packed = dir.path().join("emulators.squashfs");
    let status = Command::new("mksquashfs")
        .arg(&tree)
        .arg(&packed)
        .args([
            "-comp",
            "lz4",
            "-Xhc",
            "-noappend",
            "-quiet",
            "-no-progress",
        ])
        .status()
        .expect("mksquashfs (squashfs-tools)");
    assert!(status.success(), "mksquashfs failed");
    std::fs::metadata(&packed).expect("packed").len()
}

/// The workload's [`RUNS`] times in `image` (seconds).
async fn workload(socket: &Path, image: &str, platform: &str) -> Vec<f64> {
    let script = format!("for i in $(seq {RUNS}); do {WORKLOAD}; done");
    let out = docker(
        socket,
        &[
            "run",
            "--rm",
            "--platform",
            platform,
            image,
            "sh",
            "-c",
            &script,
        ],
        None,
    )
    .await;
    let times: Vec<f64> = out.lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert_eq!(times.len(), RUNS, "{image}: {out}");
    times
}

#[tokio::main]
async fn main() {
    let root = image_dir().join("root.squashfs");
    let with = std::fs::metadata(&root).expect("root.squashfs").len();
    let emulators = emulators_packed(&root);
    println!(
        "root.squashfs {:.1} MiB, of which the emulators {:.1} MiB (packed alone)",
        with as f64 / MIB,
        emulators as f64 / MIB
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let vm = EngineVm::start(dir.path(), None).await;
    let socket = vm.socket_path();
    let native = berth_e2e::berth::busybox_tree(APPLETS);
    let images = [
        (
            "berth-bench/amd64:1",
            "linux/amd64",
            berth_e2e::berth::tar_of(native.path()),
        ),
        (
            "berth-bench/arm64:1",
            "linux/arm64",
            busybox_rootfs_of("arm64"),
        ),
        (
            "berth-bench/armhf:1",
            "linux/arm/v7",
            busybox_rootfs_of("armhf"),
        ),
    ];
    let mut times = Vec::new();
    for (tag, platform, rootfs) in images {
        docker(
            &socket,
            &["import", "--platform", platform, "-", tag],
            Some(rootfs),
        )
        .await;
        let measured = workload(&socket, tag, platform).await;
        println!("sha256sum of 16 MiB, {platform}: {measured:?} s");
        times.push(measured);
    }
    vm.stop().await;

    let rows = [
        Row::measured(
            "guest root.squashfs with the qemu-user emulators",
            "MiB",
            Better::Lower,
            &[with as f64 / MIB],
            "the same without them",
            &[(with - emulators) as f64 / MIB],
            Goal::None,
        ),
        Row::measured(
            "sha256sum of 16 MiB in a linux/arm64 container (qemu-user)",
            "s",
            Better::Lower,
            &times[1],
            "the same in linux/amd64 (native)",
            &times[0],
            Goal::None,
        ),
        Row::measured(
            "sha256sum of 16 MiB in a linux/arm/v7 container (qemu-user)",
            "s",
            Better::Lower,
            &times[2],
            "the same in linux/amd64 (native)",
            &times[0],
            Goal::None,
        ),
    ];
    for row in rows {
        row.emit();
    }
}
