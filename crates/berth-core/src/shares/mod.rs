//! Host folders shared into the VM at the same absolute path, so `docker run -v $PWD:/app`
//! needs no translation.
//!
//! Each shared folder is served by its own unprivileged `virtiofsd` ([`virtiofsd`]) on a socket
//! in the runtime directory; QEMU gets one `vhost-user-fs-pci` device per folder and the agent
//! one `berth.share=TAG:PATH` kernel parameter, and mounts the tag at the same path. [`plan`]
//! turns the settings' folders into those devices after [`validate`] refused what cannot work
//! (a missing folder, one inside another, a path the kernel command line cannot carry, a path
//! that would hide the guest's own system). Host edits reach inotify watchers in containers
//! through [`watch`] and [`events`].
//!
//! By default the home and the system's temporary folders are shared ([`temp`]): `/tmp` is
//! shareable, as the guest keeps its own scratch space elsewhere. [`reach`] tells which host
//! paths the guest finds, so bind mounts of others are reported.
//!
//! On Windows there are no devices: WSL mounts every local drive at `/mnt/<letter>`, the
//! engine's relay translates `C:\…` host paths to those mounts
//! ([`crate::engine_api::binds`]), and [`validate`] only checks that each folder is a local
//! drive folder that exists ([`validate_windows`]).

pub mod events;
pub mod folder;
#[cfg(target_os = "linux")]
pub mod no_privileges;
pub mod reach;
pub mod temp;
pub mod virtiofsd;
pub mod watch;

use std::path::{Component, Path, PathBuf};

use berth_protocol::settings::{AgentSettings, Share};

pub use folder::SharedFolder;
pub use reach::Reach;
pub use virtiofsd::{CacheMode, Daemons};
pub use watch::FileEvents;

/// Most shared folders (each takes a PCI slot and a virtiofsd).
pub const MAX_SHARES: usize = 16;
/// Longest virtiofs tag the guest kernel accepts.
pub const MAX_TAG_LEN: usize = 36;
/// Bytes of kernel command line the `berth.share` parameters may use (the whole line is at
/// most [`berth_protocol::settings::MAX_CMDLINE`]).
pub const MAX_SHARE_PARAMS: usize = 1024;
/// Longest Unix socket path (`sun_path` less its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Guest paths a shared folder may neither be nor contain: mounting over them would hide the
/// guest's own system or the engine's data. Not `/tmp`: the guest's scratch space is under
/// `/run`, so the host's `/tmp` may be shared over the guest's.
const RESERVED: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib64",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var",
    "/var/lib",
    "/var/lib/berth",
    "/var/lib/containerd",
    "/var/lib/docker",
    "/var/run",
];

/// Guest paths a shared folder may not lie inside (virtual file systems, engine data, the
/// guest's scratch space under `/run`).
const RESERVED_TREES: &[&str] = &[
    "/dev",
    "/proc",
    "/run",
    "/sys",
    "/var/lib/berth",
    "/var/lib/containerd",
    "/var/lib/docker",
    "/var/run",
];

/// One shared folder as QEMU and virtiofsd see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareDevice {
    /// The virtiofs tag (short, derived by [`tag`]).
    pub tag: String,
    /// The host folder, normalized; the guest mounts it at the same path.
    pub host_path: PathBuf,
    /// The vhost-user socket between QEMU and virtiofsd.
    pub socket: PathBuf,
    /// virtiofsd's cache policy.
    pub cache: CacheMode,
    /// Containers may only read it: virtiofsd runs with `--readonly` (or the framework's share
    /// is read-only) and the agent mounts it read-only.
    pub read_only: bool,
}

impl ShareDevice {
    /// The agent's view: mount `tag` at the host path.
    pub fn agent_share(&self) -> Share {
        Share {
            tag: self.tag.clone(),
            // `validate` refused paths that are not UTF-8.
            path: self.host_path.to_string_lossy().into_owned(),
            read_only: self.read_only,
        }
    }
}

