//! `wsl.exe` command lines and the parsing of what it prints. `wsl.exe` writes its own messages
//! (`--list`, errors) in UTF-16LE, while commands run inside a distribution print their own
//! encoding (the agent: UTF-8): [`decode_output`] takes either.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use berth_protocol::settings::AgentSettings;

/// The argument that switches the agent into WSL mode (not PID 1; settings from its
/// arguments instead of the kernel command line).
pub const AGENT_WSL_FLAG: &str = berth_protocol::boot::WSL_MODE_FLAG;

/// Where the image puts the agent inside the root.
pub const AGENT_PATH: &str = "/usr/sbin/init";

/// `wsl --import DISTRO INSTALL_DIR ROOT_TAR --version 2`: registers the root tarball as a WSL 2
/// distribution whose virtual disk lives in `install_dir`.
pub fn import(distro: &str, install_dir: &Path, root_tar: &Path) -> Vec<OsString> {
    vec![
        "--import".into(),
        distro.into(),
        install_dir.as_os_str().to_owned(),
        root_tar.as_os_str().to_owned(),
        "--version".into(),
        "2".into(),
    ]
}

/// `wsl --unregister DISTRO`: deletes the distribution and its virtual disk.
pub fn unregister(distro: &str) -> Vec<OsString> {
    vec!["--unregister".into(), distro.into()]
}

/// `wsl --terminate DISTRO`: stops every process of the distribution.
pub fn terminate(distro: &str) -> Vec<OsString> {
    vec!["--terminate".into(), distro.into()]
}

/// `wsl --list --verbose`.
pub fn list() -> Vec<OsString> {
    vec!["--list".into(), "--verbose".into()]
}

/// `wsl --version`: WSL's own version and its kernel's (the Store WSL; the old inbox one
/// has no such option).
pub fn version() -> Vec<OsString> {
    vec!["--version".into()]
}

/// `wsl.exe` where Windows installs it (`%SystemRoot%\System32\wsl.exe`), or plain
/// `wsl.exe` (looked up on `PATH`) when `SystemRoot` is not set.
pub fn default_wsl_exe() -> PathBuf {
    match std::env::var_os("SystemRoot") {
        Some(root) => Path::new(&root).join("System32").join("wsl.exe"),
        None => PathBuf::from("wsl.exe"),
    }
}

/// `--distribution DISTRO --user root --cd / --exec /usr/sbin/init`, the start of every agent
/// command line: as root, without a shell (so no argument is reinterpreted).
fn exec_agent(distro: &str) -> Vec<OsString> {
    [
        "--distribution",
        distro,
        "--user",
        "root",
        "--cd",
        "/",
        "--exec",
        AGENT_PATH,
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

/// Runs the agent in WSL mode in the system distribution `distro`, with the engine's data in
/// `data_dir` (the data distribution's share; `--data-dir`) and the settings the QEMU backend
/// puts on the kernel command line as its arguments (`berth.KEY=VALUE`, percent-encoded the
/// same way).
pub fn run_agent(distro: &str, data_dir: Option<&str>, settings: &AgentSettings) -> Vec<OsString> {
    let mut args = exec_agent(distro);
    args.push(AGENT_WSL_FLAG.into());
    if let Some(dir) = data_dir {
        args.push(berth_protocol::boot::WSL_DATA_DIR_FLAG.into());
        args.push(dir.into());
    }
    // The engine's settings (proxy credentials, registry tokens) come on standard input with
    // the boot's secret, never as arguments.
    let settings = AgentSettings {
        secret: berth_protocol::settings::SecretSource::Stdin,
        ..settings.clone()
    };
    args.extend(settings.to_cmdline().into_iter().map(OsString::from));
    args
}

/// Runs the agent in the data distribution `distro`, sharing its data at
/// [`berth_protocol::boot::WSL_SHARED_DATA_DIR`] until its standard input closes.
pub fn run_data_agent(distro: &str) -> Vec<OsString> {
    let mut args = exec_agent(distro);
    args.push(berth_protocol::boot::WSL_DATA_MODE_FLAG.into());
    args.push(berth_protocol::boot::WSL_SHARED_DATA_DIR.into());
    args
}

/// What `wsl --version` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WslVersion {
    /// WSL's own version (`2.0.9.0`).
    pub wsl: String,
    /// Its Linux kernel's (`5.15.133.1-1`), when printed.
    pub kernel: Option<String>,
}

/// The first word of `line` that looks like a version (`2.0.9.0`, `5.15.133.1-1`).
fn version_word(line: &str) -> Option<&str> {
    line.split(|c: char| c.is_whitespace() || c == ':')
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.'))
}

/// Parses `wsl --version` (already decoded). Windows translates the labels (`WSL version:`,
/// `WSL-Version:`, `Version de WSL :`) but not their order: WSL's version comes first, then the
/// kernel's. `None` for anything else, such as the old inbox `wsl.exe`'s usage text.
pub fn parse_version(text: &str) -> Option<WslVersion> {
    let mut lines = text
        .lines()
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}'))
        .filter(|l| !l.is_empty());
    let first = lines.next()?;
    if !first.contains("WSL") || first.contains("--") {
        return None;
    }
    let wsl = version_word(first)?.to_owned();
    let kernel = lines.next().and_then(version_word).map(str::to_owned);
    Some(WslVersion { wsl, kernel })
}

