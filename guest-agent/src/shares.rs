//! Shared host folders: each virtiofs tag is mounted at the host's own absolute path, so
//! `docker run -v $PWD:/app` needs no path translation.

use nix::mount::{mount, MsFlags};

use berth_protocol::settings::Share;

use crate::console;

/// Mounts every share; a share that fails is reported and skipped. Returns those mounted.
pub fn mount_all(shares: &[Share]) -> Vec<Share> {
    let mut mounted = Vec::new();
    for share in shares {
        match mount_one(share) {
            Ok(()) => mounted.push(share.clone()),
            Err(err) => console::line(&format!(
                "shared folder {} at {}: {err}",
                share.tag, share.path
            )),
        }
    }
    mounted
}

fn mount_one(share: &Share) -> Result<(), String> {
    if !share.path.starts_with('/') || share.path.split('/').any(|part| part == "..") {
        return Err("the path must be absolute and without '..'".into());
    }
    std::fs::create_dir_all(&share.path).map_err(|e| e.to_string())?;
    mount(
        Some(share.tag.as_str()),
        share.path.as_str(),
        Some("virtiofs"),
        MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
        None::<&str>,
    )
    .map_err(|e| e.to_string())
}
