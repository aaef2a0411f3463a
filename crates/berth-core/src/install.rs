//! Where an installed Berth keeps its parts, found from the `berth` executable's own place so
//! the same build works from a package (`/usr/bin/berth`) or a staged tree
//! (`$DESTDIR/usr/bin/berth`):
//!
//! | what | path, relative to the executable | Debian package |
//! | --- | --- | --- |
//! | vhost-user helpers (`vhost-device-vsock`, `virtiofsd`) | `../lib/berth/` | `/usr/lib/berth/` |
//! | the guest image (`manifest.json` and its artifacts) | `../share/berth/image/` | `/usr/share/berth/image/` |
//!
//! `installer/linux/stage` lays the files out this way; [`crate::vsock::find_helper`] and
//! `berth doctor` look here after `PATH`.

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
    /// The layout for the executable at `exe` (`…/bin/berth`).
    pub fn beside(exe: &Path) -> Option<Layout> {
        let prefix = exe.parent()?.parent()?;
        Some(Layout {
            helpers: prefix.join("lib").join("berth"),
            image: prefix.join("share").join("berth").join("image"),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn an_image_counts_only_with_its_manifest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::beside(&dir.path().join("bin/berth")).expect("layout");
        assert_eq!(layout.installed_image(), None);
        std::fs::create_dir_all(&layout.image).expect("mkdir");
        std::fs::write(layout.image.join("manifest.json"), "{}").expect("write");
        assert_eq!(layout.installed_image(), Some(layout.image.as_path()));
    }
}
