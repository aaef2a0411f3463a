//! The settings file's fields, defaults, validation against a host, updates, and the file's
//! loading and saving.

use super::*;

const HOST: Host = Host {
    cpus: 8,
    memory_mib: 16384,
};

#[test]
fn defaults_follow_the_host_and_validate() {
    let s = Settings::defaults_for(HOST, Vec::new());
    assert_eq!((s.cpus, s.memory_mib, s.disk_gib), (4, 4096, 64));
    s.validate(HOST).expect("defaults are valid");
    let small = Settings::defaults_for(
        Host {
            cpus: 1,
            memory_mib: 2048,
        },
        Vec::new(),
    );
    assert_eq!((small.cpus, small.memory_mib), (1, 1024));
    assert!(
        !s.publish_on_all_interfaces,
        "ports bind to 127.0.0.1 by default"
    );
}

#[test]
fn this_machines_defaults_share_the_home_and_the_temporary_folders() {
    let here = Settings::defaults_here(HOST);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let paths = SharedFolder::paths(&here.shared_folders);
    assert_eq!(paths, crate::shares::temp::default_folders(home));
    assert!(
        here.shared_folders.iter().all(|f| !f.read_only),
        "the defaults are read-write"
    );
    for folder in crate::shares::temp::folders() {
        assert!(
            paths.contains(&folder) || paths.iter().any(|f| folder.starts_with(f)),
            "{} is not shared by default: {paths:?}",
            folder.display(),
        );
    }
    #[cfg(target_os = "linux")]
    assert!(paths.iter().any(|f| f == Path::new("/tmp")), "{paths:?}");
    assert_eq!(
        Settings {
            shared_folders: Vec::new(),
            ..here
        },
        Settings::defaults_for(HOST, Vec::new())
    );
}

#[test]
fn a_missing_file_is_the_defaults_and_a_partial_file_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let defaults = Settings::defaults_for(HOST, Vec::new());
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
    assert_eq!(s.agent().engine.registry_mirrors, ["http://10.0.2.2:5000"]);
}

#[test]
fn shared_folders_without_the_flag_stay_read_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.json");
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for folder in [&a, &b] {
        std::fs::create_dir(folder).expect("mkdir");
    }
    let defaults = Settings::defaults_for(HOST, Vec::new());
    // A file written before read-only folders: paths alone.
    let old = serde_json::json!({ "cpus": 2, "shared_folders": [a, b] });
    std::fs::write(&path, old.to_string()).expect("write");
    let s = Settings::load(&path, defaults.clone()).expect("an older file");
    assert_eq!(
        s.shared_folders,
        [SharedFolder::read_write(&a), SharedFolder::read_write(&b)]
    );
    s.validate(HOST).expect("still valid");
    // Saved again without a read-only folder, it is the same list of paths.
    let saved: serde_json::Value =
        serde_json::from_slice(&serde_json::to_vec(&s).expect("json")).expect("value");
    assert_eq!(saved["shared_folders"], old["shared_folders"]);

    let new = serde_json::json!({
        "shared_folders": [a, { "path": b, "read_only": true }, ]
    });
    std::fs::write(&path, new.to_string()).expect("write");
    let s = Settings::load(&path, defaults.clone()).expect("a read-only folder");
    assert_eq!(
        s.shared_folders,
        [SharedFolder::read_write(&a), SharedFolder::read_only(&b)]
    );
    #[cfg(unix)]
    s.validate(HOST).expect("valid");
    // WSL mounts whole drives: nothing there could keep the folder read-only.
    #[cfg(windows)]
    {
        let err = s.validate(HOST).expect_err("refused on WSL");
        assert!(err.to_string().contains("cannot enforce on WSL"), "{err}");
    }
    let devices = crate::shares::plan(&s.shared_folders, Path::new("/run/user/1000/berth"));
    #[cfg(unix)]
    assert_eq!(
        devices
            .expect("planned")
            .iter()
            .map(|d| d.read_only)
            .collect::<Vec<_>>(),
        [false, true]
    );
    #[cfg(windows)]
    let _ = devices;

    // A misspelt flag is refused, never read as read-write.
    let typo = serde_json::json!({ "shared_folders": [{ "path": b, "readonly": true }] });
    std::fs::write(&path, typo.to_string()).expect("write");
    let err = Settings::load(&path, defaults.clone()).expect_err("typo");
    assert!(err.to_string().contains("is not valid"), "{err}");

    // The update the app and the CLI send carries the flag as well.
    let update: SettingsUpdate = serde_json::from_value(
        serde_json::json!({ "shared_folders": [{ "path": a, "read_only": true }] }),
    )
    .expect("update");
    #[cfg(unix)]
    {
        let next = defaults.update(&update, HOST).expect("applied");
        assert_eq!(next.shared_folders, [SharedFolder::read_only(&a)]);
    }
    #[cfg(windows)]
    {
        let err = defaults.update(&update, HOST).expect_err("refused on WSL");
        assert!(err.to_string().contains("cannot enforce on WSL"), "{err}");
    }
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
    let ok = Settings::defaults_for(HOST, Vec::new());
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
                shared_folders: vec![SharedFolder::read_only("relative")],
                ..ok.clone()
            },
            "shared_folders",
        ),
        (
            Settings {
                engine: EngineSettings {
                    registry_mirrors: vec!["10.0.2.2:5000".into()],
                    ..ok.engine.clone()
                },
                ..ok.clone()
            },
            "registry_mirrors",
        ),
        (
            Settings {
                engine: EngineSettings {
                    insecure_registries: vec!["http://x".into()],
                    ..ok.engine.clone()
                },
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
                engine: EngineSettings {
                    http_proxy: Some("proxy".into()),
                    ..ok.engine.clone()
                },
                ..ok.clone()
            },
            "http_proxy",
        ),
        (
            Settings {
                engine: EngineSettings {
                    dns: vec!["dns.example".into()],
                    ..ok.engine.clone()
                },
                ..ok.clone()
            },
            "dns",
        ),
        (
            Settings {
                engine: EngineSettings {
                    log_driver: Some("json file; rm".into()),
                    ..ok.engine.clone()
                },
                ..ok.clone()
            },
            "log_driver",
        ),
    ];
    for (settings, field) in cases {
        let err = settings.validate(HOST).expect_err(field).to_string();
        assert!(err.contains(field), "{err}");
    }
}

