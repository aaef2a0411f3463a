//! Windows host paths in the engine's create requests. A Windows docker CLI sends what the
//! user typed: `-v C:\src\app:/app` (and `-v "%cd%":/app`) arrives as the bind
//! `C:\src\app:/app` in `HostConfig.Binds`, `--mount type=bind,source=C:\src,…` as a
//! `HostConfig.Mounts` entry, while the engine in WSL reads Linux paths only.
//! [`translate_create`] rewrites each Windows host path to where WSL mounts it
//! (`/mnt/c/src/app`, [`crate::wsl::paths::to_wsl`]), and refuses with the fix what WSL cannot
//! see: UNC paths, network drives and drives that do not exist.
//!
//! A host path is written `C:\…`, `C:/…`, or the `/c/…` and `//c/…` forms shells such as Git
//! Bash use. Anything else (a named volume, a path inside the VM such as
//! `/var/run/docker.sock`) is the engine's to read and passes unchanged.

use serde_json::Value;

/// What a drive letter names on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drive {
    /// A local drive: WSL mounts it at `/mnt/<letter>`.
    Local,
    /// A network drive, which WSL does not mount.
    Network,
    /// No such drive.
    Missing,
}

/// Tells what a drive letter (upper case) is.
pub type DriveKind = fn(char) -> Drive;

/// A host path the engine in WSL cannot reach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// `\\server\share\…`.
    #[error(
        "{path} is a network path, which the VM cannot reach: copy the folder to a local drive \
         (or map the share to a drive letter that WSL mounts)"
    )]
    Unc {
        /// The path as given.
        path: String,
    },
    /// A drive WSL does not mount.
    #[error("{path} is on {letter}:, {why}: use a folder on a local drive")]
    Drive {
        /// The path as given.
        path: String,
        /// The drive letter.
        letter: char,
        /// Why WSL does not mount it.
        why: &'static str,
    },
    /// A path that names no folder under a drive (`C:\a\..\b`).
    #[error("{path} cannot be shared with the VM: write it without `..`")]
    Unmappable {
        /// The path as given.
        path: String,
    },
}

/// The create request's body with every Windows host path translated, or `None` when nothing
/// needed it (the body is forwarded as sent). A body that is not a JSON object passes
/// unchanged too: the engine answers it with its own error.
pub fn translate_create(body: &[u8], drives: DriveKind) -> Result<Option<Vec<u8>>, BindError> {
    let Ok(mut request) = serde_json::from_slice::<Value>(body) else {
        return Ok(None);
    };
    let Some(host_config) = request.get_mut("HostConfig").and_then(Value::as_object_mut) else {
        return Ok(None);
    };
    let mut changed = false;
    if let Some(binds) = host_config.get_mut("Binds").and_then(Value::as_array_mut) {
        for bind in binds {
            if let Some(translated) = bind.as_str().map(|b| translate_bind(b, drives)) {
                if let Some(translated) = translated? {
                    *bind = Value::String(translated);
                    changed = true;
                }
            }
        }
    }
    if let Some(mounts) = host_config.get_mut("Mounts").and_then(Value::as_array_mut) {
        for mount in mounts.iter_mut().filter_map(Value::as_object_mut) {
            if mount.get("Type").and_then(Value::as_str) != Some("bind") {
                continue;
            }
            let Some(source) = mount.get("Source").and_then(Value::as_str) else {
                continue;
            };
            if let Some(translated) = translate_host_path(source, drives)? {
                mount.insert("Source".into(), Value::String(translated));
                changed = true;
            }
        }
    }
    if !changed {
        return Ok(None);
    }
    // Serializing a `Value` cannot fail.
    Ok(serde_json::to_vec(&request).ok())
}

/// One `Binds` entry (`SOURCE:TARGET[:OPTIONS]`) with a Windows source translated, or `None`
/// when its source is not a Windows host path.
pub fn translate_bind(bind: &str, drives: DriveKind) -> Result<Option<String>, BindError> {
    let Some(source_len) = host_source_len(bind) else {
        return Ok(None);
    };
    let (source, rest) = bind.split_at(source_len);
    Ok(translate_host_path(source, drives)?.map(|source| format!("{source}{rest}")))
}

