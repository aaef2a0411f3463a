//! The engine's configuration, `/etc/docker/daemon.json`, generated from the host's settings at
//! every boot: only the agent-relayed Unix socket (no TCP listener), crun registered beside runc,
//! containerd started by the agent, registry mirrors, insecure registries and proxy; on QEMU's
//! user network containers resolve names through the agent's DNS server ([`crate::dns`]), which
//! knows `host.docker.internal` and forwards the rest to the resolvers the settings name.

use berth_protocol::settings::{AgentSettings, NetworkMode, DEFAULT_LOG_DRIVER};
use serde_json::{json, Map, Value};

/// The engine's API socket inside the guest.
pub const DOCKER_SOCKET: &str = "/run/docker.sock";
/// The containers' DNS server: the agent's, on the guest's address (see [`crate::dns`]).
pub const CONTAINER_DNS: &str = "10.0.2.15";
/// containerd's socket.
pub const CONTAINERD_SOCKET: &str = "/run/containerd/containerd.sock";

/// The log drivers that write files on the data disk, rotated at [`LOG_MAX_SIZE`].
const ROTATING_DRIVERS: &[&str] = &["json-file", "local"];
/// A container's log file is rotated at this size…
const LOG_MAX_SIZE: &str = "10m";
/// …and this many files are kept (30 MiB a container at most).
const LOG_MAX_FILES: &str = "3";

/// `daemon.json` for `settings`.
pub fn daemon_json(settings: &AgentSettings) -> Value {
    let mut config = Map::new();
    config.insert("hosts".into(), json!([format!("unix://{DOCKER_SOCKET}")]));
    config.insert("containerd".into(), json!(CONTAINERD_SOCKET));
    config.insert(
        "runtimes".into(),
        json!({ "crun": { "path": "/usr/bin/crun" } }),
    );
    config.insert("log-level".into(), json!(settings.log_level.as_str()));
    // `json-file` unless the settings name another (the SDKs read containers' output from
    // it); the file drivers rotate, so logs stay bounded on the data disk.
    let driver = settings
        .engine
        .log_driver
        .as_deref()
        .unwrap_or(DEFAULT_LOG_DRIVER);
    config.insert("log-driver".into(), json!(driver));
    if ROTATING_DRIVERS.contains(&driver) {
        config.insert(
            "log-opts".into(),
            json!({ "max-size": LOG_MAX_SIZE, "max-file": LOG_MAX_FILES }),
        );
    }
    if !settings.engine.registry_mirrors.is_empty() {
        config.insert(
            "registry-mirrors".into(),
            json!(settings.engine.registry_mirrors),
        );
    }
    if !settings.engine.insecure_registries.is_empty() {
        config.insert(
            "insecure-registries".into(),
            json!(settings.engine.insecure_registries),
        );
    }
    match settings.network {
        NetworkMode::Static => {
            config.insert("dns".into(), json!([CONTAINER_DNS]));
        }
        // No agent resolver there yet: containers use the settings' servers or the lease's.
        NetworkMode::Dhcp if !settings.engine.dns.is_empty() => {
            config.insert("dns".into(), json!(settings.engine.dns));
        }
        NetworkMode::Dhcp => {}
    }
    let mut proxies = Map::new();
    for (key, value) in [
        ("http-proxy", &settings.engine.http_proxy),
        ("https-proxy", &settings.engine.https_proxy),
        ("no-proxy", &settings.engine.no_proxy),
    ] {
        if let Some(value) = value {
            proxies.insert(key.into(), json!(value));
        }
    }
    if !proxies.is_empty() {
        config.insert("proxies".into(), Value::Object(proxies));
    }
    Value::Object(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::settings::{EngineSettings, LogLevel};

    #[test]
    fn defaults_have_no_tcp_listener_and_register_crun() {
        let config = daemon_json(&AgentSettings::default());
        assert_eq!(config["hosts"], json!(["unix:///run/docker.sock"]));
        assert_eq!(config["runtimes"]["crun"]["path"], "/usr/bin/crun");
        assert_eq!(config["containerd"], CONTAINERD_SOCKET);
        assert_eq!(config["log-level"], "info");
        assert_eq!(config["dns"], json!(["10.0.2.15"]), "the agent's resolver");
        for absent in ["registry-mirrors", "insecure-registries", "proxies", "tls"] {
            assert!(config.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn settings_flow_into_the_engine() {
        let settings = AgentSettings {
            engine: EngineSettings {
                registry_mirrors: vec!["http://10.0.2.2:5000".into()],
                insecure_registries: vec!["10.0.2.2:5000".into()],
                http_proxy: Some("http://proxy:3128".into()),
                no_proxy: Some("localhost".into()),
                dns: vec!["1.1.1.1".into()],
                ..EngineSettings::default()
            },
            log_level: LogLevel::Debug,
            ..AgentSettings::default()
        };
        let config = daemon_json(&settings);
        assert_eq!(config["registry-mirrors"], json!(["http://10.0.2.2:5000"]));
        assert_eq!(config["insecure-registries"], json!(["10.0.2.2:5000"]));
        assert_eq!(
            config["proxies"],
            json!({"http-proxy": "http://proxy:3128", "no-proxy": "localhost"})
        );
        // The agent's resolver forwards to the settings' servers; containers ask it.
        assert_eq!(config["dns"], json!([CONTAINER_DNS]));
        let dhcp = AgentSettings {
            network: NetworkMode::Dhcp,
            ..settings
        };
        assert_eq!(daemon_json(&dhcp)["dns"], json!(["1.1.1.1"]));
        assert_eq!(config["log-level"], "debug");
    }

    #[test]
    fn container_logs_are_json_files_rotated_unless_the_settings_say_otherwise() {
        let config = daemon_json(&AgentSettings::default());
        assert_eq!(config["log-driver"], "json-file");
        assert_eq!(
            config["log-opts"],
            json!({"max-size": "10m", "max-file": "3"})
        );
        let with = |driver: &str| {
            daemon_json(&AgentSettings {
                engine: EngineSettings {
                    log_driver: Some(driver.into()),
                    ..EngineSettings::default()
                },
                ..AgentSettings::default()
            })
        };
        assert_eq!(with("local")["log-driver"], "local");
        assert_eq!(with("local")["log-opts"]["max-file"], "3");
        // Drivers that keep no files here take no file options (the engine would refuse them).
        let journald = with("journald");
        assert_eq!(journald["log-driver"], "journald");
        assert!(journald.get("log-opts").is_none());
    }
}
