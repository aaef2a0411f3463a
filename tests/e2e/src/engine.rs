//! A VM with its engine ready and a host engine socket, for benchmarks that talk to the engine
//! without the CLI's supervisor in the way.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_core::agent::AgentAddress;
use berth_core::agent::AgentClient;
use berth_core::engine_api::{EngineEndpoint, GuestEngine};
use berth_core::vm::RunningVm;
use berth_protocol::message::{EngineState, Event};

use crate::{config_with_data_disk, image_dir, open_image};

/// A running VM whose engine answers on [`EngineVm::socket`].
pub struct EngineVm {
    /// The VM.
    pub vm: RunningVm,
    /// The host engine socket.
    pub socket: EngineEndpoint,
    /// Where the agent is reached.
    pub endpoint: AgentAddress,
    /// From QEMU's start to the engine's ready event.
    pub engine_ready: Duration,
}

impl EngineVm {
    /// Boots the image under test with a data disk in `dir` (and `memory_mib` of memory, if
    /// given), waits for the engine and serves its socket in `dir`.
    pub async fn start(dir: &Path, memory_mib: Option<u32>) -> EngineVm {
        let image = open_image(&image_dir());
        let mut config = config_with_data_disk(&image, dir).await;
        if let Some(memory) = memory_mib {
            config.memory_mib = memory;
        }
        let started = Instant::now();
        let vm = berth_core::vm::boot_with_retry(&config, Duration::from_secs(180))
            .await
            .expect("boot");
        let endpoint = vm.agent().expect("vsock");
        let mut agent = AgentClient::connect(&endpoint).await.expect("agent");
        agent
            .call(berth_protocol::call::Subscribe)
            .await
            .expect("subscribe");
        let ready = Event::EngineStateChanged {
            state: EngineState::Ready,
        };
        tokio::time::timeout(Duration::from_secs(300), async {
            while agent.next_event().await.expect("event") != ready {}
        })
        .await
        .expect("the engine did not become ready");
        let engine_ready = started.elapsed();
        let shared: Vec<PathBuf> = config.shares.iter().map(|s| s.host_path.clone()).collect();
        let socket = berth_core::engine_api::serve(
            &dir.join("docker.sock"),
            GuestEngine(endpoint.clone()),
            &shared,
            config.memory_mib,
        )
        .await
        .expect("socket");
        EngineVm {
            vm,
            socket,
            endpoint,
            engine_ready,
        }
    }

    /// The engine socket's path.
    pub fn socket_path(&self) -> PathBuf {
        self.socket.path().to_path_buf()
    }

    /// Powers the VM off.
    pub async fn stop(self) {
        drop(self.socket);
        self.vm
            .power_off(Duration::from_secs(60))
            .await
            .expect("power off");
    }
}

/// Runs `docker -H unix://SOCKET ARGS` (with `stdin` if given) on a blocking thread; panics
/// unless it succeeds; returns its stdout.
pub async fn docker(socket: &Path, args: &[&str], stdin: Option<Vec<u8>>) -> String {
    use std::io::Write;
    let socket = socket.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("docker CLI");
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(input) = stdin {
            pipe.write_all(&input).expect("stdin");
        }
        drop(pipe);
        let out = child.wait_with_output().expect("docker");
        assert!(out.status.success(), "docker {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .expect("docker thread")
}

/// Runs `script` in a root shell in the guest (on pipes, through the agent) and returns its
/// output; panics if it does not finish within a minute.
pub async fn guest_shell(endpoint: &AgentAddress, script: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let header = berth_protocol::data::DataHeader::Shell {
        tty: false,
        cols: 80,
        rows: 24,
    };
    let stream = berth_core::agent::open_data_plain(endpoint, header)
        .await
        .expect("shell");
    let (mut read, mut write) = tokio::io::split(stream);
    write.write_all(script.as_bytes()).await.expect("script");
    write.shutdown().await.expect("end of script");
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(60), read.read_to_string(&mut out))
        .await
        .expect("the shell did not finish")
        .expect("read");
    out
}
