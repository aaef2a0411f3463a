//! Linux and macOS: the default socket `/var/run/docker.sock`, where tools that ignore docker
//! contexts look (the Python SDK, testcontainers, IDE plugins), made a symbolic link to the
//! user's engine socket, as Docker Desktop's "Allow the default Docker socket to be used".
//! The link needs the administrator once (`berth default-socket enable`); it gives no one
//! more than the user already has, as the socket it points at stays 0600 in a 0700 directory.
//!
//! Berth never takes over another engine's socket: [`inspect`] says what is at the path, and
//! only a link to Berth's own socket, or to another of this user's Berth sockets that no
//! engine answers on, is Berth's to replace or remove. `BERTH_DEFAULT_SOCKET` moves the path
//! (for tests, and for a system whose default differs).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the Docker engine's socket is by default.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The environment variable that moves [`DEFAULT_SOCKET`].
pub const PATH_VARIABLE: &str = "BERTH_DEFAULT_SOCKET";

/// The default socket's path: [`PATH_VARIABLE`] when set, else [`DEFAULT_SOCKET`].
pub fn path() -> PathBuf {
    std::env::var_os(PATH_VARIABLE)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// What is at the default socket's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Nothing.
    Nothing,
    /// A link to Berth's own socket (whether Berth runs or not).
    Ours,
    /// A link to another socket of this user's Berth (an older runtime directory) that no
    /// engine answers on: Berth's, so it may be replaced or removed.
    StaleBerth(PathBuf),
    /// A socket an engine answers on (directly or through a link to `target`).
    Engine {
        /// Where the link points, when it is one.
        target: Option<PathBuf>,
    },
    /// Something else that is not Berth's: a socket no one answers on, a file, a link
    /// elsewhere.
    Other(String),
}

/// Why the default socket cannot be changed.
#[derive(Debug, thiserror::Error)]
pub enum DefaultSocketError {
    /// Another engine answers there.
    #[error(
        "{path} is served by another engine{via}: Berth leaves it alone. Stop that engine \
         (e.g. `sudo systemctl disable --now docker.socket docker.service`, or quit Docker \
         Desktop) and run `berth default-socket enable` again, or point the tool at Berth with \
         `eval \"$(berth env)\"` (DOCKER_HOST)",
        via = .target.as_ref().map(|t| format!(" (a link to {})", t.display())).unwrap_or_default()
    )]
    OtherEngine {
        /// The default socket's path.
        path: PathBuf,
        /// Where the link points, when it is one.
        target: Option<PathBuf>,
    },
    /// Something that is not Berth's is there.
    #[error(
        "{path} is {what}, not Berth's: Berth leaves it alone. If nothing needs it, remove it \
         (`sudo rm {path}`) and run `berth default-socket enable` again, or point the tool at \
         Berth with `eval \"$(berth env)\"` (DOCKER_HOST)"
    )]
    NotBerths {
        /// The default socket's path.
        path: PathBuf,
        /// What is there.
        what: String,
    },
    /// The path could not be read.
    #[error("cannot inspect {path}: {source}")]
    Inspect {
        /// The default socket's path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What enabling or disabling the default socket does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing: it is already so.
    None,
    /// Make `path` a link to `target`; `replace`: a stale link of Berth's is there.
    Link {
        /// The default socket's path.
        path: PathBuf,
        /// Berth's socket.
        target: PathBuf,
        /// Replace the link that is there.
        replace: bool,
    },
    /// Remove the link `path` (Berth's).
    Unlink {
        /// The default socket's path.
        path: PathBuf,
    },
}

/// What is at `path`, for Berth's socket `own`. A socket is probed with a connection (which
/// an engine accepts); a link's target is read, not followed blindly.
pub async fn inspect(path: &Path, own: &Path) -> Result<Found, DefaultSocketError> {
    let inspect_error = |source| DefaultSocketError::Inspect {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(err) => return Err(inspect_error(err)),
    };
    let answers = tokio::net::UnixStream::connect(path).await.is_ok();
    if !meta.file_type().is_symlink() {
        return Ok(if answers {
            Found::Engine { target: None }
        } else if is_socket(&meta) {
            Found::Other("a socket no engine answers on (left by an engine that stopped?)".into())
        } else {
            Found::Other(format!("a {}", kind(&meta)))
        });
    }
    let target = std::fs::read_link(path).map_err(inspect_error)?;
    // A relative link is relative to the link's directory.
    let absolute = match path.parent() {
        Some(dir) if target.is_relative() => dir.join(&target),
        _ => target.clone(),
    };
    if absolute == own {
        return Ok(Found::Ours);
    }
    if answers {
        return Ok(Found::Engine {
            target: Some(target),
        });
    }
    if is_users_berth_socket(&absolute) {
        return Ok(Found::StaleBerth(target));
    }
    Ok(Found::Other(format!(
        "a link to {}, which no engine answers on",
        target.display()
    )))
}