/// Why the shared folders cannot be used; each names the folder.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    /// Not an absolute path, or with `..`.
    #[error("shared folder {0}: the path must be absolute (on Windows a folder of a local drive, C:\\…) and without `..`")]
    NotAbsolute(PathBuf),
    /// Another OS's temporary folder, which this machine does not have (a settings file from
    /// another machine).
    #[error("shared folder {folder} does not exist here: it is {os}'s temporary folder, and this machine's are {here} (shared by default); remove it from shared_folders")]
    OtherOsTemp {
        /// The folder.
        folder: PathBuf,
        /// The OS whose temporary folder it is.
        os: &'static str,
        /// This OS's temporary folders.
        here: String,
    },
    /// The folder does not exist (or is not a folder).
    #[error("shared folder {0} does not exist or is not a folder: create it or remove it from shared_folders")]
    Missing(PathBuf),
    /// The path is not UTF-8, which the kernel command line cannot carry.
    #[error("shared folder {0}: the path is not valid UTF-8, which the VM's kernel command line cannot carry; rename it or share a parent folder")]
    NotUtf8(PathBuf),
    /// The folder would hide part of the guest's system.
    #[error("shared folder {folder} would hide the VM's own {reserved}: share a folder below it (for example your home)")]
    Reserved {
        /// The folder.
        folder: PathBuf,
        /// The guest path it would hide.
        reserved: &'static str,
    },
    /// The folder is (inside) another shared folder.
    #[error(
        "shared folder {inner} is inside {outer}, which is already shared: remove one of them"
    )]
    Nested {
        /// The folder inside.
        inner: PathBuf,
        /// The folder containing it.
        outer: PathBuf,
    },
    /// A read-only folder where Berth cannot enforce it: WSL's drive mounts are the same for
    /// every folder of a drive.
    #[error("shared folder {0} is marked read_only, which Berth cannot enforce on WSL yet (every folder of a drive is WSL's one drive mount): remove \"read_only\" or the folder")]
    ReadOnlyUnsupported(PathBuf),
    /// Too many folders.
    #[error("{0} shared folders, at most {MAX_SHARES}: share a common parent instead")]
    TooMany(usize),
    /// The paths do not fit on the kernel command line.
    #[error("shared folder {0}: the paths together are too long for the VM's kernel command line ({MAX_SHARE_PARAMS} bytes); share fewer or shorter paths")]
    TooLong(PathBuf),
    /// The runtime directory's path is too long for a socket.
    #[error("the socket path {0} is longer than {MAX_SOCKET_PATH} bytes: set XDG_RUNTIME_DIR to a shorter directory")]
    SocketPath(PathBuf),
    /// A folder's metadata could not be read.
    #[error("shared folder {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// `path` without `.` components or trailing slashes; `None` if relative or with `..`.
pub fn normalize(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => out.push(name),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The virtiofs tag of the `index`th folder: `s<index>-<name>`, from the folder's last
/// component reduced to `[a-z0-9-]`, at most [`MAX_TAG_LEN`] bytes.
pub fn tag(index: usize, folder: &Path) -> String {
    let mut tag = format!("s{index}");
    let name = folder
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut slug = String::new();
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (slug.is_empty() || slug.ends_with('-'))) {
            slug.push(c);
        }
    }
    let slug = slug.trim_end_matches('-');
    if !slug.is_empty() {
        tag.push('-');
        tag.push_str(slug);
    }
    tag.truncate(MAX_TAG_LEN);
    tag.trim_end_matches('-').to_owned()
}

