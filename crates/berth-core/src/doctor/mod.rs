//! What Berth needs on this machine, as typed checks: each names what it looked at, what it
//! found and, for a problem, the fix. `berth doctor` prints them; the app shows them as rows.
//!
//! On Linux: QEMU and its acceleration, the vhost-device-vsock and virtiofsd helpers, qemu-img,
//! the docker CLI, the settings, free disk space, the engine socket's privacy and the guest
//! image. On Windows: WSL and its version, virtualization in the firmware, and Berth's WSL
//! distributions ([`wsl`]), then the docker CLI, the settings and the image. Elsewhere only the
//! checks that apply there run (no QEMU on macOS or Windows).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::image::GuestImage;
use crate::paths::Paths;
use crate::settings::{Host, Settings};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Fine.
    Ok,
    /// Works, with a limit (a missing optional helper, little disk space).
    Warn,
    /// Berth cannot run until it is fixed.
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Check {
    /// What was checked (`QEMU`, `settings`…).
    pub name: String,
    /// How it came out.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// What to do about a warning or failure.
    pub fix: Option<String>,
}

impl Check {
    pub(crate) fn ok(name: &str, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: CheckStatus::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(crate) fn warn(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: CheckStatus::Warn,
            fix: Some(fix.into()),
            ..Check::ok(name, detail)
        }
    }

    pub(crate) fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: CheckStatus::Fail,
            fix: Some(fix.into()),
            ..Check::ok(name, detail)
        }
    }
}

/// `ok    name: detail`, `warn  name: detail` or `FAIL  name: detail`, then `      fix: …` on
/// a second line when there is a fix.
impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match self.status {
            CheckStatus::Ok => "ok  ",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "FAIL",
        };
        write!(f, "{status}  {}: {}", self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n      fix: {fix}")?;
        }
        Ok(())
    }
}

/// The oldest QEMU with everything Berth uses (vhost-user vsock and fs, memfd backends).
pub const MIN_QEMU: (u32, u32) = (7, 2);

/// Runs every check that applies on this OS. `image` is the guest image to verify; without one
/// an installed Berth's own image is verified, if there is one.
pub async fn checks(paths: &Paths, image: Option<PathBuf>) -> Vec<Check> {
    let mut checks = Vec::new();
    #[cfg(target_os = "linux")]
    checks.push(check_qemu().await);
    let paths = paths.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        let mut checks = Vec::new();
        #[cfg(windows)]
        checks.extend(wsl::checks(&paths));
        #[cfg(target_os = "linux")]
        {
            let d = crate::accel::detect();
            checks.push(Check::ok(
                "acceleration",
                format!("{} ({})", d.accel, d.reason),
            ));
            checks.push(helper("vhost-device-vsock", "0.3.0", true));
            checks.push(helper("virtiofsd", "1.14.0", false));
            checks.push(match which("qemu-img") {
                Some(p) => Check::ok("qemu-img", p.display().to_string()),
                None => Check::fail("qemu-img", "missing", "sudo apt-get install qemu-utils"),
            });
        }
        checks.push(match which(DOCKER) {
            Some(p) => Check::ok("docker CLI", p.display().to_string()),
            None => Check::warn("docker CLI", "missing", DOCKER_FIX),
        });
        checks.push(check_settings(&paths));

        #[cfg(unix)]
        {
            checks.push(unix::check_disk(&paths));
            checks.push(unix::check_socket(&paths));
        }
        // A packaged Berth's own image when none is named.
        let image = image.or_else(|| {
            crate::install::Layout::current().and_then(|l| l.installed_image().map(PathBuf::from))
        });
        if let Some(image) = image {
            checks.push(check_image(&image));
        }
        checks
    });
    match blocking.await {
        Ok(more) => checks.extend(more),
        Err(err) => checks.push(Check::fail(
            "doctor",
            format!("the checks stopped: {err}"),
            "run `berth doctor` again",
        )),
    }
    checks
}

#[cfg(windows)]
const DOCKER: &str = "docker.exe";
#[cfg(not(windows))]
const DOCKER: &str = "docker";