/// The change that makes `path` a link to Berth's socket `own`, or why Berth may not.
pub async fn enable(path: &Path, own: &Path) -> Result<Change, DefaultSocketError> {
    let link = |replace| Change::Link {
        path: path.to_path_buf(),
        target: own.to_path_buf(),
        replace,
    };
    match inspect(path, own).await? {
        Found::Nothing => Ok(link(false)),
        Found::StaleBerth(_) => Ok(link(true)),
        Found::Ours => Ok(Change::None),
        found => Err(refusal(path, found)),
    }
}

/// The change that removes Berth's link at `path`, or why Berth may not (it is not Berth's).
pub async fn disable(path: &Path, own: &Path) -> Result<Change, DefaultSocketError> {
    match inspect(path, own).await? {
        Found::Nothing => Ok(Change::None),
        Found::Ours | Found::StaleBerth(_) => Ok(Change::Unlink {
            path: path.to_path_buf(),
        }),
        found => Err(refusal(path, found)),
    }
}

/// The error for what is not Berth's at `path`.
pub fn refusal(path: &Path, found: Found) -> DefaultSocketError {
    match found {
        Found::Engine { target } => DefaultSocketError::OtherEngine {
            path: path.to_path_buf(),
            target,
        },
        Found::Other(what) => DefaultSocketError::NotBerths {
            path: path.to_path_buf(),
            what,
        },
        Found::Nothing | Found::Ours | Found::StaleBerth(_) => DefaultSocketError::NotBerths {
            path: path.to_path_buf(),
            what: "Berth's".into(),
        },
    }
}

/// Makes the change without privileges (which works where the directory is the user's, or
/// for root); a permission error is returned as it is, for the caller to ask for privileges.
pub fn apply_unprivileged(change: &Change) -> std::io::Result<()> {
    match change {
        Change::None => Ok(()),
        Change::Link {
            path,
            target,
            replace,
        } => {
            if *replace {
                remove_link(path)?;
            }
            std::os::unix::fs::symlink(target, path)
        }
        Change::Unlink { path } => remove_link(path),
    }
}

/// The one command that makes the change as the administrator (`sudo`/`pkexec` prefix it):
/// `ln -s` (with `-fn` to replace a stale link of Berth's) or `rm` of the link.
pub fn privileged_command(change: &Change) -> Option<Vec<std::ffi::OsString>> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    match change {
        Change::None => return None,
        Change::Link {
            path,
            target,
            replace,
        } => {
            args.push("/bin/ln".into());
            args.push(if *replace { "-sfn" } else { "-s" }.into());
            args.push("--".into());
            args.push(target.into());
            args.push(path.into());
        }
        Change::Unlink { path } => {
            args.push("/bin/rm".into());
            args.push("--".into());
            args.push(path.into());
        }
    }
    Some(args)
}

/// Removes `path` only if it is a link (never what replaced it since it was inspected).
fn remove_link(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::remove_file(path),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} is no longer a link: left alone", path.display()),
        )),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// `path` is a Berth engine socket of this user: `docker.sock` beside Berth's lock file, in
/// a directory the user owns.
fn is_users_berth_socket(path: &Path) -> bool {
    let Some(dir) = path.parent() else {
        return false;
    };
    path.file_name() == Some(std::ffi::OsStr::new(crate::paths::ENGINE_SOCKET))
        && dir.join(crate::paths::LOCK_FILE).is_file()
        && std::fs::metadata(dir).is_ok_and(|m| m.uid() == nix::unistd::geteuid().as_raw())
}

fn is_socket(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_socket()
}

