//! The user's settings (`~/.config/berth/settings.json`), shared by the CLI and the app: VM
//! resources, shared folders, registries, proxy, DNS, port binding scope. Parsing refuses unknown
//! fields and names the bad one; [`Settings::validate`] checks values against this host. A
//! broken file is reported and never overwritten.

use std::path::{Path, PathBuf};

use berth_protocol::settings::AgentSettings;
use serde::{Deserialize, Serialize};

/// Berth's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Virtual CPUs.
    pub cpus: u32,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// Maximum size of the sparse data disk in GiB.
    pub disk_gib: u32,
    /// Host folders shared into the VM at the same path (see [`crate::shares`]); none inside
    /// another, none hiding the VM's system (`/`, `/usr`, `/var`, `/tmp` itself…).
    pub shared_folders: Vec<PathBuf>,
    /// Registry mirrors for the engine (`http(s)://host[:port]`).
    pub registry_mirrors: Vec<String>,
    /// Registries reached over plain HTTP (`host[:port]`).
    pub insecure_registries: Vec<String>,
    /// HTTP proxy for the engine.
    pub http_proxy: Option<String>,
    /// HTTPS proxy for the engine.
    pub https_proxy: Option<String>,
    /// Hosts that bypass the proxy.
    pub no_proxy: Option<String>,
    /// DNS servers for the guest; empty uses QEMU's resolver.
    pub dns: Vec<String>,
    /// Publish container ports on every host interface instead of 127.0.0.1 only.
    pub publish_on_all_interfaces: bool,
    /// The Docker Hub API the app's Hub view searches (`http(s)://host[:port][/path]`).
    pub hub_api_url: String,
}

/// A partial update of [`Settings`] (placeholder until the settings rework lands).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsUpdate {
    /// Virtual CPUs.
    pub cpus: Option<u32>,
    /// Guest memory in MiB.
    pub memory_mib: Option<u32>,
    /// Data disk size in GiB.
    pub disk_gib: Option<u32>,
}

impl Settings {
    /// `self` with `update` applied, validated against `host`.
    pub fn update(&self, update: &SettingsUpdate, host: Host) -> Result<Settings, SettingsError> {
        let mut next = self.clone();
        next.cpus = update.cpus.unwrap_or(next.cpus);
        next.memory_mib = update.memory_mib.unwrap_or(next.memory_mib);
        next.disk_gib = update.disk_gib.unwrap_or(next.disk_gib);
        next.validate(host)?;
        Ok(next)
    }
}

/// The Hub API the app searches unless the settings name another.
pub const DEFAULT_HUB_API_URL: &str = "https://hub.docker.com";

/// The host's resources, for defaults and limits.
#[derive(Debug, Clone, Copy)]
pub struct Host {
    /// Logical CPUs.
    pub cpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
}

impl Host {
    /// Reads this machine's resources.
    pub fn detect() -> Host {
        let mut system = sysinfo::System::new();
        system.refresh_memory();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Host {
            cpus: u32::try_from(cpus).unwrap_or(1),
            memory_mib: system.total_memory() >> 20,
        }
    }
}

impl Settings {
    /// Defaults for `host`: half its CPUs (at least 1, at most 8), a quarter of its memory
    /// (1–8 GiB), a 64 GiB sparse disk, the home folder shared.
    pub fn defaults_for(host: Host, home: Option<PathBuf>) -> Settings {
        let memory = (host.memory_mib / 4).clamp(1024, 8192) as u32;
        Settings {
            cpus: (host.cpus / 2).clamp(1, 8),
            memory_mib: memory - memory % 256,
            disk_gib: 64,
            shared_folders: home.into_iter().collect(),
            registry_mirrors: Vec::new(),
            insecure_registries: Vec::new(),
            http_proxy: None,
            https_proxy: None,
            no_proxy: None,
            dns: Vec::new(),
            publish_on_all_interfaces: false,
            hub_api_url: DEFAULT_HUB_API_URL.to_owned(),
        }
    }

