//! The Windows login entry: the value `Berth` of the `Run` key, which tauri-plugin-autostart
//! writes through the `auto-launch` crate (`auto-launch` 0.6, `src/windows.rs`:
//! `SOFTWARE\Microsoft\Windows\CurrentVersion\Run` under `HKEY_LOCAL_MACHINE` when the app runs
//! elevated, else `HKEY_CURRENT_USER`, as `format!("{} {}", app_path, args.join(" "))`). The
//! program's path goes in bare, and Windows splits a `Run` command line at spaces, so
//! `C:\Program Files\Berth\berth-desktop.exe --autostart` would start `C:\Program` if there
//! were one, and only then the app; [`quote_program`] rewrites the value with the path quoted.

use super::ARG;

/// The key the plugin writes the value in, under either root.
#[cfg(windows)]
const RUN_KEY: &str = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run";

/// Quotes the program's path in the login entry, in whichever root holds it. A value that is
/// not there, or already quoted, is left alone; one this process may read but not change
/// (written machine-wide by an elevated launch) is logged and left.
#[cfg(windows)]
pub fn quote_program() -> std::io::Result<()> {
    use super::ENTRY_NAME;
    use windows_registry::{CURRENT_USER, LOCAL_MACHINE};
    /// `HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)` and `(ERROR_ACCESS_DENIED)`.
    const NOT_FOUND: i32 = 0x8007_0002_u32 as i32;
    const ACCESS_DENIED: i32 = 0x8007_0005_u32 as i32;
    for (root, name) in [(CURRENT_USER, "HKCU"), (LOCAL_MACHINE, "HKLM")] {
        let value = match root
            .open(RUN_KEY)
            .and_then(|key| key.get_string(ENTRY_NAME))
        {
            Ok(value) => value,
            Err(e) if e.code().0 == NOT_FOUND => continue,
            Err(e) => return Err(e.into()),
        };
        let Some(fixed) = quoted(&value) else {
            continue;
        };
        let written = root
            .options()
            .write()
            .open(RUN_KEY)
            .and_then(|key| key.set_string(ENTRY_NAME, &fixed));
        match written {
            Ok(()) => {}
            Err(e) if e.code().0 == ACCESS_DENIED => {
                tracing::warn!("cannot quote the login entry {name}\\{RUN_KEY}\\{ENTRY_NAME}: {e}")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The `Run` value `value` (`<program> --autostart`) with the program's path in double quotes,
/// or `None` if it is quoted already or is not the plugin's `<program> --autostart`. A Windows
/// path cannot hold a `"`, so quoting needs no escapes.
pub(super) fn quoted(value: &str) -> Option<String> {
    let program = value.strip_suffix(&format!(" {ARG}"))?.trim();
    if program.is_empty() || program.starts_with('"') {
        return None;
    }
    Some(format!("\"{program}\" {ARG}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_programs_path_is_quoted() {
        assert_eq!(
            quoted(r"C:\Program Files\Berth\berth-desktop.exe --autostart").as_deref(),
            Some(r#""C:\Program Files\Berth\berth-desktop.exe" --autostart"#)
        );
        assert_eq!(
            quoted(r"C:\Berth\berth-desktop.exe --autostart").as_deref(),
            Some(r#""C:\Berth\berth-desktop.exe" --autostart"#)
        );
    }

    #[test]
    fn a_quoted_or_foreign_value_is_left_alone() {
        let done = r#""C:\Program Files\Berth\berth-desktop.exe" --autostart"#;
        assert_eq!(quoted(done), None);
        assert_eq!(quoted(r"C:\Other\app.exe --minimized"), None);
        assert_eq!(quoted(" --autostart"), None);
        assert_eq!(quoted(""), None);
    }
}
