//! Volume contents for the host, as data connections ([`DataHeader::ListDir`],
//! [`DataHeader::Export`]): a folder listing and a tar export of a volume, both resolved beneath
//! the volume's `_data` folder without following a symlink at any step.
//!
//! The volume is opened with `openat2` (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`) from the
//! engine's volumes folder, and the folder to list from the volume's descriptor the same way:
//! a symlink anywhere on the path is a [`VolumeError::ThroughSymlink`], `..` and absolute paths
//! are [`VolumeError::OutsideVolume`] before any lookup. Entries are examined with `*at` calls
//! that do not follow (`fstatat(AT_SYMLINK_NOFOLLOW)`, `readlinkat`, `O_NOFOLLOW` opens): a
//! symlink is listed and exported as a symlink with its target text.
//!
//! The export is a tar stream the [`tar`] crate writes: folders, regular files and symlinks,
//! with their modes, owners and modification times; devices, FIFOs and sockets are skipped
//! (counted in [`ExportEnd::Done`]). A file that shrinks while it is read is padded with zeros
//! to the size in its header, so the archive stays well formed. A volume deleted meanwhile (its
//! folder unlinked under the open descriptor) ends the export with [`VolumeError::Vanished`].

use std::ffi::{CStr, OsStr};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_protocol::data::{
    write_frame, write_reply, DataReply, DirEntry, EntryKind, ExportEnd, ListReply, VolumeError,
    MAX_LIST_ENTRIES,
};
use berth_protocol::frame::MAX_FRAME;
use berth_protocol::stream::{write_chunk, MAX_CHUNK};
use nix::errno::Errno;
use nix::fcntl::{open, openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// Where the engine keeps its volumes, one folder each with the contents in `_data`.
pub const VOLUMES: &str = "/var/lib/docker/volumes";

/// The deepest folder nesting exported (each level holds one descriptor).
const MAX_DEPTH: usize = 128;

/// Serves [`DataHeader::ListDir`](berth_protocol::data::DataHeader::ListDir).
pub async fn serve_list<S: AsyncWrite + Unpin>(mut host: S, volume: String, path: String) {
    let listed = tokio::task::spawn_blocking(move || list(Path::new(VOLUMES), &volume, &path))
        .await
        .unwrap_or_else(|err| {
            Err(VolumeError::Io {
                message: format!("the listing stopped: {err}"),
            })
        });
    let reply = match listed {
        Ok((entries, truncated)) => ListReply::Entries { entries, truncated },
        Err(err) => ListReply::Failed(err),
    };
    if write_reply(&mut host, &DataReply::Accepted).await.is_ok() {
        let _ = write_frame(&mut host, &reply).await;
    }
}

/// Serves [`DataHeader::Export`](berth_protocol::data::DataHeader::Export).
pub async fn serve_export<S: AsyncRead + AsyncWrite + Unpin>(mut host: S, volume: String) {
    if write_reply(&mut host, &DataReply::Accepted).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(4);
    let task = tokio::task::spawn_blocking(move || {
        export(Path::new(VOLUMES), &volume, ChunkSink::new(tx))
    });
    let mut bytes = 0u64;
    while let Some(chunk) = rx.recv().await {
        if write_chunk(&mut host, &chunk).await.is_err() {
            // The host went away: dropping the receiver stops the writer.
            return;
        }
        bytes += chunk.len() as u64;
    }
    if write_chunk(&mut host, b"").await.is_err() {
        return;
    }
    let end = match task.await {
        Ok(Ok(skipped)) => ExportEnd::Done { bytes, skipped },
        Ok(Err(err)) => ExportEnd::Failed(err),
        Err(err) => ExportEnd::Failed(VolumeError::Io {
            message: format!("the export stopped: {err}"),
        }),
    };
    let _ = write_frame(&mut host, &end).await;
}

/// A volume name the engine could have made (`[A-Za-z0-9][A-Za-z0-9_.-]*`).
fn is_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// How every lookup here resolves: beneath the starting folder, through no symlink.
fn beneath(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS)
}