/// What a failed `wsl.exe` said, turned into the fix, when it is one Berth knows:
/// - WSL is not installed (a stub `wsl.exe` says so);
/// - `wsl.exe` is the old inbox one (it rejects `--version` and other newer options), or
///   WSL 2's kernel is missing, so WSL 2 distributions cannot be imported;
/// - WSL 2 cannot start its VM (the Virtual Machine Platform is off, or virtualization is off
///   in the firmware).
pub fn explain_failure(output: &str) -> Option<&'static str> {
    let text = output.to_ascii_lowercase();
    let has = |markers: &[&str]| markers.iter().any(|m| text.contains(m));
    if has(&[
        "invalid command line option",
        "0x800701bc",
        "wsl_e_wsl2_needs",
        "kernel component",
        "wsl 2 requires an update",
    ]) {
        return Some(OUTDATED_FIX);
    }
    if has(&[
        "hcs_e_hyperv_not_installed",
        "0x80370102",
        "virtual machine platform",
        "virtualization",
        "bios",
    ]) {
        return Some(VIRTUALIZATION_FIX);
    }
    if has(&["is not installed", "has not been enabled", "is not enabled"]) {
        return Some(MISSING_FIX);
    }
    None
}

/// What to do when there is no WSL.
pub const MISSING_FIX: &str =
    "install WSL: `wsl --install --no-distribution` (as an administrator), then restart Windows";

/// What to do when WSL cannot run WSL 2 distributions.
pub const OUTDATED_FIX: &str = "this WSL cannot import WSL 2 distributions (it is WSL 1 only or the old inbox one): install the current WSL with `wsl --install --no-distribution`, or update it with `wsl --update`, then restart Windows";

/// What to do when WSL 2 cannot start its virtual machine.
pub const VIRTUALIZATION_FIX: &str = "WSL 2 cannot start its virtual machine: turn on virtualization (Intel VT-x or AMD-V/SVM) in the PC's firmware (UEFI/BIOS) settings and the Virtual Machine Platform (`wsl --install --no-distribution`, as an administrator), then restart Windows";

