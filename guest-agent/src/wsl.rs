//! WSL mode: the agent as a process of a WSL 2 distribution (`berth-agent --wsl berth.KEY=VALUE
//! …`, started by the host's WSL backend) instead of PID 1 of its own VM. WSL's init has already
//! mounted the kernel filesystems, brought the network up and mounted the Windows drives, and
//! the distribution's own disk persists the engine's data; so the agent skips mounts, modules,
//! network and data disk, reads its settings from its arguments, makes itself the subreaper of
//! the processes it starts, and exits (rather than powering off) when asked to stop.

use berth_protocol::boot::WSL_MODE_FLAG;

/// The settings line when the arguments ask for WSL mode (`--wsl` first), else `None`.
pub fn settings_line(args: &[String]) -> Option<String> {
    match args {
        [flag, settings @ ..] if flag == WSL_MODE_FLAG => Some(settings.join(" ")),
        _ => None,
    }
}

/// Orphans of the engine's processes come back to the agent's reaper, not to WSL's init.
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::settings::AgentSettings;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_a_leading_flag_selects_wsl_mode() {
        assert_eq!(settings_line(&args(&[])), None);
        assert_eq!(settings_line(&args(&["berth.log=debug", "--wsl"])), None);
        assert_eq!(settings_line(&args(&["--wsl"])).as_deref(), Some(""));
        let line = settings_line(&args(&[
            "--wsl",
            "berth.mirror=http://m:5000",
            "berth.log=debug",
        ]))
        .expect("wsl mode");
        let (settings, warnings) = AgentSettings::from_cmdline(&line);
        assert!(warnings.is_empty());
        assert_eq!(settings.engine.registry_mirrors, ["http://m:5000"]);
    }
}