#[cfg(target_os = "linux")]
const DOCKER_FIX: &str = "sudo apt-get install docker-cli (or docker.io)";
#[cfg(target_os = "macos")]
const DOCKER_FIX: &str = "brew install docker";
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
const DOCKER_FIX: &str = "install the Docker CLI (docker.exe) on PATH";

fn which(name: &str) -> Option<PathBuf> {
    crate::vsock::find_helper(name)
}

/// (major, minor) from `QEMU emulator version 7.2.22 (…)`.
pub fn parse_qemu_version(text: &str) -> Option<(u32, u32)> {
    let version = text.split("version ").nth(1)?.split_whitespace().next()?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

#[cfg(target_os = "linux")]
async fn check_qemu() -> Check {
    const NAME: &str = "QEMU";
    let binary = match crate::qemu::find_binary() {
        Ok(binary) => binary,
        Err(err) => {
            return Check::fail(
                NAME,
                err.to_string(),
                "sudo apt-get install qemu-system-x86",
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
        Some(v) if v >= MIN_QEMU => {
            Check::ok(NAME, format!("{} {}.{}", binary.display(), v.0, v.1))
        }
        Some(v) => Check::fail(
            NAME,
            format!(
                "{}.{} is older than {}.{}",
                v.0, v.1, MIN_QEMU.0, MIN_QEMU.1
            ),
            "install a newer qemu-system-x86 (Debian 12 or later)",
        ),
        None => Check::fail(
            NAME,
            format!("{} did not report a version", binary.display()),
            "reinstall qemu-system-x86",
        ),
    }
}

#[cfg(target_os = "linux")]
fn helper(name: &str, version: &str, required: bool) -> Check {
    match which(name) {
        Some(path) => Check::ok(name, path.display().to_string()),
        None => {
            let fix = format!("cargo install --locked {name}@{version}");
            if required {
                Check::fail(name, "missing", fix)
            } else {
                Check::warn(name, "missing (needed for shared folders)", fix)
            }
        }
    }
}

fn check_settings(paths: &Paths) -> Check {
    const NAME: &str = "settings";
    let host = Host::detect();
    let path = paths.settings_file();
    match Settings::load_for(paths, host).and_then(|s| s.validate(host)) {
        Ok(()) => Check::ok(
            NAME,
            if path.exists() {
                path.display().to_string()
            } else {
                "defaults".into()
            },
        ),
        Err(err) => Check::fail(
            NAME,
            err.to_string(),
            format!("edit or remove {}", path.display()),
        ),
    }
}

/// Days after which a guest image's packages are reported as missing security fixes (Debian
/// publishes them several times a month).
pub const IMAGE_STALE_DAYS: u64 = 30;

fn check_image(image: &std::path::Path) -> Check {
    const NAME: &str = "guest image";
    match GuestImage::open(image) {
        Ok(image) => {
            let detail = format!(
                "{} (kernel {})",
                image.dir.display(),
                image
                    .manifest
                    .components
                    .get("kernel")
                    .map_or("unknown", String::as_str)
            );
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            image_age(NAME, detail, image.manifest.packages_date, now)
        }
        Err(err) => Check::fail(NAME, err.to_string(), "rebuild it: installer/berth-up"),
    }
}

/// The image check by the age of its packages: a warning past [`IMAGE_STALE_DAYS`], or when the
/// image does not say (built before Berth recorded it).
fn image_age(name: &str, detail: String, packages_date: Option<u64>, now: u64) -> Check {
    const FIX: &str = "update Berth, or rebuild the image (vm-image/build.sh, installer/berth-up) to get Debian's security fixes";
    match packages_date {
        Some(date) if now.saturating_sub(date) <= IMAGE_STALE_DAYS * 86_400 => Check::ok(
            name,
            format!("{detail}; packages of {}", day(date)),
        ),
        Some(date) => Check::warn(
            name,
            format!(
                "{detail}; its packages are from {} ({} days ago): security fixes published since are not in it",
                day(date),
                now.saturating_sub(date) / 86_400
            ),
            FIX,
        ),
        None => Check::warn(
            name,
            format!("{detail}; it does not say how old its packages are"),
            FIX,
        ),
    }
}

/// `YYYY-MM-DD` of Unix seconds (UTC).
fn day(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| secs.to_string(), |t| t.strftime("%Y-%m-%d").to_string())
}

pub mod wsl;

#[cfg(unix)]
mod unix {
    use std::os::unix::fs::MetadataExt;

    use super::Check;
    use crate::paths::Paths;

    // statvfs field types differ between targets (u32 on some 32-bit libcs).
    #[allow(clippy::unnecessary_cast)]
    pub(super) fn check_disk(paths: &Paths) -> Check {
        const NAME: &str = "free disk";
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
                    Check::ok(NAME, format!("{free_gib} GiB free in {}", dir.display()))
                } else {
                    Check::warn(
                        NAME,
                        format!("only {free_gib} GiB free in {}", dir.display()),
                        "free some space: images and volumes live there",
                    )
                }
            }
            Err(err) => Check::warn(
                NAME,
                format!("cannot check {}: {err}", dir.display()),
                "check the data directory",
            ),
        }
    }

    pub(super) fn check_socket(paths: &Paths) -> Check {
        const NAME: &str = "engine socket";
        let socket = paths.engine_socket();
        let Ok(meta) = std::fs::metadata(&socket) else {
            return Check::ok(NAME, "not running");
        };
        let dir_mode = std::fs::metadata(&paths.runtime)
            .map(|m| m.mode() & 0o777)
            .unwrap_or(0);
        if meta.mode() & 0o777 == 0o600 && dir_mode == 0o700 {
            Check::ok(NAME, format!("{} (0600, directory 0700)", socket.display()))
        } else {
            Check::fail(
                NAME,
                format!(
                    "{} is {:o} in a {:o} directory",
                    socket.display(),
                    meta.mode() & 0o777,
                    dir_mode
                ),
                "`berth stop`, then `berth start` recreates it private",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_with_old_packages_is_named_with_its_date() {
        let day_secs = 86_400;
        let built = 1_796_441_610; // 2026-12-05
        let fresh = image_age(
            "guest image",
            "img".into(),
            Some(built),
            built + 3 * day_secs,
        );
        assert_eq!(fresh.status, CheckStatus::Ok, "{fresh}");
        assert!(
            fresh.to_string().contains("packages of 2026-12-05"),
            "{fresh}"
        );
        let stale = image_age(
            "guest image",
            "img".into(),
            Some(built),
            built + 45 * day_secs,
        );
        assert_eq!(stale.status, CheckStatus::Warn, "{stale}");
        assert!(
            stale.to_string().contains("from 2026-12-05 (45 days ago)"),
            "{stale}"
        );
        assert!(stale.to_string().contains("security fixes"), "{stale}");
        let unknown = image_age("guest image", "img".into(), None, built);
        assert_eq!(unknown.status, CheckStatus::Warn, "{unknown}");
    }

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

    #[test]
    fn checks_print_as_berth_doctor_always_has() {
        assert_eq!(
            Check::ok("QEMU", "/usr/bin/qemu-system-x86_64 8.2").to_string(),
            "ok    QEMU: /usr/bin/qemu-system-x86_64 8.2"
        );
        assert_eq!(
            Check::warn("docker CLI", "missing", "install it").to_string(),
            "warn  docker CLI: missing\n      fix: install it"
        );
        assert_eq!(
            Check::fail("qemu-img", "missing", "apt").to_string(),
            "FAIL  qemu-img: missing\n      fix: apt"
        );
        let json = serde_json::to_value(Check::fail("a", "b", "c")).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"name": "a", "status": "fail", "detail": "b", "fix": "c"})
        );
    }

    #[tokio::test]
    async fn a_broken_settings_file_fails_its_check() {
        let root = tempfile::tempdir().expect("tempdir");
        let paths = Paths::under(root.path());
        std::fs::create_dir_all(&paths.config).expect("config");
        std::fs::write(paths.settings_file(), r#"{"cpuz": 1}"#).expect("write");
        let all = checks(&paths, Some(root.path().join("no-image"))).await;
        let find = |name: &str| all.iter().find(|c| c.name == name).expect(name);
        let settings = find("settings");
        assert_eq!(settings.status, CheckStatus::Fail);
        assert!(settings.detail.contains("cpuz"), "{settings}");
        assert_eq!(find("guest image").status, CheckStatus::Fail);
        #[cfg(unix)]
        assert_eq!(find("engine socket").detail, "not running");
    }
}
