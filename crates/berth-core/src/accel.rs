//! Hardware acceleration detection. KVM is used only when `/dev/kvm` answers and the CPU
//! advertises vmx or svm: on machines where `/dev/kvm` opens but vCPUs never run (no
//! virtualization flag) QEMU would hang forever, so those fall back to TCG.

use std::fmt;

/// The accelerator QEMU runs the guest with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Linux KVM.
    Kvm,
    /// QEMU's tiny code generator (software emulation).
    Tcg,
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

/// The chosen accelerator and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// What QEMU will use.
    pub accel: Accel,
    /// A sentence for `berth doctor` and logs.
    pub reason: String,
}

/// `KVM_GET_API_VERSION`, `_IO(KVMIO, 0x00)`.
#[cfg(target_os = "linux")]
const KVM_GET_API_VERSION: libc::c_ulong = 0xAE00;
/// The only KVM API version Linux has ever shipped.
#[cfg(target_os = "linux")]
const KVM_API_VERSION: libc::c_int = 12;

/// Detects the accelerator for this machine. `BERTH_ACCEL=tcg|kvm` overrides the detection.
pub fn detect() -> Detected {
    match std::env::var("BERTH_ACCEL").as_deref() {
        Ok("tcg") => {
            return Detected {
                accel: Accel::Tcg,
                reason: "BERTH_ACCEL=tcg".into(),
            }
        }
        Ok("kvm") => {
            return Detected {
                accel: Accel::Kvm,
                reason: "BERTH_ACCEL=kvm".into(),
            }
        }
        _ => {}
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    decide(&cpuinfo, probe_kvm())
}

/// Opens `/dev/kvm` and asks for its API version.
#[cfg(target_os = "linux")]
fn probe_kvm() -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|e| format!("cannot open /dev/kvm: {e}"))?;
    // SAFETY: KVM_GET_API_VERSION takes no argument and only reads the open descriptor, which
    // `kvm` keeps alive for the duration of the call.
    let version = unsafe { libc::ioctl(kvm.as_raw_fd(), KVM_GET_API_VERSION, 0) };
    if version == KVM_API_VERSION {
        Ok(())
    } else {
        Err(format!(
            "/dev/kvm answered API version {version}, expected {KVM_API_VERSION}"
        ))
    }
}

/// KVM is Linux's.
#[cfg(not(target_os = "linux"))]
fn probe_kvm() -> Result<(), String> {
    Err("KVM exists only on Linux".into())
}

/// The decision, from the CPU flags and the `/dev/kvm` probe.
pub fn decide(cpuinfo: &str, kvm: Result<(), String>) -> Detected {
    let has_virt = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .flat_map(|l| l.split_ascii_whitespace())
        .any(|flag| flag == "vmx" || flag == "svm");
    match (has_virt, kvm) {
        (true, Ok(())) => Detected {
            accel: Accel::Kvm,
            reason: "KVM is available".into(),
        },
        (false, _) => Detected {
            accel: Accel::Tcg,
            reason: "the CPU has no vmx/svm flag (nested virtualization off?): using TCG, \
                     which is several times slower"
                .into(),
        },
        (true, Err(why)) => Detected {
            accel: Accel::Tcg,
            reason: format!("{why}: using TCG, which is slower"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_VMX: &str = "processor\t: 0\nflags\t\t: fpu vme vmx sse2\n";
    const WITHOUT: &str = "processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor\n";

    #[test]
    fn kvm_needs_both_the_flag_and_the_device() {
        assert_eq!(decide(WITH_VMX, Ok(())).accel, Accel::Kvm);
        assert_eq!(
            decide(WITH_VMX, Err("no /dev/kvm".into())).accel,
            Accel::Tcg
        );
        assert_eq!(decide(WITHOUT, Ok(())).accel, Accel::Tcg);
        assert_eq!(decide("", Ok(())).accel, Accel::Tcg);
    }

    #[test]
    fn svm_counts_and_substrings_do_not() {
        assert_eq!(decide("flags : svm", Ok(())).accel, Accel::Kvm);
        assert_eq!(decide("flags : vmxe svmx", Ok(())).accel, Accel::Tcg);
    }

    #[test]
    fn the_reason_says_why_tcg() {
        assert!(decide(WITHOUT, Ok(())).reason.contains("vmx/svm"));
        assert!(decide(WITH_VMX, Err("cannot open /dev/kvm: denied".into()))
            .reason
            .contains("denied"));
    }
}
