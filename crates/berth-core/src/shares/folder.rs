//! One entry of the settings' `shared_folders`: a host folder and whether containers may only
//! read it.
//!
//! In the file a read-write folder is its path alone (`"/home/ann"`, what every settings file
//! before read-only folders holds) and a read-only one an object (`{"path": "/srv/ref",
//! "read_only": true}`); either form is read, a missing `read_only` is `false`, and a
//! read-write folder is written back as a plain path, so such a file stays readable by a Berth
//! that predates the flag.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A shared folder as the settings name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(
    feature = "ts",
    ts(type = "string | { path: string, read_only?: boolean }")
)]
#[serde(from = "Entry", into = "Entry")]
pub struct SharedFolder {
    /// The host folder; the guest mounts it at the same path.
    pub path: PathBuf,
    /// Containers may read but not create, change, remove, rename or `chmod` anything in it;
    /// enforced by the host's file server (see `ARCHITECTURE.md`, Shared folders).
    pub read_only: bool,
}

impl SharedFolder {
    /// A folder containers may write to.
    pub fn read_write(path: impl Into<PathBuf>) -> SharedFolder {
        SharedFolder {
            path: path.into(),
            read_only: false,
        }
    }

    /// A folder containers may only read.
    pub fn read_only(path: impl Into<PathBuf>) -> SharedFolder {
        SharedFolder {
            path: path.into(),
            read_only: true,
        }
    }

    /// The paths of `folders`, in order.
    pub fn paths(folders: &[SharedFolder]) -> Vec<PathBuf> {
        folders.iter().map(|f| f.path.clone()).collect()
    }
}

impl AsRef<Path> for SharedFolder {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// The two spellings in the file.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Entry {
    Path(PathBuf),
    Folder(Folder),
}

/// The object spelling; a misspelt flag (`readonly`) is refused rather than read as `false`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Folder {
    path: PathBuf,
    #[serde(default)]
    read_only: bool,
}

impl From<Entry> for SharedFolder {
    fn from(entry: Entry) -> SharedFolder {
        match entry {
            Entry::Path(path) => SharedFolder::read_write(path),
            Entry::Folder(Folder { path, read_only }) => SharedFolder { path, read_only },
        }
    }
}

impl From<SharedFolder> for Entry {
    fn from(folder: SharedFolder) -> Entry {
        match folder.read_only {
            false => Entry::Path(folder.path),
            true => Entry::Folder(Folder {
                path: folder.path,
                read_only: true,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_alone_is_read_write_and_stays_a_path() {
        let folders: Vec<SharedFolder> = serde_json::from_str(
            r#"["/home/ann", {"path": "/srv/ref", "read_only": true},
                {"path": "/work"}]"#,
        )
        .expect("both spellings");
        assert_eq!(
            folders,
            [
                SharedFolder::read_write("/home/ann"),
                SharedFolder::read_only("/srv/ref"),
                SharedFolder::read_write("/work"),
            ]
        );
        assert_eq!(
            serde_json::to_string(&folders).expect("json"),
            r#"["/home/ann",{"path":"/srv/ref","read_only":true},"/work"]"#
        );
    }

    #[test]
    fn other_values_are_refused() {
        for bad in [
            r#"[1]"#,
            r#"[{"read_only": true}]"#,
            r#"[{"path": "/a", "read_only": "yes"}]"#,
            r#"[{"path": "/a", "readonly": true}]"#,
        ] {
            assert!(
                serde_json::from_str::<Vec<SharedFolder>>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
