//! What runs in the VM through the agent's root shell (a data connection on pipes): volume
//! sizes (`du`), a volume folder listing (`find`), a volume export as a tar stream to a host
//! file, and `docker compose up` of a file in a shared folder. Names and paths are checked or
//! quoted before they reach the shell; a host path is first named as the VM sees it
//! ([`HostFiles`]).

use std::path::Path;

use berth_core::agent::open_data_plain;
use berth_core::instance::{self, VmState};
use berth_protocol::data::DataHeader;
use serde::Serialize;
use tauri::State;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ts_rs::TS;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

const VOLUMES: &str = "/var/lib/docker/volumes";

/// How the VM sees the host's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFiles {
    /// Shared folders are mounted at their host paths (QEMU's virtiofs on Linux,
    /// Virtualization.framework's virtio-fs on macOS).
    SamePaths,
    /// WSL mounts the local drives under `/mnt` (`C:\x` is `/mnt/c/x`; Windows).
    WslDrives,
}

impl HostFiles {
    /// This OS's.
    pub const THIS_OS: HostFiles = if cfg!(windows) {
        HostFiles::WslDrives
    } else {
        HostFiles::SamePaths
    };

    /// Where the VM sees the absolute host path `host`; `None` where it cannot (on Windows a
    /// network share or a relative path, which WSL does not mount).
    pub fn guest_path(self, host: &str) -> Option<String> {
        match self {
            HostFiles::SamePaths => Some(host.to_owned()),
            HostFiles::WslDrives => berth_core::wsl::paths::to_wsl(host),
        }
    }
}

/// A volume name the engine could have made (`[A-Za-z0-9][A-Za-z0-9_.-]*`).
pub fn check_volume(name: &str) -> AppResult<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AppError::input(
            "name",
            format!("{name:?} is not a volume name"),
        ))
    }
}

/// A path inside a volume: relative, no `..`, single-quoted for the shell.
pub fn quote_inner_path(path: &str) -> AppResult<String> {
    let path = path.trim_matches('/');
    if path.split('/').any(|p| p == "..") || path.contains('\0') {
        return Err(AppError::input(
            "path",
            "the path must stay inside the volume",
        ));
    }
    Ok(format!("'{}'", path.replace('\'', r"'\''")))
}

/// Runs `script` in the guest's root shell and returns its output (stdout and stderr merged).
async fn open_script(state: &AppState, script: &str) -> AppResult<tokio::io::DuplexStream> {
    let vsock = instance::read_state(&state.paths.runtime)
        .filter(|s| s.state == VmState::Running)
        .and_then(|s| s.agent)
        .ok_or(AppError::VmNotRunning)?;
    let mut stream = open_data_plain(
        vsock,
        DataHeader::Shell {
            tty: false,
            cols: 0,
            rows: 0,
        },
    )
    .await?;
    stream
        .write_all(format!("{script}\nexit\n").as_bytes())
        .await
        .map_err(|e| AppError::Internal(format!("the guest shell: {e}")))?;
    stream
        .shutdown()
        .await
        .map_err(|e| AppError::Internal(format!("the guest shell: {e}")))?;
    Ok(stream)
}

async fn run_script(state: &AppState, script: &str) -> AppResult<String> {
    let mut stream = open_script(state, script).await?;
    let mut out = Vec::new();
    stream
        .read_to_end(&mut out)
        .await
        .map_err(|e| AppError::Internal(format!("the guest shell: {e}")))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Bytes used by each volume, by name.
pub async fn volume_sizes(state: &AppState) -> AppResult<Vec<(String, u64)>> {
    let out = run_script(state, &format!("du -sb {VOLUMES}/*/_data 2>/dev/null")).await?;
    Ok(out
        .lines()
        .filter_map(|line| {
            let (size, path) = line.split_once('\t')?;
            let name = path.strip_prefix(VOLUMES)?.trim_start_matches('/');
            let name = name.strip_suffix("/_data")?;
            Some((name.to_owned(), size.trim().parse().ok()?))
        })
        .collect())
}

/// One entry of a volume folder.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
#[ts(rename = "VolumeEntry")]
pub struct Entry {
    /// The file name.
    pub name: String,
    /// d (folder), f (file), l (link) or another `find %y` letter.
    pub kind: String,
    /// Size in bytes.
    pub size: u64,
}

/// Parses `find -printf '%y\t%s\t%P\n'` output.
pub fn parse_listing(out: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = out
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let kind = parts.next()?;
            let size = parts.next()?.parse().ok()?;
            let name = parts.next()?;
            (kind.len() == 1 && !name.is_empty()).then(|| Entry {
                name: name.to_owned(),
                kind: kind.to_owned(),
                size,
            })
        })
        .collect();
    entries.sort_by(|a, b| (a.kind != "d", &a.name).cmp(&(b.kind != "d", &b.name)));
    entries
}