/// Text from `wsl.exe`: UTF-16LE when it looks like it (a byte-order mark, or NULs in the odd
/// positions of ASCII text), else UTF-8. Invalid sequences become U+FFFD, never an error.
pub fn decode_output(bytes: &[u8]) -> String {
    let bom = bytes.starts_with(&[0xff, 0xfe]);
    let ascii_utf16 =
        bytes.len() >= 2 && bytes.len().is_multiple_of(2) && bytes[1] == 0 && bytes[0] != 0;
    if bom || ascii_utf16 {
        let body = if bom { &bytes[2..] } else { bytes };
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// One row of `wsl --list --verbose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// Its name.
    pub name: String,
    /// `Running`, `Stopped`, `Installing`… (localized by Windows: compare only with care).
    pub state: String,
    /// 1 or 2.
    pub version: u8,
    /// Whether it is the default distribution (`*`).
    pub default: bool,
}

/// Parses `wsl --list --verbose` (already decoded). The header line and anything that is not a
/// row (a message that no distribution is installed) are skipped.
pub fn parse_list(text: &str) -> Vec<Distribution> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end_matches('\r');
            let (default, rest) = match line.trim_start().strip_prefix('*') {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let [name, state, version] = fields.as_slice() else {
                return None;
            };
            let version = version.parse().ok().filter(|v| *v == 1 || *v == 2)?;
            Some(Distribution {
                name: (*name).to_owned(),
                state: (*state).to_owned(),
                version,
                default,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::settings::Share;

    fn utf16(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn import_registers_a_wsl2_distribution_from_the_tarball() {
        let args = import(
            "berth",
            Path::new(r"C:\Users\Ann Lee\AppData\Local\berth\wsl"),
            Path::new(r"C:\Program Files\Berth\image\root.tar"),
        );
        assert_eq!(
            args,
            [
                "--import",
                "berth",
                r"C:\Users\Ann Lee\AppData\Local\berth\wsl",
                r"C:\Program Files\Berth\image\root.tar",
                "--version",
                "2"
            ]
            .map(OsString::from)
        );
        assert_eq!(
            unregister("berth"),
            ["--unregister", "berth"].map(OsString::from)
        );
        assert_eq!(
            terminate("berth"),
            ["--terminate", "berth"].map(OsString::from)
        );
    }

    #[test]
    fn the_agent_runs_as_root_without_a_shell_with_its_settings_as_arguments() {
        let settings = AgentSettings {
            shares: vec![Share {
                tag: "home".into(),
                path: "/mnt/c/Users/Ann Lee".into(),
                read_only: false,
            }],
            engine: berth_protocol::settings::EngineSettings {
                registry_mirrors: vec!["http://mirror.internal:5000".into()],
                ..Default::default()
            },
            ..AgentSettings::default()
        };
        let args: Vec<String> = run_agent("berth-0123456789ab", None, &settings)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args[..9],
            [
                "--distribution",
                "berth-0123456789ab",
                "--user",
                "root",
                "--cd",
                "/",
                "--exec",
                "/usr/sbin/init",
                "--wsl"
            ]
        );
        // One argument per public setting, spaces percent-encoded exactly as on a kernel
        // command line; the mirror (it may carry a token) comes on standard input.
        assert_eq!(
            args[9..],
            [
                "berth.share=home:/mnt/c/Users/Ann%20Lee",
                "berth.secret=stdin"
            ]
        );
        let (parsed, warnings) = AgentSettings::from_cmdline(&args[9..].join(" "));
        assert!(warnings.is_empty());
        assert_eq!(parsed.shares, settings.shares);
        assert!(parsed.engine.registry_mirrors.is_empty());
    }

    #[test]
    fn the_agent_gets_the_data_distributions_share_and_the_data_agent_shares_it() {
        let settings = AgentSettings {
            log_level: berth_protocol::settings::LogLevel::Debug,
            ..AgentSettings::default()
        };
        let args = run_agent("berth-0123456789ab", Some("/mnt/wsl/berth/data"), &settings);
        assert_eq!(
            args[7..],
            [
                "/usr/sbin/init",
                "--wsl",
                "--data-dir",
                "/mnt/wsl/berth/data",
                "berth.log=debug",
                "berth.secret=stdin"
            ]
            .map(OsString::from)
        );
        assert_eq!(
            run_data_agent("berth-data"),
            [
                "--distribution",
                "berth-data",
                "--user",
                "root",
                "--cd",
                "/",
                "--exec",
                "/usr/sbin/init",
                "--wsl-data",
                "/mnt/wsl/berth/data"
            ]
            .map(OsString::from)
        );
    }

    #[test]
    fn wsl_version_is_read_in_any_language() {
        let english =
            "WSL version: 2.0.9.0\r\nKernel version: 5.15.133.1-1\r\nWSLg version: 1.0.59\r\n\
                       MSRDC version: 1.2.4677\r\nDirect3D version: 1.611.1-81528511\r\n\
                       DXCore version: 10.0.25131.1002-220531-1700.rs-onecore-base2-hyp\r\n\
                       Windows version: 10.0.22631.2715\r\n";
        let mut bytes = vec![0xff, 0xfe];
        bytes.extend(utf16(english));
        assert_eq!(
            parse_version(&decode_output(&bytes)),
            Some(WslVersion {
                wsl: "2.0.9.0".into(),
                kernel: Some("5.15.133.1-1".into())
            })
        );
        let german = "WSL-Version: 2.3.26.0\r\nKernelversion: 5.15.167.4-1\r\n";
        assert_eq!(
            parse_version(&decode_output(&utf16(german))).map(|v| v.wsl),
            Some("2.3.26.0".into())
        );
        let french = "Version WSL\u{a0}: 2.4.13.0\r\nVersion du noyau\u{a0}: 5.15.167.4-1\r\n";
        assert_eq!(
            parse_version(french).and_then(|v| v.kernel),
            Some("5.15.167.4-1".into())
        );
    }

    #[test]
    fn the_inbox_wsl_has_no_version_and_says_so_with_its_usage() {
        let inbox = "Invalid command line option: --version\r\n\
                     Usage: wsl.exe [Argument] [Options...] [CommandLine]\r\n\
                     \r\n    --import <Distro> <InstallLocation> <FileName> [Options]\r\n\
                     \x20       --version <Version>\r\n";
        assert_eq!(parse_version(inbox), None);
        assert_eq!(explain_failure(inbox), Some(OUTDATED_FIX));
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("WSL version: unknown"), None);
    }

    #[test]
    fn wsl_failures_become_their_fix() {
        let no_vm = "Please enable the Virtual Machine Platform Windows feature and ensure \
                     virtualization is enabled in the BIOS.\r\nFor information please visit \
                     https://aka.ms/enablevirtualization\r\nError code: \
                     Wsl/Service/RegisterDistro/CreateVm/HCS/HCS_E_HYPERV_NOT_INSTALLED\r\n";
        assert_eq!(explain_failure(no_vm), Some(VIRTUALIZATION_FIX));
        assert!(VIRTUALIZATION_FIX.contains("firmware"));
        let old_kernel = "WSL 2 requires an update to its kernel component. For information \
                          please visit https://aka.ms/wsl2kernel\r\n";
        assert_eq!(explain_failure(old_kernel), Some(OUTDATED_FIX));
        let stub = "Windows Subsystem for Linux is not installed. You can install by running \
                    'wsl.exe --install'.\r\n";
        assert_eq!(explain_failure(stub), Some(MISSING_FIX));
        for fix in [MISSING_FIX, OUTDATED_FIX, VIRTUALIZATION_FIX] {
            assert!(fix.contains("wsl --install --no-distribution"), "{fix}");
        }
        let empty = "Windows Subsystem for Linux has no installed distributions.\r\n\
                     You can resolve this by installing a distribution with the instructions \
                     below:\r\n\r\nUse 'wsl.exe --list --online' to list available \
                     distributions\r\nand 'wsl.exe --install <Distro>' to install.\r\n";
        assert_eq!(explain_failure(empty), None);
        let exists = "A distribution with the supplied name already exists.\r\n\
                      Error code: Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS\r\n";
        assert_eq!(explain_failure(exists), None);
    }

    #[test]
    fn list_output_is_decoded_from_utf16_and_parsed() {
        let text = "  NAME            STATE           VERSION\r\n\
                    * Ubuntu-22.04    Running         2\r\n  \
                    berth           Stopped         2\r\n  \
                    legacy          Stopped         1\r\n";
        let mut bytes = vec![0xff, 0xfe];
        bytes.extend(utf16(text));
        let rows = parse_list(&decode_output(&bytes));
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            Distribution {
                name: "Ubuntu-22.04".into(),
                state: "Running".into(),
                version: 2,
                default: true
            }
        );
        assert_eq!(rows[1].name, "berth");
        assert!(!rows[1].default);
        assert_eq!(rows[2].version, 1);
        // Without a byte-order mark too.
        assert_eq!(parse_list(&decode_output(&utf16(text))), rows);
    }

    #[test]
    fn odd_output_is_skipped_not_fatal() {
        assert!(
            parse_list("Windows Subsystem for Linux has no installed distributions.").is_empty()
        );
        assert!(parse_list("a b c d\nname state 7\n\u{fffd}").is_empty());
        assert_eq!(decode_output(b"ready\n"), "ready\n");
        assert_eq!(decode_output(&[0xff, 0xfe, 0x00]), "");
        assert!(decode_output(&[0xc3, 0x28]).contains('\u{fffd}'));
    }
}
