//! Where an installed Berth keeps its parts, found from the `berth` executable's own place so
//! the same build works from a package (`/usr/bin/berth`), a staged tree
//! (`$DESTDIR/usr/bin/berth`) or an app bundle:
//!
//! | what | Linux: relative to the executable (Debian package) | macOS `.app` | Windows (NSIS, MSI) |
//! | --- | --- | --- | --- |
//! | helpers (`vhost-device-vsock`, `virtiofsd`) | `../lib/berth/` (`/usr/lib/berth/`) | `Contents/MacOS/` | the install folder |
//! | the guest image (`manifest.json` and its artifacts) | `../share/berth/image/` (`/usr/share/berth/image/`) | `Contents/Resources/image/` | `image\` in the install folder |
//!
//! `installer/linux/stage` lays the Linux files out this way, and the Tauri bundles
//! (`src-tauri/tauri.{linux,macos,windows}.conf.json`) put the CLI and the image where this
//! module looks; [`crate::vsock::find_helper`] and `berth doctor` look for helpers here before
//! `PATH` ([`helper_dirs`]).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The installed layout beside one executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The helper binaries' directory.
    pub helpers: PathBuf,
    /// The guest image directory.
    pub image: PathBuf,
}

impl Layout {
    /// The layout for the executable at `exe`: `…/bin/berth` (a prefix), or
    /// `….app/Contents/MacOS/berth` (a macOS app bundle); on Windows the install folder.
    pub fn beside(exe: &Path) -> Option<Layout> {
        let dir = exe.parent()?;
        if let Some(contents) = dir.parent() {
            if dir.file_name() == Some(OsStr::new("MacOS"))
                && contents.file_name() == Some(OsStr::new("Contents"))
            {
                return Some(Layout {
                    helpers: dir.to_path_buf(),
                    image: contents.join("Resources").join("image"),
                });
            }
        }
        if cfg!(windows) {
            return Some(Layout::flat(dir));
        }
        let prefix = dir.parent()?;
        Some(Layout {
            helpers: prefix.join("lib").join("berth"),
            image: prefix.join("share").join("berth").join("image"),
        })
    }

    /// A Windows install folder (Tauri's NSIS and MSI layout): `berth.exe` and the app side by
    /// side, the image in `image\`.
    pub fn flat(dir: &Path) -> Layout {
        Layout {
            helpers: dir.to_path_buf(),
            image: dir.join("image"),
        }
    }

    /// The layout for this process's executable.
    pub fn current() -> Option<Layout> {
        let exe = std::env::current_exe().ok()?;
        Layout::beside(&exe)
    }

    /// The installed guest image, when one is there.
    pub fn installed_image(&self) -> Option<&Path> {
        self.image
            .join("manifest.json")
            .is_file()
            .then_some(self.image.as_path())
    }
}

/// Where helper programs are looked for, in order: the installed layout's helper directory
/// (a package's own, version-matched helpers win over whatever else is installed), each
/// directory of `path`, then `home/.cargo/bin`.
pub fn helper_dirs(
    layout: Option<&Layout>,
    path: Option<&OsStr>,
    home: Option<&Path>,
) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = layout.map(|l| l.helpers.clone()).into_iter().collect();
    dirs.extend(
        path.map(|p| std::env::split_paths(p).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    dirs.extend(home.map(|h| h.join(".cargo").join("bin")));
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    // The prefix layout is Linux's (a Debian package); Windows installs into one folder.
    #[cfg(unix)]
    #[test]
    fn the_package_layout_hangs_off_the_prefix() {
        let layout = Layout::beside(Path::new("/usr/bin/berth")).expect("layout");
        assert_eq!(layout.helpers, Path::new("/usr/lib/berth"));
        assert_eq!(layout.image, Path::new("/usr/share/berth/image"));
        let staged = Layout::beside(Path::new("/tmp/stage/usr/bin/berth")).expect("layout");
        assert_eq!(staged.helpers, Path::new("/tmp/stage/usr/lib/berth"));
        assert_eq!(Layout::beside(Path::new("berth")), None);
    }

    #[test]
    fn app_bundles_keep_the_image_in_their_resources() {
        let layout = Layout::beside(Path::new("/Applications/Berth.app/Contents/MacOS/berth"))
            .expect("layout");
        assert_eq!(
            layout.image,
            Path::new("/Applications/Berth.app/Contents/Resources/image")
        );
        assert_eq!(
            layout.helpers,
            Path::new("/Applications/Berth.app/Contents/MacOS")
        );
        let windows = Layout::flat(Path::new("/Program Files/Berth"));
        assert_eq!(windows.image, Path::new("/Program Files/Berth/image"));
    }

    #[test]
    fn an_image_counts_only_with_its_manifest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::beside(&dir.path().join("bin/berth")).expect("layout");
        assert_eq!(layout.installed_image(), None);
        std::fs::create_dir_all(&layout.image).expect("mkdir");
        std::fs::write(layout.image.join("manifest.json"), "{}").expect("write");
        assert_eq!(layout.installed_image(), Some(layout.image.as_path()));
    }

    #[cfg(windows)]
    #[test]
    fn the_windows_install_folder_holds_the_helpers_and_the_image() {
        let layout =
            Layout::beside(Path::new(r"C:\Program Files\Berth\berth.exe")).expect("layout");
        assert_eq!(layout.helpers, Path::new(r"C:\Program Files\Berth"));
        assert_eq!(layout.image, Path::new(r"C:\Program Files\Berth\image"));
    }

    #[test]
    fn installed_helpers_come_before_path_and_cargo() {
        let layout = Layout::flat(Path::new("/opt/berth"));
        let path = std::env::join_paths(["/usr/local/bin", "/usr/bin"]).expect("join");
        let home = Path::new("/home/u");
        let dirs = helper_dirs(Some(&layout), Some(&path), Some(home));
        assert_eq!(
            dirs,
            [
                PathBuf::from("/opt/berth"),
                PathBuf::from("/usr/local/bin"),
                PathBuf::from("/usr/bin"),
                home.join(".cargo").join("bin"),
            ]
        );
        assert_eq!(helper_dirs(None, None, None), Vec::<PathBuf>::new());
    }
}
