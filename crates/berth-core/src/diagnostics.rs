//! The diagnostics bundle: one zip a user can open by double-click and send, made of plain
//! text files. [`archive`] is pure: it takes the [`Summary`] and the named files the caller
//! gathered ([`SETTINGS`], [`DOCTOR`], the logs under `logs/`), and returns the archive's
//! bytes. Every file, the summary included, goes through [`crate::text::clean`] (no terminal
//! escape sequences) and [`crate::redact`] (no credentials); `summary.txt` says how many
//! credentials were replaced. Writing the bytes to the user's path is the caller's (atomically,
//! for the user only: [`crate::paths::write_private`]).

use std::io::{Cursor, Write};

use crate::instance::{VmState, VmView};
use crate::redact::{redact, Redactions};

/// The summary's name in the archive.
pub const SUMMARY: &str = "summary.txt";
/// The settings' name in the archive ([`settings_text`]).
pub const SETTINGS: &str = "settings.json";
/// The doctor's checks' name in the archive.
pub const DOCTOR: &str = "doctor.txt";

/// Why [`archive`] could not make the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Two files with one name, or a name that is not a plain relative path.
    #[error("bad file name in the diagnostics bundle: {0}")]
    Name(String),
    /// The zip writer failed (on a buffer in memory: only on a bug or no memory).
    #[error("cannot write the diagnostics archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// Writing a file's bytes failed.
    #[error("cannot write the diagnostics archive: {0}")]
    Io(#[from] std::io::Error),
}

/// What `summary.txt` says, besides the redaction count.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Berth's version.
    pub berth_version: String,
    /// The host's OS (`linux`, `macos`, `windows`).
    pub os: String,
    /// The host's architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// When the bundle was made (the host's time zone); also the files' time in the zip.
    pub written: jiff::Zoned,
    /// The VM as the app saw it.
    pub vm: VmView,
    /// The guest engine's version, when the VM answered.
    pub engine_version: Option<String>,
    /// The guest agent's version, when the VM answered.
    pub agent_version: Option<String>,
}

/// The state in words.
fn state_word(state: VmState) -> &'static str {
    match state {
        VmState::Starting => "starting",
        VmState::Running => "running",
        VmState::Paused => "paused (resource saver)",
        VmState::Stopping => "stopping",
        VmState::Stopped => "stopped",
        VmState::Error => "failed",
    }
}

impl Summary {
    /// The summary's lines, `label: value`, without the redaction count.
    fn render(&self) -> String {
        let unknown = |v: &Option<String>| {
            v.clone()
                .unwrap_or_else(|| "unknown (the VM did not answer)".into())
        };
        let mut rows: Vec<(&str, String)> = vec![
            ("Berth", self.berth_version.clone()),
            ("Host", format!("{} {}", self.os, self.arch)),
            (
                "Written",
                self.written.strftime("%Y-%m-%d %H:%M:%S %Z").to_string(),
            ),
            ("VM state", state_word(self.vm.state).into()),
        ];
        if let Some(phase) = &self.vm.phase {
            rows.push(("VM phase", phase.clone()));
        }
        if let Some(error) = &self.vm.error {
            rows.push(("VM error", format!("{} ({})", error.message, error.code)));
            if let Some(field) = &error.field {
                rows.push(("VM error setting", field.clone()));
            }
        }
        rows.push((
            "Engine socket",
            self.vm
                .engine_socket
                .as_ref()
                .map_or_else(|| "none".into(), |p| p.display().to_string()),
        ));
        rows.push(("Engine version", unknown(&self.engine_version)));
        rows.push(("Agent version", unknown(&self.agent_version)));
        // The longest label ("VM error setting:"), so the values line up.
        const WIDTH: usize = 17;
        let mut out = String::from("Berth diagnostics\n\n");
        for (label, value) in rows {
            out.push_str(&format!("{:<WIDTH$} {value}\n", format!("{label}:")));
        }
        out
    }
}

/// The settings file's text for the bundle: pretty JSON when it parses, else as it is (a
/// broken file is worth seeing), or why there is none.
pub fn settings_text(file: std::io::Result<String>) -> String {
    match file {
        Ok(raw) => serde_json::from_str::<serde_json::Value>(&raw)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(raw),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "(no settings file: the defaults are in use)".into()
        }
        Err(e) => format!("(the settings file cannot be read: {e})"),
    }
}

/// Whether `name` is a plain relative path of the archive (no `..`, no root, no backslash).
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The zip time of `written` (the DOS format cannot hold years outside 1980–2107: 1980 then).
fn zip_time(written: &jiff::Zoned) -> zip::DateTime {
    let d = written.datetime();
    let part = |v: i8| u8::try_from(v).unwrap_or(0);
    u16::try_from(d.year())
        .ok()
        .and_then(|year| {
            zip::DateTime::from_date_and_time(
                year,
                part(d.month()),
                part(d.day()),
                part(d.hour()),
                part(d.minute()),
                part(d.second()),
            )
            .ok()
        })
        .unwrap_or_default()
}