/// Checks the folders (see the module doc) and returns them normalized.
pub fn validate(folders: &[PathBuf]) -> Result<Vec<PathBuf>, ShareError> {
    if cfg!(windows) {
        return validate_windows(folders);
    }
    if folders.len() > MAX_SHARES {
        return Err(ShareError::TooMany(folders.len()));
    }
    let mut checked: Vec<(PathBuf, PathBuf)> = Vec::new();
    for folder in folders {
        let path = normalize(folder).ok_or_else(|| ShareError::NotAbsolute(folder.clone()))?;
        if path.to_str().is_none() {
            return Err(ShareError::NotUtf8(folder.clone()));
        }
        for reserved in RESERVED {
            if Path::new(reserved).starts_with(&path) {
                return Err(ShareError::Reserved {
                    folder: folder.clone(),
                    reserved,
                });
            }
        }
        for reserved in RESERVED_TREES {
            if path.starts_with(reserved) {
                return Err(ShareError::Reserved {
                    folder: folder.clone(),
                    reserved,
                });
            }
        }
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(ShareError::Missing(folder.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(match temp::other_os(&path) {
                    Some(os) => ShareError::OtherOsTemp {
                        folder: folder.clone(),
                        os,
                        here: temp::this_os(),
                    },
                    None => ShareError::Missing(folder.clone()),
                });
            }
            Err(source) => {
                return Err(ShareError::Io {
                    path: folder.clone(),
                    source,
                })
            }
        }
        // Symlinks may make two spellings one folder: compare the real paths too.
        let real = std::fs::canonicalize(&path).map_err(|source| ShareError::Io {
            path: folder.clone(),
            source,
        })?;
        for (other, other_real) in &checked {
            let pairs = [(&path, other), (&real, other_real)];
            for (a, b) in pairs {
                if a.starts_with(b) {
                    return Err(ShareError::Nested {
                        inner: path.clone(),
                        outer: other.clone(),
                    });
                }
                if b.starts_with(a) {
                    return Err(ShareError::Nested {
                        inner: other.clone(),
                        outer: path.clone(),
                    });
                }
            }
        }
        checked.push((path, real));
    }
    let shares: Vec<Share> = checked
        .iter()
        .enumerate()
        .map(|(i, (path, _))| Share {
            tag: tag(i, path),
            path: path.to_string_lossy().into_owned(),
            read_only: false,
        })
        .collect();
    let mut used = 0;
    for (share, (path, _)) in shares.iter().zip(&checked) {
        let settings = AgentSettings {
            shares: vec![share.clone()],
            ..AgentSettings::default()
        };
        used += settings
            .to_cmdline()
            .iter()
            .map(|p| p.len() + 1)
            .sum::<usize>();
        if used > MAX_SHARE_PARAMS {
            return Err(ShareError::TooLong(path.clone()));
        }
    }
    Ok(checked.into_iter().map(|(path, _)| path).collect())
}

/// Checks the settings' `folders` ([`validate`] of their paths) and that each read-only one can
/// be enforced here: not on Windows (`windows`), where WSL's drive mounts are the shares.
pub fn check(folders: &[SharedFolder], windows: bool) -> Result<Vec<PathBuf>, ShareError> {
    if let Some(folder) = folders.iter().find(|f| f.read_only && windows) {
        return Err(ShareError::ReadOnlyUnsupported(folder.path.clone()));
    }
    validate(&SharedFolder::paths(folders))
}

/// Windows: each folder is a folder of a drive WSL mounts (`C:\Users\ann`; `/mnt/c/Users/ann`
/// in the VM), and exists. Returned as given.
pub fn validate_windows(folders: &[PathBuf]) -> Result<Vec<PathBuf>, ShareError> {
    if folders.len() > MAX_SHARES {
        return Err(ShareError::TooMany(folders.len()));
    }
    for folder in folders {
        let text = folder
            .to_str()
            .ok_or_else(|| ShareError::NotUtf8(folder.clone()))?;
        if crate::wsl::paths::to_wsl(text).is_none() {
            return Err(ShareError::NotAbsolute(folder.clone()));
        }
        if !folder.is_dir() {
            return Err(ShareError::Missing(folder.clone()));
        }
    }
    Ok(folders.to_vec())
}