/// Opens the `_data` folder of `volume` under `volumes`.
fn open_volume(volumes: &Path, volume: &str) -> Result<OwnedFd, VolumeError> {
    let not_a_volume = || VolumeError::NotAVolume {
        volume: volume.to_owned(),
    };
    if !is_volume_name(volume) {
        return Err(not_a_volume());
    }
    let root = open(
        volumes,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|err| io_error(&volumes.display().to_string(), err))?;
    let data = format!("{volume}/_data");
    match openat2(
        &root,
        data.as_str(),
        beneath(OFlag::O_RDONLY | OFlag::O_DIRECTORY),
    ) {
        Ok(fd) => Ok(fd),
        Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP | Errno::EXDEV) => Err(not_a_volume()),
        Err(err) => Err(io_error(&data, err)),
    }
}

/// Opens the folder `path` (relative, no `..`) of the volume open as `data`.
fn open_inner(data: &OwnedFd, path: &str) -> Result<OwnedFd, VolumeError> {
    let outside = || VolumeError::OutsideVolume {
        path: path.to_owned(),
    };
    if path.starts_with('/') || path.contains('\0') {
        return Err(outside());
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(outside());
    }
    let rel = if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    };
    openat2(
        data,
        rel.as_str(),
        beneath(OFlag::O_RDONLY | OFlag::O_DIRECTORY),
    )
    .map_err(|err| {
        let path = path.to_owned();
        match err {
            Errno::ELOOP => VolumeError::ThroughSymlink { path },
            Errno::ENOENT => VolumeError::NotFound { path },
            Errno::ENOTDIR => VolumeError::NotADirectory { path },
            Errno::EXDEV => VolumeError::OutsideVolume { path },
            err => io_error(&path, err),
        }
    })
}

fn io_error(what: &str, err: Errno) -> VolumeError {
    VolumeError::Io {
        message: format!("{what}: {}", err.desc()),
    }
}

fn kind_of(stat: &FileStat) -> EntryKind {
    match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFDIR => EntryKind::Dir,
        SFlag::S_IFREG => EntryKind::File,
        SFlag::S_IFLNK => EntryKind::Symlink,
        _ => EntryKind::Other,
    }
}

/// The names in the folder open as `dir`, without `.` and `..`.
fn names(dir: &OwnedFd) -> Result<Vec<Vec<u8>>, Errno> {
    // A descriptor of its own: reading it moves the offset.
    let mut listing = nix::dir::Dir::from_fd(openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(name);
        }
    }
    Ok(names)
}

/// One entry of `dir`, or `None` when it is gone by now.
fn entry(dir: &OwnedFd, name: Vec<u8>) -> Result<Option<(DirEntry, FileStat)>, Errno> {
    let c_name = std::ffi::CString::new(name.clone()).map_err(|_| Errno::EINVAL)?;
    let stat = match fstatat(dir, c_name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(Errno::ENOENT) => return Ok(None),
        Err(err) => return Err(err),
    };
    let kind = kind_of(&stat);
    let target = match kind {
        EntryKind::Symlink => match readlinkat(dir, c_name.as_c_str()) {
            Ok(target) => Some(target.as_bytes().to_vec()),
            Err(Errno::ENOENT) => return Ok(None),
            Err(err) => return Err(err),
        },
        _ => None,
    };
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    Ok(Some((
        DirEntry {
            name,
            kind,
            size,
            target,
        },
        stat,
    )))
}