/// A Windows host path as WSL sees it, or `None` when `path` is not one.
pub fn translate_host_path(path: &str, drives: DriveKind) -> Result<Option<String>, BindError> {
    let unc = |path: &str| BindError::Unc { path: path.into() };
    let windows = if let Some(letter) = shell_drive(path) {
        // `/c/src` and `//c/src`: the drive after the slashes.
        let tail = path.trim_start_matches('/')[1..].to_owned();
        format!("{letter}:{}", if tail.is_empty() { "/" } else { &tail })
    } else if is_drive_path(path) {
        path.to_owned()
    } else if path.starts_with(r"\\") || path.starts_with("//") {
        return Err(unc(path));
    } else {
        return Ok(None);
    };
    let letter = windows
        .chars()
        .next()
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or('C');
    let why = match drives(letter) {
        Drive::Local => None,
        Drive::Network => Some("a network drive, which WSL does not mount"),
        Drive::Missing => Some("a drive this computer does not have"),
    };
    if let Some(why) = why {
        return Err(BindError::Drive {
            path: path.into(),
            letter,
            why,
        });
    }
    crate::wsl::paths::to_wsl(&windows)
        .map(Some)
        .ok_or_else(|| BindError::Unmappable { path: path.into() })
}

/// The length of a bind's Windows host source (up to the `:` before its target), when it
/// starts with one.
fn host_source_len(bind: &str) -> Option<usize> {
    let after_drive = if is_drive_path(bind) {
        2
    } else if shell_drive(bind).is_some() || bind.starts_with(r"\\") || bind.starts_with("//") {
        0
    } else {
        return None;
    };
    Some(
        bind[after_drive..]
            .find(':')
            .map_or(bind.len(), |i| after_drive + i),
    )
}

/// `C:\…`, `c:/…`, or a bare `C:`.
fn is_drive_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes.get(2), None | Some(b'\\' | b'/' | b':'))
}

/// The drive of `/c/…` or `//c/…` (a single letter between the slashes), upper case.
fn shell_drive(path: &str) -> Option<char> {
    let rest = path.strip_prefix("//").or_else(|| path.strip_prefix('/'))?;
    let bytes = rest.as_bytes();
    (bytes.first()?.is_ascii_alphabetic() && matches!(bytes.get(1), None | Some(b'/' | b':')))
        .then(|| char::from(bytes[0]).to_ascii_uppercase())
}