    /// Checks every value against `host`; the error names the field and the fix.
    pub fn validate(&self, host: Host) -> Result<(), SettingsError> {
        let bad =
            |field: &'static str, message: String| Err(SettingsError::Invalid { field, message });
        if self.cpus == 0 || self.cpus > host.cpus {
            return bad(
                "cpus",
                format!(
                    "{} is not between 1 and this machine's {} CPUs",
                    self.cpus, host.cpus
                ),
            );
        }
        if self.memory_mib < 512 || u64::from(self.memory_mib) > host.memory_mib {
            return bad(
                "memory_mib",
                format!(
                    "{} MiB is not between 512 and this machine's {} MiB",
                    self.memory_mib, host.memory_mib
                ),
            );
        }
        if !(8..=4096).contains(&self.disk_gib) {
            return bad(
                "disk_gib",
                format!("{} GiB is not between 8 and 4096", self.disk_gib),
            );
        }
        if let Err(err) = crate::shares::validate(&self.shared_folders) {
            return bad("shared_folders", err.to_string());
        }
        for mirror in &self.registry_mirrors {
            if !(mirror.starts_with("http://") || mirror.starts_with("https://"))
                || mirror.contains(char::is_whitespace)
            {
                return bad(
                    "registry_mirrors",
                    format!("{mirror:?} is not an http(s):// URL"),
                );
            }
        }
        let hub = self.hub_api_url.trim();
        if !(hub.starts_with("http://") || hub.starts_with("https://"))
            || hub.contains(char::is_whitespace)
            || hub.len() <= "https://".len()
        {
            return bad("hub_api_url", format!("{hub:?} is not an http(s):// URL"));
        }
        for registry in &self.insecure_registries {
            if registry.is_empty()
                || registry.contains("://")
                || registry.contains(char::is_whitespace)
            {
                return bad(
                    "insecure_registries",
                    format!("{registry:?} must be host[:port], without a scheme"),
                );
            }
        }
        for (field, proxy) in [
            ("http_proxy", &self.http_proxy),
            ("https_proxy", &self.https_proxy),
        ] {
            if let Some(proxy) = proxy {
                if !proxy.contains("://") || proxy.contains(char::is_whitespace) {
                    return bad(field, format!("{proxy:?} is not a proxy URL"));
                }
            }
        }
        for server in &self.dns {
            if server.parse::<std::net::IpAddr>().is_err() {
                return bad("dns", format!("{server:?} is not an IP address"));
            }
        }
        Ok(())
    }

    /// Reads `path`; a missing file gives `defaults` (nothing is written).
    pub fn load(path: &Path, defaults: Settings) -> Result<Settings, SettingsError> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(defaults),
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        // Fields absent from the file keep their defaults.
        let mut value = serde_json::to_value(&defaults).map_err(|e| parse(path, e))?;
        let file: serde_json::Value = serde_json::from_slice(&text).map_err(|e| parse(path, e))?;
        match (value.as_object_mut(), file) {
            (Some(base), serde_json::Value::Object(overrides)) => base.extend(overrides),
            _ => {
                return Err(SettingsError::Parse {
                    path: path.to_path_buf(),
                    message: "the file must hold a JSON object".into(),
                })
            }
        }
        serde_json::from_value(value).map_err(|e| parse(path, e))
    }

    /// The part the agent needs.
    pub fn agent(&self) -> AgentSettings {
        AgentSettings {
            registry_mirrors: self.registry_mirrors.clone(),
            insecure_registries: self.insecure_registries.clone(),
            http_proxy: self.http_proxy.clone(),
            https_proxy: self.https_proxy.clone(),
            no_proxy: self.no_proxy.clone(),
            dns: self.dns.clone(),
            ..AgentSettings::default()
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::defaults_for(
            Host {
                cpus: 2,
                memory_mib: 4096,
            },
            None,
        )
    }
}

