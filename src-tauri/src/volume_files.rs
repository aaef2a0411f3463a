//! A volume's files: a folder listing ([`volume_browse`]) and an export as a tar file on the
//! host ([`volume_export`]), each one typed data connection to the guest agent
//! ([`DataHeader::ListDir`], [`DataHeader::Export`]), which resolves everything beneath the
//! volume without following symlinks.
//!
//! Names are bytes in the VM; the UI gets them as text, with bytes that are not UTF-8 shown as
//! U+FFFD (such an entry is marked not `exact`, and a folder of that name cannot be opened:
//! the path the UI sends back is text). An export is written to a temporary file beside the
//! target and renamed onto it only once the agent said the stream is complete, so a partial
//! export never sits where the user asked for the file.

use std::path::Path;

use berth_protocol::data::{
    read_frame, read_stream_and_trailer, DataHeader, DirEntry, EntryKind, ExportEnd, ListReply,
    VolumeError,
};
use serde::Serialize;
use tauri::State;
use tokio::io::{AsyncRead, AsyncWrite};
use ts_rs::TS;

use crate::error::{AppError, AppResult};
use crate::guest;
use crate::state::AppState;

/// One entry of a volume folder.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, TS)]
#[ts(rename = "VolumeEntry")]
pub struct Entry {
    /// The file name (bytes that are not UTF-8 as U+FFFD).
    pub name: String,
    /// d (folder), f (file), l (symlink, not followed) or o (device, FIFO, socket).
    pub kind: String,
    /// Size in bytes (a symlink's: its target's length).
    pub size: u64,
    /// A symlink's target text, as stored.
    pub target: Option<String>,
    /// Whether `name` is the file system's name exactly (it is UTF-8).
    pub exact: bool,
}

impl From<DirEntry> for Entry {
    fn from(entry: DirEntry) -> Entry {
        let kind = match entry.kind {
            EntryKind::Dir => "d",
            EntryKind::File => "f",
            EntryKind::Symlink => "l",
            EntryKind::Other => "o",
        };
        Entry {
            exact: std::str::from_utf8(&entry.name).is_ok(),
            name: String::from_utf8_lossy(&entry.name).into_owned(),
            kind: kind.to_owned(),
            size: entry.size,
            target: entry
                .target
                .map(|t| String::from_utf8_lossy(&t).into_owned()),
        }
    }
}

/// The app's error for an agent's refusal about `volume`.
fn volume_error(volume: &str, err: VolumeError) -> AppError {
    match err {
        VolumeError::NotAVolume { .. } | VolumeError::Vanished { .. } => {
            AppError::NotFound(format!("volume {volume}"))
        }
        VolumeError::NotFound { path } => AppError::NotFound(format!("{path} in volume {volume}")),
        err @ (VolumeError::OutsideVolume { .. }
        | VolumeError::ThroughSymlink { .. }
        | VolumeError::NotADirectory { .. }) => AppError::input("path", err.to_string()),
        VolumeError::Io { message } => {
            AppError::Internal(format!("volume {volume} in the VM: {message}"))
        }
    }
}

fn broken(err: berth_protocol::ProtocolError) -> AppError {
    AppError::Internal(format!("the connection to the VM broke off: {err}"))
}

/// The entries of `path` inside volume `name`: folders first, then by name.
#[tauri::command]
pub async fn volume_browse(
    state: State<'_, AppState>,
    name: String,
    path: String,
) -> AppResult<Vec<Entry>> {
    let mut stream = guest::open(
        &state,
        DataHeader::ListDir {
            volume: name.clone(),
            path,
        },
    )
    .await?;
    match read_frame::<_, ListReply>(&mut stream)
        .await
        .map_err(broken)?
    {
        ListReply::Entries { entries, .. } => Ok(sorted(entries)),
        ListReply::Failed(err) => Err(volume_error(&name, err)),
    }
}

fn sorted(entries: Vec<DirEntry>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = entries.into_iter().map(Entry::from).collect();
    entries.sort_by(|a, b| (a.kind != "d", &a.name).cmp(&(b.kind != "d", &b.name)));
    entries
}

/// Writes volume `name` as a tar file at `path` on the host; returns its size.
#[tauri::command]
pub async fn volume_export(
    state: State<'_, AppState>,
    name: String,
    path: String,
) -> AppResult<u64> {
    let mut stream = guest::open(
        &state,
        DataHeader::Export {
            volume: name.clone(),
        },
    )
    .await?;
    export_to(&mut stream, &name, Path::new(&path)).await
}

/// Reads an export stream of `volume` into a temporary file beside `target`, renamed onto
/// `target` once the stream ended well; returns its size. A failure leaves `target` as it was.
pub async fn export_to<S: AsyncRead + Unpin>(
    stream: &mut S,
    volume: &str,
    target: &Path,
) -> AppResult<u64> {
    let owned = target.to_owned();
    let temp = tokio::task::spawn_blocking(move || temp_beside(&owned))
        .await
        .map_err(|e| AppError::Internal(format!("the export stopped: {e}")))?
        .map_err(|e| AppError::io(target, e))?;
    let file = temp
        .as_file()
        .try_clone()
        .map_err(|e| AppError::io(target, e))?;
    let mut sink = Recorded::new(tokio::fs::File::from_std(file));
    let read = read_stream_and_trailer::<_, _, ExportEnd>(stream, &mut sink).await;
    if let Some(err) = sink.failed.take() {
        return Err(AppError::io(target, err));
    }
    let (bytes, end) = read.map_err(broken)?;
    match end {
        ExportEnd::Done { .. } => {}
        ExportEnd::Failed(err) => return Err(volume_error(volume, err)),
    }
    sink.inner
        .sync_all()
        .await
        .map_err(|e| AppError::io(target, e))?;
    drop(sink);
    let owned = target.to_owned();
    tokio::task::spawn_blocking(move || temp.persist(&owned).map(drop))
        .await
        .map_err(|e| AppError::Internal(format!("the export stopped: {e}")))?
        .map_err(|e| AppError::io(target, e.error))?;
    Ok(bytes)
}

