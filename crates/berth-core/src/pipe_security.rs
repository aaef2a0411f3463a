//! Windows: a security descriptor that lets only the current user open a named pipe (the
//! engine's pipe, the daemon's command channel). Its DACL is protected (nothing inherited) and holds one ACE,
//! generic-all for the user's own SID (read from the process token), so neither other users
//! nor an elevated process of another account can connect; SDDL `D:P(A;;GA;;;<user SID>)`.

use std::ffi::c_void;

use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    GetTokenInformation, TokenUser, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES, TOKEN_QUERY,
    TOKEN_USER,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// The descriptor and the attributes that point at it; freed when dropped.
pub struct UserOnly {
    descriptor: PSECURITY_DESCRIPTOR,
    attributes: SECURITY_ATTRIBUTES,
}

// SAFETY: the descriptor is an immutable, self-relative block owned by this value; Windows
// reads it only during the calls it is passed to.
unsafe impl Send for UserOnly {}

impl UserOnly {
    /// The descriptor for the current user.
    pub fn new() -> std::io::Result<UserOnly> {
        let sid = current_user_sid()?;
        let sddl: Vec<u16> = format!("D:P(A;;GA;;;{sid})")
            .encode_utf16()
            .chain(Some(0))
            .collect();
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `sddl` is a NUL-terminated UTF-16 string that outlives the call; on success
        // the function stores a LocalAlloc'd descriptor in `descriptor`, freed in `Drop`.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(std::io::Error::last_os_error());
        }
        let attributes = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: descriptor,
            bInheritHandle: 0,
        };
        Ok(UserOnly {
            descriptor,
            attributes,
        })
    }

    /// The attributes, for `ServerOptions::create_with_security_attributes_raw`.
    pub fn as_ptr(&mut self) -> *mut c_void {
        std::ptr::addr_of_mut!(self.attributes).cast()
    }
}

impl Drop for UserOnly {
    fn drop(&mut self) {
        // SAFETY: `descriptor` came from LocalAlloc (through the conversion above) and is
        // freed once.
        unsafe { LocalFree(self.descriptor) };
    }
}

/// The current user's SID as a string (`S-1-5-21-…`).
pub fn current_user_sid() -> std::io::Result<String> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo-handle of the current process needs no closing; on success `token`
    // is a handle this function closes below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    let sid = token_user_sid(token);
    // SAFETY: `token` is the open handle from OpenProcessToken, closed once.
    unsafe { CloseHandle(token) };
    sid
}

fn token_user_sid(token: HANDLE) -> std::io::Result<String> {
    let mut needed = 0u32;
    // SAFETY: a size query: no buffer, the needed size is written to `needed`.
    unsafe { GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut needed) };
    // u64 words keep the buffer aligned for TOKEN_USER.
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    let size = u32::try_from(buffer.len() * 8).unwrap_or(u32::MAX);
    // SAFETY: `buffer` is writable for `size` bytes and aligned for TOKEN_USER.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            size,
            &mut needed,
        )
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: on success the buffer starts with a TOKEN_USER whose SID points into it.
    let user = unsafe { &*buffer.as_ptr().cast::<TOKEN_USER>() };
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: the SID is valid while `buffer` lives; on success `text` is a LocalAlloc'd,
    // NUL-terminated string freed below.
    if unsafe { ConvertSidToStringSidW(user.User.Sid, &mut text) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: on success `text` is a LocalAlloc'd, NUL-terminated string owned by us.
    Ok(unsafe { take_local_string(text) })
}

/// Reads a NUL-terminated UTF-16 string that Windows allocated with LocalAlloc, then frees it.
///
/// # Safety
/// `text` must be such a string, not used after this call.
unsafe fn take_local_string(text: *mut u16) -> String {
    // SAFETY: the caller's contract: NUL-terminated, so reading up to the NUL stays inside it.
    let string = unsafe {
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        String::from_utf16_lossy(std::slice::from_raw_parts(text, len))
    };
    // SAFETY: LocalAlloc'd and freed once, here.
    unsafe { LocalFree(text.cast()) };
    string
}

/// The DACL of the named pipe `pipe` as SDDL, as Windows reports it (what tests check).
pub fn dacl_of(pipe: &std::path::Path) -> std::io::Result<String> {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Security::Authorization::{
        ConvertSecurityDescriptorToStringSecurityDescriptorW, GetSecurityInfo, SE_KERNEL_OBJECT,
    };
    use windows_sys::Win32::Security::DACL_SECURITY_INFORMATION;
    // Read and write access include READ_CONTROL, which reading the DACL needs.
    let file = tokio::net::windows::named_pipe::ClientOptions::new().open(pipe.as_os_str())?;
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: the handle is open for the call; on success `descriptor` is LocalAlloc'd and
    // freed below.
    let status = unsafe {
        GetSecurityInfo(
            file.as_raw_handle() as HANDLE,
            SE_KERNEL_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut descriptor,
        )
    };
    if status != 0 {
        return Err(std::io::Error::from_raw_os_error(status as i32));
    }
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `descriptor` is valid; on success `text` is a LocalAlloc'd NUL-terminated string.
    let ok = unsafe {
        ConvertSecurityDescriptorToStringSecurityDescriptorW(
            descriptor,
            SDDL_REVISION_1,
            DACL_SECURITY_INFORMATION,
            &mut text,
            std::ptr::null_mut(),
        )
    };
    let result = if ok == 0 {
        Err(std::io::Error::last_os_error())
    } else {
        // SAFETY: on success `text` is a LocalAlloc'd, NUL-terminated string owned by us.
        Ok(unsafe { take_local_string(text) })
    };
    // SAFETY: freed once.
    unsafe { LocalFree(descriptor) };
    result
}