/// What a drive letter is on this Windows machine (`GetDriveTypeW` of its root).
#[cfg(windows)]
pub fn windows_drive(letter: char) -> Drive {
    use windows_sys::Win32::Storage::FileSystem::GetDriveTypeW;
    use windows_sys::Win32::System::WindowsProgramming::{DRIVE_NO_ROOT_DIR, DRIVE_REMOTE};
    let root: Vec<u16> = format!("{letter}:\\")
        .encode_utf16()
        .chain(Some(0))
        .collect();
    // SAFETY: `root` is a NUL-terminated UTF-16 string that outlives the call.
    match unsafe { GetDriveTypeW(root.as_ptr()) } {
        DRIVE_REMOTE => Drive::Network,
        DRIVE_NO_ROOT_DIR => Drive::Missing,
        _ => Drive::Local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C: and D: are local, N: a network drive, nothing else exists.
    fn drives(letter: char) -> Drive {
        match letter {
            'C' | 'D' => Drive::Local,
            'N' => Drive::Network,
            _ => Drive::Missing,
        }
    }

    fn bind(spec: &str) -> Result<Option<String>, BindError> {
        translate_bind(spec, drives)
    }

    #[test]
    fn drive_letter_binds_become_wsl_mounts() {
        assert_eq!(
            bind(r"C:\src\app:/app").expect("valid").as_deref(),
            Some("/mnt/c/src/app:/app")
        );
        assert_eq!(
            bind(r"c:\Users\Ann Lee\My Project:/work:ro")
                .expect("valid")
                .as_deref(),
            Some("/mnt/c/Users/Ann Lee/My Project:/work:ro")
        );
        assert_eq!(
            bind("D:/data/set:/data:rw,z").expect("valid").as_deref(),
            Some("/mnt/d/data/set:/data:rw,z")
        );
        assert_eq!(
            bind(r"C:\:/c").expect("valid").as_deref(),
            Some("/mnt/c:/c")
        );
        // What a shell such as Git Bash writes.
        assert_eq!(
            bind("/c/Users/ann/src:/src").expect("valid").as_deref(),
            Some("/mnt/c/Users/ann/src:/src")
        );
        assert_eq!(
            bind("//d/data:/data").expect("valid").as_deref(),
            Some("/mnt/d/data:/data")
        );
    }

    #[test]
    fn volumes_and_guest_paths_pass_unchanged() {
        for spec in [
            "data:/var/lib/data",
            "/var/run/docker.sock:/var/run/docker.sock",
            "/mnt/c/src:/src",
            "/cache:/cache",
        ] {
            assert_eq!(bind(spec).expect("valid"), None, "{spec}");
        }
    }

    #[test]
    fn what_wsl_cannot_see_is_refused_with_the_fix() {
        let err = bind(r"\\fileserver\team\src:/src").expect_err("refused");
        assert_eq!(
            err,
            BindError::Unc {
                path: r"\\fileserver\team\src".into()
            }
        );
        assert!(err.to_string().contains("local drive"), "{err}");
        assert!(matches!(
            bind("//fileserver/team:/src"),
            Err(BindError::Unc { .. })
        ));
        let err = bind(r"N:\shared:/s").expect_err("refused");
        assert!(err.to_string().contains("network drive"), "{err}");
        let err = bind(r"Q:\x:/x").expect_err("refused");
        assert_eq!(
            err,
            BindError::Drive {
                path: r"Q:\x".into(),
                letter: 'Q',
                why: "a drive this computer does not have"
            }
        );
        assert!(matches!(
            bind(r"C:\a\..\b:/b"),
            Err(BindError::Unmappable { .. })
        ));
    }

    #[test]
    fn a_create_request_has_its_binds_and_bind_mounts_translated() {
        let body = serde_json::json!({
            "Image": "busybox",
            "Cmd": ["ls", "/app"],
            "HostConfig": {
                "Binds": [r"C:\src\app:/app", "cache:/cache"],
                "Mounts": [
                    {"Type": "bind", "Source": r"D:\data", "Target": "/data", "ReadOnly": true},
                    {"Type": "volume", "Source": "named", "Target": "/v"}
                ],
                "Memory": 0
            }
        });
        let out = translate_create(body.to_string().as_bytes(), drives)
            .expect("valid")
            .expect("translated");
        let out: Value = serde_json::from_slice(&out).expect("valid");
        assert_eq!(
            out["HostConfig"]["Binds"],
            serde_json::json!(["/mnt/c/src/app:/app", "cache:/cache"])
        );
        assert_eq!(out["HostConfig"]["Mounts"][0]["Source"], "/mnt/d/data");
        assert_eq!(out["HostConfig"]["Mounts"][0]["ReadOnly"], true);
        assert_eq!(out["HostConfig"]["Mounts"][1]["Source"], "named");
        assert_eq!(out["Cmd"], body["Cmd"]);
        assert_eq!(out["HostConfig"]["Memory"], 0);
    }

    #[test]
    fn requests_with_nothing_to_translate_are_forwarded_as_sent() {
        for body in [
            &br#"{"Image":"busybox","HostConfig":{"Binds":["vol:/v"]}}"#[..],
            br#"{"Image":"busybox"}"#,
            b"not json",
            b"",
            br#"["HostConfig"]"#,
            br#"{"HostConfig":{"Binds":"C:\\x:/x","Mounts":[1,{"Type":"bind"}]}}"#,
        ] {
            assert_eq!(translate_create(body, drives).expect("valid"), None);
        }
        let err = translate_create(
            br#"{"HostConfig":{"Mounts":[{"Type":"bind","Source":"\\\\srv\\s"}]}}"#,
            drives,
        )
        .expect_err("refused");
        assert!(matches!(err, BindError::Unc { .. }));
    }

    /// This machine's drives as Windows reports them (under Wine: C: is the prefix's drive,
    /// and no drive has a letter past Z).
    #[cfg(windows)]
    #[test]
    fn windows_reports_its_drives() {
        assert_eq!(windows_drive('C'), Drive::Local);
        let missing = ('D'..='Y').find(|&l| windows_drive(l) == Drive::Missing);
        assert!(
            missing.is_some(),
            "every letter from D to Y is a drive here?"
        );
    }
}
