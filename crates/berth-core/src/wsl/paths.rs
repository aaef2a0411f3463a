//! Paths between Windows and the WSL distribution. WSL mounts drive `X:` at `/mnt/x` (its
//! default `automount` root), so `C:\Users\ann\src` is `/mnt/c/Users/ann/src` in the guest: that
//! is how shared folders reach containers on Windows, with no file-sharing device.

/// WSL's default mount point of Windows drives.
pub const AUTOMOUNT_ROOT: &str = "/mnt";

/// The guest path of a Windows path: `C:\a\b` → `/mnt/c/a/b`; `\\?\C:\a` too. `None` for
/// what WSL does not mount under its automount root (UNC shares, relative paths, `..`).
pub fn to_wsl(windows: &str) -> Option<String> {
    let path = windows.strip_prefix(r"\\?\").unwrap_or(windows);
    let mut chars = path.chars();
    let drive = chars.next().filter(char::is_ascii_alphabetic)?;
    let rest = chars.as_str().strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with('\\') || rest.starts_with('/')) {
        // `C:foo` is relative to the drive's current directory.
        return None;
    }
    let mut out = format!("{AUTOMOUNT_ROOT}/{}", drive.to_ascii_lowercase());
    for part in rest
        .split(['\\', '/'])
        .filter(|p| !p.is_empty() && *p != ".")
    {
        if part == ".." {
            return None;
        }
        out.push('/');
        out.push_str(part);
    }
    Some(out)
}

/// The Windows path of a guest path under a drive mount: `/mnt/c/a/b` → `C:\a\b`.
pub fn to_windows(wsl: &str) -> Option<String> {
    let rest = wsl.strip_prefix(AUTOMOUNT_ROOT)?.strip_prefix('/')?;
    let (drive, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let mut letters = drive.chars();
    let letter = letters.next().filter(char::is_ascii_alphabetic)?;
    if letters.next().is_some() {
        return None;
    }
    let mut out = format!("{}:\\", letter.to_ascii_uppercase());
    let parts: Vec<&str> = tail.split('/').filter(|p| !p.is_empty()).collect();
    if parts.contains(&"..") {
        return None;
    }
    out.push_str(&parts.join("\\"));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_paths_map_to_automounts() {
        assert_eq!(
            to_wsl(r"C:\Users\ann\src").as_deref(),
            Some("/mnt/c/Users/ann/src")
        );
        assert_eq!(to_wsl(r"d:\").as_deref(), Some("/mnt/d"));
        assert_eq!(to_wsl("E:").as_deref(), Some("/mnt/e"));
        assert_eq!(
            to_wsl(r"C:/Users\ann/./x").as_deref(),
            Some("/mnt/c/Users/ann/x")
        );
        assert_eq!(
            to_wsl(r"\\?\C:\Users\Ann Lee\My Project").as_deref(),
            Some("/mnt/c/Users/Ann Lee/My Project")
        );
    }

    #[test]
    fn what_wsl_does_not_automount_is_refused() {
        for path in [
            r"\\server\share\x",
            "relative\\dir",
            r"C:relative",
            r"C:\a\..\b",
            "",
            "1:\\x",
        ] {
            assert_eq!(to_wsl(path), None, "{path:?}");
        }
    }

    #[test]
    fn automounts_map_back() {
        assert_eq!(
            to_windows("/mnt/c/Users/ann").as_deref(),
            Some(r"C:\Users\ann")
        );
        assert_eq!(to_windows("/mnt/d").as_deref(), Some(r"D:\"));
        assert_eq!(to_windows("/mnt/wsl/x"), None);
        assert_eq!(to_windows("/home/ann"), None);
        assert_eq!(to_windows("/mnt/c/../etc"), None);
        let round = to_wsl(r"C:\Users\Ann Lee\src").expect("maps");
        assert_eq!(to_windows(&round).as_deref(), Some(r"C:\Users\Ann Lee\src"));
    }
}
