//! Measures boot time to the agent's ready line for each root image format the recipe can
//! produce (squashfs, erofs, initramfs), booting each several times, and prints a table.
//!
//!     cargo run --release -p berth-e2e --bin root-formats -- [RUNS]
//!
//! The agent is taken from the current image (`BERTH_IMAGE`) so every format boots the same
//! binary. Results are recorded in `vm-image/README.md`.

use std::time::Duration;

use berth_e2e::{build_image, image_dir, median, open_image, qemu_config, squashfs_cat};

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let current = open_image(&image_dir());
    let agent_dir = tempfile::tempdir().expect("tempdir");
    let agent = agent_dir.path().join("berth-agent");
    std::fs::write(
        &agent,
        squashfs_cat(
            &current.path(berth_core::image::Role::Root),
            "usr/sbin/init",
        ),
    )
    .expect("write agent");
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod agent");

    println!(
        "{:<10} {:>10} {:>12} {:>12} {:>12} {:>8}",
        "format", "root MiB", "host ms", "guest ms", "spread ms", "crashes"
    );
    for format in ["squashfs", "erofs", "initramfs"] {
        let (dir, _) = build_image(
            &[
                "--format",
                format,
                "--agent",
                agent.to_str().unwrap_or_default(),
            ],
            &[],
        );
        let image = open_image(&dir);
        let root_mib = image
            .manifest
            .artifact(berth_core::image::Role::Root)
            .map_or(0, |a| a.size) as f64
            / 1048576.0;
        let run_dir = tempfile::tempdir().expect("tempdir");
        let mut host = Vec::new();
        let mut guest = Vec::new();
        let mut crashes = 0;
        while host.len() < runs {
            let mut config = qemu_config(&image, run_dir.path());
            config.memory_mib = 2048;
            let vm = match berth_core::vm::boot(&config, Duration::from_secs(180)).await {
                Ok(vm) => vm,
                Err(e) if e.guest_died() && crashes < runs => {
                    // The rare multi-threaded TCG guest crash: counted, not timed.
                    crashes += 1;
                    continue;
                }
                Err(e) => panic!("boot failed: {e}"),
            };
            host.push(vm.boot_time);
            guest.push(Duration::from_millis(vm.ready.uptime_ms));
            vm.power_off(Duration::from_secs(30))
                .await
                .expect("power off");
        }
        let spread = host.iter().max().copied().unwrap_or_default()
            - host.iter().min().copied().unwrap_or_default();
        println!(
            "{:<10} {:>10.1} {:>12} {:>12} {:>12} {:>8}",
            format,
            root_mib,
            median(&mut host).as_millis(),
            median(&mut guest).as_millis(),
            spread.as_millis(),
            crashes
        );
    }
}
