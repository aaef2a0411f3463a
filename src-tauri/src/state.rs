//! The app's shared state, managed by Tauri: Berth's paths, the engine connection (made once per
//! engine socket), open terminal sessions and the host's resource sampler.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use berth_core::instance::{self, VmState};
use berth_core::paths::Paths;
use bollard::Docker;

use crate::error::{AppError, AppResult};
use crate::terminal::Session;

/// Everything the commands share.
pub struct AppState {
    /// Where Berth keeps its files (tests point these at a temporary directory).
    pub paths: Paths,
    /// The `berth` program, when set explicitly (tests); otherwise looked up per call.
    pub berth_bin: Option<PathBuf>,
    engine: tokio::sync::Mutex<Option<(PathBuf, Docker)>>,
    /// Open terminals by id.
    pub sessions: Mutex<HashMap<u32, Session>>,
    /// Host CPU and memory sampler (CPU use needs the previous sample).
    pub system: Mutex<sysinfo::System>,
    next_id: AtomicU32,
}

impl AppState {
    /// State for `paths`.
    pub fn new(paths: Paths) -> AppState {
        AppState {
            paths,
            berth_bin: None,
            engine: tokio::sync::Mutex::new(None),
            sessions: Mutex::new(HashMap::new()),
            system: Mutex::new(sysinfo::System::new()),
            next_id: AtomicU32::new(1),
        }
    }

    /// A fresh id for a terminal or stream.
    pub fn next_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The engine socket of the running VM.
    pub fn engine_socket(&self) -> AppResult<PathBuf> {
        instance::read_state(&self.paths.runtime)
            .filter(|s| s.state == VmState::Running)
            .and_then(|s| s.engine_socket)
            .ok_or(AppError::VmNotRunning)
    }

    /// A client of the running engine, connected once per socket and API-version negotiated.
    pub async fn docker(&self) -> AppResult<Docker> {
        let socket = self.engine_socket()?;
        let mut cached = self.engine.lock().await;
        if let Some((path, docker)) = cached.as_ref() {
            if *path == socket {
                return Ok(docker.clone());
            }
        }
        let path = socket.to_str().ok_or_else(|| {
            AppError::EngineUnreachable(format!("{} is not UTF-8", socket.display()))
        })?;
        let docker = Docker::connect_with_unix(path, 600, bollard::API_DEFAULT_VERSION)?
            .negotiate_version()
            .await?;
        *cached = Some((socket, docker.clone()));
        Ok(docker)
    }

    /// Forgets the engine connection (the VM stopped).
    pub async fn forget_engine(&self) {
        *self.engine.lock().await = None;
    }
}
