//! `berth doctor`: checks what Berth needs on this machine and prints the fix for each problem.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use anyhow::Result;
use berth_core::image::GuestImage;
use berth_core::paths::Paths;
use berth_core::settings::{Host, Settings};
use berth_core::{accel, qemu, vsock};

/// The oldest QEMU with everything Berth uses (vhost-user vsock and fs, memfd backends).
const MIN_QEMU: (u32, u32) = (7, 2);

enum Outcome {
    Ok(String),
    Warn(String, String),
    Fail(String, String),
}

/// Runs every check; fails when any check fails.
pub async fn run(image: Option<PathBuf>) -> Result<()> {
    let paths = Paths::for_user()?;
    let mut checks: Vec<(&str, Outcome)> = vec![
        ("QEMU", check_qemu().await),
        ("acceleration", {
            let d = accel::detect();
            Outcome::Ok(format!("{} ({})", d.accel, d.reason))
        }),
        (
            "vhost-device-vsock",
            helper("vhost-device-vsock", "0.3.0", true),
        ),
        ("virtiofsd", helper("virtiofsd", "1.14.0", false)),
        (
            "qemu-img",
            match which("qemu-img") {
                Some(p) => Outcome::Ok(p.display().to_string()),
                None => Outcome::Fail("missing".into(), "sudo apt-get install qemu-utils".into()),
            },
        ),
        (
            "docker CLI",
            match which("docker") {
                Some(p) => Outcome::Ok(p.display().to_string()),
                None => Outcome::Warn(
                    "missing".into(),
                    "sudo apt-get install docker-cli (or docker.io)".into(),
                ),
            },
        ),
        ("settings", check_settings(&paths)),
        ("free disk", check_disk(&paths)),
        ("engine socket", check_socket(&paths)),
    ];
    // A packaged Berth's own image when none is named.
    let image = image.or_else(|| {
        berth_core::install::Layout::current().and_then(|l| l.installed_image().map(PathBuf::from))
    });
    if let Some(image) = image {
        let verified = tokio::task::spawn_blocking(move || GuestImage::open(&image)).await?;
        checks.push((
            "guest image",
            match verified {
                Ok(image) => Outcome::Ok(format!(
                    "{} (kernel {})",
                    image.dir.display(),
                    image.manifest.components["kernel"]
                )),
                Err(err) => Outcome::Fail(err.to_string(), "rebuild it: installer/berth-up".into()),
            },
        ));
    }
    let mut failed = false;
    for (name, outcome) in checks {
        match outcome {
            Outcome::Ok(detail) => println!("ok    {name}: {detail}"),
            Outcome::Warn(detail, fix) => println!("warn  {name}: {detail}\n      fix: {fix}"),
            Outcome::Fail(detail, fix) => {
                failed = true;
                println!("FAIL  {name}: {detail}\n      fix: {fix}");
            }
        }
    }
    if failed {
        anyhow::bail!("some checks failed");
    }
    Ok(())
}

fn which(name: &str) -> Option<PathBuf> {
    vsock::find_helper(name)
}

/// (major, minor) from `QEMU emulator version 7.2.22 (…)`.
pub fn parse_qemu_version(text: &str) -> Option<(u32, u32)> {
    let version = text.split("version ").nth(1)?.split_whitespace().next()?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

async fn check_qemu() -> Outcome {
    let binary = match qemu::find_binary() {
        Ok(binary) => binary,
        Err(err) => {
            return Outcome::Fail(
                err.to_string(),
                "sudo apt-get install qemu-system-x86".into(),
            )
        }
    };
    let out = tokio::process::Command::new(&binary)
        .arg("--version")
        .output()
        .await;
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    match parse_qemu_version(&text) {
        Some(v) if v >= MIN_QEMU => Outcome::Ok(format!("{} {}.{}", binary.display(), v.0, v.1)),
        Some(v) => Outcome::Fail(
            format!(
                "{}.{} is older than {}.{}",
                v.0, v.1, MIN_QEMU.0, MIN_QEMU.1
            ),
            "install a newer qemu-system-x86 (Debian 12 or later)".into(),
        ),
        None => Outcome::Fail(
            format!("{} did not report a version", binary.display()),
            "reinstall qemu-system-x86".into(),
        ),
    }
}

fn helper(name: &str, version: &str, required: bool) -> Outcome {
    match vsock::find_helper(name) {
        Some(path) => Outcome::Ok(path.display().to_string()),
        None => {
            let fix = format!("cargo install --locked {name}@{version}");
            if required {
                Outcome::Fail("missing".into(), fix)
            } else {
                Outcome::Warn("missing (needed for shared folders)".into(), fix)
            }
        }
    }
}

fn check_settings(paths: &Paths) -> Outcome {
    let host = Host::detect();
    let path = paths.config.join("settings.json");
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match Settings::load(&path, Settings::defaults_for(host, home)).and_then(|s| s.validate(host)) {
        Ok(()) => Outcome::Ok(if path.exists() {
            path.display().to_string()
        } else {
            "defaults".into()
        }),
        Err(err) => Outcome::Fail(
            err.to_string(),
            format!("edit or remove {}", path.display()),
        ),
    }
}

// statvfs field types differ between targets (u32 on some 32-bit libcs).
#[allow(clippy::unnecessary_cast)]
fn check_disk(paths: &Paths) -> Outcome {
    let mut dir = paths.data.clone();
    while !dir.exists() {
        if !dir.pop() {
            break;
        }
    }
    match nix::sys::statvfs::statvfs(&dir) {
        Ok(s) => {
            let free_gib =
                (s.blocks_available() as u64).saturating_mul(s.fragment_size() as u64) >> 30;
            if free_gib >= 10 {
                Outcome::Ok(format!("{free_gib} GiB free in {}", dir.display()))
            } else {
                Outcome::Warn(
                    format!("only {free_gib} GiB free in {}", dir.display()),
                    "free some space: images and volumes live there".into(),
                )
            }
        }
        Err(err) => Outcome::Warn(
            format!("cannot check {}: {err}", dir.display()),
            "check the data directory".into(),
        ),
    }
}

fn check_socket(paths: &Paths) -> Outcome {
    let socket = paths.runtime.join("docker.sock");
    let Ok(meta) = std::fs::metadata(&socket) else {
        return Outcome::Ok("not running".into());
    };
    let dir_mode = std::fs::metadata(&paths.runtime)
        .map(|m| m.mode() & 0o777)
        .unwrap_or(0);
    if meta.mode() & 0o777 == 0o600 && dir_mode == 0o700 {
        Outcome::Ok(format!("{} (0600, directory 0700)", socket.display()))
    } else {
        Outcome::Fail(
            format!(
                "{} is {:o} in a {:o} directory",
                socket.display(),
                meta.mode() & 0o777,
                dir_mode
            ),
            "`berth stop`, then `berth start` recreates it private".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_versions() {
        assert_eq!(
            parse_qemu_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\n"),
            Some((7, 2))
        );
        assert_eq!(
            parse_qemu_version("QEMU emulator version 10.0.2"),
            Some((10, 0))
        );
        assert_eq!(parse_qemu_version("garbage"), None);
        assert!(Some((6, 2)) < Some(MIN_QEMU));
    }
}
