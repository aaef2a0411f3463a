//! The WSL 2 backend's process handling against a stand-in `wsl.exe`. This test binary is both:
//! each test copies it to `<tempdir>/bin/wsl.exe` (`wsl` on Unix) and points the backend at
//! the copy, and when this program runs under the file stem `wsl` it behaves as the stand-in
//! ([`stand_in`]) instead of running the tests (hence `harness = false`).
//!
//! The stand-in checks its arguments as WSL would, keeps the distributions it "imported" in
//! `registry.json` beside itself (each with a directory holding an `ext4.vhdx`, as
//! `wsl --import` leaves), prints its own messages (`--list --verbose`, `--version`, errors) in
//! UTF-16LE as `wsl.exe` does, logs every call to `calls.log`, and for `--exec /usr/sbin/init`
//! prints what the agent prints (UTF-8, as a Linux process does): the data agent's data ready
//! line, or the agent's console lines and ready line, then stays until the distribution is
//! terminated (or, for the data agent, its standard input closes). A root whose agent is the
//! text `fail` exits instead of becoming ready.
//!
//! What Wine (and this stand-in) cannot show: a real WSL 2 VM, real `wsl --import` of a root
//! (the stand-in only copies the agent out of the tarball), the data distribution's bind mount
//! under `/mnt/wsl` reaching the system distribution, the Host Compute Service (the tests
//! inject the VM lookup; the one test without it expects the clear "missing" error, as
//! `computecore.dll` is absent under Wine) and Hyper-V sockets (so `stop` cannot ask the agent
//! and terminates the distributions instead). Runs on Unix too, with the same stand-in.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use berth_core::backend::{BackendStatus, VmBackend};
use berth_core::image::{Artifact, GuestImage, Manifest, Role, RootFormat, REQUIRED_COMPONENTS};
use berth_core::wsl::command;
use berth_core::wsl::distro::{self, State, DATA_DISTRIBUTION};
use berth_core::wsl::{WslBackend, WslConfig};
use berth_protocol::boot::WSL_SHARED_DATA_DIR;
use sha2::{Digest, Sha256};

