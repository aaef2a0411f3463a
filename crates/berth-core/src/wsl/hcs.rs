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
    #[error("no running WSL 2 virtual machine (is the berth distribution started?)")]
    NotRunning,
    /// The call failed (often: not allowed for this user).
    #[error("HcsEnumerateComputeSystems failed with HRESULT {0:#010x}; run Berth as a member of \"Hyper-V Administrators\" (or as an administrator once)")]
    Call(i32),
    /// Not Windows.
    #[error("the Host Compute Service exists only on Windows")]
    Unsupported,
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

/// Asks HCS for the running WSL VM's id.
#[cfg(windows)]
pub fn find_wsl_vm() -> Result<String, HcsError> {
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::System::HostComputeSystem::{
        HcsCloseOperation, HcsCreateOperation, HcsEnumerateComputeSystems,
        HcsWaitForOperationResult,
    };
    let query: Vec<u16> = WSL_QUERY.encode_utf16().chain(Some(0)).collect();
    // SAFETY: a synchronous operation (no context, no callback), closed below.
    let operation = unsafe { HcsCreateOperation(std::ptr::null(), None) };
    if operation.is_null() {
        return Err(HcsError::Call(-1));
    }
    let mut document: windows_sys::core::PWSTR = std::ptr::null_mut();
    // SAFETY: `query` is NUL-terminated and outlives the call; `operation` is valid.
    let mut hr = unsafe { HcsEnumerateComputeSystems(query.as_ptr(), operation) };
    if hr >= 0 {
        // SAFETY: `operation` is valid; HCS allocates the result with LocalAlloc.
        hr = unsafe { HcsWaitForOperationResult(operation, 10_000, &mut document) };
    }
    let mut text = String::new();
    if !document.is_null() {
        // SAFETY: HCS returns a NUL-terminated UTF-16 string; read up to the NUL.
        unsafe {
            let mut len = 0;
            while *document.add(len) != 0 {
                len += 1;
            }
            text = String::from_utf16_lossy(std::slice::from_raw_parts(document, len));
            LocalFree(document.cast());
        }
    }
    // SAFETY: closes the operation created above, once.
    unsafe { HcsCloseOperation(operation) };
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
