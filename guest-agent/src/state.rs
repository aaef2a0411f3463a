//! What the agent's connections share: the engine's state and logs, the CPU sampler, the
//! shutdown trigger and the mounted shared folders.

use std::sync::{Arc, Mutex};

use berth_protocol::message::EngineState;
use berth_protocol::settings::Share;
use tokio::sync::{watch, Notify};

use crate::engine::EngineLogs;
use crate::status::CpuSampler;

/// Shared by every connection.
pub struct Shared {
    /// dockerd's state.
    pub engine_state: watch::Receiver<EngineState>,
    /// The engine's version once known.
    pub engine_version: Arc<Mutex<Option<String>>>,
    /// The engine's and containerd's logs.
    pub logs: EngineLogs,
    /// CPU use between status reports.
    pub cpu: CpuSampler,
    /// Notified when the host asks for a shutdown.
    pub shutdown: Notify,
    /// The shared folders that are mounted (file events must lie inside one).
    pub shares: Vec<Share>,
}
