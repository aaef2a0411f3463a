//! The guest agent in a real VM: the host connects over hybrid vsock, completes the handshake,
//! follows the engine to ready, relays `GET /_ping` to dockerd, reads logs, and shuts the VM down
//! with the data disk cleanly unmounted (the next boot's fsck finds it clean); connections
//! without the boot's secret are refused and logged, and the engine's private settings reach
//! the engine without appearing on any command line.

use std::time::{Duration, Instant};

use berth_core::agent::{open_data, open_data_plain, AgentAddress, AgentClient, AgentError};
use berth_core::vm::RunningVm;
use berth_e2e::{config_with_data_disk, image_dir, open_image, qemu_config};
use berth_protocol::call::{LogTail, Ping, SetTime, Shutdown, Status, Subscribe};
use berth_protocol::data::DataHeader;
use berth_protocol::message::{Capability, EngineState, ErrorCode, Event, LogSource};
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
    client.call(Subscribe).await.expect("subscribe");
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

async fn ping_through_relay(uds: &AgentAddress) -> String {
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
    let uds = vm.agent().expect("vsock");

    let mut client = AgentClient::connect(&uds).await.expect("handshake");
    assert_eq!(
        client.hello.protocol_version,
        berth_protocol::PROTOCOL_VERSION
    );
    assert!(client.offers(Capability::EngineApi) && client.offers(Capability::LogSeq));
    client.call(Ping).await.expect("ping");

    wait_engine_ready(&mut client).await;
    let status = client.call(Status).await.expect("status");
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
    client
        .call(SetTime {
            unix_nanos: hour_ago,
        })
        .await
        .expect("set-time");
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

    let engine = client
        .call(LogTail {
            source: LogSource::Engine,
            lines: 50,
            since: None,
        })
        .await
        .expect("log");
    assert!(!engine.lines.is_empty(), "dockerd's log is empty");
    let console = client
        .call(LogTail {
            source: LogSource::Console,
            lines: 5,
            since: None,
        })
        .await
        .expect("log");
    assert!(console.lines.len() <= 5 && !console.lines.is_empty());
    // Followed by number: the lines after the last one seen, and none twice.
    let tail = client
        .call(LogTail {
            source: LogSource::Agent,
            lines: 3,
            since: None,
        })
        .await
        .expect("agent log");
    assert!(tail.next >= 3 && tail.lines.len() == 3, "{tail:?}");
    let from_start = client
        .call(LogTail {
            source: LogSource::Agent,
            lines: 5000,
            since: Some(0),
        })
        .await
        .expect("agent log from its start");
    assert_eq!(from_start.dropped, 0, "{from_start:?}");
    assert!(from_start.next >= tail.next, "{from_start:?}");
    let seen = usize::try_from(tail.next).expect("fits");
    assert_eq!(from_start.lines[seen - 3..seen], tail.lines[..]);
    let after = client
        .call(LogTail {
            source: LogSource::Agent,
            lines: 5000,
            since: Some(from_start.next),
        })
        .await
        .expect("agent log after");
    assert!(after.next >= from_start.next, "{after:?}");
    // The kernel log has no numbers to follow.
    let refused = client
        .call(LogTail {
            source: LogSource::Console,
            lines: 5,
            since: Some(0),
        })
        .await;
    assert!(
        matches!(
            refused,
            Err(AgentError::Failed {
                code: ErrorCode::Unsupported,
                ..
            })
        ),
        "{refused:?}"
    );

    let asked = Instant::now();
    client.call(Shutdown).await.expect("shutdown");
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
    let uds = vm.agent().expect("vsock");
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
    client.call(Shutdown).await.expect("shutdown");
    tokio::time::timeout(Duration::from_secs(10), vm.wait())
        .await
        .expect("off")
        .expect("wait");
}

