//! `wsl.exe` command lines and the parsing of what it prints. `wsl.exe` writes its own messages
//! (`--list`, errors) in UTF-16LE, while commands run inside a distribution print their own
//! encoding (the agent: UTF-8): [`decode_output`] takes either.

use std::ffi::OsString;
use std::path::Path;

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

/// Runs the agent in WSL mode as root, with the settings the QEMU backend puts on the kernel
/// command line as its arguments (`berth.KEY=VALUE`, percent-encoded the same way). `--exec`
/// runs it without a shell, so no argument is reinterpreted.
pub fn run_agent(distro: &str, settings: &AgentSettings) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--distribution",
        distro,
        "--user",
        "root",
        "--cd",
        "/",
        "--exec",
        AGENT_PATH,
        AGENT_WSL_FLAG,
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.extend(settings.to_cmdline().into_iter().map(OsString::from));
    args
}

/// Text from `wsl.exe`: UTF-16LE when it looks like it (a byte-order mark, or NULs in the odd
/// positions of ASCII text), else UTF-8. Invalid sequences become U+FFFD, never an error.
pub fn decode_output(bytes: &[u8]) -> String {
    let bom = bytes.starts_with(&[0xff, 0xfe]);
    let ascii_utf16 = bytes.len() >= 2 && bytes.len() % 2 == 0 && bytes[1] == 0 && bytes[0] != 0;
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
            }],
            engine: berth_protocol::settings::EngineSettings {
                registry_mirrors: vec!["http://mirror.internal:5000".into()],
                ..Default::default()
            },
            ..AgentSettings::default()
        };
        let args: Vec<String> = run_agent("berth", &settings)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args[..9],
            [
                "--distribution",
                "berth",
                "--user",
                "root",
                "--cd",
                "/",
                "--exec",
                "/usr/sbin/init",
                "--wsl"
            ]
        );
        // One argument per setting, spaces percent-encoded exactly as on a kernel command line.
        assert_eq!(
            args[9..],
            [
                "berth.share=home:/mnt/c/Users/Ann%20Lee",
                "berth.mirror=http://mirror.internal:5000"
            ]
        );
        let (parsed, warnings) = AgentSettings::from_cmdline(&args[9..].join(" "));
        assert!(warnings.is_empty());
        assert_eq!(parsed, settings);
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