/// The entries of `path` inside volume `name`.
#[tauri::command]
pub async fn volume_browse(
    state: State<'_, AppState>,
    name: String,
    path: String,
) -> AppResult<Vec<Entry>> {
    check_volume(&name)?;
    let inner = quote_inner_path(&path)?;
    let out = run_script(
        &state,
        &format!(
            "cd {VOLUMES}/{name}/_data/ && cd ./{inner} && find . -mindepth 1 -maxdepth 1 -printf '%y\\t%s\\t%P\\n' 2>/dev/null || echo 'berth: no such folder' "
        ),
    )
    .await?;
    if out.contains("berth: no such folder") {
        return Err(AppError::NotFound(format!("{path} in volume {name}")));
    }
    Ok(parse_listing(&out))
}

/// Writes volume `name` as a tar file at `path` on the host; returns its size.
#[tauri::command]
pub async fn volume_export(
    state: State<'_, AppState>,
    name: String,
    path: String,
) -> AppResult<u64> {
    check_volume(&name)?;
    let mut stream = open_script(
        &state,
        &format!("tar -C {VOLUMES}/{name}/_data -cf - . 2>/dev/null"),
    )
    .await?;
    let target = Path::new(&path);
    let mut file = tokio::fs::File::create(target)
        .await
        .map_err(|e| AppError::io(target, e))?;
    let written = tokio::io::copy(&mut stream, &mut file)
        .await
        .map_err(|e| AppError::io(target, e))?;
    file.flush().await.map_err(|e| AppError::io(target, e))?;
    if written == 0 {
        return Err(AppError::NotFound(format!("volume {name}")));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_cannot_escape_the_volume() {
        check_volume("data_1.v-2").expect("valid");
        for bad in ["", "-x", "a b", "a;rm", "../x", "a/b"] {
            assert_eq!(check_volume(bad).expect_err(bad).code(), "invalid_input");
        }
        assert_eq!(quote_inner_path("/a/b/").expect("ok"), "'a/b'");
        assert_eq!(quote_inner_path("it's").expect("ok"), r"'it'\''s'");
        assert!(quote_inner_path("a/../../etc").is_err());
    }

    #[test]
    fn the_compose_script_quotes_the_file_and_reports_its_status() {
        let script = compose_up_script("/home/me/it's/compose.yaml");
        assert!(
            script.starts_with(r"f='/home/me/it'\''s/compose.yaml';"),
            "{script}"
        );
        assert!(script.contains("docker compose -f"));
        assert!(script.ends_with(r#"echo "berth: exit $?""#));
    }

    #[test]
    fn host_paths_are_named_as_the_vm_sees_them() {
        let same = HostFiles::SamePaths;
        assert_eq!(
            same.guest_path("/home/me/shop/compose.yaml").as_deref(),
            Some("/home/me/shop/compose.yaml")
        );
        let wsl = HostFiles::WslDrives;
        assert_eq!(
            wsl.guest_path(r"C:\Users\Me\My Shop\compose.yaml")
                .as_deref(),
            Some("/mnt/c/Users/Me/My Shop/compose.yaml")
        );
        assert_eq!(
            wsl.guest_path(r"\\?\D:\src\compose.yml").as_deref(),
            Some("/mnt/d/src/compose.yml")
        );
        for unseen in [
            r"\\server\share\compose.yaml",
            r"C:compose.yaml",
            r"C:\a\..\b",
        ] {
            assert_eq!(wsl.guest_path(unseen), None, "{unseen}");
        }
        let expected = if cfg!(windows) {
            HostFiles::WslDrives
        } else {
            HostFiles::SamePaths
        };
        assert_eq!(HostFiles::THIS_OS, expected);
    }

    #[test]
    fn compose_output_hides_the_status_line_and_names_the_failure() {
        let mut ok = ScriptOutput::default();
        let mut shown = ok.push(" Container shop-web-1  Star");
        assert_eq!(shown, "", "half a line waits for its end");
        shown += &ok.push("ted\nberth: ex");
        shown += &ok.push("it 0\n");
        assert_eq!(shown, " Container shop-web-1  Started\n");
        assert_eq!(ok.finish(), (String::new(), Ok(())));

        let mut failed = ScriptOutput::default();
        let shown = failed
            .push("service \"web\" has neither an image nor a build context\nberth: exit 15\n");
        assert_eq!(
            shown,
            "service \"web\" has neither an image nor a build context\n"
        );
        assert_eq!(
            failed.finish().1,
            Err("docker compose exited with 15: service \"web\" has neither an image nor a build context".into())
        );

        let mut unshared = ScriptOutput::default();
        unshared.push(
            "berth: /x/compose.yaml is not visible in the VM: share its folder in Settings\n",
        );
        assert_eq!(
            unshared.finish().1,
            Err("/x/compose.yaml is not visible in the VM: share its folder in Settings".into())
        );

        let mut cut = ScriptOutput::default();
        assert_eq!(cut.push("no newline at the end"), "");
        assert_eq!(
            cut.finish(),
            (
                "no newline at the end\n".into(),
                Err("no newline at the end".into())
            )
        );
    }

    #[test]
    fn listings_parse_folders_first() {
        let out = "f\t12\tb.txt\nd\t4096\tsub\nl\t7\tlink\ngarbage\n";
        let entries = parse_listing(out);
        assert_eq!(entries[0].name, "sub");
        assert_eq!(
            entries[1],
            Entry {
                name: "b.txt".into(),
                kind: "f".into(),
                size: 12
            }
        );
        assert_eq!(entries.len(), 3);
    }
}

/// Single-quotes `s` for the guest shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The script that runs `docker compose up -d` for `file` in its folder, with the plugin or the
/// standalone `docker-compose`, or says plainly that the guest has neither.
pub fn compose_up_script(file: &str) -> String {
    let file = shell_quote(file);
    format!(
        "f={file}; cd \"$(dirname \"$f\")\" 2>/dev/null || {{ echo \"berth: $f is not visible in the VM: share its folder in Settings\"; exit 3; }}; \
         if docker compose version >/dev/null 2>&1; then docker compose -f \"$f\" up -d 2>&1; \
         elif command -v docker-compose >/dev/null 2>&1; then docker-compose -f \"$f\" up -d 2>&1; \
         else echo 'berth: the guest image has no docker compose'; exit 4; fi; echo \"berth: exit $?\""
    )
}

/// Runs `docker compose up -d` for a compose file inside the VM (the file's folder must be
/// shared, so it has the same path there; on Windows it is on a drive WSL mounts), streaming
/// its output; a failure names compose's exit status and the last thing it said (a broken
/// file's parse error, say).
#[tauri::command]
pub async fn compose_up(
    state: State<'_, AppState>,
    file: String,
    on_output: tauri::ipc::Channel<String>,
) -> AppResult<()> {
    if !Path::new(&file).is_absolute() || !Path::new(&file).is_file() {
        return Err(AppError::input(
            "file",
            format!("{file} is not a compose file on this machine"),
        ));
    }
    let in_guest = HostFiles::THIS_OS.guest_path(&file).ok_or_else(|| {
        AppError::input(
            "file",
            format!("{file} is not on a local drive, which is all the VM sees"),
        )
    })?;
    let mut stream = open_script(&state, &compose_up_script(&in_guest)).await?;
    let mut output = ScriptOutput::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| AppError::Internal(format!("the guest shell: {e}")))?;
        if n == 0 {
            break;
        }
        let shown = output.push(&String::from_utf8_lossy(&buf[..n]));
        if !shown.is_empty() {
            let _ = on_output.send(shown);
        }
    }
    let (rest, outcome) = output.finish();
    if !rest.is_empty() {
        let _ = on_output.send(rest);
    }
    outcome.map_err(AppError::Conflict)
}

/// The compose script's output as the user sees it: whole lines, without the script's closing
/// `berth: exit N` line, which decides the outcome instead.
#[derive(Default)]
struct ScriptOutput {
    /// A line not ended yet.
    partial: String,
    /// The exit status, once its line came.
    status: Option<String>,
    /// The last line shown that said something.
    last: String,
}

impl ScriptOutput {
    /// Takes `text` as it came; returns what to show now.
    fn push(&mut self, text: &str) -> String {
        self.partial.push_str(text);
        let Some(end) = self.partial.rfind('\n') else {
            return String::new();
        };
        let rest = self.partial.split_off(end + 1);
        let lines = std::mem::replace(&mut self.partial, rest);
        let mut shown = String::new();
        for line in lines.split_inclusive('\n') {
            if let Some(status) = line.trim_end().strip_prefix("berth: exit ") {
                self.status = Some(status.to_owned());
                continue;
            }
            if !line.trim().is_empty() {
                self.last = line.trim().trim_start_matches("berth: ").to_owned();
            }
            shown.push_str(line);
        }
        shown
    }

    /// What is left to show, and the outcome: an error names the exit status and the last line
    /// printed before it (compose's own message, or the script's reason).
    fn finish(mut self) -> (String, Result<(), String>) {
        let rest = if self.partial.is_empty() {
            String::new()
        } else {
            self.push("\n")
        };
        let outcome = match self.status.as_deref() {
            Some("0") => Ok(()),
            Some(code) if self.last.is_empty() => Err(format!("docker compose exited with {code}")),
            Some(code) => Err(format!("docker compose exited with {code}: {}", self.last)),
            None if self.last.is_empty() => Err("the guest shell ended without a result".into()),
            None => Err(self.last.clone()),
        };
        (rest, outcome)
    }
}
