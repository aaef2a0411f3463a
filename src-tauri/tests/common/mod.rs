//! The app on Tauri's mock runtime, for the command tests: a temporary set of Berth's
//! directories, the app built over them, and its commands invoked as the UI does through IPC.

// Each test crate compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use serde_json::Value;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindowBuilder;

use berth_core::paths::Paths;
use berth_desktop::state::AppState;

/// The app with one window, over directories of its own.
pub struct Harness {
    /// Everything the app writes lives under this (removed when dropped).
    pub dir: tempfile::TempDir,
    /// Berth's directories inside `dir`; the runtime and config directories exist.
    pub paths: Paths,
    window: tauri::WebviewWindow<tauri::test::MockRuntime>,
    _app: tauri::App<tauri::test::MockRuntime>,
}

impl Drop for Harness {
    /// A daemon a test started never outlives it (it would go on booting a VM).
    fn drop(&mut self) {
        use tauri::Manager;
        if berth_core::instance::is_locked(&self.paths.runtime) {
            let state = self._app.state::<AppState>();
            let _ = tauri::async_runtime::block_on(state.lifecycle.stop());
        }
    }
}

impl Harness {
    /// Builds the app; `prepare` may write files under the directories and change the state
    /// first.
    pub fn new(prepare: impl FnOnce(&Paths, &mut AppState)) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let paths = Paths::under(root);
        std::fs::create_dir_all(&paths.runtime).expect("runtime dir");
        std::fs::create_dir_all(&paths.config).expect("config dir");
        let mut state = AppState::new(paths.clone());
        prepare(&paths, &mut state);
        let app = berth_desktop::configure(mock_builder(), state)
            .build(mock_context(noop_assets()))
            .expect("app");
        let window = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .expect("window");
        Harness {
            dir,
            paths,
            window,
            _app: app,
        }
    }

    /// Invokes command `cmd` with `args`; the answer or the error as JSON.
    pub fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        tauri::test::get_ipc_response(&self.window, request)
            .map(|body| body.deserialize::<Value>().expect("json response"))
    }
}