/// The archive: `summary.txt` first, then `files` (name, text) in their order, each cleaned of
/// escape sequences and redacted, deflated, readable by the owner only once extracted.
pub fn archive(summary: &Summary, files: &[(&str, &str)]) -> Result<Vec<u8>, ArchiveError> {
    let mut seen = std::collections::HashSet::from([SUMMARY]);
    let mut redacted = Redactions::default();
    let mut bodies = Vec::with_capacity(files.len());
    for &(name, text) in files {
        if !plain_name(name) || !seen.insert(name) {
            return Err(ArchiveError::Name(name.to_owned()));
        }
        let (text, counts) = redact(&crate::text::clean(text));
        redacted.add(counts);
        bodies.push((name, text));
    }
    let (head, counts) = redact(&crate::text::clean(&summary.render()));
    redacted.add(counts);
    let summary_text = format!("{head}\nRedacted: {redacted}\n");

    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip_time(&summary.written))
        .unix_permissions(0o600);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, text) in std::iter::once((SUMMARY, summary_text.as_str()))
        .chain(bodies.iter().map(|(n, t)| (*n, t.as_str())))
    {
        zip.start_file(name, options)?;
        zip.write_all(text.as_bytes())?;
        if !text.is_empty() && !text.ends_with('\n') {
            zip.write_all(b"\n")?;
        }
    }
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::instance::Failure;

    fn summary(vm: VmView) -> Summary {
        Summary {
            berth_version: "0.1.0".into(),
            os: "linux".into(),
            arch: "x86_64".into(),
            written: jiff::civil::date(2026, 12, 8)
                .at(3, 40, 11, 0)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .expect("zoned"),
            vm,
            engine_version: Some("28.5.1".into()),
            agent_version: None,
        }
    }

    /// The archive's names in order, and each file's text.
    fn open(bytes: Vec<u8>) -> Vec<(String, String)> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
        (0..zip.len())
            .map(|i| {
                let mut file = zip.by_index(i).expect("entry");
                assert_eq!(file.compression(), zip::CompressionMethod::Deflated);
                // A Unix mode only where the archive is written on Unix: on Windows the zip
                // crate records DOS attributes, which read back as 0664.
                if cfg!(unix) {
                    assert_eq!(file.unix_mode().map(|m| m & 0o777), Some(0o600));
                }
                let mut text = String::new();
                file.read_to_string(&mut text).expect("UTF-8 text");
                (file.name().expect("a UTF-8 name").into_owned(), text)
            })
            .collect()
    }

    #[test]
    fn the_bundle_is_a_zip_of_clean_redacted_text() {
        let vm = VmView {
            state: VmState::Error,
            phase: Some("booting the VM".into()),
            error: Some(Failure {
                code: "invalid_setting".into(),
                message: "memory_mib 99999999 is more than this machine has".into(),
                field: Some("memory_mib".into()),
            }),
            engine_socket: None,
        };
        let settings = settings_text(Ok(
            r#"{"memory_mib":99999999,"http_proxy":"http://ann:hunter2@proxy:3128"}"#.into(),
        ));
        let supervisor = "\u{1b}[2m2026-12-08T03:40:11Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m login: password=hunter2 ok\n";
        let console = "\u{1b}c\u{1b}[?7l\u{1b}[2JSeaBIOS (version 1.16.3)\r\nbooting\r\n";
        let files = [
            (SETTINGS, settings.as_str()),
            (DOCTOR, "ok    QEMU: 9.2 at /usr/bin/qemu-system-x86_64"),
            ("logs/supervisor.log", supervisor),
            ("logs/console.log", console),
            ("logs/agent.log", "(the VM is not running)"),
        ];
        let entries = open(archive(&summary(vm), &files).expect("archive"));
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "summary.txt",
                "settings.json",
                "doctor.txt",
                "logs/supervisor.log",
                "logs/console.log",
                "logs/agent.log"
            ]
        );
        for (name, text) in &entries {
            assert!(!text.contains('\u{1b}'), "ESC in {name}: {text:?}");
            assert!(!text.contains("hunter2"), "a password in {name}: {text}");
            assert!(
                !text.contains("VmView") && !text.contains(" {\n    state"),
                "{text}"
            );
        }
        let text = |name: &str| &entries.iter().find(|(n, _)| n == name).expect(name).1;
        let summary = text("summary.txt");
        for line in [
            "Berth:            0.1.0",
            "Host:             linux x86_64",
            "Written:          2026-12-08 03:40:11 UTC",
            "VM state:         failed",
            "VM phase:         booting the VM",
            "VM error:         memory_mib 99999999 is more than this machine has (invalid_setting)",
            "VM error setting: memory_mib",
            "Engine socket:    none",
            "Engine version:   28.5.1",
            "Agent version:    unknown (the VM did not answer)",
            "Redacted: 1 credential(s) in URLs and 1 password",
        ] {
            assert!(summary.contains(line), "{line:?} not in\n{summary}");
        }
        assert!(
            text("settings.json").contains("\n  \"http_proxy\": \"http://***@proxy:3128\""),
            "pretty and redacted: {}",
            text("settings.json")
        );
        assert_eq!(
            text("logs/supervisor.log"),
            "2026-12-08T03:40:11Z  INFO login: password=*** ok\n"
        );
        assert_eq!(
            text("logs/console.log"),
            "SeaBIOS (version 1.16.3)\nbooting\n"
        );
        assert_eq!(text("logs/agent.log"), "(the VM is not running)\n");
    }

    #[test]
    fn names_must_be_plain_and_unique() {
        let s = summary(VmView::stopped());
        for bad in ["../x", "/etc/x", "a//b", "a\\b", "", SUMMARY, "logs/./a"] {
            assert!(
                matches!(archive(&s, &[(bad, "x")]), Err(ArchiveError::Name(_))),
                "{bad:?}"
            );
        }
        assert!(archive(&s, &[("a.txt", "1"), ("a.txt", "2")]).is_err());
        let entries = open(archive(&s, &[]).expect("only the summary"));
        assert_eq!(entries.len(), 1);
        assert!(entries[0].1.contains("VM state:         stopped"));
        assert!(entries[0].1.contains("Redacted: 0 credential(s)"));
    }

    #[test]
    fn settings_that_are_missing_or_broken_say_so() {
        let missing = settings_text(Err(std::io::ErrorKind::NotFound.into()));
        assert!(missing.contains("defaults"), "{missing}");
        assert_eq!(settings_text(Ok("{broken".into())), "{broken");
    }
}