/// The entries of folder `path` of `volume` (under `volumes`), at most [`MAX_LIST_ENTRIES`]
/// and as many as fit one frame; `true` when some were left out.
pub fn list(
    volumes: &Path,
    volume: &str,
    path: &str,
) -> Result<(Vec<DirEntry>, bool), VolumeError> {
    let data = open_volume(volumes, volume)?;
    let dir = open_inner(&data, path)?;
    let failed = |err| io_error(path, err);
    let mut entries = Vec::new();
    let mut budget = MAX_FRAME / 2;
    for name in names(&dir).map_err(failed)? {
        let Some((entry, _)) = entry(&dir, name).map_err(failed)? else {
            continue;
        };
        if entries.len() == MAX_LIST_ENTRIES || entry.wire_size() > budget {
            return Ok((entries, true));
        }
        budget -= entry.wire_size();
        entries.push(entry);
    }
    Ok((entries, false))
}

/// Writes `volume` (under `volumes`) to `out` as a tar stream; returns how many devices, FIFOs
/// and sockets were skipped.
pub fn export<W: Write>(volumes: &Path, volume: &str, out: W) -> Result<u64, VolumeError> {
    let data = open_volume(volumes, volume)?;
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut skipped = 0;
    let walked =
        walk(&mut builder, &data, PathBuf::new(), 0, &mut skipped).and_then(|()| builder.finish());
    // A deleted volume's folder has no links left, though its descriptor still reads.
    let vanished = fstat(&data).map_or(true, |st| st.st_nlink == 0);
    if vanished {
        return Err(VolumeError::Vanished {
            volume: volume.to_owned(),
        });
    }
    walked.map_err(|err| VolumeError::Io {
        message: format!("volume {volume}: {err}"),
    })?;
    Ok(skipped)
}

fn header_for(stat: &FileStat, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(stat.st_mode & 0o7777);
    header.set_uid(u64::from(stat.st_uid));
    header.set_gid(u64::from(stat.st_gid));
    header.set_mtime(u64::try_from(stat.st_mtime).unwrap_or(0));
    header
}

/// Appends the entries of the folder open as `dir`, named under `prefix`, recursively.
fn walk<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &OwnedFd,
    prefix: PathBuf,
    depth: usize,
    skipped: &mut u64,
) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!(
            "{} is nested deeper than {MAX_DEPTH} folders",
            prefix.display()
        )));
    }
    let mut names = names(dir)?;
    names.sort();
    for name in names {
        let Some((entry, stat)) = entry(dir, name)? else {
            continue;
        };
        let path = prefix.join(OsStr::from_bytes(&entry.name));
        let c_name = std::ffi::CString::new(entry.name).map_err(io::Error::other)?;
        match entry.kind {
            EntryKind::Dir => {
                let sub = match openat(
                    dir,
                    c_name.as_c_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(sub) => sub,
                    // Gone, or replaced by something else since it was looked at.
                    Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => continue,
                    Err(err) => return Err(err.into()),
                };
                let mut header = header_for(&stat, tar::EntryType::Directory, 0);
                builder.append_data(&mut header, &path, io::empty())?;
                walk(builder, &sub, path, depth + 1, skipped)?;
            }
            EntryKind::File => {
                let Some((file, stat)) = open_file(dir, &c_name)? else {
                    continue;
                };
                let size = u64::try_from(stat.st_size).unwrap_or(0);
                let mut header = header_for(&stat, tar::EntryType::Regular, size);
                // Exactly `size` bytes, whatever the file does meanwhile.
                let body = file.take(size).chain(io::repeat(0)).take(size);
                builder.append_data(&mut header, &path, body)?;
            }
            EntryKind::Symlink => {
                let target = entry.target.unwrap_or_default();
                let mut header = header_for(&stat, tar::EntryType::Symlink, 0);
                builder.append_link(&mut header, &path, OsStr::from_bytes(&target))?;
            }
            EntryKind::Other => *skipped += 1,
        }
    }
    Ok(())
}

/// Opens regular file `name` of `dir` without following a symlink; `None` when it is gone or
/// no longer a regular file.
fn open_file(dir: &OwnedFd, name: &CStr) -> io::Result<Option<(std::fs::File, FileStat)>> {
    let fd = match openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ELOOP) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let stat = fstat(&fd)?;
    if kind_of(&stat) != EntryKind::File {
        return Ok(None);
    }
    Ok(Some((std::fs::File::from(fd), stat)))
}