fn kind(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_dir() {
        "directory"
    } else if meta.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary directory with Berth's socket path (`run/docker.sock`, not served).
    struct Rig {
        dir: tempfile::TempDir,
        own: PathBuf,
        path: PathBuf,
    }

    fn rig() -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        let own = dir.path().join("run").join("docker.sock");
        std::fs::create_dir(own.parent().expect("run")).expect("run dir");
        let path = dir.path().join("docker.sock");
        Rig { dir, own, path }
    }

    #[tokio::test]
    async fn nothing_there_is_linked_and_the_link_is_ours_until_disabled() {
        let rig = rig();
        let change = enable(&rig.path, &rig.own).await.expect("enable");
        assert_eq!(
            change,
            Change::Link {
                path: rig.path.clone(),
                target: rig.own.clone(),
                replace: false
            }
        );
        apply_unprivileged(&change).expect("link");
        assert_eq!(
            inspect(&rig.path, &rig.own).await.expect("inspect"),
            Found::Ours
        );
        assert_eq!(
            enable(&rig.path, &rig.own).await.expect("again"),
            Change::None
        );
        let change = disable(&rig.path, &rig.own).await.expect("disable");
        apply_unprivileged(&change).expect("unlink");
        assert_eq!(
            inspect(&rig.path, &rig.own).await.expect("inspect"),
            Found::Nothing
        );
        assert_eq!(
            disable(&rig.path, &rig.own).await.expect("gone"),
            Change::None
        );
    }

    #[tokio::test]
    async fn another_engines_socket_is_refused_and_left_alone() {
        let rig = rig();
        let _engine = tokio::net::UnixListener::bind(&rig.path).expect("other engine");
        let err = enable(&rig.path, &rig.own).await.expect_err("refused");
        let message = err.to_string();
        assert!(
            matches!(err, DefaultSocketError::OtherEngine { target: None, .. }),
            "{message}"
        );
        assert!(
            message.contains(&rig.path.display().to_string()) && message.contains("berth env"),
            "{message}"
        );
        assert!(disable(&rig.path, &rig.own).await.is_err());
        let meta = std::fs::symlink_metadata(&rig.path).expect("still there");
        assert!(is_socket(&meta), "the other engine's socket is left alone");
    }

    #[tokio::test]
    async fn a_link_to_another_live_engine_is_refused() {
        let rig = rig();
        let other = rig.dir.path().join("other.sock");
        let _engine = tokio::net::UnixListener::bind(&other).expect("other engine");
        std::os::unix::fs::symlink(&other, &rig.path).expect("link");
        match enable(&rig.path, &rig.own).await {
            Err(DefaultSocketError::OtherEngine { target, .. }) => {
                assert_eq!(target, Some(other.clone()))
            }
            other => panic!("expected OtherEngine, got {other:?}"),
        }
        assert_eq!(std::fs::read_link(&rig.path).expect("link kept"), other);
    }

    #[tokio::test]
    async fn stale_sockets_files_and_foreign_links_are_not_berths() {
        let rig = rig();
        drop(std::os::unix::net::UnixListener::bind(&rig.path).expect("stale"));
        let err = enable(&rig.path, &rig.own).await.expect_err("stale socket");
        assert!(err.to_string().contains("no engine answers"), "{err}");
        std::fs::remove_file(&rig.path).expect("rm");

        std::fs::write(&rig.path, b"").expect("file");
        let err = enable(&rig.path, &rig.own).await.expect_err("file");
        assert!(err.to_string().contains("regular file"), "{err}");
        std::fs::remove_file(&rig.path).expect("rm");

        // A dangling link to something that is not a Berth socket.
        std::os::unix::fs::symlink(rig.dir.path().join("gone.sock"), &rig.path).expect("link");
        let err = disable(&rig.path, &rig.own)
            .await
            .expect_err("foreign link");
        assert!(err.to_string().contains("gone.sock"), "{err}");
        assert!(std::fs::symlink_metadata(&rig.path).is_ok(), "left alone");
    }

    #[tokio::test]
    async fn a_stale_link_to_an_older_berth_socket_is_replaced() {
        let rig = rig();
        let old_run = rig.dir.path().join("old-run");
        std::fs::create_dir(&old_run).expect("old run");
        std::fs::write(old_run.join(crate::paths::LOCK_FILE), b"").expect("lock");
        let old = old_run.join(crate::paths::ENGINE_SOCKET);
        std::os::unix::fs::symlink(&old, &rig.path).expect("link");
        let change = enable(&rig.path, &rig.own).await.expect("enable");
        assert!(
            matches!(change, Change::Link { replace: true, .. }),
            "{change:?}"
        );
        apply_unprivileged(&change).expect("replace");
        assert_eq!(std::fs::read_link(&rig.path).expect("link"), rig.own);
    }

    #[test]
    fn the_privileged_step_is_one_narrow_command() {
        let change = Change::Link {
            path: DEFAULT_SOCKET.into(),
            target: "/run/user/1000/berth/docker.sock".into(),
            replace: false,
        };
        assert_eq!(
            privileged_command(&change).expect("command"),
            [
                "/bin/ln",
                "-s",
                "--",
                "/run/user/1000/berth/docker.sock",
                DEFAULT_SOCKET
            ]
            .map(std::ffi::OsString::from)
        );
        assert_eq!(
            privileged_command(&Change::Unlink {
                path: DEFAULT_SOCKET.into()
            })
            .expect("command"),
            ["/bin/rm", "--", DEFAULT_SOCKET].map(std::ffi::OsString::from)
        );
        assert_eq!(privileged_command(&Change::None), None);
    }
}
