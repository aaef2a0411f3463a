//! Advisory file locks that the OS releases when the holder dies: `flock(2)` on Unix,
//! `LockFileEx` on Windows. Windows locks are mandatory for the bytes they cover, so the lock
//! sits on one byte far past any content: other processes can still read the file (the
//! holder's pid).

use std::fs::File;
use std::ops::{Deref, DerefMut};

/// A file held under an exclusive lock until dropped.
pub struct Locked {
    #[cfg(unix)]
    file: nix::fcntl::Flock<File>,
    #[cfg(windows)]
    file: File,
}

impl Deref for Locked {
    type Target = File;
    fn deref(&self) -> &File {
        &self.file
    }
}

impl DerefMut for Locked {
    fn deref_mut(&mut self) -> &mut File {
        &mut self.file
    }
}

/// Takes an exclusive lock on `file` without waiting; gives the file back when another process
/// holds a lock on it.
#[cfg(unix)]
pub fn try_exclusive(file: File) -> Result<Locked, File> {
    use nix::fcntl::{Flock, FlockArg};
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map(|file| Locked { file })
        .map_err(|(file, _)| file)
}

/// Whether another process holds an exclusive lock on `file` (a shared lock is refused).
#[cfg(unix)]
pub fn is_held(file: File) -> bool {
    use nix::fcntl::{Flock, FlockArg};
    Flock::lock(file, FlockArg::LockSharedNonblock).is_err()
}

/// Where the locked byte sits: past any content the file will ever have.
#[cfg(windows)]
const LOCK_OFFSET_HIGH: u32 = 0x7fff_ffff;

#[cfg(windows)]
fn lock_byte(file: &File, exclusive: bool) -> bool {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{
        LockFileEx, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY,
    };
    use windows_sys::Win32::System::IO::OVERLAPPED;
    let mut flags = LOCKFILE_FAIL_IMMEDIATELY;
    if exclusive {
        flags |= LOCKFILE_EXCLUSIVE_LOCK;
    }
    // SAFETY: an all-zero OVERLAPPED is valid (no event, offset 0); the offset is then set
    // through the union's documented fields.
    let mut overlapped: OVERLAPPED = unsafe { std::mem::zeroed() };
    overlapped.Anonymous.Anonymous.OffsetHigh = LOCK_OFFSET_HIGH;
    // SAFETY: the handle is open for the duration of the call (borrowed from `file`) and
    // `overlapped` outlives it; the file was opened for synchronous I/O, so the call completes
    // before returning.
    unsafe { LockFileEx(file.as_raw_handle(), flags, 0, 1, 0, &mut overlapped) != 0 }
}

/// Takes an exclusive lock on `file` without waiting; gives the file back when another process
/// holds a lock on it.
#[cfg(windows)]
pub fn try_exclusive(file: File) -> Result<Locked, File> {
    if lock_byte(&file, true) {
        Ok(Locked { file })
    } else {
        Err(file)
    }
}

/// Whether another process holds an exclusive lock on `file` (a shared lock is refused).
#[cfg(windows)]
pub fn is_held(file: File) -> bool {
    // The shared lock taken to test is released when `file` is closed, right after.
    !lock_byte(&file, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_seen_and_refused_until_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lock");
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .expect("open")
        };
        let held = try_exclusive(open()).expect("first lock");
        assert!(is_held(open()));
        assert!(try_exclusive(open()).is_err());
        drop(held);
        assert!(!is_held(open()));
    }
}
