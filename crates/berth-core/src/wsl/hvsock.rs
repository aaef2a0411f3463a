//! Hyper-V sockets (`AF_HYPERV`) to the WSL 2 utility VM. A Linux guest's vsock port P is the
//! Hyper-V service `P-facb-11e6-bd58-64006a7986d3` (the first field is the port, the rest a
//! fixed template), so the agent's `AF_VSOCK` listeners on 1024 and 1025 answer Hyper-V socket
//! connections to the VM's id with those service ids. Windows wants each service registered
//! once under [`REGISTRY_KEY`] (an administrator step: the installer does it, see
//! `installer/windows/`).
//!
//! Tokio cannot poll `AF_HYPERV` sockets, so on Windows each connection is a blocking socket
//! relayed to an in-process duplex stream by two threads ([`connect`]).

use std::fmt;

/// The template of the service ids that stand for Linux vsock ports.
pub const VSOCK_TEMPLATE: u128 = 0x0000_0000_facb_11e6_bd58_6400_6a79_86d3;

/// Where Windows lists the services Hyper-V sockets may use (under `HKEY_LOCAL_MACHINE`).
pub const REGISTRY_KEY: &str =
    r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization\GuestCommunicationServices";

/// A GUID as one number, in the order it is written (`0x00000400_facb_11e6_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guid(pub u128);

impl Guid {
    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, with or without braces, any case.
    pub fn parse(text: &str) -> Option<Guid> {
        let text = text.trim();
        let text = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let groups: Vec<&str> = text.split('-').collect();
        if groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12] {
            return None;
        }
        let hex: String = groups.concat();
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(&hex, 16).ok().map(Guid)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            v >> 96,
            (v >> 80) & 0xffff,
            (v >> 64) & 0xffff,
            (v >> 48) & 0xffff,
            v & 0xffff_ffff_ffff
        )
    }
}

/// The Hyper-V service id of Linux vsock `port`.
pub fn service_id(port: u32) -> Guid {
    Guid(VSOCK_TEMPLATE | (u128::from(port) << 96))
}

/// The registry file (`regedit /s`) that registers the agent's ports as Hyper-V socket
/// services, named `description`.
pub fn registration(ports: &[u32], description: &str) -> String {
    let mut text = String::from("Windows Registry Editor Version 5.00\r\n");
    for port in ports {
        text.push_str(&format!(
            "\r\n[HKEY_LOCAL_MACHINE\\{REGISTRY_KEY}\\{}]\r\n\"ElementName\"=\"{} (vsock port {port})\"\r\n",
            service_id(*port),
            description.replace(['"', '\\'], "")
        ));
    }
    text
}

#[cfg(windows)]
pub use imp::connect;

