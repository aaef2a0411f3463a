//! The Windows checks: WSL present and its version (`wsl --version`, UTF-16LE; the old inbox
//! `wsl.exe` has no such option), virtualization enabled in the firmware, and Berth's
//! distributions (which image the system distribution holds, whether the data distribution is
//! there, a foreign distribution with Berth's name). Each is a pure function of what was found,
//! unit-tested on every OS; on Windows [`checks`] finds it (a few thin calls).

use std::path::Path;

use super::Check;
use crate::wsl::command::{self, Distribution, MISSING_FIX, VIRTUALIZATION_FIX};
use crate::wsl::distro::{self, State, StateError, DATA_DISTRIBUTION};

/// The check of WSL itself.
pub const WSL: &str = "WSL";
/// The check of the firmware's virtualization.
pub const VIRTUALIZATION: &str = "virtualization";
/// The check of Berth's distributions.
pub const DISTRIBUTION: &str = "WSL distribution";

/// What running `wsl.exe --version` gave: its output and whether it succeeded, or why it did
/// not run.
pub type VersionRun = Result<(bool, Vec<u8>), std::io::Error>;

/// WSL present, and its version.
pub fn wsl_check(exe: &Path, run: &VersionRun) -> Check {
    let (succeeded, stdout) = match run {
        Ok(out) => out,
        Err(err) => {
            return Check::fail(
                WSL,
                format!("cannot run {}: {err}", exe.display()),
                MISSING_FIX,
            )
        }
    };
    let text = command::decode_output(stdout);
    if let (true, Some(version)) = (succeeded, command::parse_version(&text)) {
        let kernel = version
            .kernel
            .map(|k| format!(", kernel {k}"))
            .unwrap_or_default();
        return Check::ok(WSL, format!("{} {}{kernel}", exe.display(), version.wsl));
    }
    match command::explain_failure(&text) {
        Some(MISSING_FIX) => Check::fail(WSL, "WSL is not installed", MISSING_FIX),
        Some(VIRTUALIZATION_FIX) => {
            Check::fail(WSL, first_line(&text), VIRTUALIZATION_FIX)
        }
        _ => Check::warn(
            WSL,
            "this wsl.exe has no --version: it is the old WSL built into Windows",
            "update WSL: `wsl --update` (or install the current one: `wsl --install --no-distribution`)",
        ),
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("wsl.exe failed")
        .to_owned()
}

/// Virtualization: on in the firmware (`PF_VIRT_FIRMWARE_ENABLED`), or a hypervisor already
/// running (then Windows itself runs on Hyper-V, and the firmware flag is not reported).
pub fn virtualization_check(firmware_enabled: bool, hypervisor_running: bool) -> Check {
    match (firmware_enabled, hypervisor_running) {
        (true, _) => Check::ok(VIRTUALIZATION, "enabled in the firmware"),
        (false, true) => Check::ok(VIRTUALIZATION, "a hypervisor is running (Hyper-V)"),
        (false, false) => Check::fail(
            VIRTUALIZATION,
            "not enabled in the firmware and no hypervisor running",
            "turn on virtualization (Intel VT-x or AMD-V/SVM) in the PC's UEFI/BIOS settings, then enable the Virtual Machine Platform: `wsl --install --no-distribution`",
        ),
    }
}

/// Berth's distributions, from the state file, WSL's list and the disks in the install
/// directory (see [`distro`]).
pub fn distribution_check(
    state: Result<State, StateError>,
    listed: &[Distribution],
    disks: &[String],
) -> Check {
    let state = match state {
        Ok(state) => state,
        Err(err) => {
            return Check::fail(
                DISTRIBUTION,
                err.to_string(),
                "move the state file away; `berth start` then finds Berth's distributions by their disks",
            )
        }
    };
    let is_listed = |name: &str| listed.iter().any(|d| d.name.eq_ignore_ascii_case(name));
    let ours = |name: &str| state.owns(name) || disks.iter().any(|d| d.eq_ignore_ascii_case(name));
    let foreign: Vec<&str> = listed
        .iter()
        .map(|d| d.name.as_str())
        .filter(|n| {
            (n.eq_ignore_ascii_case(DATA_DISTRIBUTION) || distro::is_system_name(n)) && !ours(n)
        })
        .collect();
    if let Some(name) = foreign.first() {
        let err = distro::PlanError::Foreign((*name).to_owned());
        return Check::fail(
            DISTRIBUTION,
            format!("{name} exists and Berth did not create it"),
            err.to_string(),
        );
    }
    let data_lost = state.owns(DATA_DISTRIBUTION) && !is_listed(DATA_DISTRIBUTION);
    let Some(current) = &state.current else {
        return Check::ok(
            DISTRIBUTION,
            "none imported yet (`berth start` imports them)",
        );
    };
    if !is_listed(&current.name) {
        return Check::warn(
            DISTRIBUTION,
            format!("{} was unregistered outside Berth", current.name),
            if data_lost {
                format!("`berth start` imports it again, and an empty {DATA_DISTRIBUTION}: the images and volumes are gone")
            } else {
                format!("`berth start` imports it again (the images and volumes in {DATA_DISTRIBUTION} are intact)")
            },
        );
    }
    let image = current.image.get(..12).unwrap_or(&current.image);
    let previous = state
        .previous
        .as_ref()
        .filter(|p| is_listed(&p.name))
        .map(|p| format!("; previous {}", p.name))
        .unwrap_or_default();
    if data_lost {
        return Check::warn(
            DISTRIBUTION,
            format!(
                "{} (image {image}…), but {DATA_DISTRIBUTION} was unregistered outside Berth",
                current.name
            ),
            format!("`berth start` imports an empty {DATA_DISTRIBUTION}: the images and volumes it held are gone"),
        );
    }
    Check::ok(
        DISTRIBUTION,
        format!(
            "{} (image {image}…), images and volumes in {DATA_DISTRIBUTION}{previous}",
            current.name
        ),
    )
}

/// The Windows checks, in order (blocking: `checks` runs them off the async workers).
#[cfg(windows)]
pub fn checks(paths: &crate::paths::Paths) -> Vec<Check> {
    let exe = command::default_wsl_exe();
    let run = |args: Vec<std::ffi::OsString>| -> VersionRun {
        use std::os::windows::process::CommandExt;
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        let out = std::process::Command::new(&exe)
            .args(args)
            .stdin(std::process::Stdio::null())
            .creation_flags(CREATE_NO_WINDOW)
            .output()?;
        Ok((out.status.success(), out.stdout))
    };
    let version = run(command::version());
    let wsl = wsl_check(&exe, &version);
    let wsl_runs = version.is_ok();
    let mut checks = vec![
        wsl,
        virtualization_check(firmware_virtualization(), hypervisor_running()),
    ];
    if wsl_runs {
        let listed = run(command::list())
            .map(|(_, out)| command::parse_list(&command::decode_output(&out)))
            .unwrap_or_default();
        let dir = paths.wsl_dir();
        checks.push(distribution_check(
            State::load(&dir),
            &listed,
            &distro::disks_in(&dir),
        ));
    }
    checks
}

/// `IsProcessorFeaturePresent(PF_VIRT_FIRMWARE_ENABLED)`.
#[cfg(windows)]
fn firmware_virtualization() -> bool {
    use windows_sys::Win32::System::Threading::{
        IsProcessorFeaturePresent, PF_VIRT_FIRMWARE_ENABLED,
    };
    // SAFETY: a query with a constant argument; no memory is passed.
    unsafe { IsProcessorFeaturePresent(PF_VIRT_FIRMWARE_ENABLED) != 0 }
}

/// Whether a hypervisor runs this Windows (CPUID leaf 1, ECX bit 31).
#[cfg(windows)]
fn hypervisor_running() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: CPUID leaf 1 exists on every x86-64 CPU and only reads registers.
        #[allow(unused_unsafe)]
        let leaf = unsafe { std::arch::x86_64::__cpuid(1) };
        leaf.ecx & (1 << 31) != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::CheckStatus;
    use crate::wsl::command::OUTDATED_FIX;
    use crate::wsl::distro::Installed;

    fn utf16(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn row(name: &str) -> Distribution {
        Distribution {
            name: name.into(),
            state: "Stopped".into(),
            version: 2,
            default: false,
        }
    }

    const EXE: &str = r"C:\Windows\System32\wsl.exe";

    #[test]
    fn the_store_wsl_reports_its_version() {
        let out = utf16(
            "WSL version: 2.3.26.0\r\nKernel version: 5.15.167.4-1\r\nWSLg version: 1.0.65\r\n",
        );
        let check = wsl_check(Path::new(EXE), &Ok((true, out)));
        assert_eq!(check.status, CheckStatus::Ok);
        assert!(
            check.detail.ends_with("2.3.26.0, kernel 5.15.167.4-1"),
            "{check}"
        );
    }

    #[test]
    fn no_wsl_exe_names_the_install_command() {
        let missing = Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        let check = wsl_check(Path::new(EXE), &missing);
        assert_eq!(check.status, CheckStatus::Fail);
        assert_eq!(
            check.fix.as_deref(),
            Some("install WSL: `wsl --install --no-distribution` (as an administrator), then restart Windows")
        );
        // The stub wsl.exe of a Windows without WSL says it is not installed.
        let stub = utf16("Windows Subsystem for Linux is not installed. You can install by running 'wsl.exe --install'.\r\n");
        let check = wsl_check(Path::new(EXE), &Ok((false, stub)));
        assert_eq!(check.status, CheckStatus::Fail);
        assert_eq!(check.fix.as_deref(), Some(MISSING_FIX));
    }

    #[test]
    fn the_inbox_wsl_is_told_to_update() {
        let inbox = utf16("Invalid command line option: --version\r\nUsage: wsl.exe [Argument] [Options...] [CommandLine]\r\n");
        let check = wsl_check(Path::new(EXE), &Ok((false, inbox)));
        assert_eq!(check.status, CheckStatus::Warn);
        assert!(
            check
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("wsl --update")),
            "{check}"
        );
        assert_ne!(OUTDATED_FIX, "");
    }

    #[test]
    fn virtualization_off_names_the_firmware() {
        assert_eq!(virtualization_check(true, false).status, CheckStatus::Ok);
        assert_eq!(virtualization_check(false, true).status, CheckStatus::Ok);
        let off = virtualization_check(false, false);
        assert_eq!(off.status, CheckStatus::Fail);
        assert!(
            off.fix.as_deref().is_some_and(|f| f.contains("UEFI/BIOS")),
            "{off}"
        );
    }

    fn state(current: Option<&str>, previous: Option<&str>) -> State {
        let installed = |name: &str| Installed {
            name: name.into(),
            image: format!("{}{}", &name[6..], "0".repeat(52)),
        };
        let mut state = State {
            current: current.map(installed),
            previous: previous.map(installed),
            ..State::default()
        };
        state.adopt(DATA_DISTRIBUTION);
        for name in [current, previous].into_iter().flatten() {
            state.adopt(name);
        }
        state
    }

    #[test]
    fn the_distribution_check_names_the_image_and_the_previous_one() {
        let listed = [
            row(DATA_DISTRIBUTION),
            row("berth-aaaaaaaaaaaa"),
            row("berth-bbbbbbbbbbbb"),
            row("Ubuntu"),
        ];
        let check = distribution_check(
            Ok(state(
                Some("berth-bbbbbbbbbbbb"),
                Some("berth-aaaaaaaaaaaa"),
            )),
            &listed,
            &[],
        );
        assert_eq!(check.status, CheckStatus::Ok, "{check}");
        assert_eq!(
            check.detail,
            "berth-bbbbbbbbbbbb (image bbbbbbbbbbbb…), images and volumes in berth-data; previous berth-aaaaaaaaaaaa"
        );
        let none = distribution_check(Ok(State::default()), &[row("Ubuntu")], &[]);
        assert_eq!(none.status, CheckStatus::Ok);
        assert!(none.detail.contains("berth start"), "{none}");
    }

    #[test]
    fn distributions_removed_or_foreign_are_named_with_the_fix() {
        let s = state(Some("berth-aaaaaaaaaaaa"), None);
        let system_gone = distribution_check(Ok(s.clone()), &[row(DATA_DISTRIBUTION)], &[]);
        assert_eq!(system_gone.status, CheckStatus::Warn);
        assert!(
            system_gone
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("intact")),
            "{system_gone}"
        );
        let data_gone = distribution_check(Ok(s.clone()), &[row("berth-aaaaaaaaaaaa")], &[]);
        assert_eq!(data_gone.status, CheckStatus::Warn);
        assert!(
            data_gone.fix.as_deref().is_some_and(|f| f.contains("gone")),
            "{data_gone}"
        );
        let foreign = distribution_check(Ok(State::default()), &[row("berth-data")], &[]);
        assert_eq!(foreign.status, CheckStatus::Fail);
        assert!(
            foreign
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("wsl --unregister berth-data")),
            "{foreign}"
        );
        // Berth's disk in the install directory makes it Berth's.
        let ours = distribution_check(
            Ok(State::default()),
            &[row("berth-data")],
            &["berth-data".into()],
        );
        assert_eq!(ours.status, CheckStatus::Ok, "{ours}");
        let bad = distribution_check(
            Err(StateError::Invalid {
                path: "distributions.json".into(),
                dir: "wsl".into(),
                why: "schema 9".into(),
            }),
            &[],
            &[],
        );
        assert_eq!(bad.status, CheckStatus::Fail);
    }
}
