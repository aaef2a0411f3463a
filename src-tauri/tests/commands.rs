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
    // What SeaBIOS and a coloured logger write is shown as the text they meant.
    std::fs::write(
        h.paths.runtime.join("console.log"),
        "\u{1b}c\u{1b}[?7l\u{1b}[2J\u{1b}[0mSeaBIOS (version 1.16.3)\r\n\u{1b}[2m03:40:11\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m ready\n",
    )
    .expect("console");
    let lines = h
        .invoke("log_tail", json!({"kind": "console", "lines": 2}))
        .expect("console");
    assert_eq!(
        lines,
        json!(["SeaBIOS (version 1.16.3)", "03:40:11  INFO ready"])
    );
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

/// The files of a zip, by name, in the archive's order.
fn unzip(path: &Path) -> Vec<(String, String)> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("a zip");
    (0..zip.len())
        .map(|i| {
            let mut file = zip.by_index(i).expect("entry");
            let mut text = String::new();
            file.read_to_string(&mut text).expect("text");
            (file.name().expect("name").into_owned(), text)
        })
        .collect()
}

#[test]
fn the_diagnostics_bundle_is_a_private_zip_of_plain_text_with_no_credentials() {
    let h = harness();
    std::fs::create_dir_all(h.paths.settings_file().parent().expect("dir")).expect("dir");
    std::fs::write(
        h.paths.settings_file(),
        r#"{"http_proxy": "http://ann:pr0xy-pass@proxy:3128", "registry_mirrors": ["https://mirror-t0ken@mirror.internal:5000"]}"#,
    )
    .expect("settings");
    std::fs::write(
        h.paths.runtime.join("console.log"),
        "\u{1b}c\u{1b}[?7l\u{1b}[2JSeaBIOS\r\nberth-agent: ready\nAuthorization: Bearer c0nsole-t0ken\n",
    )
    .expect("console");
    std::fs::create_dir_all(h.paths.supervisor_log().parent().expect("dir")).expect("dir");
    std::fs::write(
        h.paths.supervisor_log(),
        "\u{1b}[2m2026-12-08T03:40:11Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m berth_daemon: started\n",
    )
    .expect("supervisor");
    let dir = h.paths.runtime.join("out");
    std::fs::create_dir(&dir).expect("dir");
    let out = dir.join("berth-diagnostics.zip");
    h.invoke("diagnostics_export", json!({"path": out}))
        .expect("export");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        ["berth-diagnostics.zip"],
        "no temporary file is left"
    );
    let files = unzip(&out);
    let listed: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        listed,
        [
            "summary.txt",
            "settings.json",
            "doctor.txt",
            "logs/supervisor.log",
            "logs/console.log",
            "logs/agent.log",
            "logs/engine.log",
            "logs/containerd.log"
        ]
    );
    for (name, text) in &files {
        for secret in ["pr0xy-pass", "mirror-t0ken", "c0nsole-t0ken", "ann:"] {
            assert!(!text.contains(secret), "{secret} in {name}:\n{text}");
        }
        assert!(!text.contains('\u{1b}'), "ESC in {name}: {text:?}");
        assert!(!text.contains("VmView"), "{name}: {text}");
    }
    let text = |name: &str| &files.iter().find(|(n, _)| n == name).expect(name).1;
    let summary = text("summary.txt");
    assert!(summary.contains("VM state:         stopped"), "{summary}");
    assert!(
        summary.contains("Redacted: 2 credential(s) in URLs and 1 password"),
        "{summary}"
    );
    assert!(
        text("settings.json").contains("\n  \"http_proxy\": \"http://***@proxy:3128\""),
        "{}",
        text("settings.json")
    );
    assert!(text("logs/console.log").starts_with("SeaBIOS\nberth-agent: ready\n"));
    assert_eq!(
        text("logs/supervisor.log"),
        "2026-12-08T03:40:11Z  INFO berth_daemon: started\n"
    );
    assert!(
        text("logs/engine.log").contains("not running"),
        "{}",
        text("logs/engine.log")
    );
    assert!(!text("doctor.txt").is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A target in a folder that cannot be made is an `io` error, and leaves nothing.
    let blocked = dir.join("berth-diagnostics.zip/inside.zip");
    let err = h
        .invoke("diagnostics_export", json!({"path": blocked}))
        .expect_err("a file as the folder");
    assert_eq!(err["code"], "io", "{err}");
    assert_eq!(std::fs::read_dir(&dir).expect("list").count(), 1);
}

#[test]
fn only_web_addresses_open_in_the_browser() {
    let h = harness();
    let err = h
        .invoke("open_url", json!({"url": "file:///etc/passwd"}))
        .expect_err("file url");
    assert_eq!(err["code"], "invalid_input");
}