#[cfg(windows)]
mod imp {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpStream};
    use std::os::windows::io::FromRawSocket;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use windows_sys::Win32::Networking::WinSock::{
        closesocket, connect as wsa_connect, socket, WSAGetLastError, WSAStartup, AF_HYPERV,
        INVALID_SOCKET, SOCKADDR, SOCK_STREAM, WSADATA,
    };
    use windows_sys::Win32::System::Hypervisor::{HV_PROTOCOL_RAW, SOCKADDR_HV};

    use super::{service_id, Guid};
    use crate::vsock::{GuestStream, VsockError};

    /// Bytes buffered between the socket threads and the caller.
    const BUFFER: usize = 64 * 1024;

    fn connect_blocking(vm: Guid, port: u32) -> std::io::Result<TcpStream> {
        // SAFETY: WSAStartup only writes the WSADATA it is given; it is reference-counted, so
        // calling it again (std may have) is harmless.
        let mut data: WSADATA = unsafe { std::mem::zeroed() };
        // SAFETY: see above; `data` lives across the call.
        let started = unsafe { WSAStartup(0x0202, &mut data) };
        if started != 0 {
            return Err(std::io::Error::from_raw_os_error(started));
        }
        // SAFETY: plain socket creation with constant arguments.
        let s = unsafe { socket(i32::from(AF_HYPERV), SOCK_STREAM, HV_PROTOCOL_RAW as i32) };
        if s == INVALID_SOCKET {
            // SAFETY: reads the calling thread's last Winsock error.
            return Err(std::io::Error::from_raw_os_error(unsafe {
                WSAGetLastError()
            }));
        }
        let addr = SOCKADDR_HV {
            Family: AF_HYPERV,
            Reserved: 0,
            VmId: windows_sys::core::GUID::from_u128(vm.0),
            ServiceId: windows_sys::core::GUID::from_u128(service_id(port).0),
        };
        // SAFETY: `addr` is a complete SOCKADDR_HV and the length passed is its size.
        let rc = unsafe {
            wsa_connect(
                s,
                (&addr as *const SOCKADDR_HV).cast::<SOCKADDR>(),
                std::mem::size_of::<SOCKADDR_HV>() as i32,
            )
        };
        if rc != 0 {
            // SAFETY: reads the last error, then closes the socket this function owns.
            let err = unsafe { WSAGetLastError() };
            // SAFETY: `s` is open and owned here.
            unsafe { closesocket(s) };
            return Err(std::io::Error::from_raw_os_error(err));
        }
        // SAFETY: `s` is a connected stream socket owned by nobody else; TcpStream only uses
        // send/recv/shutdown/closesocket on it, which any stream socket supports.
        Ok(unsafe { TcpStream::from_raw_socket(s as u64) })
    }

    /// Connects to `port` of the VM `vm_id` and relays it to an in-process stream; the
    /// caller's `shutdown` half-closes the socket.
    pub async fn connect(vm_id: &str, port: u32) -> Result<GuestStream, VsockError> {
        let fail = |reason: String| VsockError::HyperV {
            vm_id: vm_id.to_owned(),
            port,
            reason,
        };
        let vm = Guid::parse(vm_id).ok_or_else(|| fail("not a GUID".into()))?;
        let socket = tokio::task::spawn_blocking(move || connect_blocking(vm, port))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
        let mut reader = socket.try_clone().map_err(|e| fail(e.to_string()))?;
        let mut writer = socket;
        let (local, relayed) = tokio::io::duplex(BUFFER);
        let (mut from_caller, mut to_caller) = tokio::io::split(relayed);
        let runtime = tokio::runtime::Handle::current();
        let inbound = runtime.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; BUFFER];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if inbound.block_on(to_caller.write_all(&buf[..n])).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = inbound.block_on(to_caller.shutdown());
        });
        std::thread::spawn(move || {
            let mut buf = vec![0u8; BUFFER];
            loop {
                match runtime.block_on(from_caller.read(&mut buf)) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if writer.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = writer.shutdown(Shutdown::Write);
        });
        Ok(GuestStream::HyperV(local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vsock_ports_become_service_ids() {
        assert_eq!(
            service_id(1024).to_string(),
            "00000400-facb-11e6-bd58-64006a7986d3"
        );
        assert_eq!(
            service_id(1025).to_string(),
            "00000401-facb-11e6-bd58-64006a7986d3"
        );
        assert_eq!(
            service_id(u32::MAX).to_string(),
            "ffffffff-facb-11e6-bd58-64006a7986d3"
        );
    }

    #[test]
    fn guids_parse_in_every_usual_spelling_and_nothing_else() {
        let id = "9A4B6A1C-1F2E-4C4E-8D2F-0123456789AB";
        let guid = Guid::parse(id).expect("parse");
        assert_eq!(guid.to_string(), id.to_ascii_lowercase());
        assert_eq!(Guid::parse(&format!("{{{id}}}")), Some(guid));
        assert_eq!(Guid::parse(&id.to_ascii_lowercase()), Some(guid));
        for bad in [
            "",
            "9A4B6A1C1F2E4C4E8D2F0123456789AB",
            "9A4B6A1C-1F2E-4C4E-8D2F-0123456789AG",
            "{9A4B6A1C-1F2E-4C4E-8D2F-0123456789AB",
            "+A4B6A1C-1F2E-4C4E-8D2F-0123456789AB",
        ] {
            assert_eq!(Guid::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_installers_register_exactly_the_agent_ports() {
        // Built in, not read at run time: under Wine a Unix path from the build resolves
        // against whatever drive the process is on, which made a runtime read flaky.
        let ports = [berth_protocol::CONTROL_PORT, berth_protocol::DATA_PORT];
        for (file, text) in [
            (
                "installer/windows/hooks.nsh",
                include_str!("../../../../installer/windows/hooks.nsh"),
            ),
            (
                "installer/windows/hvsock.wxs",
                include_str!("../../../../installer/windows/hvsock.wxs"),
            ),
        ] {
            for port in ports {
                let id = service_id(port).to_string();
                assert!(text.contains(&id), "{file} does not register {id}");
            }
            // No other service: every id in the file is one of the agent's ports.
            for (at, _) in text.match_indices("-facb-11e6-bd58-64006a7986d3") {
                let port = u32::from_str_radix(&text[at.saturating_sub(8)..at], 16);
                assert!(
                    port.is_ok_and(|p| ports.contains(&p)),
                    "{file}: unexpected service at byte {at}"
                );
            }
        }
    }

    #[test]
    fn the_registration_names_both_agent_ports() {
        let reg = registration(&[1024, 1025], "Berth \"agent\"");
        assert!(reg.starts_with("Windows Registry Editor Version 5.00\r\n"));
        assert!(reg.contains(
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\GuestCommunicationServices\\00000400-facb-11e6-bd58-64006a7986d3]"
        ));
        assert!(reg.contains("00000401-facb-11e6-bd58-64006a7986d3"));
        assert!(reg.contains("\"ElementName\"=\"Berth agent (vsock port 1025)\""));
    }
}
