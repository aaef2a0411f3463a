//! Windows (run under Wine by `installer/berth-test`): `berth start`'s daemon for real, up to
//! the hypervisor. The client launches `berth.exe supervise` detached (`DETACHED_PROCESS`, no
//! console, its options as JSON on stdin), the daemon takes the instance lock, serves its
//! command channel on the user-only pipe, checks a real image, and asks
//! the WSL backend to start — which finds no `wsl.exe` (Wine has no WSL) and fails naming the
//! fix. The client gets that failure with its code, and a status afterwards reads it from the
//! state file with the daemon gone. What a real WSL would do next is the stand-in tests'
//! (`berth-core/tests/wsl_stand_in.rs`).
#![cfg(windows)]

use std::path::Path;
use std::time::{Duration, Instant};

use berth_core::image::{Artifact, Manifest, Role, RootFormat, REQUIRED_COMPONENTS, SCHEMA};
use berth_core::instance::VmState;
use berth_core::paths::Paths;
use berth_daemon::options::StartOptions;
use berth_daemon::{Launcher, SupervisorClient};
use sha2::{Digest, Sha256};

/// A small image with a root tarball, whose checksums verify.
fn write_image(dir: &Path) {
    std::fs::create_dir_all(dir).expect("image dir");
    let sha = |data: &[u8]| hex::encode(Sha256::digest(data));
    let mut artifacts = Vec::new();
    for (role, file, data) in [
        (Role::Kernel, "vmlinuz", &b"kernel"[..]),
        (Role::Initrd, "initrd.img", b"initrd"),
        (Role::Root, "root.tar", b"root"),
    ] {
        std::fs::write(dir.join(file), data).expect("artifact");
        artifacts.push(Artifact {
            role,
            file: file.into(),
            sha256: sha(data),
            size: data.len() as u64,
        });
    }
    let manifest = Manifest {
        schema: SCHEMA,
        recipe_hash: sha(b"recipe"),
        suite: "trixie".into(),
        arch: "amd64".into(),
        root_format: RootFormat::Tar,
        source_date_epoch: 0,
        packages_date: None,
        components: REQUIRED_COMPONENTS
            .iter()
            .map(|c| (c.to_string(), "1".into()))
            .collect(),
        agent_sha256: sha(b"agent"),
        artifacts,
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).expect("json"),
    )
    .expect("manifest");
}

#[tokio::test]
async fn a_detached_daemon_reaches_wsl_and_names_the_fix_when_it_is_missing() {
    let root = tempfile::tempdir().expect("tempdir");
    let paths = Paths::under(root.path());
    let image = root.path().join("image");
    write_image(&image);
    let launcher = Launcher {
        program: env!("CARGO_BIN_EXE_berth").into(),
        args: vec!["supervise".into()],
        env: Vec::new(),
    };
    let client = SupervisorClient::new(paths.clone(), launcher);
    let options = StartOptions {
        docker_context: false,
        paths: Some(paths.clone()),
        ..StartOptions::new(image)
    };
    let mut phases = Vec::new();
    let err = client
        .start(&options, |view| {
            if let Some(phase) = &view.phase {
                phases.push(phase.clone());
            }
        })
        .await
        .expect_err("there is no WSL under Wine");
    let failure = err.failure();
    assert!(
        failure.message.contains("wsl --install --no-distribution"),
        "{failure:?}; phases {phases:?}"
    );
    // Only the daemon's WSL backend words it so: the client did launch it and hear from it.
    assert_eq!(failure.code, "hypervisor", "{failure:?}; phases {phases:?}");
    // The daemon is gone; its outcome stays in the state file.
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.is_running() {
        assert!(Instant::now() < deadline, "the daemon did not exit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let view = client.status().await.expect("status");
    assert_eq!(view.state, VmState::Error, "{view:?}");
    assert_eq!(view.error.map(|e| e.code), Some(failure.code));
}
