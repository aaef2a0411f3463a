//! The system's temporary folders, shared by default beside the home as Docker Desktop does,
//! because tools and test suites bind-mount what they create with `mktemp`: on Linux `/tmp`
//! (and `$TMPDIR` when it is elsewhere), on macOS `/private/tmp` and `/private/var/folders`
//! (the real folders behind `/tmp`, `/var/folders` and `$TMPDIR`; the agent makes those
//! spellings reach them, [`berth_protocol::settings::SHARE_ALIASES`]). On Windows WSL mounts
//! every local drive, so nothing is added.

use std::path::{Path, PathBuf};

/// The temporary folders of every OS Berth runs on, with the OS's name, for naming a folder
/// of another OS in an error (a settings file brought from another machine).
const KNOWN: &[(&str, &str)] = &[
    ("/tmp", "Linux"),
    ("/private/tmp", "macOS"),
    ("/private/var/folders", "macOS"),
    ("/var/folders", "macOS"),
];

/// This OS's fixed temporary folders (before `$TMPDIR`).
fn fixed() -> &'static [&'static str] {
    if cfg!(windows) {
        &[]
    } else if cfg!(target_os = "macos") {
        &["/private/tmp", "/private/var/folders"]
    } else {
        &["/tmp"]
    }
}

/// This machine's temporary folders that exist and can be shared, as real paths (symlinks
/// resolved), none inside another: the OS's own, then `$TMPDIR` when it is elsewhere.
pub fn folders() -> Vec<PathBuf> {
    if cfg!(windows) {
        return Vec::new();
    }
    let mut candidates: Vec<PathBuf> = fixed().iter().map(PathBuf::from).collect();
    candidates.extend(std::env::var_os("TMPDIR").map(PathBuf::from));
    let shareable = candidates
        .into_iter()
        .filter_map(|path| std::fs::canonicalize(path).ok())
        .filter(|path| super::validate(std::slice::from_ref(path)).is_ok())
        .collect();
    outermost(shareable)
}

/// The folders shared by default: the home (as given, even when missing: the settings' check
/// then names it) and this machine's temporary folders ([`folders`]).
pub fn default_folders(home: Option<PathBuf>) -> Vec<PathBuf> {
    outermost(home.into_iter().chain(folders()).collect())
}

/// `folders` without those inside (or equal to) an earlier or later one, comparing real paths
/// too: a home inside the temporary folder (as in tests) is shared through it, a `$TMPDIR`
/// inside the home through the home. Order is kept.
pub fn outermost(folders: Vec<PathBuf>) -> Vec<PathBuf> {
    let real = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let keys: Vec<(PathBuf, PathBuf)> = folders
        .iter()
        .map(|folder| {
            let lexical = super::normalize(folder).unwrap_or_else(|| folder.clone());
            let real = real(&lexical);
            (lexical, real)
        })
        .collect();
    let inside = |(a, a_real): &(PathBuf, PathBuf), (b, b_real): &(PathBuf, PathBuf)| {
        a.starts_with(b) || a_real.starts_with(b_real)
    };
    folders
        .iter()
        .enumerate()
        .filter(|&(i, _)| {
            !keys.iter().enumerate().any(|(j, other)| {
                // Inside another, or the same folder as an earlier one.
                j != i && inside(&keys[i], other) && (j < i || !inside(other, &keys[i]))
            })
        })
        .map(|(_, folder)| folder.clone())
        .collect()
}

/// The OS whose temporary folder `path` is, when it is not one of this OS's: for the error
/// about a shared folder that does not exist.
pub fn other_os(path: &Path) -> Option<&'static str> {
    let (_, os) = KNOWN.iter().find(|(known, _)| Path::new(known) == path)?;
    (!fixed().iter().any(|own| Path::new(own) == path)).then_some(*os)
}

/// This OS's temporary folders as a list for messages (`/tmp`, or `none`).
pub fn this_os() -> String {
    match fixed() {
        [] => "none (every local drive is reachable)".to_owned(),
        folders => folders.join(" and "),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn this_machines_temporary_folders_exist_and_can_be_shared() {
        let found = folders();
        assert!(!found.is_empty(), "no temporary folder on this machine");
        for folder in &found {
            assert!(folder.is_dir(), "{}", folder.display());
            assert_eq!(&std::fs::canonicalize(folder).expect("real"), folder);
        }
        super::super::validate(&found).expect("the temporary folders are valid together");
        #[cfg(target_os = "linux")]
        assert_eq!(found[0], Path::new("/tmp"));
    }

    #[test]
    fn nested_defaults_keep_the_outer_folder() {
        let root = tempfile::tempdir().expect("tempdir");
        let temp = root.path().join("tmp");
        let home = root.path().join("home");
        let in_home = home.join("tmp");
        let in_temp = temp.join("home");
        for dir in [&temp, &in_home, &in_temp] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        // A home inside the temporary folder (tests run so) is shared through it.
        assert_eq!(
            outermost(vec![in_temp.clone(), temp.clone()]),
            std::slice::from_ref(&temp)
        );
        // A `$TMPDIR` inside the home is shared through the home.
        assert_eq!(
            outermost(vec![home.clone(), temp.clone(), in_home.clone()]),
            [home.clone(), temp.clone()]
        );
        // The same folder twice, also through a symlink, is kept once (the first spelling).
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&temp, &link).expect("symlink");
        assert_eq!(
            outermost(vec![link.clone(), temp.clone(), temp.join(".")]),
            [link]
        );
        // A missing home stays, for the settings' check to name it.
        let missing = root.path().join("missing");
        assert_eq!(
            outermost(vec![missing.clone(), temp.clone()]),
            [missing, temp]
        );
    }

    #[test]
    fn the_default_shares_the_home_and_the_temporary_folders() {
        // A home inside the temporary folder (as in the end-to-end tests): that folder alone.
        let in_temp = tempfile::tempdir().expect("tempdir in the temporary folder");
        let defaults = default_folders(Some(in_temp.path().to_path_buf()));
        assert_eq!(defaults, folders());
        super::super::validate(&defaults).expect("valid");
        // A home elsewhere comes first, beside them.
        let home = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("tempdir");
        let defaults = default_folders(Some(home.path().to_path_buf()));
        if folders().iter().any(|t| home.path().starts_with(t)) {
            return; // this checkout is inside a temporary folder
        }
        assert_eq!(defaults[0], home.path());
        assert_eq!(&defaults[1..], folders());
        super::super::validate(&defaults).expect("valid");
    }

    #[test]
    fn another_oses_temporary_folder_is_named() {
        let here = fixed();
        for (path, os) in KNOWN {
            let expected = (!here.contains(path)).then_some(*os);
            assert_eq!(other_os(Path::new(path)), expected, "{path}");
        }
        assert_eq!(other_os(Path::new("/home/ann")), None);
        assert!(!this_os().is_empty());
    }
}
