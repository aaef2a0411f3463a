//! The Hub and account commands through Tauri's IPC on the mock runtime: search, repository
//! and tags from a stand-in of the Hub's API on a real socket (the settings' `hub_api_url`),
//! input checked before any engine call, and accounts in the real OS keychain (a Secret
//! Service on the session bus: `installer/berth-test` runs these under `dbus-run-session` with
//! GNOME Keyring). Logging in against a real registry, and pulls and pushes with the stored
//! credentials, are proven by ui/e2e/window.test.mjs against a real VM.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_hub::credentials::{Keychain, Secret};
use serde_json::json;

mod common;
use common::Harness;

fn harness(hub_api_url: Option<&str>, keychain: Option<Keychain>) -> Harness {
    Harness::new(|paths, state| {
        if let Some(url) = hub_api_url {
            std::fs::write(
                paths.settings_file(),
                json!({"hub_api_url": url}).to_string(),
            )
            .expect("settings");
        }
        if let Some(keychain) = keychain {
            state.keychain = keychain;
        }
    })
}

async fn search(Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("query").map(String::as_str) == Some("limited") {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "90")], "").into_response();
    }
    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    Json(json!({
        "count": 26,
        "next": (page == 1).then_some("http://stand-in/v2/search/repositories/?page=2"),
        "previous": null,
        "results": [{"repo_name": "busybox", "short_description": "Busybox base image.", "star_count": 3400, "pull_count": 7_000_000_000u64, "repo_owner": "", "is_automated": false, "is_official": true}]
    }))
    .into_response()
}

async fn tags(Path((ns, name)): Path<(String, String)>) -> Response {
    if (ns.as_str(), name.as_str()) != ("library", "busybox") {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "object not found"})),
        )
            .into_response();
    }
    Json(json!({"count": 1, "next": null, "previous": null, "results": [{
        "name": "1.37", "full_size": 2_155_000, "tag_last_pushed": "2026-10-01T12:00:00Z", "digest": "sha256:00",
        "images": [{"architecture": "amd64", "os": "linux", "variant": null, "size": 2_155_000}, {"architecture": "arm", "os": "linux", "variant": "v7", "size": 1_900_000}]
    }]}))
    .into_response()
}

/// The stand-in Hub on its own runtime (the app's commands run on Tauri's).
fn stand_in() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let app = Router::new()
                .route("/v2/search/repositories/", get(search))
                .route("/v2/repositories/{ns}/{name}/tags", get(tags));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    format!("http://{}", rx.recv().expect("address"))
}

#[test]
fn the_hub_view_searches_and_lists_tags_from_the_configured_api() {
    let h = harness(Some(&stand_in()), None);
    let page = h
        .invoke("hub_search", json!({"query": "busybox", "page": 1}))
        .expect("search");
    assert_eq!(page["count"], 26);
    assert_eq!(page["has_next"], true);
    assert_eq!(page["results"][0]["name"], "busybox");
    assert_eq!(page["results"][0]["official"], true);
    assert_eq!(page["results"][0]["pulls"], 7_000_000_000u64);
    let tags = h
        .invoke(
            "hub_tags",
            json!({"name": "busybox", "page": 1, "pageSize": 10}),
        )
        .expect("tags");
    assert_eq!(tags["results"][0]["name"], "1.37");
    assert_eq!(
        tags["results"][0]["architectures"],
        json!(["amd64", "arm/v7"])
    );
    assert_eq!(tags["results"][0]["size"], 2_155_000);

    let err = h
        .invoke("hub_tags", json!({"name": "nobody/nothing", "page": 1}))
        .expect_err("404");
    assert_eq!(err["code"], "hub_not_found");
    let err = h
        .invoke("hub_search", json!({"query": "limited", "page": 1}))
        .expect_err("429");
    assert_eq!(err["code"], "hub_rate_limited");
    assert!(
        err["message"].as_str().unwrap_or_default().contains("90 s"),
        "{err}"
    );
    let err = h
        .invoke("hub_search", json!({"query": " ", "page": 1}))
        .expect_err("empty");
    assert_eq!(
        (err["code"].as_str(), err["field"].as_str()),
        (Some("invalid_input"), Some("query"))
    );
}

