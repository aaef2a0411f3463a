//! What the WSL backend runs: [`WslConfig`], built from the one [`VmSpec`] every backend
//! starts from.

use std::path::{Path, PathBuf};

use berth_protocol::settings::AgentSettings;

use super::command;
use crate::backend::{BackendError, VmSpec};
use crate::image::{GuestImage, Role, RootFormat};

/// Everything the WSL backend needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WslConfig {
    /// `wsl.exe` ([`command::default_wsl_exe`]).
    pub wsl_exe: PathBuf,
    /// Where the distributions' virtual disks (one directory each) and the state file live.
    pub install_dir: PathBuf,
    /// The image's root tarball, imported as its system distribution.
    pub root_tar: PathBuf,
    /// The tarball's sha256 (from the manifest): it names the system distribution.
    pub image_id: String,
    /// Where the agents' output (their console) is copied.
    pub console_log: PathBuf,
    /// The agent's settings, passed as its arguments.
    pub agent: AgentSettings,
}

impl WslConfig {
    /// The configuration running `spec`, with the distributions in `install_dir` (the
    /// engine's data lives in the data distribution there: the spec's data directory and
    /// disk size do not apply). The agent gets the spec's settings as its arguments. The
    /// spec's shared folders are not passed: on Windows they are WSL's own drive mounts
    /// (`C:\x` is `/mnt/c/x`), not devices, and the agent would try to mount a `berth.share`
    /// as virtiofs. WSL sizes the VM itself, so the spec's CPUs and memory do not apply either.
    pub fn from_spec(spec: &VmSpec, install_dir: &Path) -> Result<WslConfig, BackendError> {
        let VmSpec {
            cpus: _,
            memory_mib: _,
            image,
            run_dir,
            data_dir: _,
            disk_gib: _,
            shares: _,
            agent,
        } = spec;
        let mut agent = agent.clone();
        agent.shares.clear();
        Ok(WslConfig {
            agent,
            ..WslConfig::for_image(image, install_dir, run_dir)?
        })
    }

    /// A configuration importing `image`'s root tarball into `install_dir`, with the console
    /// log in `run_dir`. The image must have been built with `--format tar`.
    pub fn for_image(
        image: &GuestImage,
        install_dir: &Path,
        run_dir: &Path,
    ) -> Result<WslConfig, BackendError> {
        if image.manifest.root_format != RootFormat::Tar {
            return Err(BackendError::Hypervisor(format!(
                "WSL imports a root tarball; {} holds a {:?} root (build one with vm-image/build.sh --format tar)",
                image.dir.display(),
                image.manifest.root_format
            )));
        }
        let image_id = image
            .manifest
            .artifact(Role::Root)
            .map(|a| a.sha256.clone())
            .unwrap_or_default();
        Ok(WslConfig {
            wsl_exe: command::default_wsl_exe(),
            install_dir: install_dir.to_path_buf(),
            root_tar: image.path(Role::Root),
            image_id,
            console_log: run_dir.join(crate::paths::CONSOLE_LOG),
            agent: AgentSettings::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_reaches_the_agent_as_arguments_without_share_devices() {
        let install = Path::new(r"C:\Users\ann\AppData\Local\berth\data\wsl");
        let squashfs = crate::backend::spec::sample_spec("amd64", RootFormat::Squashfs);
        assert!(WslConfig::from_spec(&squashfs, install).is_err());
        let mut spec = crate::backend::spec::sample_spec("amd64", RootFormat::Tar);
        spec.agent.shares.push(spec.shares[0].agent_share());
        let c = WslConfig::from_spec(&spec, install).expect("a tarball root");
        assert_eq!(c.root_tar, Path::new("/img/root.tar"));
        assert_eq!(c.install_dir, install);
        assert_eq!(c.console_log, Path::new("/run/berth/console.log"));
        // The system distribution is named by the root tarball's checksum.
        assert_eq!(c.image_id, "0".repeat(64));
        let args: Vec<String> = command::run_agent("berth-000000000000", None, &c.agent)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[8], command::AGENT_WSL_FLAG);
        // The mirror and the proxy go on standard input with the secret, never as arguments.
        assert_eq!(args[9..], ["berth.secret=stdin"]);
        let channel = berth_protocol::auth::BootChannel::new(
            berth_protocol::auth::BootSecret::from_bytes([1; 32]),
            &c.agent,
        );
        assert_eq!(
            channel.params,
            [
                "berth.mirror=http://mirror.internal:5000",
                "berth.https_proxy=http://proxy.internal:3128"
            ]
        );
        assert!(
            !args.iter().any(|a| a.starts_with("berth.share")),
            "{args:?}"
        );
    }
}
