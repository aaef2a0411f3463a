//! The guest agent in a real VM: the host connects over hybrid vsock, completes the handshake,
//! follows the engine to ready, relays `GET /_ping` to dockerd, reads logs, and shuts the VM down
//! with the data disk cleanly unmounted (the next boot's fsck finds it clean).

use std::time::{Duration, Instant};

use berth_core::agent::{open_data_plain, AgentClient, AgentError};
use berth_core::vm::RunningVm;
use berth_e2e::{config_with_data_disk, image_dir, open_image, qemu_config};
use berth_protocol::data::DataHeader;
use berth_protocol::message::{EngineState, Event, LogSource, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The engine's first start on a fresh data disk under TCG takes ~10–20 s; allow for a busy
/// machine.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(180);

/// Boots with the data disk in `run` (blank the first time, reused after).
async fn boot_with_disk(run: &std::path::Path) -> RunningVm {
    let image = open_image(&image_dir());
    let config = config_with_data_disk(&image, run).await;
    berth_core::vm::boot_with_retry(&config, Duration::from_secs(120))
        .await
        .expect("boot")
}

async fn wait_engine_ready(client: &mut AgentClient) {
    assert_eq!(
        client.request(Request::Subscribe).await.expect("subscribe"),
        Response::Ok
    );
    let deadline = Instant::now() + ENGINE_TIMEOUT;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(remaining, client.next_event())
            .await
            .expect("the engine did not become ready in time")
            .expect("event");
        match event {
            Event::EngineStateChanged {
                state: EngineState::Ready,
            } => return,
            Event::EngineStateChanged { state } => eprintln!("engine: {state:?}"),
            Event::PortsChanged { .. } => {}
        }
    }
}

async fn ping_through_relay(uds: &std::path::Path) -> String {
    let stream = open_data_plain(uds, DataHeader::EngineApi)
        .await
        .expect("data connection");
    let (mut read, mut write) = tokio::io::split(stream);
    write
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .await
        .expect("write");
    // Half-close our side, as a client done sending does; the answer must still arrive.
    write.shutdown().await.expect("half-close");
    let mut response = String::new();
    read.read_to_string(&mut response).await.expect("read");
    response
}

#[tokio::test]
async fn handshake_status_engine_relay_logs_and_clean_shutdown() {
    let run = tempfile::tempdir().expect("tempdir");
    let mut vm = boot_with_disk(run.path()).await;
    let uds = vm.vsock_uds().expect("vsock").to_path_buf();

    let mut client = AgentClient::connect(&uds).await.expect("handshake");
    assert_eq!(
        client.hello.protocol_version,
        berth_protocol::PROTOCOL_VERSION
    );
    assert!(client.hello.capabilities.iter().any(|c| c == "engine-api"));
    assert_eq!(
        client.request(Request::Ping).await.expect("ping"),
        Response::Pong
    );

    wait_engine_ready(&mut client).await;
    let Response::Status(status) = client.request(Request::Status).await.expect("status") else {
        panic!("expected a status");
    };
    assert_eq!(status.engine, EngineState::Ready);
    assert!(
        status
            .engine_version
            .as_deref()
            .unwrap_or_default()
            .starts_with("26."),
        "{status:?}"
    );
    assert!(status.memory_total_bytes > 512 << 20, "{status:?}");
    assert!(
        status.disk_total_bytes > 4 << 30,
        "the data disk is mounted: {status:?}"
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    let unix_nanos = u64::try_from(now.as_nanos()).expect("time fits");
    // A guest clock an hour behind (as after a host sleep) is put right by the host's check.
    let hour_ago = unix_nanos - 3_600 * 1_000_000_000;
    let set = client
        .request(Request::SetTime {
            unix_nanos: hour_ago,
        })
        .await
        .expect("set-time");
    assert_eq!(set, Response::Ok);
    let drift = berth_core::clock::check_once(&mut client)
        .await
        .expect("clock check");
    assert!((3_590_000..3_610_000).contains(&drift), "drift {drift} ms");
    let drift = berth_core::clock::check_once(&mut client)
        .await
        .expect("clock check");
    assert!(drift.abs() < 1000, "still {drift} ms off after the sync");

    let response = ping_through_relay(&uds).await;
    assert!(
        response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"),
        "{response}"
    );
    assert!(response.ends_with("OK"), "{response}");

    let Response::Log { lines } = client
        .request(Request::LogTail {
            source: LogSource::Engine,
            lines: 50,
        })
        .await
        .expect("log")
    else {
        panic!("expected log lines");
    };
    assert!(!lines.is_empty(), "dockerd's log is empty");
    let Response::Log { lines } = client
        .request(Request::LogTail {
            source: LogSource::Console,
            lines: 5,
        })
        .await
        .expect("log")
    else {
        panic!("expected log lines");
    };
    assert!(lines.len() <= 5 && !lines.is_empty());

    let asked = Instant::now();
    assert_eq!(
        client.request(Request::Shutdown).await.expect("shutdown"),
        Response::Ok
    );
    let status = tokio::time::timeout(Duration::from_secs(5), vm.wait())
        .await
        .expect("the VM powers off within 5 s")
        .expect("wait");
    assert!(status.success(), "QEMU exited with {status}");
    eprintln!("powered off {:?} after the request", asked.elapsed());
    let console = std::fs::read_to_string(run.path().join("console.log")).expect("console");
    assert!(
        console.contains("data disk /dev/vdb is blank: formatting ext4"),
        "{console}"
    );
    assert!(console.contains("engine stopped"), "{console}");

    // Second boot: the disk is reused, and e2fsck finds it clean.
    let mut vm = boot_with_disk(run.path()).await;
    let uds = vm.vsock_uds().expect("vsock").to_path_buf();
    let mut client = AgentClient::connect(&uds).await.expect("handshake");
    wait_engine_ready(&mut client).await;
    let console = std::fs::read_to_string(run.path().join("console.log")).expect("console");
    assert!(
        console.contains("data disk: berth-data: clean"),
        "{console}"
    );
    assert!(
        !console.contains("formatting ext4"),
        "an existing disk was formatted:\n{console}"
    );
    client.request(Request::Shutdown).await.expect("shutdown");
    tokio::time::timeout(Duration::from_secs(10), vm.wait())
        .await
        .expect("off")
        .expect("wait");
}

#[tokio::test]
async fn an_incompatible_host_is_refused_with_both_versions() {
    let image = open_image(&image_dir());
    let run = tempfile::tempdir().expect("tempdir");
    let config = qemu_config(&image, run.path());
    let vm = berth_core::vm::boot_with_retry(&config, Duration::from_secs(120))
        .await
        .expect("boot");
    let uds = vm.vsock_uds().expect("vsock").to_path_buf();
    match AgentClient::connect_as(&uds, 0).await {
        Err(AgentError::Refused(reason)) => {
            assert!(reason.contains('0') && reason.contains('1'), "{reason}")
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("protocol 0 must be refused"),
    }
    // A well-behaved host still gets in after that.
    let mut client = AgentClient::connect(&uds).await.expect("handshake");
    assert_eq!(
        client.request(Request::Ping).await.expect("ping"),
        Response::Pong
    );
    vm.power_off(Duration::from_secs(30))
        .await
        .expect("power off");
}