#[test]
fn an_update_changes_only_its_fields() {
    let base = Settings::defaults_for(HOST, Vec::new());
    let update = SettingsUpdate {
        cpus: Some(2),
        registry_mirrors: Some(vec!["https://mirror.example".into()]),
        http_proxy: Some("http://proxy:3128".into()),
        ..SettingsUpdate::default()
    };
    let next = base.update(&update, HOST).expect("valid");
    let expected = Settings {
        cpus: 2,
        engine: EngineSettings {
            registry_mirrors: vec!["https://mirror.example".into()],
            http_proxy: Some("http://proxy:3128".into()),
            ..base.engine.clone()
        },
        ..base.clone()
    };
    assert_eq!(next, expected);
    assert_eq!(
        base.update(&SettingsUpdate::default(), HOST)
            .expect("empty"),
        base
    );
    let cleared = next
        .update(
            &SettingsUpdate {
                http_proxy: Some(String::new()),
                ..SettingsUpdate::default()
            },
            HOST,
        )
        .expect("clear");
    assert_eq!(cleared.engine.http_proxy, None, "an empty string clears it");
    let parsed: SettingsUpdate =
        serde_json::from_str(r#"{"memory_mib": 2048}"#).expect("partial JSON");
    assert_eq!(parsed.memory_mib, Some(2048));
    let err = serde_json::from_str::<SettingsUpdate>(r#"{"cpuz": 1}"#).expect_err("unknown");
    assert!(err.to_string().contains("cpuz"), "{err}");
}

#[test]
fn an_invalid_update_names_the_field() {
    let base = Settings::defaults_for(HOST, Vec::new());
    let err = base
        .update(
            &SettingsUpdate {
                cpus: Some(1),
                memory_mib: Some(100),
                ..SettingsUpdate::default()
            },
            HOST,
        )
        .expect_err("too little memory");
    assert!(
        matches!(
            err,
            SettingsError::Invalid {
                field: "memory_mib",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn host_loopback_is_set_by_name_and_a_bad_value_names_the_field() {
    let host = Host {
        cpus: 4,
        memory_mib: 8192,
    };
    let next = Settings::default()
        .update(
            &SettingsUpdate {
                host_loopback: Some("5432, 6379".into()),
                ..SettingsUpdate::default()
            },
            host,
        )
        .expect("ports");
    assert_eq!(
        next.engine.host_loopback,
        berth_protocol::settings::HostLoopback::Ports(vec![5432, 6379])
    );
    let err = Settings::default()
        .update(
            &SettingsUpdate {
                host_loopback: Some("some".into()),
                ..SettingsUpdate::default()
            },
            host,
        )
        .expect_err("bad");
    assert!(
        matches!(
            err,
            SettingsError::Invalid {
                field: "host_loopback",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn the_file_stays_flat() {
    // Serialized text keeps the fields' order (a `serde_json::Value` would sort them).
    let text = serde_json::to_string(&Settings::default()).expect("json");
    let value: serde_json::Value = serde_json::from_str(&text).expect("value");
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_by_key(|k| text.find(&format!("\"{k}\":")));
    assert_eq!(
        keys,
        [
            "cpus",
            "memory_mib",
            "disk_gib",
            "shared_folders",
            "registry_mirrors",
            "insecure_registries",
            "http_proxy",
            "https_proxy",
            "no_proxy",
            "dns",
            "log_driver",
            "host_loopback",
            "publish_on_all_interfaces",
            "serve_default_endpoint",
            "hub_api_url",
            "resource_saver_seconds"
        ]
    );
    let back: Settings = serde_json::from_value(value).expect("back");
    assert_eq!(back, Settings::default());
}

fn temp_paths(root: &Path) -> Paths {
    Paths::under(root)
}

#[test]
fn saved_settings_are_private_and_read_back_equal() {
    let root = tempfile::tempdir().expect("tempdir");
    let paths = temp_paths(root.path());
    let settings = Settings {
        cpus: 3,
        engine: EngineSettings {
            dns: vec!["1.1.1.1".into()],
            ..EngineSettings::default()
        },
        ..Settings::defaults_for(HOST, Vec::new())
    };
    settings.save(&paths, HOST).expect("save");
    assert_eq!(
        Settings::load(&paths.settings_file(), Settings::default()).expect("load"),
        settings
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&paths.settings_file()), 0o600);
        assert_eq!(mode(&paths.config), 0o700);
    }
}

#[test]
fn invalid_settings_write_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let paths = temp_paths(root.path());
    let bad = Settings {
        cpus: 99,
        ..Settings::defaults_for(HOST, Vec::new())
    };
    let err = bad.save(&paths, HOST).expect_err("invalid");
    assert!(matches!(err, SettingsError::Invalid { field: "cpus", .. }));
    assert!(!paths.config.exists(), "nothing was created");
}
