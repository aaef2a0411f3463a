//! The app's shared state, managed by Tauri: Berth's paths, the VM's lifecycle service, the
//! engine connection (made once per engine socket), the host's resource sampler, the keychain
//! and the Hub client.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use berth_core::instance;
use berth_core::paths::Paths;
use berth_hub::credentials::Keychain;
use berth_hub::{HubClient, HubConfig};
use bollard::Docker;

use crate::error::{AppError, AppResult};
use crate::lifecycle::Lifecycle;

/// Everything the commands share.
pub struct AppState {
    /// Where Berth keeps its files (tests point these at a temporary directory).
    pub paths: Paths,
    /// Starts and stops the VM; publishes its view (tests give it their own daemon).
    pub lifecycle: Lifecycle,
    engine: tokio::sync::Mutex<Option<(PathBuf, Docker)>>,
    /// Host CPU and memory sampler (CPU use needs the previous sample).
    pub system: Mutex<sysinfo::System>,
    /// Registry accounts in the OS keychain (tests file theirs under their own service).
    pub keychain: Keychain,
    hub: Mutex<Option<Arc<HubClient>>>,
    next_id: AtomicU32,
}

impl AppState {
    /// State for `paths`.
    pub fn new(paths: Paths) -> AppState {
        AppState {
            lifecycle: Lifecycle::for_this_app(paths.clone()),
            paths,
            engine: tokio::sync::Mutex::new(None),
            system: Mutex::new(sysinfo::System::new()),
            keychain: Keychain::default(),
            hub: Mutex::new(None),
            next_id: AtomicU32::new(1),
        }
    }

    /// A fresh id for a terminal or stream.
    pub fn next_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The engine socket of the running VM (or the paused one: a request resumes it).
    pub fn engine_socket(&self) -> AppResult<PathBuf> {
        instance::read_state(&self.paths.runtime)
            .filter(|s| s.state.is_up())
            .and_then(|s| s.engine_socket)
            .ok_or(AppError::VmNotRunning)
    }

    /// A client of the running engine, connected once per socket and API-version negotiated.
    /// The socket is a Unix socket, or on Windows a named pipe (`\\.\pipe\…`).
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
        let docker = Docker::connect_with_local(path, 600, bollard::API_DEFAULT_VERSION)?
            .negotiate_version()
            .await?;
        *cached = Some((socket, docker.clone()));
        Ok(docker)
    }

    /// The Hub client for the settings' `hub_api_url`, kept (with its cache) while the URL
    /// stays the same.
    pub fn hub(&self) -> AppResult<Arc<HubClient>> {
        use berth_core::settings::{Host, Settings};
        let url = Settings::load_for(&self.paths, Host::current())?.hub_api_url;
        let mut cached = self
            .hub
            .lock()
            .map_err(|_| AppError::Internal("the Hub client lock is poisoned".into()))?;
        if let Some(client) = cached.as_ref().filter(|c| c.base_url() == url) {
            return Ok(client.clone());
        }
        let client = Arc::new(HubClient::new(HubConfig::new(url))?);
        *cached = Some(client.clone());
        Ok(client)
    }

    /// Forgets the engine connection (the VM stopped).
    pub async fn forget_engine(&self) {
        *self.engine.lock().await = None;
    }
}