fn main() -> ExitCode {
    let exe = std::env::current_exe().unwrap_or_default();
    if exe.file_stem().is_some_and(|s| s == "wsl") {
        let args: Vec<String> = std::env::args().skip(1).collect();
        return ExitCode::from(stand_in::run(&exe, &args));
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tests: &[(&str, fn())] = &[
        (
            "first_start_imports_and_a_second_does_not",
            first_start_imports_and_a_second_does_not,
        ),
        (
            "the_agents_run_as_the_command_lines_say",
            the_agents_run_as_the_command_lines_say,
        ),
        (
            "an_image_change_imports_the_new_root_and_keeps_the_previous",
            an_image_change_imports_the_new_root_and_keeps_the_previous,
        ),
        (
            "a_new_root_that_does_not_boot_rolls_back",
            a_new_root_that_does_not_boot_rolls_back,
        ),
        (
            "a_first_root_that_does_not_boot_fails_with_its_output",
            a_first_root_that_does_not_boot_fails_with_its_output,
        ),
        (
            "wsl_missing_names_the_install_command",
            wsl_missing_names_the_install_command,
        ),
        (
            "no_virtualization_names_the_firmware_and_keeps_nothing",
            no_virtualization_names_the_firmware_and_keeps_nothing,
        ),
        (
            "a_foreign_distribution_is_refused_and_left_alone",
            a_foreign_distribution_is_refused_and_left_alone,
        ),
        (
            "a_system_distribution_removed_behind_berths_back_is_reimported",
            a_system_distribution_removed_behind_berths_back_is_reimported,
        ),
        (
            "without_a_vm_lookup_the_missing_service_is_named",
            without_a_vm_lookup_the_missing_service_is_named,
        ),
        (
            "the_stand_in_speaks_wsls_encoding",
            the_stand_in_speaks_wsls_encoding,
        ),
    ];
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, test) in tests {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        ran - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The stand-in `wsl.exe`.
#[path = "wsl_stand_in/stand_in.rs"]
mod stand_in;

/// One test's world: a temporary directory with the stand-in, images and an install directory.
struct World {
    _dir: tempfile::TempDir,
    root: PathBuf,
    wsl: PathBuf,
    install: PathBuf,
    run: PathBuf,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let wsl = bin.join(format!("wsl{}", std::env::consts::EXE_SUFFIX));
        std::fs::copy(std::env::current_exe().expect("exe"), &wsl).expect("copy the stand-in");
        World {
            install: root.join("data").join("wsl"),
            run: root.join("run"),
            wsl,
            root,
            _dir: dir,
        }
    }

    /// A tar image whose agent is `agent` (`fail` for one that does not boot).
    fn image(&self, name: &str, agent: &[u8]) -> GuestImage {
        let dir = self.root.join("images").join(name);
        std::fs::create_dir_all(&dir).expect("image dir");
        let tar_path = dir.join("root.tar");
        let mut tar = tar::Builder::new(std::fs::File::create(&tar_path).expect("root.tar"));
        for (path, data) in [
            ("./etc/os-release", &b"ID=debian\n"[..]),
            ("./usr/sbin/init", agent),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o755);
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, path, data).expect("append");
        }
        tar.into_inner().expect("finish").flush().expect("flush");
        let bytes = std::fs::read(&tar_path).expect("read root.tar");
        let sha = |data: &[u8]| hex::encode(Sha256::digest(data));
        let artifact = |role, file: &str, data: &[u8]| Artifact {
            role,
            file: file.into(),
            sha256: sha(data),
            size: data.len() as u64,
        };
        GuestImage {
            dir,
            manifest: Manifest {
                schema: berth_core::image::SCHEMA,
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
                agent_sha256: sha(agent),
                artifacts: vec![
                    artifact(Role::Kernel, "vmlinuz", b"k"),
                    artifact(Role::Initrd, "initrd.img", b"i"),
                    artifact(Role::Root, "root.tar", &bytes),
                ],
            },
        }
    }

    fn config(&self, image: &GuestImage) -> WslConfig {
        let mut config = WslConfig::for_image(image, &self.install, &self.run).expect("config");
        config.wsl_exe = self.wsl.clone();
        config.agent.engine.registry_mirrors = vec!["http://mirror.internal:5000".into()];
        config
    }

    fn backend(&self, image: &GuestImage) -> WslBackend {
        WslBackend::new(self.config(image))
            .with_vm_lookup(|| Ok("c2d3e4f5-1111-4222-8333-944455556666".into()))
    }

    /// The stand-in's calls so far.
    fn calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.wsl.with_file_name("calls.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn imports_of(&self, name: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.first().map(String::as_str) == Some("--import") && c[1] == name)
            .count()
    }

    fn registered(&self) -> Vec<String> {
        stand_in::load(&self.wsl).distros.keys().cloned().collect()
    }

    fn running(&self) -> Vec<String> {
        stand_in::load(&self.wsl)
            .distros
            .into_iter()
            .filter(|(_, d)| d.running)
            .map(|(n, _)| n)
            .collect()
    }

    fn state(&self) -> State {
        State::load(&self.install).expect("state")
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.run.join("console.log")).unwrap_or_default()
    }

    /// Runs the stand-in directly, as a user at a prompt would run `wsl.exe`.
    fn wsl_cli(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(&self.wsl)
            .args(args)
            .output()
            .expect("run the stand-in");
        command::decode_output(&out.stdout)
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

const BOOT: Duration = Duration::from_secs(60);
const STOP: Duration = Duration::from_secs(10);

fn name_of(image: &GuestImage) -> String {
    let root = image.manifest.artifact(Role::Root).expect("root");
    distro::system_name(&root.sha256).expect("a name")
}

async fn stop(vm: &mut WslBackend) {
    vm.stop(STOP).await.expect("stop");
    assert_eq!(vm.status().await.expect("status"), BackendStatus::Stopped);
}

fn first_start_imports_and_a_second_does_not() {
    let w = World::new();
    let image = w.image("a", b"agent a");
    let system = name_of(&image);
    block_on(async {
        let mut vm = w.backend(&image);
        let started = vm.start(BOOT).await.expect("first start");
        assert_eq!(started.agent_version, "0.0.0-stand-in");
        assert_eq!(started.guest_uptime_ms, 1234);
        assert_eq!(vm.distribution(), Some(system.as_str()));
        assert!(vm.notices().is_empty(), "{:?}", vm.notices());
        assert_eq!(w.imports_of(DATA_DISTRIBUTION), 1);
        assert_eq!(w.imports_of(&system), 1);
        assert!(matches!(
            vm.status().await.expect("status"),
            BackendStatus::Running { .. }
        ));
        let mut expected = vec![DATA_DISTRIBUTION.to_owned(), system.clone()];
        expected.sort();
        assert_eq!(w.running(), expected, "both distributions run");
        // Each in its own directory of the install directory; the state file names them.
        assert!(w
            .install
            .join(DATA_DISTRIBUTION)
            .join("ext4.vhdx")
            .is_file());
        assert!(w.install.join(&system).join("ext4.vhdx").is_file());
        let state = w.state();
        assert_eq!(
            state.current.as_ref().map(|c| c.name.as_str()),
            Some(system.as_str())
        );
        assert_eq!(state.previous, None);
        // The data tarball the host wrote is gone once imported.
        assert!(!w.install.join("berth-data.tar").exists());

        // Stop terminates both distributions and their processes end.
        stop(&mut vm).await;
        assert!(w.running().is_empty(), "{:?}", w.running());
        let terminated: Vec<String> = w
            .calls()
            .into_iter()
            .filter(|c| c[0] == "--terminate")
            .map(|c| c[1].clone())
            .collect();
        assert!(terminated.contains(&system) && terminated.contains(&DATA_DISTRIBUTION.to_owned()));

        vm.start(BOOT).await.expect("second start");
        assert_eq!(w.imports_of(DATA_DISTRIBUTION), 1, "no second import");
        assert_eq!(w.imports_of(&system), 1, "no second import");
        stop(&mut vm).await;
    });
}

fn the_agents_run_as_the_command_lines_say() {
    let w = World::new();
    let image = w.image("a", b"agent a");
    let system = name_of(&image);
    block_on(async {
        let config = w.config(&image);
        let mut vm = w.backend(&image);
        vm.start(BOOT).await.expect("start");
        let execs: Vec<Vec<String>> = w
            .calls()
            .into_iter()
            .filter(|c| c.contains(&"--exec".to_owned()))
            .collect();
        let strings = |args: Vec<std::ffi::OsString>| -> Vec<String> {
            args.into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            execs,
            [
                strings(command::run_data_agent(DATA_DISTRIBUTION)),
                strings(command::run_agent(
                    &system,
                    Some(WSL_SHARED_DATA_DIR),
                    &config.agent
                )),
            ]
        );
        // The mirror (a token could be in it) is not an argument: it comes with the secret.
        assert!(
            !execs[1].iter().any(|a| a.contains("mirror")),
            "{:?}",
            execs[1]
        );
        assert!(execs[1].contains(&"berth.secret=stdin".to_owned()));
        // Both agents' output is the console log.
        let console = w.console();
        for line in [
            "berth-agent: data ready path=/mnt/wsl/berth/data",
            "berth-agent: stand-in agent in",
            "--data-dir /mnt/wsl/berth/data berth.secret=stdin",
            "berth-agent: stand-in boot channel: berth.mirror=http://mirror.internal:5000",
            "berth-agent: ready version=0.0.0-stand-in",
        ] {
            assert!(console.contains(line), "{line:?} not in:\n{console}");
        }
        stop(&mut vm).await;
    });
}

fn an_image_change_imports_the_new_root_and_keeps_the_previous() {
    let w = World::new();
    let (a, b, c) = (
        w.image("a", b"agent a"),
        w.image("b", b"agent b"),
        w.image("c", b"agent c"),
    );
    let (na, nb, nc) = (name_of(&a), name_of(&b), name_of(&c));
    block_on(async {
        let mut vm = w.backend(&a);
        vm.start(BOOT).await.expect("start a");
        stop(&mut vm).await;
        // The user's images and volumes: something in the data distribution's disk.
        let volumes = w.install.join(DATA_DISTRIBUTION).join("ext4.vhdx");
        std::fs::write(&volumes, b"images and volumes").expect("data");

        let mut vm = w.backend(&b);
        vm.start(BOOT).await.expect("start b");
        assert_eq!(vm.distribution(), Some(nb.as_str()));
        let state = w.state();
        assert_eq!(
            state.current.as_ref().map(|i| i.name.clone()),
            Some(nb.clone())
        );
        assert_eq!(
            state.previous.as_ref().map(|i| i.name.clone()),
            Some(na.clone())
        );
        let mut registered = w.registered();
        registered.sort();
        let mut expected = vec![DATA_DISTRIBUTION.to_owned(), na.clone(), nb.clone()];
        expected.sort();
        assert_eq!(registered, expected, "the previous one is kept");
        stop(&mut vm).await;

        let mut vm = w.backend(&c);
        vm.start(BOOT).await.expect("start c");
        let mut registered = w.registered();
        registered.sort();
        let mut expected = vec![DATA_DISTRIBUTION.to_owned(), nb.clone(), nc.clone()];
        expected.sort();
        assert_eq!(registered, expected, "the one before the previous is gone");
        assert!(!w.install.join(&na).exists());
        assert_eq!(
            w.imports_of(DATA_DISTRIBUTION),
            1,
            "the data is never replaced"
        );
        assert_eq!(
            std::fs::read(&volumes).expect("data"),
            b"images and volumes"
        );
        let state = w.state();
        assert!(!state.owns(&na));
        assert_eq!(state.previous.map(|i| i.name), Some(nb.clone()));
        stop(&mut vm).await;
    });
}

fn a_new_root_that_does_not_boot_rolls_back() {
    let w = World::new();
    let (good, bad) = (w.image("good", b"agent"), w.image("bad", b"fail"));
    let (ngood, nbad) = (name_of(&good), name_of(&bad));
    block_on(async {
        let mut vm = w.backend(&good);
        vm.start(BOOT).await.expect("start");
        stop(&mut vm).await;

        let mut vm = w.backend(&bad);
        let started = vm.start(BOOT).await.expect("the previous one runs instead");
        assert_eq!(started.agent_version, "0.0.0-stand-in");
        assert_eq!(vm.distribution(), Some(ngood.as_str()));
        let notices = vm.notices().join("\n");
        assert!(
            notices.contains(&nbad) && notices.contains("went back"),
            "{notices}"
        );
        assert!(notices.contains(&ngood), "{notices}");
        let console = w.console();
        assert!(console.contains("stand-in failure"), "{console}");
        assert!(console.contains("went back"), "{console}");
        // The failed one is unregistered; the state still names the good one.
        assert!(!w.registered().contains(&nbad), "{:?}", w.registered());
        assert_eq!(w.state().current.map(|c| c.name), Some(ngood.clone()));
        assert!(!w.running().contains(&nbad));
        stop(&mut vm).await;
    });
}

fn a_first_root_that_does_not_boot_fails_with_its_output() {
    let w = World::new();
    let bad = w.image("bad", b"fail");
    block_on(async {
        let mut vm = w.backend(&bad);
        let err = vm.start(BOOT).await.expect_err("no previous to go back to");
        let text = err.to_string();
        assert!(text.contains("stand-in failure"), "{text}");
        assert!(text.contains("exits"), "the agent's stderr: {text}");
        // Nothing left running, and no current distribution recorded.
        assert!(w.running().is_empty(), "{:?}", w.running());
        assert_eq!(w.state().current, None);
        assert_eq!(vm.status().await.expect("status"), BackendStatus::Stopped);
    });
}

fn wsl_missing_names_the_install_command() {
    let w = World::new();
    let image = w.image("a", b"agent");
    block_on(async {
        let mut config = w.config(&image);
        config.wsl_exe = w.root.join("nowhere").join("wsl.exe");
        let err = WslBackend::new(config)
            .start(BOOT)
            .await
            .expect_err("no wsl.exe");
        let text = err.to_string();
        assert!(
            text.contains("install WSL: `wsl --install --no-distribution`"),
            "{text}"
        );
    });
}

fn no_virtualization_names_the_firmware_and_keeps_nothing() {
    let w = World::new();
    std::fs::write(w.wsl.with_file_name("no-virtualization"), b"").expect("marker");
    let image = w.image("a", b"agent");
    block_on(async {
        let err = w
            .backend(&image)
            .start(BOOT)
            .await
            .expect_err("cannot import");
        let text = err.to_string();
        assert!(
            text.contains("HCS_E_HYPERV_NOT_INSTALLED"),
            "WSL's words: {text}"
        );
        assert!(text.contains("firmware"), "{text}");
        assert!(text.contains("wsl --install --no-distribution"), "{text}");
        // WSL registered nothing, so Berth claims nothing.
        assert!(w.state().owned.is_empty(), "{:?}", w.state());
        assert!(w.registered().is_empty());
    });
}

fn a_foreign_distribution_is_refused_and_left_alone() {
    let w = World::new();
    let image = w.image("a", b"agent");
    // Someone's own `berth-data`, imported elsewhere.
    let theirs = w.root.join("theirs");
    w.wsl_cli(&[
        "--import",
        DATA_DISTRIBUTION,
        &theirs.display().to_string(),
        &image.dir.join("root.tar").display().to_string(),
        "--version",
        "2",
    ]);
    assert_eq!(w.registered(), [DATA_DISTRIBUTION]);
    block_on(async {
        let err = w.backend(&image).start(BOOT).await.expect_err("foreign");
        let text = err.to_string();
        assert!(text.contains("that Berth did not create"), "{text}");
        assert!(text.contains("berth-data"), "{text}");
    });
    assert_eq!(w.registered(), [DATA_DISTRIBUTION], "left alone");
    assert!(theirs.join("ext4.vhdx").is_file());
    assert_eq!(w.imports_of(&name_of(&image)), 0);
}

fn a_system_distribution_removed_behind_berths_back_is_reimported() {
    let w = World::new();
    let image = w.image("a", b"agent");
    let system = name_of(&image);
    block_on(async {
        let mut vm = w.backend(&image);
        vm.start(BOOT).await.expect("start");
        stop(&mut vm).await;
        w.wsl_cli(&["--unregister", &system]);
        vm.start(BOOT).await.expect("start again");
        let notices = vm.notices().join("\n");
        assert!(
            notices.contains(&system) && notices.contains("intact"),
            "{notices}"
        );
        assert_eq!(w.imports_of(&system), 2);
        assert_eq!(w.imports_of(DATA_DISTRIBUTION), 1);
        stop(&mut vm).await;
        // The data distribution gone too: an empty one, and the user is told.
        w.wsl_cli(&["--unregister", DATA_DISTRIBUTION]);
        vm.start(BOOT).await.expect("start with new data");
        let notices = vm.notices().join("\n");
        assert!(notices.contains("are gone"), "{notices}");
        assert_eq!(w.imports_of(DATA_DISTRIBUTION), 2);
        stop(&mut vm).await;
    });
}

fn without_a_vm_lookup_the_missing_service_is_named() {
    // The real lookup: under Wine `computecore.dll` is missing (no Host Compute Service);
    // elsewhere than Windows there is none at all.
    let w = World::new();
    let image = w.image("a", b"agent");
    block_on(async {
        let mut vm = WslBackend::new(w.config(&image));
        let err = vm.start(BOOT).await.expect_err("no HCS here");
        let text = err.to_string();
        assert!(
            text.contains("the agent is ready but its VM cannot be reached"),
            "{text}"
        );
        if cfg!(windows) {
            assert!(
                text.contains("computecore.dll") || text.contains("HcsEnumerate"),
                "{text}"
            );
        } else {
            assert!(text.contains("only on Windows"), "{text}");
        }
        assert!(
            w.console().contains("berth-agent: ready"),
            "after the ready line"
        );
        assert!(w.running().is_empty(), "{:?}", w.running());
        assert_eq!(vm.status().await.expect("status"), BackendStatus::Stopped);
    });
}

fn the_stand_in_speaks_wsls_encoding() {
    let w = World::new();
    let out = std::process::Command::new(&w.wsl)
        .args(command::version())
        .output()
        .expect("run");
    assert_eq!(out.stdout.get(1), Some(&0), "UTF-16LE");
    let version = command::parse_version(&command::decode_output(&out.stdout)).expect("parsed");
    assert_eq!(version.wsl, "2.3.26.0");
    // An empty WSL lists nothing and says so, exiting non-zero.
    let out = std::process::Command::new(&w.wsl)
        .args(command::list())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let text = command::decode_output(&out.stdout);
    assert!(command::parse_list(&text).is_empty());
    assert_eq!(
        command::explain_failure(&text),
        None,
        "no distribution is no failure"
    );
}
