//! Kernel modules: loaded by name through kmod's `modprobe`, which resolves dependencies from
//! `modules.dep` and decompresses Debian's `.ko.xz` files.

use std::process::Stdio;

use crate::console;

/// Loads `names` (with their dependencies). A module that fails is reported and skipped: the VM
/// stays usable without, say, the power button.
pub async fn load(names: &[&str]) {
    let output = tokio::process::Command::new("/usr/sbin/modprobe")
        .arg("-a")
        .args(names)
        .stdin(Stdio::null())
        .output()
        .await;
    match output {
        Ok(out) if out.status.success() => {}
        Ok(out) => console::line(&format!(
            "modprobe {} failed: {}",
            names.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(err) => console::line(&format!("cannot run modprobe: {err}")),
    }
}