fn parse(path: &Path, e: serde_json::Error) -> SettingsError {
    SettingsError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The settings file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid settings JSON; the message names the field.
    #[error("{path} is not valid: {message}; fix or remove it (it was left untouched)")]
    Parse {
        /// The settings file.
        path: PathBuf,
        /// serde's message, naming the field and position.
        message: String,
    },
    /// A value is out of range.
    #[error("setting `{field}`: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: Host = Host {
        cpus: 8,
        memory_mib: 16384,
    };

    #[test]
    fn defaults_follow_the_host_and_validate() {
        let s = Settings::defaults_for(HOST, None);
        assert_eq!((s.cpus, s.memory_mib, s.disk_gib), (4, 4096, 64));
        s.validate(HOST).expect("defaults are valid");
        let small = Settings::defaults_for(
            Host {
                cpus: 1,
                memory_mib: 2048,
            },
            None,
        );
        assert_eq!((small.cpus, small.memory_mib), (1, 1024));
        assert!(
            !s.publish_on_all_interfaces,
            "ports bind to 127.0.0.1 by default"
        );
    }

    #[test]
    fn a_missing_file_is_the_defaults_and_a_partial_file_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("settings.json");
        let defaults = Settings::defaults_for(HOST, None);
        assert_eq!(
            Settings::load(&path, defaults.clone()).expect("missing"),
            defaults
        );
        assert!(!path.exists(), "loading writes nothing");
        std::fs::write(
            &path,
            r#"{"cpus": 2, "registry_mirrors": ["http://10.0.2.2:5000"]}"#,
        )
        .expect("write");
        let s = Settings::load(&path, defaults.clone()).expect("partial");
        assert_eq!(s.cpus, 2);
        assert_eq!(s.memory_mib, defaults.memory_mib);
        assert_eq!(s.agent().registry_mirrors, ["http://10.0.2.2:5000"]);
    }

    #[test]
    fn a_corrupt_file_names_the_field_and_is_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("settings.json");
        for (text, expect) in [
            (r#"{"cpuz": 2}"#, "cpuz"),
            (r#"{"cpus": "two"}"#, "invalid type"),
            (r#"{"cpus": 2"#, "EOF"),
            ("[1]", "JSON object"),
        ] {
            std::fs::write(&path, text).expect("write");
            let err = Settings::load(&path, Settings::default())
                .expect_err(text)
                .to_string();
            assert!(err.contains(expect), "{text}: {err}");
            assert_eq!(
                std::fs::read_to_string(&path).expect("read"),
                text,
                "the file was changed"
            );
        }
    }

    #[test]
    fn validation_names_the_field() {
        let ok = Settings::defaults_for(HOST, None);
        let cases: Vec<(Settings, &str)> = vec![
            (
                Settings {
                    cpus: 9,
                    ..ok.clone()
                },
                "cpus",
            ),
            (
                Settings {
                    memory_mib: 100,
                    ..ok.clone()
                },
                "memory_mib",
            ),
            (
                Settings {
                    disk_gib: 1,
                    ..ok.clone()
                },
                "disk_gib",
            ),
            (
                Settings {
                    shared_folders: vec!["relative".into()],
                    ..ok.clone()
                },
                "shared_folders",
            ),
            (
                Settings {
                    registry_mirrors: vec!["10.0.2.2:5000".into()],
                    ..ok.clone()
                },
                "registry_mirrors",
            ),
            (
                Settings {
                    insecure_registries: vec!["http://x".into()],
                    ..ok.clone()
                },
                "insecure_registries",
            ),
            (
                Settings {
                    hub_api_url: "hub.example".into(),
                    ..ok.clone()
                },
                "hub_api_url",
            ),
            (
                Settings {
                    http_proxy: Some("proxy".into()),
                    ..ok.clone()
                },
                "http_proxy",
            ),
            (
                Settings {
                    dns: vec!["dns.example".into()],
                    ..ok.clone()
                },
                "dns",
            ),
        ];
        for (settings, field) in cases {
            let err = settings.validate(HOST).expect_err(field).to_string();
            assert!(err.contains(field), "{err}");
        }
    }
}