/// The devices for `folders`, with sockets in `run_dir`, after [`validate`]; each keeps its
/// folder's `read_only`. None on Windows, where WSL's drive mounts share them.
pub fn plan(folders: &[SharedFolder], run_dir: &Path) -> Result<Vec<ShareDevice>, ShareError> {
    let checked = check(folders, cfg!(windows))?;
    if cfg!(windows) {
        return Ok(Vec::new());
    }
    checked
        .into_iter()
        .zip(folders)
        .enumerate()
        .map(|(i, (host_path, folder))| {
            let socket = crate::paths::run_dir::virtiofs_socket(run_dir, i);
            if socket.as_os_str().len() > MAX_SOCKET_PATH {
                return Err(ShareError::SocketPath(socket));
            }
            Ok(ShareDevice {
                tag: tag(i, &host_path),
                host_path,
                socket,
                cache: CacheMode::default(),
                read_only: folder.read_only,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_folders_are_local_drive_folders_that_exist() {
        for bad in [
            r"\\server\share",
            r"relative\dir",
            r"C:\a\..\b",
            "/home/ann",
        ] {
            assert!(
                matches!(
                    validate_windows(&[PathBuf::from(bad)]),
                    Err(ShareError::NotAbsolute(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            validate_windows(&[PathBuf::from(r"C:\no\such\berth\folder")]),
            Err(ShareError::Missing(_))
        ));
        assert!(matches!(
            validate_windows(&vec![PathBuf::from(r"C:\x"); MAX_SHARES + 1]),
            Err(ShareError::TooMany(_))
        ));
        #[cfg(windows)]
        {
            let home = PathBuf::from(r"C:\windows");
            let valid = validate(std::slice::from_ref(&home)).expect("valid");
            assert_eq!(valid, std::slice::from_ref(&home));
            assert!(
                plan(&[SharedFolder::read_write(home)], Path::new(r"C:\run"))
                    .expect("planned")
                    .is_empty()
            );
        }
    }

    #[test]
    fn read_only_folders_are_refused_where_they_cannot_be_enforced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ro = [SharedFolder::read_only(dir.path())];
        let e = check(&ro, true).expect_err("WSL").to_string();
        assert!(e.contains("read_only") && e.contains("WSL"), "{e}");
        // A read-write folder is checked as before.
        let rw = [SharedFolder::read_write(r"relative\dir")];
        assert!(matches!(check(&rw, true), Err(ShareError::NotAbsolute(_))));
        #[cfg(unix)]
        assert_eq!(check(&ro, false).expect("enforced here"), [dir.path()]);
    }

    #[test]
    fn tags_are_short_distinct_and_tame() {
        assert_eq!(tag(0, Path::new("/home/ana")), "s0-ana");
        assert_eq!(
            tag(3, Path::new("/work/My Projects (2)")),
            "s3-my-projects-2"
        );
        assert_eq!(tag(1, Path::new("/")), "s1");
        assert_eq!(tag(2, Path::new("/x/ü")), "s2");
        let long = tag(15, Path::new(&format!("/{}", "a".repeat(100))));
        assert_eq!(long.len(), MAX_TAG_LEN);
        assert!(long.starts_with("s15-aaa"));
        let odd = tag(4, Path::new("/x/--a,b:c--"));
        assert_eq!(odd, "s4-a-b-c");
        assert!(odd.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }

    // virtiofs shares are Unix paths (Windows shares folders through WSL's drive mounts).
    #[cfg(unix)]
    #[test]
    fn normalize_refuses_relative_and_parent_paths() {
        assert_eq!(
            normalize(Path::new("/a/./b//c/")),
            Some(PathBuf::from("/a/b/c"))
        );
        assert_eq!(normalize(Path::new("a/b")), None);
        assert_eq!(normalize(Path::new("/a/../b")), None);
    }

    #[cfg(unix)]
    fn err(folders: &[PathBuf]) -> String {
        validate(folders).expect_err("must fail").to_string()
    }

    #[cfg(unix)]
    #[test]
    fn validation_names_the_folder_and_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let inner = root.join("project");
        std::fs::create_dir(&inner).expect("mkdir");
        let missing = root.join("missing");
        let file = root.join("file");
        std::fs::write(&file, "x").expect("file");

        let valid = validate(std::slice::from_ref(&root)).expect("valid");
        assert_eq!(valid, std::slice::from_ref(&root));
        let e = err(std::slice::from_ref(&missing));
        assert!(e.contains(&*missing.to_string_lossy()) && e.contains("does not exist"));
        assert!(err(&[file]).contains("not a folder"));
        assert!(err(&["relative".into()]).contains("absolute"));
        let e = err(&[root.clone(), inner.clone()]);
        assert!(
            e.contains("is inside") && e.contains(&*inner.to_string_lossy()),
            "{e}"
        );
        let e = err(&[inner.clone(), root.clone()]);
        assert!(e.contains(&format!("{} is inside", inner.display())), "{e}");
        assert!(err(&[root.clone(), root.join("./")]).contains("is inside"));
        // The same folder through a symlink is a duplicate too.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&inner, &link).expect("symlink");
        assert!(err(&[inner.clone(), link]).contains("is inside"));
        for system in [
            "/",
            "/etc",
            "/var",
            "/proc/1",
            "/var/lib/docker/x",
            "/run/berth/tmp",
        ] {
            let e = err(&[system.into()]);
            assert!(e.contains("would hide the VM's own"), "{system}: {e}");
        }
        // The temporary folder is shareable (the VM's scratch space is under /run), but not
        // with a folder inside it.
        validate(&["/tmp".into()]).expect("/tmp is shareable");
        if let Ok(below) = tempfile::tempdir_in("/tmp") {
            let e = err(&["/tmp".into(), below.path().into()]);
            assert!(e.contains("is inside /tmp"), "{e}");
        }
        assert!(err(&vec![root; MAX_SHARES + 1]).contains("at most"));
    }

    #[cfg(unix)]
    #[test]
    fn another_oses_temporary_folder_is_refused_with_what_to_do() {
        let theirs = if cfg!(target_os = "macos") {
            "/tmp/berth-no-such-folder"
        } else {
            "/private/var/folders"
        };
        let e = err(&[theirs.into()]);
        if cfg!(target_os = "macos") {
            assert!(e.contains("does not exist"), "{e}");
        } else if !Path::new(theirs).exists() {
            assert!(
                e.contains("macOS's temporary folder")
                    && e.contains("this machine's are /tmp")
                    && e.contains("remove it from shared_folders"),
                "{e}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn paths_the_kernel_command_line_cannot_carry_are_refused() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join(std::ffi::OsStr::from_bytes(b"latin1-\xe9"));
        std::fs::create_dir(&bad).expect("mkdir");
        let e = err(&[bad]);
        assert!(
            e.contains("not valid UTF-8") && e.contains("latin1-"),
            "{e}"
        );

        let mut long = Vec::new();
        for i in 0..8 {
            let path = dir.path().join(format!("{i}-{}", "é".repeat(60)));
            std::fs::create_dir(&path).expect("mkdir");
            long.push(path);
        }
        assert!(err(&long).contains("too long for the VM's kernel command line"));
        // Spaces and quotes are percent-encoded, so they are fine.
        let spaced = dir.path().join("My \"Projects\"");
        std::fs::create_dir(&spaced).expect("mkdir");
        validate(&[spaced]).expect("spaces are carried");
    }

    // virtiofs shares are Unix paths (Windows shares folders through WSL's drive mounts).
    #[cfg(unix)]
    #[test]
    fn plan_puts_one_socket_per_folder_in_the_runtime_dir() {
        let a = tempfile::tempdir().expect("a");
        let b = tempfile::tempdir().expect("b");
        let run = Path::new("/run/user/1000/berth");
        let folders = [
            SharedFolder::read_write(a.path()),
            SharedFolder::read_only(b.path()),
        ];
        let devices = plan(&folders, run).expect("plan");
        assert_eq!(devices.len(), 2);
        assert!(!devices[0].read_only && devices[1].read_only);
        assert!(devices[1].agent_share().read_only);
        assert_eq!(devices[0].socket, run.join("virtiofs-0.sock"));
        assert_eq!(devices[1].socket, run.join("virtiofs-1.sock"));
        assert!(devices[0].tag.starts_with("s0-") && devices[1].tag.starts_with("s1-"));
        assert_eq!(devices[1].agent_share().path, b.path().to_string_lossy());
        let deep = PathBuf::from(format!("/{}", "d".repeat(120)));
        assert!(matches!(
            plan(&[SharedFolder::read_write(a.path())], &deep),
            Err(ShareError::SocketPath(_))
        ));
    }
}
