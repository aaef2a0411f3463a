//! Boots the real guest image under QEMU (KVM or TCG, detected) and checks that the agent
//! announces itself within a bounded time and powers the VM off on request.

use std::time::Duration;

use berth_e2e::{boot, image_dir, open_image};

/// Generous for TCG on two busy cores; a healthy boot takes a few seconds.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn agent_is_ready_and_powers_off_on_request() {
    let image = open_image(&image_dir());
    let run = tempfile::tempdir().expect("tempdir");
    let vm = boot(&image, run.path(), BOOT_TIMEOUT).await;
    assert_eq!(vm.ready.version, image.manifest.components["berth-agent"]);
    assert_eq!(vm.ready.protocol, berth_protocol::PROTOCOL_VERSION);
    assert!(vm.ready.uptime_ms > 0);
    let console_log = vm.console_log().to_path_buf();
    eprintln!(
        "ready after {:?} (guest uptime {} ms)",
        vm.boot_time, vm.ready.uptime_ms
    );

    let status = vm
        .power_off(Duration::from_secs(30))
        .await
        .expect("clean power-off");
    assert!(status.success(), "QEMU exited with {status}");
    let console = std::fs::read_to_string(console_log).expect("console log");
    assert!(
        console.contains("berth-agent: shutting down (power button)"),
        "{console}"
    );
    assert!(console.contains("reboot: Power down"), "{console}");
}

#[tokio::test]
async fn a_guest_that_cannot_mount_its_root_is_reported_with_its_console() {
    let image = open_image(&image_dir());
    let run = tempfile::tempdir().expect("tempdir");
    let mut config = berth_e2e::qemu_config(&image, run.path());
    config
        .kernel_params
        .push("berth.root=/dev/nonexistent".into());
    let err = berth_core::vm::boot(&config, BOOT_TIMEOUT)
        .await
        .expect_err("must not boot");
    assert!(err.guest_died(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("root device /dev/nonexistent did not appear"),
        "{text}"
    );
}
