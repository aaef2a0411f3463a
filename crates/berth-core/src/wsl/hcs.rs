//! Finding the WSL 2 utility VM's id, which Hyper-V sockets address. The Host Compute Service
//! lists its compute systems as JSON (`HcsEnumerateComputeSystems` with the query
//! `{"Owners":["WSL"]}`); the WSL VM is the running virtual machine owned by `WSL`. Windows may
//! require the user to be an administrator or in "Hyper-V Administrators" for this call;
//! `berth doctor` says so when it fails.

use serde::Deserialize;

/// The query that lists only WSL's compute systems.
pub const WSL_QUERY: &str = r#"{"Owners":["WSL"]}"#;

/// One compute system as HCS describes it (fields Berth does not use are ignored).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ComputeSystem {
    id: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    system_type: String,
    #[serde(default)]
    state: String,
}

/// Why the WSL VM could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HcsError {
    /// HCS answered something that is not its JSON list.
    #[error("the Host Compute Service answered unexpectedly: {0}")]
    Malformed(String),
    /// No running WSL 2 VM.
    #[error("no running WSL 2 virtual machine (is Berth's distribution started?)")]
    NotRunning,
    /// The call failed (often: not allowed for this user).
    #[error("HcsEnumerateComputeSystems failed with HRESULT {0:#010x}; run Berth as a member of \"Hyper-V Administrators\" (or as an administrator once)")]
    Call(i32),
    /// Not Windows.
    #[error("the Host Compute Service exists only on Windows")]
    Unsupported,
    /// `computecore.dll` (the Host Compute Service's API) is not on this Windows.
    #[error("the Host Compute Service is not available (computecore.dll is missing): enable \"Virtual Machine Platform\" (wsl --install --no-distribution), then restart Windows")]
    Missing,
}

/// The WSL VM's id from HCS's answer to [`WSL_QUERY`].
pub fn wsl_vm_id(json: &str) -> Result<String, HcsError> {
    let systems: Vec<ComputeSystem> =
        serde_json::from_str(json).map_err(|e| HcsError::Malformed(e.to_string()))?;
    systems
        .into_iter()
        .find(|s| {
            s.owner.eq_ignore_ascii_case("WSL")
                && s.system_type.eq_ignore_ascii_case("VirtualMachine")
                && (s.state.is_empty() || s.state.eq_ignore_ascii_case("Running"))
                && super::hvsock::Guid::parse(&s.id).is_some()
        })
        .map(|s| s.id.to_ascii_lowercase())
        .ok_or(HcsError::NotRunning)
}

