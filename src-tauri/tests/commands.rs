//! The commands through Tauri's IPC on the mock runtime: what the UI sends, what it gets back,
//! and that every failure carries its `code`. (The real window against a real VM is
//! ui/e2e/window.test.mjs.)

use std::path::Path;

use berth_core::instance::{self, StateFile, VmState, VmView};
use berth_daemon::root::ALLOW_ROOT;
use berth_daemon::Launcher;
use berth_desktop::lifecycle::{Lifecycle, SUPERVISE_ARG};
use serde_json::json;

mod common;
use common::Harness;

fn harness() -> Harness {
    Harness::new(|_, _| {})
}

/// The app whose daemon is the real app binary (`berth-desktop --supervise`): no `berth`
/// program anywhere. Its guest image is a folder that does not exist, so no test here boots a
/// VM (`BERTH_IMAGE` names a real one when the whole suite runs).
fn harness_with_daemon() -> Harness {
    Harness::new(|paths, state| {
        let launcher = Launcher {
            program: env!("CARGO_BIN_EXE_berth-desktop").into(),
            args: vec![SUPERVISE_ARG.into()],
            // The tests run as root on CI machines; the daemon refuses root unless told.
            env: vec![(ALLOW_ROOT.into(), "1".into())],
        };
        let image = paths.cache.join("no-image-here");
        state.lifecycle = Lifecycle::new(paths.clone(), launcher).with_image(image);
    })
}

fn publish(runtime: &Path, state: VmState, phase: &str) {
    instance::write_state(
        runtime,
        &StateFile {
            phase: Some(phase.into()),
            engine_socket: Some(runtime.join("docker.sock")),
            ..StateFile::new(state, std::process::id())
        },
    )
    .expect("state");
}

#[test]
fn vm_state_follows_the_published_state_file() {
    let h = harness();
    let stopped = h.invoke("vm_state", json!({})).expect("vm_state");
    assert_eq!(stopped["state"], "stopped");
    let lock = instance::lock(&h.paths.runtime).expect("lock");
    publish(
        &h.paths.runtime,
        VmState::Starting,
        "booting the VM (tcg: no KVM)",
    );
    let starting = h.invoke("vm_state", json!({})).expect("vm_state");
    assert_eq!(starting["state"], "starting");
    assert_eq!(starting["phase"], "booting the VM (tcg: no KVM)");
    drop(lock);
    let dead = h.invoke("vm_state", json!({})).expect("vm_state");
    assert_eq!(dead["state"], "error", "a supervisor that died is reported");
}

