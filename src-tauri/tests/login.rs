//! Start at login through the app's commands on the mock runtime: the OS's own entry (on Linux
//! the XDG autostart file under `$HOME`) is what Settings reads and changes, and it launches
//! this executable with `--autostart`. (The real window ticks the box and launches from the
//! entry's `Exec` line in ui/e2e/window.test.mjs.)
#![cfg(target_os = "linux")]

use serde_json::json;

mod common;
use common::Harness;

// One test in this binary: it points HOME at a directory of its own.
#[test]
fn start_at_login_is_the_xdg_autostart_entry() {
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
}