/// Asks HCS for the running WSL VM's id. `computecore.dll` is loaded when asked (from
/// System32 only), not linked: a Windows without it (no Virtual Machine Platform) still runs
/// Berth, which then says what is missing instead of failing to start at all.
#[cfg(windows)]
pub fn find_wsl_vm() -> Result<String, HcsError> {
    use std::ffi::c_void;
    use windows_sys::Win32::Foundation::{FreeLibrary, LocalFree};
    use windows_sys::Win32::System::LibraryLoader::{
        GetProcAddress, LoadLibraryExW, LOAD_LIBRARY_SEARCH_SYSTEM32,
    };
    type Operation = *mut c_void;
    type CreateOperation = unsafe extern "system" fn(*const c_void, *const c_void) -> Operation;
    type Enumerate = unsafe extern "system" fn(*const u16, Operation) -> i32;
    type Wait = unsafe extern "system" fn(Operation, u32, *mut *mut u16) -> i32;
    type CloseOperation = unsafe extern "system" fn(Operation);

    let dll: Vec<u16> = "computecore.dll".encode_utf16().chain(Some(0)).collect();
    // SAFETY: a NUL-terminated name; the module is freed below.
    let module = unsafe {
        LoadLibraryExW(
            dll.as_ptr(),
            std::ptr::null_mut(),
            LOAD_LIBRARY_SEARCH_SYSTEM32,
        )
    };
    if module.is_null() {
        return Err(HcsError::Missing);
    }
    let find = |name: &[u8]| {
        // SAFETY: `module` is loaded and `name` NUL-terminated.
        unsafe { GetProcAddress(module, name.as_ptr()) }
    };
    let (create, enumerate, wait, close) = match (
        find(b"HcsCreateOperation\0"),
        find(b"HcsEnumerateComputeSystems\0"),
        find(b"HcsWaitForOperationResult\0"),
        find(b"HcsCloseOperation\0"),
    ) {
        (Some(create), Some(enumerate), Some(wait), Some(close)) => {
            // SAFETY: the exports have these signatures (computecore.h).
            unsafe {
                (
                    std::mem::transmute::<unsafe extern "system" fn() -> isize, CreateOperation>(
                        create,
                    ),
                    std::mem::transmute::<unsafe extern "system" fn() -> isize, Enumerate>(
                        enumerate,
                    ),
                    std::mem::transmute::<unsafe extern "system" fn() -> isize, Wait>(wait),
                    std::mem::transmute::<unsafe extern "system" fn() -> isize, CloseOperation>(
                        close,
                    ),
                )
            }
        }
        _ => {
            // SAFETY: loaded above, freed once.
            unsafe { FreeLibrary(module) };
            return Err(HcsError::Missing);
        }
    };
    let query: Vec<u16> = WSL_QUERY.encode_utf16().chain(Some(0)).collect();
    // SAFETY: a synchronous operation (no context, no callback), closed below.
    let operation = unsafe { create(std::ptr::null(), std::ptr::null()) };
    let mut hr = -1;
    let mut text = String::new();
    if !operation.is_null() {
        let mut document: *mut u16 = std::ptr::null_mut();
        // SAFETY: `query` is NUL-terminated and outlives the call; `operation` is valid.
        hr = unsafe { enumerate(query.as_ptr(), operation) };
        if hr >= 0 {
            // SAFETY: `operation` is valid; HCS allocates the result with LocalAlloc.
            hr = unsafe { wait(operation, 10_000, &mut document) };
        }
        if !document.is_null() {
            // SAFETY: HCS returns a NUL-terminated UTF-16 string; read up to the NUL, then
            // free it once.
            unsafe {
                let len = (0..).take_while(|&i| *document.add(i) != 0).count();
                text = String::from_utf16_lossy(std::slice::from_raw_parts(document, len));
                LocalFree(document.cast());
            }
        }
        // SAFETY: closes the operation created above, once.
        unsafe { close(operation) };
    }
    // SAFETY: loaded above, freed once, after its last use.
    unsafe { FreeLibrary(module) };
    if hr < 0 {
        return Err(HcsError::Call(hr));
    }
    wsl_vm_id(&text)
}

/// Asks HCS for the running WSL VM's id.
#[cfg(not(windows))]
pub fn find_wsl_vm() -> Result<String, HcsError> {
    Err(HcsError::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_wsl_vm_is_picked() {
        let json = r#"[
            {"Id":"0B6A1D5E-0000-4000-8000-000000000001","SystemType":"Container","Owner":"WSL","State":"Running","RuntimeId":"00000000-0000-0000-0000-000000000000"},
            {"Id":"not-a-guid","SystemType":"VirtualMachine","Owner":"WSL","State":"Running"},
            {"Id":"7C1F3A52-9E1B-4F0C-A2D4-5B6C7D8E9F00","SystemType":"VirtualMachine","Owner":"docker","State":"Running"},
            {"Id":"C2D3E4F5-1111-4222-8333-944455556666","SystemType":"VirtualMachine","Owner":"WSL","State":"Running","RuntimeId":"C2D3E4F5-1111-4222-8333-944455556666","Name":"C2D3E4F5-1111-4222-8333-944455556666"}
        ]"#;
        assert_eq!(
            wsl_vm_id(json).as_deref(),
            Ok("c2d3e4f5-1111-4222-8333-944455556666")
        );
    }

    #[test]
    fn none_running_or_garbage_is_an_error_not_a_panic() {
        assert_eq!(wsl_vm_id("[]"), Err(HcsError::NotRunning));
        let stopped = r#"[{"Id":"C2D3E4F5-1111-4222-8333-944455556666","SystemType":"VirtualMachine","Owner":"WSL","State":"Stopped"}]"#;
        assert_eq!(wsl_vm_id(stopped), Err(HcsError::NotRunning));
        assert!(matches!(wsl_vm_id("{\"Id\":"), Err(HcsError::Malformed(_))));
        assert!(matches!(wsl_vm_id("null"), Err(HcsError::Malformed(_))));
    }
}