/// The tar writer's output as chunks for the connection's task.
struct ChunkSink {
    buf: Vec<u8>,
    tx: mpsc::Sender<Vec<u8>>,
}

impl ChunkSink {
    fn new(tx: mpsc::Sender<Vec<u8>>) -> ChunkSink {
        ChunkSink {
            buf: Vec::with_capacity(MAX_CHUNK),
            tx,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(MAX_CHUNK));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(MAX_CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == MAX_CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for ChunkSink {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A volumes folder with volume `v` holding planted symlinks and odd names.
    fn planted() -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("v/_data");
        std::fs::create_dir_all(data.join("sub/deeper")).expect("dirs");
        std::fs::write(data.join("sub/deeper/file.txt"), b"twelve bytes").expect("file");
        std::fs::write(data.join("a\nb"), b"newline").expect("newline name");
        std::fs::write(data.join("tab\there"), b"tab").expect("tab name");
        std::fs::write(data.join(OsStr::from_bytes(b"latin\xe9")), b"x").expect("non-UTF-8");
        symlink("/etc", data.join("escape")).expect("to /etc");
        symlink("..", data.join("up")).expect("to ..");
        symlink("nowhere/at/all", data.join("dangling")).expect("dangling");
        nix::unistd::mkfifo(&data.join("fifo"), Mode::from_bits_truncate(0o644)).expect("fifo");
        // Another volume's `_data` is a symlink out of the volumes folder.
        std::fs::create_dir(root.path().join("w")).expect("w");
        symlink("/etc", root.path().join("w/_data")).expect("w/_data");
        root
    }

    fn by_name(entries: &[DirEntry], name: &[u8]) -> DirEntry {
        entries
            .iter()
            .find(|e| e.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("{:?} not listed", String::from_utf8_lossy(name)))
    }

    #[test]
    fn a_listing_shows_symlinks_as_symlinks_and_any_name() {
        let root = planted();
        let (entries, truncated) = list(root.path(), "v", "").expect("listed");
        assert!(!truncated);
        assert_eq!(entries.len(), 8, "{entries:?}");
        let escape = by_name(&entries, b"escape");
        assert_eq!(escape.kind, EntryKind::Symlink);
        assert_eq!(escape.target.as_deref(), Some(&b"/etc"[..]));
        assert_eq!(escape.size, 4);
        assert_eq!(by_name(&entries, b"up").target.as_deref(), Some(&b".."[..]));
        assert_eq!(by_name(&entries, b"dangling").kind, EntryKind::Symlink);
        let newline = by_name(&entries, b"a\nb");
        assert_eq!((newline.kind, newline.size), (EntryKind::File, 7));
        assert_eq!(by_name(&entries, b"tab\there").size, 3);
        assert_eq!(by_name(&entries, b"latin\xe9").kind, EntryKind::File);
        assert_eq!(by_name(&entries, b"fifo").kind, EntryKind::Other);
        assert_eq!(by_name(&entries, b"sub").kind, EntryKind::Dir);

        let (inner, _) = list(root.path(), "v", "sub/deeper/").expect("nested");
        assert_eq!(inner, vec![by_name(&inner, b"file.txt")]);
        assert_eq!(inner[0].size, 12);
    }

    #[test]
    fn a_listing_refuses_what_is_not_beneath_the_volume() {
        let root = planted();
        let refused = |volume: &str, path: &str| list(root.path(), volume, path).expect_err(path);
        for volume in ["", "../v", "v/_data", "-v", "nope", "w"] {
            assert_eq!(
                refused(volume, ""),
                VolumeError::NotAVolume {
                    volume: volume.into()
                },
                "{volume}"
            );
        }
        for path in ["..", "sub/../..", "/etc", "/"] {
            assert_eq!(
                refused("v", path),
                VolumeError::OutsideVolume { path: path.into() }
            );
        }
        for path in ["escape", "up", "escape/ssl", "dangling"] {
            assert_eq!(
                refused("v", path),
                VolumeError::ThroughSymlink { path: path.into() },
                "{path}"
            );
        }
        assert_eq!(
            refused("v", "missing"),
            VolumeError::NotFound {
                path: "missing".into()
            }
        );
        assert_eq!(
            refused("v", "a\nb"),
            VolumeError::NotADirectory {
                path: "a\nb".into()
            }
        );
    }

    #[test]
    fn an_export_stores_symlinks_as_symlinks_and_skips_special_files() {
        let root = planted();
        let mut tar_bytes = Vec::new();
        let skipped = export(root.path(), "v", &mut tar_bytes).expect("exported");
        assert_eq!(skipped, 1, "the FIFO");
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        let mut seen = std::collections::BTreeMap::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let path = entry.path_bytes().into_owned();
            let kind = entry.header().entry_type();
            let link = entry.link_name_bytes().map(|l| l.into_owned());
            let mut body = Vec::new();
            entry.read_to_end(&mut body).expect("body");
            seen.insert(path, (kind, link, body));
        }
        let get = |name: &[u8]| {
            seen.get(name)
                .cloned()
                .unwrap_or_else(|| panic!("{:?} not exported", String::from_utf8_lossy(name)))
        };
        assert_eq!(
            get(b"escape"),
            (tar::EntryType::Symlink, Some(b"/etc".to_vec()), vec![])
        );
        assert_eq!(get(b"up").1, Some(b"..".to_vec()));
        assert_eq!(get(b"dangling").1, Some(b"nowhere/at/all".to_vec()));
        assert_eq!(get(b"a\nb").2, b"newline");
        assert_eq!(get(b"tab\there").2, b"tab");
        assert_eq!(get(b"latin\xe9").2, b"x");
        assert_eq!(get(b"sub").0, tar::EntryType::Directory);
        assert_eq!(get(b"sub/deeper/file.txt").2, b"twelve bytes");
        assert!(!seen.contains_key(&b"fifo"[..]));
        assert!(
            !seen.keys().any(|k| k.starts_with(b"escape/")),
            "nothing through the symlink"
        );
        assert_eq!(seen.len(), 9, "{:?}", seen.keys().collect::<Vec<_>>());

        assert_eq!(
            export(root.path(), "w", Vec::new()).expect_err("w"),
            VolumeError::NotAVolume { volume: "w".into() }
        );
    }

    #[test]
    fn a_volume_deleted_during_the_export_is_named_so() {
        let root = planted();
        let volume = root.path().join("v");
        /// Deletes the volume once the first bytes are written.
        struct DeletesVolume(PathBuf, Vec<u8>);
        impl Write for DeletesVolume {
            fn write(&mut self, data: &[u8]) -> io::Result<usize> {
                if self.0.exists() {
                    std::fs::remove_dir_all(&self.0)?;
                }
                self.1.extend_from_slice(data);
                Ok(data.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert_eq!(
            export(root.path(), "v", DeletesVolume(volume, Vec::new())).expect_err("vanished"),
            VolumeError::Vanished { volume: "v".into() }
        );
    }

    #[tokio::test]
    async fn an_export_streams_chunks_then_its_trailer() {
        let root = planted();
        let (tx, mut rx) = mpsc::channel(4);
        let volumes = root.path().to_owned();
        let task = tokio::task::spawn_blocking(move || export(&volumes, "v", ChunkSink::new(tx)));
        let mut streamed = Vec::new();
        while let Some(chunk) = rx.recv().await {
            assert!(chunk.len() <= MAX_CHUNK);
            streamed.extend(chunk);
        }
        assert_eq!(task.await.expect("task"), Ok(1));
        let mut direct = Vec::new();
        export(root.path(), "v", &mut direct).expect("direct");
        assert_eq!(streamed.len(), direct.len());
        assert_eq!(streamed.len() % 512, 0);
    }
}
