//! Shared host folders: each virtiofs tag is mounted at the host's own absolute path, so
//! `docker run -v $PWD:/app` needs no path translation.
//!
//! The host's temporary folder is one of them by default: on Linux `/tmp`, mounted over the
//! VM's own `/tmp` tmpfs (the VM's scratch space is [`crate::mounts::SCRATCH`]). On macOS the
//! temporary folders are `/private/tmp` and `/private/var/folders`, which the host's `/tmp`
//! and `/var/folders` are symlinks to: [`alias_binds`] bind-mounts each share at those
//! spellings too ([`SHARE_ALIASES`]), so `-v /tmp/x:/x` and `-v "$TMPDIR"…` find the files.
//!
//! A read-only share ([`Share::read_only`]) is mounted read-only: its superblock is, so every
//! bind of it (the aliases, containers' `-v`) is too, and a change fails in the guest with
//! `EROFS` before it reaches the host, whose file server refuses it as well.

use nix::mount::{mount, MsFlags};

use berth_protocol::settings::{Share, SHARE_ALIASES};

/// Mounts every share, then its aliases; a share or alias that fails is reported and skipped.
/// Returns the shares mounted.
pub fn mount_all(shares: &[Share]) -> Vec<Share> {
    let mut mounted = Vec::new();
    for share in shares {
        match mount_one(share) {
            Ok(()) => mounted.push(share.clone()),
            Err(err) => tracing::warn!("shared folder {} at {}: {err}", share.tag, share.path),
        }
    }
    for (source, target) in alias_binds(&mounted) {
        if let Err(err) = bind(&source, &target) {
            tracing::warn!("shared folder {source} at {target}: {err}");
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
        mount_flags(share),
        None::<&str>,
    )
    .map_err(|e| e.to_string())
}

/// The flags a share is mounted with: never devices or set-id programs, read-only when the
/// host shares it so.
fn mount_flags(share: &Share) -> MsFlags {
    let flags = MsFlags::MS_NODEV | MsFlags::MS_NOSUID;
    match share.read_only {
        true => flags | MsFlags::MS_RDONLY,
        false => flags,
    }
}

/// Bind-mounts `source` (inside a mounted share) at `target`, creating `target`.
fn bind(source: &str, target: &str) -> Result<(), String> {
    if !std::path::Path::new(source).is_dir() {
        return Err("not a folder in the share".into());
    }
    std::fs::create_dir_all(target).map_err(|e| e.to_string())?;
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| e.to_string())
}

/// `path` below `base` (`""` for `base` itself, else `/rest`), if it is at or below it.
fn below<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The bind mounts `(source, target)` that make [`SHARE_ALIASES`] reach the mounted `shares`:
/// a share at or above a real path (`/private`, `/private/tmp`) binds that path at its
/// spelling (`/tmp`); a share below one (`/private/var/folders/xy/T`) binds itself at the
/// spelling's matching path (`/var/folders/xy/T`).
pub fn alias_binds(shares: &[Share]) -> Vec<(String, String)> {
    let mut binds = Vec::new();
    for share in shares {
        for (alias, real) in SHARE_ALIASES {
            if below(real, &share.path).is_some() {
                binds.push(((*real).to_owned(), (*alias).to_owned()));
            } else if let Some(rest) = below(&share.path, real) {
                binds.push((share.path.clone(), format!("{alias}{rest}")));
            }
        }
    }
    binds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(paths: &[&str]) -> Vec<Share> {
        paths
            .iter()
            .enumerate()
            .map(|(i, path)| Share {
                tag: format!("s{i}"),
                path: (*path).into(),
                read_only: false,
            })
            .collect()
    }

    fn binds(paths: &[&str]) -> Vec<(String, String)> {
        alias_binds(&shares(paths))
    }

    fn pair(source: &str, target: &str) -> (String, String) {
        (source.into(), target.into())
    }

    #[test]
    fn macos_temporary_folders_are_reached_through_their_symlinks() {
        assert_eq!(
            binds(&["/Users/ann", "/private/tmp", "/private/var/folders"]),
            [
                pair("/private/tmp", "/tmp"),
                pair("/private/var/folders", "/var/folders")
            ]
        );
        // A share above them brings both; one below brings its own part.
        assert_eq!(
            binds(&["/private"]),
            [
                pair("/private/tmp", "/tmp"),
                pair("/private/var/folders", "/var/folders")
            ]
        );
        assert_eq!(
            binds(&["/private/var/folders/xy/abc/T"]),
            [pair(
                "/private/var/folders/xy/abc/T",
                "/var/folders/xy/abc/T"
            )]
        );
    }

    #[test]
    fn a_read_only_share_is_mounted_read_only() {
        let mut share = shares(&["/srv/ref"]).remove(0);
        assert!(!mount_flags(&share).contains(MsFlags::MS_RDONLY));
        share.read_only = true;
        let flags = mount_flags(&share);
        assert!(flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_NODEV | MsFlags::MS_NOSUID));
    }

    #[test]
    fn other_shares_have_no_aliases() {
        // Linux shares `/tmp` itself; look-alike names are not the real paths.
        assert!(binds(&["/tmp", "/home/ann", "/private/tmpx", "/privatevar"]).is_empty());
        assert!(binds(&[]).is_empty());
    }
}