#[test]
fn an_unreachable_hub_is_reported_as_offline() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let h = harness(Some(&url), None);
    let err = h
        .invoke("hub_search", json!({"query": "busybox", "page": 1}))
        .expect_err("offline");
    assert_eq!(err["code"], "hub_offline", "{err}");
}

#[test]
fn references_and_logins_are_checked_before_any_engine_call() {
    let h = harness(None, Some(test_keychain("input")));
    for (cmd, args, field) in [
        (
            "image_pull",
            json!({"reference": "Busybox", "onProgress": "__CHANNEL__:1"}),
            "reference",
        ),
        (
            "image_pull",
            json!({"reference": "busybox:-bad", "onProgress": "__CHANNEL__:1"}),
            "reference",
        ),
        (
            "image_push",
            json!({"reference": "host:99999/app", "onProgress": "__CHANNEL__:1"}),
            "reference",
        ),
        (
            "image_tag",
            json!({"id": "x", "target": "team/App:1"}),
            "target",
        ),
        (
            "registry_login",
            json!({"registry": "not a host", "username": "u", "password": "p"}),
            "registry",
        ),
        (
            "registry_login",
            json!({"registry": "", "username": " ", "password": "p"}),
            "username",
        ),
        (
            "registry_login",
            json!({"registry": "", "username": "u", "password": ""}),
            "password",
        ),
    ] {
        let err = h.invoke(cmd, args).expect_err(cmd);
        assert_eq!(err["code"], "invalid_input", "{cmd}: {err}");
        assert_eq!(err["field"], field, "{cmd}: {err}");
    }
    // Valid input reaches the engine, which is not running; nothing was stored.
    let err = h
        .invoke(
            "registry_login",
            json!({"registry": "127.0.0.1:5000", "username": "u", "password": "p"}),
        )
        .expect_err("no engine");
    assert_eq!(err["code"], "vm_not_running");
    let err = h
        .invoke(
            "image_pull",
            json!({"reference": "busybox:1.37", "onProgress": "__CHANNEL__:1"}),
        )
        .expect_err("no engine");
    assert_eq!(err["code"], "vm_not_running");
    assert_eq!(
        h.invoke("registry_accounts", json!({})).expect("accounts"),
        json!([])
    );
}

fn test_keychain(name: &str) -> Keychain {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "these tests use the real Secret Service: run them under installer/berth-test, or in a \
         desktop session with GNOME Keyring (or KWallet) unlocked"
    );
    Keychain::new(format!("berth-test-{name}-{}", std::process::id()))
}

#[test]
fn accounts_live_in_the_os_keychain_and_log_out_removes_them() {
    let keychain = test_keychain("accounts");
    let password = "s3cret-in-keychain-only";
    keychain
        .store(
            "127.0.0.1:5000",
            &Secret {
                username: "alice".into(),
                password: password.into(),
                identity_token: None,
            },
        )
        .expect("store");
    keychain
        .store(
            "docker.io",
            &Secret {
                username: "bob".into(),
                password: "hub-token".into(),
                identity_token: None,
            },
        )
        .expect("store");
    let h = harness(None, Some(keychain.clone()));
    let accounts = h.invoke("registry_accounts", json!({})).expect("accounts");
    assert_eq!(
        accounts,
        json!([{"registry": "127.0.0.1:5000", "username": "alice"}, {"registry": "docker.io", "username": "bob"}])
    );
    assert_eq!(
        keychain
            .get("127.0.0.1:5000")
            .expect("get")
            .map(|s| s.password),
        Some(password.to_owned())
    );
    // Nothing of it in the app's files.
    for entry in walk(h.dir.path()) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains(password),
            "{} holds the password",
            entry.display()
        );
    }
    // "https://index.docker.io/v1/" is the Hub's key too.
    assert_eq!(
        h.invoke(
            "registry_logout",
            json!({"registry": "https://index.docker.io/v1/"})
        )
        .expect("logout"),
        true
    );
    assert_eq!(
        h.invoke("registry_logout", json!({"registry": "docker.io"}))
            .expect("again"),
        false
    );
    assert_eq!(
        h.invoke(
            "registry_logout",
            json!({"registry": "http://127.0.0.1:5000"})
        )
        .expect("logout"),
        true
    );
    assert_eq!(
        h.invoke("registry_accounts", json!({})).expect("accounts"),
        json!([])
    );
    assert!(keychain.get("127.0.0.1:5000").expect("get").is_none());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