/// A new temporary file in `target`'s folder, named after it (deleted when dropped).
fn temp_beside(target: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| std::io::Error::other("the target names no file"))?;
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".partial");
    // The mode a new file gets (less the umask), not the temporary file's 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(folder)
}

/// A writer that keeps its own first error, so a failure writing the file is told apart from
/// the stream from the VM breaking off.
struct Recorded<W> {
    inner: W,
    failed: Option<std::io::Error>,
}

impl<W> Recorded<W> {
    fn new(inner: W) -> Recorded<W> {
        Recorded {
            inner,
            failed: None,
        }
    }

    fn record<T>(
        &mut self,
        poll: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        match poll {
            std::task::Poll::Ready(Err(err)) => {
                let returned = std::io::Error::new(err.kind(), err.to_string());
                self.failed.get_or_insert(err);
                std::task::Poll::Ready(Err(returned))
            }
            other => other,
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Recorded<W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let poll = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.record(poll)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let poll = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.record(poll)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let poll = std::pin::Pin::new(&mut self.inner).poll_shutdown(cx);
        self.record(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::agent_stream;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[tokio::test]
    async fn a_complete_export_replaces_the_target_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("data.tar");
        std::fs::write(&target, b"the old export").expect("old");
        let done = ExportEnd::Done {
            bytes: 10,
            skipped: 0,
        };
        let stream = agent_stream(&[b"tar ", b"bytes!"], Some(done)).await;
        let n = export_to(&mut &stream[..], "data", &target)
            .await
            .expect("exported");
        assert_eq!(n, 10);
        assert_eq!(std::fs::read(&target).expect("read"), b"tar bytes!");
        assert_eq!(leftovers(dir.path()), ["data.tar"]);
    }

    #[tokio::test]
    async fn a_failed_or_cut_export_leaves_the_target_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("data.tar");
        std::fs::write(&target, b"the old export").expect("old");
        let vanished = ExportEnd::Failed(VolumeError::Vanished {
            volume: "data".into(),
        });
        let stream = agent_stream(&[b"half a tar"], Some(vanished)).await;
        let err = export_to(&mut &stream[..], "data", &target)
            .await
            .expect_err("vanished");
        assert_eq!(err.code(), "not_found", "{err}");
        assert!(err.to_string().contains("volume data"), "{err}");

        let cut = agent_stream(&[b"half a tar"], None::<ExportEnd>).await;
        let err = export_to(&mut &cut[..], "data", &target)
            .await
            .expect_err("cut off");
        assert_eq!(err.code(), "internal", "{err}");

        assert_eq!(std::fs::read(&target).expect("read"), b"the old export");
        assert_eq!(
            leftovers(dir.path()),
            ["data.tar"],
            "no temporary file left"
        );
    }

    #[tokio::test]
    async fn a_target_that_cannot_be_written_is_an_io_error_on_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("no/such/folder/data.tar");
        let done = ExportEnd::Done {
            bytes: 3,
            skipped: 0,
        };
        let stream = agent_stream(&[b"tar"], Some(done)).await;
        let err = export_to(&mut &stream[..], "data", &target)
            .await
            .expect_err("unwritable");
        assert_eq!(err.code(), "io", "{err}");
        assert!(err.to_string().contains("data.tar"), "{err}");
    }

    #[test]
    fn entries_show_any_name_and_sort_folders_first() {
        let entry = |name: &[u8], kind, target: Option<&[u8]>| DirEntry {
            name: name.to_vec(),
            kind,
            size: 4,
            target: target.map(<[u8]>::to_vec),
        };
        let entries = sorted(vec![
            entry(b"b.txt", EntryKind::File, None),
            entry(b"escape", EntryKind::Symlink, Some(b"/etc")),
            entry(b"sub", EntryKind::Dir, None),
            entry(b"latin\xe9", EntryKind::File, None),
            entry(b"a\nb", EntryKind::Other, None),
        ]);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["sub", "a\nb", "b.txt", "escape", "latin\u{fffd}"]);
        assert_eq!(entries[3].kind, "l");
        assert_eq!(entries[3].target.as_deref(), Some("/etc"));
        assert_eq!(entries[1].kind, "o");
        assert!(entries[2].exact);
        assert!(!entries[4].exact, "a lossy name is marked");
    }

    #[test]
    fn refusals_become_the_apps_typed_errors() {
        let code = |err| volume_error("data", err).code().to_owned();
        assert_eq!(
            code(VolumeError::NotAVolume { volume: "x".into() }),
            "not_found"
        );
        for err in [
            VolumeError::OutsideVolume { path: "..".into() },
            VolumeError::ThroughSymlink {
                path: "escape".into(),
            },
        ] {
            assert_eq!(code(err), "invalid_input");
        }
    }
}