#[tokio::test]
async fn hosts_without_the_secret_or_the_version_are_refused_and_private_settings_stay_private() {
    let image = open_image(&image_dir());
    let run = tempfile::tempdir().expect("tempdir");
    let mut config = qemu_config(&image, run.path());
    // Settings with credentials: they must reach the engine and nothing else.
    config.agent.engine.http_proxy = Some("http://ann:pr0xy-pass@10.0.2.2:3128".into());
    config.agent.engine.registry_mirrors = vec!["http://mirror-t0ken@10.0.2.2:5999".into()];
    config.agent.engine.no_proxy = Some("localhost,10.0.2.2".into());
    let vm = berth_core::vm::boot_with_retry(&config, Duration::from_secs(120))
        .await
        .expect("boot");
    let uds = vm.agent().expect("vsock");
    let channel = run.path().join(berth_core::paths::run_dir::BOOT_CHANNEL);
    assert!(
        !channel.exists(),
        "the boot channel's file outlived the boot"
    );

    // An incompatible protocol version.
    match AgentClient::connect_as(&uds, 0).await {
        Err(AgentError::Refused(reason)) => {
            let ours = berth_protocol::PROTOCOL_VERSION.to_string();
            assert!(reason.contains('0') && reason.contains(&ours), "{reason}")
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("protocol 0 must be refused"),
    }
    // Another boot's secret, on the control and the data port.
    let stranger = AgentAddress::new(
        uds.vsock.clone(),
        berth_core::agent::new_secret().expect("secret"),
    );
    match AgentClient::connect(&stranger).await {
        Err(AgentError::Refused(reason)) => assert!(reason.contains("secret"), "{reason}"),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("a host without the secret got in"),
    }
    match open_data(
        &stranger,
        DataHeader::Shell {
            tty: false,
            cols: 80,
            rows: 24,
        },
    )
    .await
    {
        Err(AgentError::DataRefused(reason)) => assert!(reason.contains("secret"), "{reason}"),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("a shell without the secret"),
    }
    // No preamble at all: a bare hello, as a protocol-1 host or a curious local user sends.
    let mut raw = berth_core::vsock::connect(&uds.vsock, berth_protocol::CONTROL_PORT)
        .await
        .expect("raw connection");
    let hello = br#"{"type":"hello","protocol_version":2,"host_version":"x"}"#;
    raw.write_all(&(hello.len() as u32).to_be_bytes())
        .await
        .expect("write");
    raw.write_all(hello).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut answer))
        .await
        .expect("the agent closes a connection without the secret")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.contains("refused") && !answer.contains("\"agent_version\""),
        "{answer}"
    );

    // The boot's own secret still gets in, and the refusals are in the agent's log.
    let mut client = AgentClient::connect(&uds).await.expect("handshake");
    client.call(Ping).await.expect("ping");
    let console = std::fs::read_to_string(run.path().join("console.log")).expect("console");
    for port in [1024, 1025] {
        assert!(
            console.contains(&format!("vsock: refused a connection to port {port}: the connection did not start with this boot's secret")),
            "port {port} refusal not logged:\n{console}"
        );
    }

    // The private settings reached the engine's configuration (0600), and no command line.
    let guest = berth_e2e::engine::guest_shell(
        &uds,
        "stat -c %a /etc/docker/daemon.json; cat /etc/docker/daemon.json; echo; cat /proc/cmdline\n",
    )
    .await;
    let cmdline = guest.trim_end().lines().last().unwrap_or_default();
    let config_part = guest.as_str();
    assert!(
        config_part.starts_with("600\n"),
        "daemon.json's mode: {guest}"
    );
    assert!(
        config_part.contains("pr0xy-pass") && config_part.contains("mirror-t0ken"),
        "{guest}"
    );
    assert!(cmdline.contains("berth.secret=fw_cfg"), "{cmdline}");
    for secret in ["pr0xy-pass", "mirror-t0ken", &uds.secret.to_hex()] {
        assert!(
            !cmdline.contains(secret),
            "{secret} in the guest's /proc/cmdline: {cmdline}"
        );
    }
    // No 32-bit system calls in the guest (`ia32_emulation=0`), so no 32-bit `socketcall`
    // around the engine's AF_VSOCK filter: a static i386 program that exits 42 cannot run.
    // The agent's binfmt handler for i386 (which explains there is no emulator) is disabled
    // first, so the kernel itself is what refuses it.
    let i386 = i386_exit_42(run.path());
    let encoded = std::process::Command::new("base64")
        .args(["-w0"])
        .arg(&i386)
        .output()
        .expect("base64");
    let ran = berth_e2e::engine::guest_shell(
        &uds,
        &format!(
            "echo 0 > /proc/sys/fs/binfmt_misc/unemulated-i386; echo {} | base64 -d > /root/i386 && chmod +x /root/i386 && /root/i386; echo rc=$?\n",
            String::from_utf8_lossy(&encoded.stdout)
        ),
    )
    .await;
    eprintln!("the i386 program in the guest: {ran}");
    assert!(
        ran.contains("rc=") && !ran.contains("rc=42"),
        "a 32-bit program ran: {ran}"
    );
    let qemu = vm.pid().expect("QEMU's pid");
    let argv = std::fs::read(format!("/proc/{qemu}/cmdline")).expect("QEMU's command line");
    let argv = String::from_utf8_lossy(&argv);
    assert!(argv.contains("opt/berth/secret"), "{argv}");
    for secret in ["pr0xy-pass", "mirror-t0ken", &uds.secret.to_hex()] {
        assert!(!argv.contains(secret), "{secret} on QEMU's command line");
    }
    vm.power_off(Duration::from_secs(30))
        .await
        .expect("power off");
}

/// A static i386 program that exits with status 42, assembled by binutils in `dir`.
fn i386_exit_42(dir: &std::path::Path) -> std::path::PathBuf {
    let source = dir.join("exit42.s");
    std::fs::write(
        &source,
        "_start:\n mov $1,%eax\n mov $42,%ebx\n int $0x80\n.globl _start\n",
    )
    .expect("write");
    let object = dir.join("exit42.o");
    let program = dir.join("exit42");
    for (tool, args) in [
        (
            "as",
            vec![
                "--32".into(),
                "-o".into(),
                object.clone().into_os_string(),
                source.into_os_string(),
            ],
        ),
        (
            "ld",
            vec![
                "-m".into(),
                "elf_i386".into(),
                "-s".into(),
                "-o".into(),
                program.clone().into_os_string(),
                object.into_os_string(),
            ],
        ),
    ] {
        let status = std::process::Command::new(tool)
            .args(args)
            .status()
            .expect(tool);
        assert!(status.success(), "{tool} failed");
    }
    program
}
