//! Diagnostic: boots the guest image with a data disk, waits for the engine and prints the
//! containerd and dockerd logs the agent kept, to see where the engine's start-up time goes.
//!
//!     cargo run --release -p berth-e2e --bin engine-log

use std::time::Duration;

use berth_core::agent::AgentClient;
use berth_e2e::{config_with_data_disk, image_dir, open_image};
use berth_protocol::call::{LogTail, Subscribe};
use berth_protocol::message::{EngineState, Event, LogSource};

#[tokio::main]
async fn main() {
    let image = open_image(&image_dir());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_with_data_disk(&image, dir.path()).await;
    let vm = berth_core::vm::boot_with_retry(&config, Duration::from_secs(180))
        .await
        .expect("boot");
    let mut agent = AgentClient::connect(vm.agent().expect("vsock"))
        .await
        .expect("agent");
    agent.call(Subscribe).await.expect("subscribe");
    while agent.next_event().await.expect("event")
        != (Event::EngineStateChanged {
            state: EngineState::Ready,
        })
    {}
    for source in [LogSource::Containerd, LogSource::Engine, LogSource::Agent] {
        println!("===== {source:?}");
        let tail = LogTail {
            source,
            lines: 400,
            since: None,
        };
        if let Ok(batch) = agent.call(tail).await {
            batch.lines.iter().for_each(|l| println!("{l}"));
        }
    }
    vm.power_off(Duration::from_secs(60))
        .await
        .expect("power off");
}
