//! Bind mounts of host paths the VM cannot see. The engine runs in the VM, so `docker run -v
//! /srv/data:/data` mounts the VM's `/srv/data`, which the engine creates empty when it is
//! missing: the most confusing failure a newcomer meets. The relay reads every container
//! create on Linux and macOS, finds the binds whose host path is in no shared folder
//! ([`unshared`], with [`crate::shares::Reach`]) and reports each: a `tracing` warning, and a
//! line in the engine's answer, which the docker CLI prints as `WARNING: …` ([`add_to_answer`]:
//! the create's `Warnings`, or, when the engine refused the create, its error message, as for
//! a `--mount` whose source the VM lacks). The create itself goes to the engine unchanged.
//!
//! Named volumes are not host paths; the VM's own paths that tools bind on purpose
//! (`/var/run/docker.sock`, `/proc`, …: [`crate::shares::reach::is_vm_path`]) are not
//! reported. On Windows the relay translates binds instead ([`super::binds`]): every local
//! drive is reachable there.

use std::path::Path;

use serde_json::Value;

use crate::shares::reach::{self, Reach};

/// The largest engine answer read whole to add the warnings to (a create's is ~100 bytes).
pub const MAX_ANSWER: usize = 64 * 1024;

/// The absolute host sources of a create request's bind mounts, in order: each
/// `HostConfig.Binds` entry (`SOURCE:TARGET[:OPTIONS]`) whose source is absolute (others are
/// named volumes) and each `HostConfig.Mounts` entry of `Type: bind`.
pub fn bind_sources(request: &Value) -> Vec<String> {
    let Some(host_config) = request.get("HostConfig") else {
        return Vec::new();
    };
    let binds = host_config
        .get("Binds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|bind| bind.split(':').next().unwrap_or(bind));
    let mounts = host_config
        .get("Mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|mount| mount.get("Type").and_then(Value::as_str) == Some("bind"))
        .filter_map(|mount| mount.get("Source").and_then(Value::as_str));
    binds
        .chain(mounts)
        .filter(|source| source.starts_with('/'))
        .map(str::to_owned)
        .collect()
}

/// The bind sources of the create request `body` that the VM does not find through `reach`
/// and that are not the VM's own paths, each once. A body that is not JSON has none (the
/// engine answers it with its own error).
pub fn unshared(body: &[u8], reach: &Reach) -> Vec<String> {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let mut found: Vec<String> = Vec::new();
    for source in bind_sources(&request) {
        let path = Path::new(&source);
        if !reach::is_vm_path(path) && !reach.reaches(path) && !found.contains(&source) {
            found.push(source);
        }
    }
    found
}

/// The fix for an unshared bind source.
const FIX: &str =
    "add it or a folder above it to `shared_folders` in Berth's settings and restart Berth";

/// What is said about the unshared bind source `source` of a created container: the path,
/// what the container gets, and the fix.
pub fn warning(source: &str) -> String {
    format!(
        "{source} is not in a folder shared with the Berth VM, so the container sees the VM's \
         {source} (an empty folder if the VM has none), not this computer's: {FIX}"
    )
}

/// What is added to the engine's refusal of a create (a `--mount` source the VM lacks) with
/// the unshared bind source `source`.
pub fn refusal(source: &str) -> String {
    format!("{source} is not in a folder shared with the Berth VM: {FIX}")
}

/// The engine's answer `body` to a create whose bind sources `unshared` are not shared:
/// [`warning`]s added to `Warnings` when the create succeeded (`success`), else the
/// [`refusal`]s to the error's `message`. `None` when the body is not the JSON object the
/// engine sends (then it is passed on as it is).
pub fn add_to_answer(body: &[u8], success: bool, unshared: &[String]) -> Option<Vec<u8>> {
    let mut answer = serde_json::from_slice::<Value>(body).ok()?;
    let object = answer.as_object_mut()?;
    if success {
        let list = object
            .entry("Warnings")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !list.is_array() {
            // `null` from older engines.
            *list = Value::Array(Vec::new());
        }
        if let Some(list) = list.as_array_mut() {
            list.extend(unshared.iter().map(|s| Value::String(warning(s))));
        }
    } else {
        let message = object.get("message")?.as_str()?;
        let refusals: Vec<String> = unshared.iter().map(|s| refusal(s)).collect();
        let message = format!("{message} ({})", refusals.join("; "));
        object.insert("message".into(), Value::String(message));
    }
    serde_json::to_vec(&answer).ok()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn sources(request: Value) -> Vec<String> {
        bind_sources(&request)
    }

    #[test]
    fn binds_and_bind_mounts_are_found_and_volumes_are_not() {
        let request = json!({
            "Image": "busybox",
            "HostConfig": {
                "Binds": ["/srv/data:/data:ro", "named:/v", "/only", "rel/x:/y"],
                "Mounts": [
                    {"Type": "bind", "Source": "/opt/conf", "Target": "/conf"},
                    {"Type": "volume", "Source": "cache", "Target": "/cache"},
                    {"Type": "tmpfs", "Target": "/t"},
                    {"Type": "bind"}
                ]
            }
        });
        assert_eq!(sources(request), ["/srv/data", "/only", "/opt/conf"]);
        for nothing in [
            json!({"Image": "busybox"}),
            json!({"HostConfig": {"Binds": null, "Mounts": null}}),
            json!({"HostConfig": {"Binds": "/x:/x", "Mounts": [1, "a"]}}),
            json!([1]),
        ] {
            assert!(sources(nothing).is_empty());
        }
    }

    #[test]
    fn only_sources_outside_every_share_and_the_vm_are_reported() {
        let home = tempfile::tempdir().expect("home");
        let home = std::fs::canonicalize(home.path()).expect("real");
        let reach = Reach::new(std::slice::from_ref(&home));
        let inside = home.join("src").display().to_string();
        let body = json!({"HostConfig": {
            "Binds": [
                format!("{inside}:/src"),
                "/srv/berth-not-shared:/data".to_owned(),
                "/var/run/docker.sock:/var/run/docker.sock".to_owned(),
                "/srv/berth-not-shared:/again".to_owned(),
                "/proc:/host/proc:ro".to_owned(),
                "/:/rootfs:ro".to_owned()
            ],
            "Mounts": [{"Type": "bind", "Source": "/etc/passwd", "Target": "/etc/passwd"}]
        }})
        .to_string();
        assert_eq!(
            unshared(body.as_bytes(), &reach),
            ["/srv/berth-not-shared", "/etc/passwd"]
        );
        assert!(unshared(b"not json", &reach).is_empty());
        assert!(unshared(b"{}", &Reach::new(&[PathBuf::from("/tmp")])).is_empty());
    }

    #[test]
    fn the_warning_names_the_path_and_the_fix() {
        for w in [warning("/srv/data"), refusal("/srv/data")] {
            assert!(
                w.starts_with("/srv/data is not in a folder shared with the Berth VM")
                    && w.contains("shared_folders")
                    && w.ends_with("restart Berth"),
                "{w}"
            );
        }
        assert!(warning("/srv/data").contains("an empty folder"));
    }

    #[test]
    fn warnings_join_the_answer() {
        let unshared = vec!["/a".to_owned(), "/b".to_owned()];
        let add = |body: &str, success| {
            add_to_answer(body.as_bytes(), success, &unshared)
                .map(|b| serde_json::from_slice::<Value>(&b).expect("json"))
        };
        let (one, two) = (warning("/a"), warning("/b"));
        assert_eq!(
            add(r#"{"Id":"c0ffee","Warnings":[]}"#, true),
            Some(json!({"Id": "c0ffee", "Warnings": [one, two]}))
        );
        assert_eq!(
            add(r#"{"Id":"c0ffee","Warnings":["engine's"]}"#, true),
            Some(json!({"Id": "c0ffee", "Warnings": ["engine's", one, two]}))
        );
        assert_eq!(
            add(r#"{"Id":"c0ffee","Warnings":null}"#, true),
            Some(json!({"Id": "c0ffee", "Warnings": [one, two]}))
        );
        assert_eq!(
            add(r#"{"Id":"c0ffee"}"#, true),
            Some(json!({"Id": "c0ffee", "Warnings": [one, two]}))
        );
        assert_eq!(
            add(
                r#"{"message":"bind source path does not exist: /x"}"#,
                false
            ),
            Some(json!({"message": format!(
                "bind source path does not exist: /x ({}; {})",
                refusal("/a"),
                refusal("/b")
            )}))
        );
        assert_eq!(add("not json", true), None);
        assert_eq!(add("[]", true), None);
        assert_eq!(add(r#"{"other":1}"#, false), None);
    }
}
