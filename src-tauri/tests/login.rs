//! Start at login through the app's commands on the mock runtime: the OS's own entry (on Linux
//! the XDG autostart file under `$HOME`) is what Settings reads and changes, and it launches
//! this executable with `--autostart`, also from a path with spaces and reserved characters (a
//! copy of this test binary, launched from its entry by GLib's `gio launch`). (The real window
//! ticks the box and launches from the entry's `Exec` line in ui/e2e/window.test.mjs.)
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;

use serde_json::json;

mod common;
use common::Harness;

/// Set when this binary runs as the copy at a path with spaces: it only ticks the box.
const ENABLE_ONLY: &str = "BERTH_TEST_LOGIN_ENABLE_ONLY";

// One test in this binary: it points HOME at a directory of its own.
#[test]
fn start_at_login_is_the_xdg_autostart_entry() {
    if std::env::var_os(ENABLE_ONLY).is_some() {
        let h = Harness::new(|_, _| {});
        assert_eq!(
            h.invoke("login_item_set", json!({"enabled": true})),
            Ok(json!(true))
        );
        return;
    }
    let home = tempfile::tempdir().expect("home");
    std::env::set_var("HOME", home.path());
    let h = Harness::new(|_, _| {});
    let entry = home.path().join(".config/autostart/Berth.desktop");

    assert_eq!(h.invoke("login_item_get", json!({})), Ok(json!(false)));
    assert_eq!(
        h.invoke("login_item_set", json!({"enabled": true})),
        Ok(json!(true))
    );
    let text = std::fs::read_to_string(&entry).expect("the autostart entry");
    let exe = std::env::current_exe().expect("exe");
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .expect("an Exec line");
    assert_eq!(exec, format!("{} --autostart", exe.display()), "{text}");
    assert!(text.contains("Type=Application"), "{text}");
    assert_eq!(h.invoke("login_item_get", json!({})), Ok(json!(true)));

    assert_eq!(
        h.invoke("login_item_set", json!({"enabled": false})),
        Ok(json!(false))
    );
    assert!(!entry.exists());
    // Turning it off twice is not an error.
    assert_eq!(
        h.invoke("login_item_set", json!({"enabled": false})),
        Ok(json!(false))
    );

    // A home where the entry cannot be written: a clear, coded error, and still off.
    std::fs::remove_dir(home.path().join(".config/autostart")).expect("the empty directory");
    std::fs::write(home.path().join(".config/autostart"), "not a directory").expect("file");
    let err = h
        .invoke("login_item_set", json!({"enabled": true}))
        .expect_err("a file in the way");
    assert_eq!(err["code"], "login_item", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("cannot change starting at login: "),
        "{err}"
    );
    assert_eq!(h.invoke("login_item_get", json!({})), Ok(json!(false)));

    launches_from_a_path_with_spaces();
}

/// An app unpacked under a path with a space and a `$`: the entry is valid and a desktop's
/// launcher starts that program with `--autostart`.
fn launches_from_a_path_with_spaces() {
    let home = tempfile::tempdir().expect("home");
    let apps = home.path().join("My Apps $1");
    std::fs::create_dir_all(&apps).expect("apps dir");
    let copy = apps.join("berth desktop");
    std::fs::copy(std::env::current_exe().expect("exe"), &copy).expect("copy this test");
    let out = Command::new(&copy)
        .args(["--exact", "start_at_login_is_the_xdg_autostart_entry"])
        .env("HOME", home.path())
        .env(ENABLE_ONLY, "1")
        .output()
        .expect("run the copy");
    assert!(out.status.success(), "{out:?}");
    let entry = home.path().join(".config/autostart/Berth.desktop");
    let text = std::fs::read_to_string(&entry).expect("the autostart entry");
    let exec = text.lines().find(|l| l.starts_with("Exec=")).expect("Exec");
    assert_eq!(
        exec,
        format!(
            r#"Exec="{}/My Apps \\$1/berth desktop" --autostart"#,
            home.path().display()
        )
    );
    let validate = tool("desktop-file-validate", &[&entry]);
    assert!(validate.status.success(), "{validate:?}\n{text}");
    // The launch: the copy is this test binary, whose harness names the argument it was given.
    let launch = tool("gio", &[Path::new("launch"), &entry]);
    let said = String::from_utf8_lossy(&launch.stderr);
    assert!(
        launch.status.success() && said.contains("'autostart'"),
        "{launch:?}\n{text}"
    );
}

/// Runs a desktop tool (installer/lib.sh installs them for the app's tests).
fn tool(name: &str, args: &[&Path]) -> std::process::Output {
    Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name}: {e} (installer/berth-test installs it)"))
}
