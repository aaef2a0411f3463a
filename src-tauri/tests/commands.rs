//! The commands through Tauri's IPC on the mock runtime: what the UI sends, what it gets back,
//! and that every failure carries its `code`. (The real window against a real VM is
//! ui/e2e/window.test.mjs.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use berth_core::instance::{self, StateFile, VmState};
use serde_json::json;

mod common;
use common::Harness;

fn harness(berth_script: Option<&str>) -> Harness {
    Harness::new(|paths, state| {
        if let Some(script) = berth_script {
            let bin = paths.runtime.parent().expect("root").join("berth");
            std::fs::write(&bin, format!("#!/bin/sh\n{script}\n")).expect("script");
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            state.berth_bin = Some(bin);
        }
    })
}

fn publish(runtime: &Path, state: VmState, phase: &str) {
    instance::write_state(
        runtime,
        &StateFile {
            version: berth_core::instance::STATE_VERSION,
            state,
            pid: std::process::id(),
            phase: Some(phase.into()),
            error: None,
            engine_socket: Some(runtime.join("docker.sock")),
            vsock: None,
        },
    )
    .expect("state");
}

#[test]
fn vm_state_follows_the_published_state_file() {
    let h = harness(None);
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
    let h = harness(None);
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
    let h = harness(None);
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
    let h = harness(None);
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
fn lifecycle_failures_carry_berths_own_explanation() {
    let h = harness(Some(
        "echo 'berth: reading the settings' >&2; echo 'Error: QEMU was not found: sudo apt-get install qemu-system-x86' >&2; exit 1",
    ));
    let err = h.invoke("vm_start", json!({})).expect_err("start fails");
    assert_eq!(err["code"], "lifecycle");
    assert_eq!(
        err["message"],
        "QEMU was not found: sudo apt-get install qemu-system-x86"
    );
}

#[test]
fn start_and_stop_run_the_berth_program() {
    let h = harness(Some(r#"echo "$@" >> "$(dirname "$0")/calls""#));
    h.invoke("vm_start", json!({})).expect("start");
    h.invoke("vm_stop", json!({})).expect("stop");
    h.invoke("vm_restart", json!({})).expect("restart");
    let calls = std::fs::read_to_string(h.dir.path().join("calls")).expect("calls");
    assert_eq!(calls, "start\nstop\nstop\nstart\n");
}

#[test]
fn host_logs_are_read_and_agent_logs_need_the_vm() {
    let h = harness(None);
    std::fs::write(h.paths.console_log(), "one\ntwo\nthree\n").expect("console");
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
fn only_web_addresses_open_in_the_browser() {
    let h = harness(None);
    let err = h
        .invoke("open_url", json!({"url": "file:///etc/passwd"}))
        .expect_err("file url");
    assert_eq!(err["code"], "invalid_input");
}
