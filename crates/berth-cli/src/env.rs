//! `berth env`: the `DOCKER_HOST` setting that points tools which ignore docker contexts (the
//! Python SDK, testcontainers, many IDE plugins) at Berth's engine, in the syntax of the shell
//! that will read it: `eval "$(berth env)"`, `berth env --shell fish | source`, or in
//! PowerShell `berth env | Invoke-Expression`.

use berth_core::paths::Paths;
use clap::ValueEnum;

/// A shell's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// POSIX shells: sh, bash, zsh.
    Sh,
    /// fish.
    Fish,
    /// PowerShell.
    Powershell,
    /// Windows' cmd.exe.
    Cmd,
}

impl Shell {
    /// This OS's usual shell: PowerShell on Windows; fish when `$SHELL` is fish; else sh.
    pub fn detect() -> Shell {
        if cfg!(windows) {
            return Shell::Powershell;
        }
        match std::env::var_os("SHELL") {
            Some(shell) if std::path::Path::new(&shell).ends_with("fish") => Shell::Fish,
            _ => Shell::Sh,
        }
    }
}

/// The lines `shell` runs to set `DOCKER_HOST` to `host`, and how to apply them.
pub fn script(shell: Shell, host: &str) -> String {
    // Single quotes take everything literally in sh, fish and PowerShell; a quote in the
    // value is written as each shell spells it.
    let quoted = |close_reopen: &str| format!("'{}'", host.replace('\'', close_reopen));
    match shell {
        Shell::Sh => format!(
            "export DOCKER_HOST={}\n# Run: eval \"$(berth env)\"\n",
            quoted(r"'\''")
        ),
        Shell::Fish => format!(
            "set -gx DOCKER_HOST {}\n# Run: berth env --shell fish | source\n",
            quoted(r"\'")
        ),
        Shell::Powershell => format!(
            "$Env:DOCKER_HOST = {}\n# Run: berth env | Invoke-Expression\n",
            quoted("''")
        ),
        Shell::Cmd => format!(
            "set DOCKER_HOST={host}\nREM Run: @FOR /f \"tokens=*\" %i IN ('berth env --shell cmd') DO @%i\n"
        ),
    }
}

/// Prints the script for `shell` (or this OS's), for the endpoint Berth serves the engine at.
pub fn run(shell: Option<Shell>) -> anyhow::Result<()> {
    let paths = Paths::for_user()?;
    let host = berth_daemon::context::docker_host(&paths.engine_socket());
    print!("{}", script(shell.unwrap_or_else(Shell::detect), &host));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shell_gets_its_own_syntax() {
        let unix = "unix:///run/user/1000/berth/docker.sock";
        assert_eq!(
            script(Shell::Sh, unix).lines().next(),
            Some("export DOCKER_HOST='unix:///run/user/1000/berth/docker.sock'")
        );
        assert_eq!(
            script(Shell::Fish, unix).lines().next(),
            Some("set -gx DOCKER_HOST 'unix:///run/user/1000/berth/docker.sock'")
        );
        let pipe = "npipe:////./pipe/berth-engine-0123456789abcdef";
        assert_eq!(
            script(Shell::Powershell, pipe).lines().next(),
            Some("$Env:DOCKER_HOST = 'npipe:////./pipe/berth-engine-0123456789abcdef'")
        );
        assert_eq!(
            script(Shell::Cmd, pipe).lines().next(),
            Some("set DOCKER_HOST=npipe:////./pipe/berth-engine-0123456789abcdef")
        );
        // Every script ends with how to apply it, as a comment of that shell.
        for shell in [Shell::Sh, Shell::Fish, Shell::Powershell] {
            assert!(script(shell, unix)
                .lines()
                .nth(1)
                .is_some_and(|l| l.starts_with('#')));
        }
    }

    #[test]
    fn quotes_in_a_path_cannot_end_the_string() {
        let odd = "unix:///home/o'neil/run/docker.sock";
        assert_eq!(
            script(Shell::Sh, odd).lines().next(),
            Some(r"export DOCKER_HOST='unix:///home/o'\''neil/run/docker.sock'")
        );
        assert_eq!(
            script(Shell::Powershell, odd).lines().next(),
            Some("$Env:DOCKER_HOST = 'unix:///home/o''neil/run/docker.sock'")
        );
    }
}