#[test]
fn engine_commands_say_the_vm_is_not_running() {
    let h = harness();
    for (cmd, args) in [
        ("containers_list", json!({})),
        ("images_list", json!({})),
        ("volumes_list", json!({})),
        ("engine_info", json!({})),
        ("container_action", json!({"id": "x", "action": "stop"})),
    ] {
        let err = h.invoke(cmd, args).expect_err(cmd);
        assert_eq!(err["code"], "vm_not_running", "{cmd}: {err}");
        assert!(err["message"]
            .as_str()
            .unwrap_or_default()
            .contains("start"));
    }
    let dashboard = h.invoke("dashboard", json!({})).expect("dashboard");
    assert!(dashboard["guest"].is_null());
    assert!(dashboard["host"]["memory_total"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn a_bad_run_request_names_the_field_before_touching_the_engine() {
    let h = harness();
    let err = h
        .invoke(
            "image_run",
            json!({"request": {"image": "busybox", "name": "", "ports": ["http:80"], "env": [], "volumes": [], "command": ""}}),
        )
        .expect_err("bad port");
    assert_eq!(err["code"], "invalid_input");
    assert_eq!(err["field"], "ports");
    let err = h
        .invoke("container_action", json!({"id": "x", "action": "explode"}))
        .expect_err("unknown action");
    assert!(
        err.as_str().unwrap_or_default().contains("explode"),
        "{err}"
    );
}

#[test]
fn settings_are_validated_saved_and_read_back() {
    let h = harness();
    let view = h.invoke("settings_get", json!({})).expect("settings_get");
    let mut settings = view["settings"].clone();
    settings["cpus"] = json!(100_000);
    let err = h
        .invoke("settings_save", json!({"settings": settings}))
        .expect_err("too many cpus");
    assert_eq!(err["code"], "invalid_setting");
    assert_eq!(err["field"], "cpus");
    assert!(!h.paths.settings_file().exists(), "nothing written");
    settings["cpus"] = json!(1);
    settings["insecure_registries"] = json!(["10.0.2.2:5000"]);
    h.invoke("settings_save", json!({"settings": settings}))
        .expect("valid settings");
    let back = h.invoke("settings_get", json!({})).expect("settings_get");
    assert_eq!(back["settings"]["cpus"], 1);
    assert_eq!(back["settings"]["insecure_registries"][0], "10.0.2.2:5000");
}

#[test]
fn a_settings_error_raised_by_the_daemon_keeps_its_code_and_field() {
    let h = harness_with_daemon();
    std::fs::write(
        h.paths.config.join("settings.json"),
        r#"{"memory_mib": 100}"#,
    )
    .expect("settings");
    let err = h.invoke("vm_start", json!({})).expect_err("start fails");
    assert_eq!(err["code"], "invalid_setting", "{err}");
    assert_eq!(err["field"], "memory_mib", "{err}");
    let view = h.invoke("vm_state", json!({})).expect("vm_state");
    assert_eq!(view["state"], "error");
    assert_eq!(view["error"]["field"], "memory_mib", "{view}");
    assert!(!instance::is_locked(&h.paths.runtime), "the daemon exited");
}

#[test]
fn a_start_with_no_guest_image_is_a_typed_error_naming_it() {
    let h = harness_with_daemon();
    let err = h.invoke("vm_start", json!({})).expect_err("no image here");
    // The settings are fine here; what fails is the image, named, never a subprocess the
    // app had to find.
    assert_eq!(err["code"], "image", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no-image-here"),
        "{err}"
    );
    assert!(err["field"].is_null(), "{err}");
}

#[test]
fn stop_asks_the_daemon_on_its_channel() {
    let h = harness();
    let lock = instance::lock(&h.paths.runtime).expect("lock");
    publish(&h.paths.runtime, VmState::Running, "engine ready");
    let (views, receiver) = tokio::sync::watch::channel(VmView::stopped());
    let stop = tokio_util::sync::CancellationToken::new();
    let socket = h.paths.supervisor_socket();
    let channel = tauri::async_runtime::block_on(async {
        berth_daemon::channel::serve(&socket, receiver, stop.clone(), Default::default())
    })
    .expect("serve");
    // The stand-in daemon: stops when asked, then lets go of the lock.
    let runtime = h.paths.runtime.clone();
    let daemon = std::thread::spawn(move || {
        tauri::async_runtime::block_on(stop.cancelled());
        publish(&runtime, VmState::Stopped, "stopped");
        drop(views);
        drop(channel);
        drop(lock);
    });
    let view = h.invoke("vm_stop", json!({})).expect("stop");
    assert_eq!(view["state"], "stopped", "{view}");
    daemon.join().expect("daemon");
    assert!(!instance::is_locked(&h.paths.runtime));
}

#[test]
fn host_logs_are_read_and_agent_logs_need_the_vm() {
    let h = harness();
    std::fs::write(h.paths.runtime.join("console.log"), "one\ntwo\nthree\n").expect("console");
    let lines = h
        .invoke("log_tail", json!({"kind": "console", "lines": 2}))
        .expect("console");
    assert_eq!(lines, json!(["two", "three"]));
    let err = h
        .invoke("log_tail", json!({"kind": "supervisor", "lines": 2}))
        .expect_err("no supervisor log yet");
    assert_eq!(err["code"], "io");
    let err = h
        .invoke("log_tail", json!({"kind": "engine", "lines": 2}))
        .expect_err("VM stopped");
    assert_eq!(err["code"], "vm_not_running");
    assert_eq!(
        h.invoke("stream_cancel", json!({"id": 99}))
            .expect("cancel"),
        json!(false)
    );
}

#[test]
fn the_diagnostics_bundle_is_private_and_holds_no_credentials() {
    let h = harness();
    std::fs::create_dir_all(h.paths.settings_file().parent().expect("dir")).expect("dir");
    std::fs::write(
        h.paths.settings_file(),
        r#"{"http_proxy": "http://ann:pr0xy-pass@proxy:3128", "registry_mirrors": ["https://mirror-t0ken@mirror.internal:5000"]}"#,
    )
    .expect("settings");
    std::fs::write(
        h.paths.runtime.join("console.log"),
        "berth-agent: ready\nAuthorization: Bearer c0nsole-t0ken\n",
    )
    .expect("console");
    let out = h.paths.runtime.join("bundle.txt");
    h.invoke("diagnostics_export", json!({"path": out}))
        .expect("export");
    let bundle = std::fs::read_to_string(&out).expect("bundle");
    for secret in ["pr0xy-pass", "mirror-t0ken", "c0nsole-t0ken", "ann:"] {
        assert!(
            !bundle.contains(secret),
            "{secret} in the bundle:\n{bundle}"
        );
    }
    assert!(
        bundle.starts_with("===== redacted =====\n2 credential(s) in URLs and 1 password"),
        "{bundle}"
    );
    assert!(bundle.contains("http://***@proxy:3128"), "{bundle}");
    assert!(bundle.contains("berth-agent: ready"), "{bundle}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn only_web_addresses_open_in_the_browser() {
    let h = harness();
    let err = h
        .invoke("open_url", json!({"url": "file:///etc/passwd"}))
        .expect_err("file url");
    assert_eq!(err["code"], "invalid_input");
}
