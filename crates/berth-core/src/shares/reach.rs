//! Which host paths the engine in the VM finds: [`Reach`] answers for a bind mount's source
//! whether the guest sees the host's files there (it is inside a shared folder), so the
//! engine's relay can report a bind that would silently mount the VM's own (often empty)
//! folder instead ([`crate::engine_api::unshared`]).
//!
//! The guest resolves a path by its own tree: the shares are mounted at their host paths, and
//! below a share the host's symlinks show as they are. So a source is reached when
//!
//! - its spelling lies in a share (as given, or through one of
//!   [`berth_protocol::settings::SHARE_ALIASES`], which the agent mounts too: macOS's `/tmp`),
//! - and its real path on the host (symlinks resolved) lies in a share's real path: a symlink
//!   in the home that points elsewhere leads the guest out of the share.
//!
//! The VM's own paths, which tools bind on purpose (the engine's socket, `/proc`, `/sys`,
//! `/dev`, `/lib/modules`, the time zone, `/` itself), are never reported ([`is_vm_path`]).

use std::path::{Component, Path, PathBuf};

use berth_protocol::settings::SHARE_ALIASES;

/// Paths that mean the VM's own when bound: they cannot be shared (see
/// [`super::validate`]) and what is there is the engine host's, which is what such binds ask
/// for (`/var/run/docker.sock`, `/proc`, `/sys`, `/dev`, the engine's data), plus the VM
/// kernel's modules and its time zone.
const VM_PATHS: &[&str] = &[
    "/dev",
    "/proc",
    "/run",
    "/sys",
    "/var/run",
    "/var/lib/berth",
    "/var/lib/containerd",
    "/var/lib/docker",
    "/lib/modules",
    "/usr/lib/modules",
    "/etc/localtime",
    "/etc/timezone",
];

/// The shared folders as the guest mounts them and as they really are on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// (the path the guest mounts it at, its real path on the host).
    folders: Vec<(PathBuf, PathBuf)>,
}

impl Reach {
    /// The reach of `folders` (shared folders, as validated).
    pub fn new(folders: &[PathBuf]) -> Reach {
        Reach {
            folders: folders
                .iter()
                .map(|folder| {
                    let path = clean(folder);
                    let real = resolve(&path);
                    (path, real)
                })
                .collect(),
        }
    }

    /// The shared folders, as the guest mounts them.
    pub fn folders(&self) -> impl Iterator<Item = &Path> {
        self.folders.iter().map(|(path, _)| path.as_path())
    }

    /// Whether the guest finds the host's `path` (absolute) at that path: see the module doc.
    pub fn reaches(&self, path: &Path) -> bool {
        spellings(&clean(path)).iter().any(|spelling| {
            self.folders.iter().any(|(f, _)| spelling.starts_with(f)) && {
                let real = resolve(spelling);
                self.folders.iter().any(|(_, f)| real.starts_with(f))
            }
        })
    }
}

/// Whether `path` (absolute) is the VM's own when bound: `/` or inside one of [`VM_PATHS`].
pub fn is_vm_path(path: &Path) -> bool {
    let path = clean(path);
    path == Path::new("/") || VM_PATHS.iter().any(|vm| path.starts_with(vm))
}

/// `path` and its spellings through [`SHARE_ALIASES`] (`/tmp/x` is also `/private/tmp/x`).
fn spellings(path: &Path) -> Vec<PathBuf> {
    let mut all = vec![path.to_path_buf()];
    for (alias, real) in SHARE_ALIASES {
        if let Ok(rest) = path.strip_prefix(alias) {
            all.push(Path::new(real).join(rest));
        }
    }
    all
}

/// `path` made absolute without `.`, `..` or repeated slashes, as the engine cleans a bind's
/// source (`..` at the root stays at the root).
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The real path of `path`: its longest existing ancestor with symlinks resolved, then the
/// rest as written (a bind of a folder not created yet).
fn resolve(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return missing.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_owned());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_a_share_are_reached_and_others_not() {
        let root = tempfile::tempdir().expect("tempdir");
        let real_root = std::fs::canonicalize(root.path()).expect("real");
        let home = real_root.join("home");
        let outside = real_root.join("outside");
        std::fs::create_dir_all(home.join("src")).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        let reach = Reach::new(std::slice::from_ref(&home));
        assert!(reach.reaches(&home));
        assert!(reach.reaches(&home.join("src")));
        assert!(reach.reaches(&home.join("not/created/yet")));
        assert!(reach.reaches(&home.join("./src/../src//")));
        assert!(!reach.reaches(&outside));
        assert!(
            !reach.reaches(&real_root.join("home2")),
            "a prefix is not a parent"
        );
        assert!(!reach.reaches(&home.join("../outside")));
        // A symlink in the share leading out of it: the guest follows it into its own tree.
        std::os::unix::fs::symlink(&outside, home.join("out")).expect("symlink");
        assert!(!reach.reaches(&home.join("out/x")));
        // A symlink outside every share into one: the guest has no such symlink.
        std::os::unix::fs::symlink(&home, outside.join("in")).expect("symlink");
        assert!(!reach.reaches(&outside.join("in/src")));
        // A symlink in the share to elsewhere in it is fine.
        std::os::unix::fs::symlink(home.join("src"), home.join("s")).expect("symlink");
        assert!(reach.reaches(&home.join("s")));
        assert!(!Reach::default().reaches(&home));
        assert_eq!(reach.folders().collect::<Vec<_>>(), [home.as_path()]);
    }

    /// On Linux `/tmp` is its own share; elsewhere the macOS spellings are checked through
    /// the same table the agent mounts (`/private/tmp` need not exist on this machine: the
    /// missing part of a path is taken as written).
    #[test]
    fn temporary_folders_are_reached_by_their_spellings() {
        let linux = Reach::new(&[PathBuf::from("/tmp")]);
        let dir = tempfile::tempdir_in("/tmp").expect("tempdir");
        assert!(linux.reaches(dir.path()));
        assert!(linux.reaches(Path::new("/tmp/not-created-yet-berth")));
        if !Path::new("/private").exists() {
            let macos = Reach::new(&[
                PathBuf::from("/private/tmp"),
                PathBuf::from("/private/var/folders"),
            ]);
            assert!(macos.reaches(Path::new("/private/tmp/x")));
            assert!(macos.reaches(Path::new("/var/folders/xy/abc/T/tmp.1")));
            assert!(!macos.reaches(Path::new("/var/tmp/x")));
            assert!(!macos.reaches(Path::new("/privatex/tmp")));
        }
    }

    #[test]
    fn the_vms_own_paths_are_known() {
        for path in [
            "/",
            "/var/run/docker.sock",
            "/run/docker.sock",
            "/proc",
            "/sys/fs/cgroup",
            "/dev/kvm",
            "/lib/modules",
            "/etc/localtime",
            "/var/lib/docker/containers",
            "/proc/../proc/1",
        ] {
            assert!(is_vm_path(Path::new(path)), "{path}");
        }
        for path in [
            "/home/ann",
            "/etc/passwd",
            "/var/tmp",
            "/tmp",
            "/runx",
            "/mnt",
        ] {
            assert!(!is_vm_path(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn clean_is_the_engines_clean() {
        assert_eq!(clean(Path::new("/a/./b//c/")), Path::new("/a/b/c"));
        assert_eq!(clean(Path::new("/a/../../b")), Path::new("/b"));
        assert_eq!(clean(Path::new("/")), Path::new("/"));
    }
}
