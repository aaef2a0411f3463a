//! Boots the real guest image through the QEMU backend (KVM or TCG, detected) and checks that
//! the agent announces itself within a bounded time, that QMP reports the run state and drives
//! the balloon, that `connect(port)` reaches the agent, and that the VM powers off on request.

use std::time::Duration;

use berth_core::backend::{BackendStatus, VmBackend};
use berth_core::qemu::QemuBackend;
use berth_e2e::{image_dir, open_image, qemu_config};
use berth_protocol::frame::HostCodec;
use berth_protocol::message::{AgentToHost, HostHello, HostToAgent};
use berth_protocol::{CONTROL_PORT, PROTOCOL_VERSION};
use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::Framed;

/// Generous for TCG on two busy cores; a healthy boot takes a few seconds.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn agent_is_ready_and_powers_off_on_request() {
    let image = open_image(&image_dir());
    let run = tempfile::tempdir().expect("tempdir");
    let mut vm = QemuBackend::new(qemu_config(&image, run.path()));
    assert_eq!(vm.status().await.expect("status"), BackendStatus::Stopped);
    let started = vm.start(BOOT_TIMEOUT).await.expect("boot");
    assert_eq!(
        started.agent_version,
        image.manifest.components["berth-agent"]
    );
    assert!(started.guest_uptime_ms > 0);
    eprintln!(
        "ready after {:?} (guest uptime {} ms)",
        started.boot_time, started.guest_uptime_ms
    );
    let caps = vm.capabilities();
    assert_eq!(caps.hypervisor, "qemu");
    assert_eq!(
        caps.acceleration,
        berth_core::accel::detect().accel.to_string()
    );

    // QMP: the guest runs and the balloon leaves it all its memory, until asked otherwise.
    let memory = u64::from(vm.config().memory_mib);
    match vm.status().await.expect("status") {
        BackendStatus::Running { guest, balloon_mib } => {
            assert_eq!(guest, "running");
            assert_eq!(balloon_mib, Some(memory));
        }
        other => panic!("unexpected status {other:?}"),
    }
    vm.set_guest_memory(memory / 2).await.expect("balloon");
    // The guest driver inflates page by page; under TCG on a busy machine that takes a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match vm.status().await.expect("status") {
            BackendStatus::Running {
                balloon_mib: Some(mib),
                ..
            } if mib == memory / 2 => break,
            other if std::time::Instant::now() > deadline => {
                panic!("the balloon did not reach {} MiB: {other:?}", memory / 2)
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }

    // connect(port) reaches the agent: it answers the protocol handshake.
    let stream = vm.connect(CONTROL_PORT).await.expect("connect");
    let mut framed = Framed::new(stream, HostCodec::new());
    framed
        .send(HostToAgent::Hello(HostHello {
            protocol_version: PROTOCOL_VERSION,
            host_version: "test".into(),
        }))
        .await
        .expect("hello");
    match framed.next().await {
        Some(Ok(AgentToHost::Hello(hello))) => {
            assert_eq!(hello.protocol_version, PROTOCOL_VERSION)
        }
        other => panic!("unexpected answer {other:?}"),
    }
    drop(framed);

    let console_log = vm.config().console_log.clone();
    vm.stop(Duration::from_secs(30))
        .await
        .expect("clean power-off");
    assert_eq!(vm.status().await.expect("status"), BackendStatus::Stopped);
    // Written from QEMU's output (`-chardev stdio`) through the bounded log, to its last line.
    let size = std::fs::metadata(&console_log).expect("console log").len();
    assert!(size > 0 && size <= berth_core::logfile::MAX_LOG, "{size}");
    let console = std::fs::read_to_string(console_log).expect("console log");
    assert!(console.contains("berth-agent: ready"), "{console}");
    assert!(
        console.contains("berth-agent: INFO shutting down (power button)"),
        "{console}"
    );
    assert!(console.contains("reboot: Power down"), "{console}");
}

#[tokio::test]
async fn a_guest_that_cannot_mount_its_root_is_reported_with_its_console() {
    let image = open_image(&image_dir());
    let run = tempfile::tempdir().expect("tempdir");
    let mut config = qemu_config(&image, run.path());
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
