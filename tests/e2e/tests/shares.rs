//! Shared folders on a real VM through the stock docker CLI: files written in containers belong
//! to the host user (also when Berth runs as a non-root user) and look root-owned in the guest,
//! host edits (in place, atomic replace, removal) are visible in containers, and an inotify
//! watcher in a container (`fixtures/inotify-watch.c`: Debian's busybox has no inotifyd) fires
//! on a host edit, once, without an echo loop. With the default settings the host's temporary
//! folder is shared (`docker run -v "$(mktemp -d)":/w` sees the host's files), and a bind of
//! a host path outside every shared folder is reported by the docker CLI. A read-only shared
//! folder refuses every change from containers with `EROFS`, also after a privileged container
//! remounts it read-write (the host's virtiofsd refuses it), while a read-write one beside it
//! takes the same changes.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_core::shares::virtiofsd::HostIds;
use berth_e2e::berth::{busybox_rootfs, inotify_watcher, Env, RunAs};
use berth_e2e::image_dir;

const IMAGE: &str = "berth-test/busybox:shares";
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "stat", "sleep", "test", "touch", "id", "true", "chmod", "mknod", "rm",
    "mkdir", "mv", "mount", "grep", "ls",
];

/// The test image: busybox and a static inotify watcher.
fn test_rootfs() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    busybox_rootfs(APPLETS, &[inotify_watcher(dir.path())])
}

/// Polls `check` every 250 ms until it returns `Some`, for at most `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `docker run --rm -v VOLUME IMAGE sh -c SCRIPT`.
fn run_in(env: &Env, volume: &str, script: &str) -> String {
    env.docker(
        &["run", "--rm", "-v", volume, IMAGE, "sh", "-c", script],
        None,
    )
}

/// Lines the watcher printed about `name` with event letter `event`.
fn watch_events(env: &Env, event: &str, name: &str) -> usize {
    let logs = env.docker(&["logs", "watch"], None);
    logs.lines()
        .filter(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            f.first() == Some(&event) && f.get(2) == Some(&name)
        })
        .count()
}

#[test]
fn shared_folders_ownership_host_edits_and_inotify_in_containers() {
    let env = Env::new();
    let shared = tempfile::tempdir().expect("shared folder");
    let dir = shared.path().to_str().expect("utf-8").to_owned();
    env.write_settings(&serde_json::json!({ "shared_folders": [dir] }));
    env.start();
    let running = env.leftovers();
    assert!(running.contains("virtiofsd"), "no virtiofsd: {running}");
    let socket = env.home.join("run/berth/virtiofs-0.sock");
    let mode = std::fs::metadata(&socket).expect("virtiofs socket").mode();
    assert_eq!(mode & 0o777, 0o600, "virtiofs socket mode");
    env.docker(&["import", "-", IMAGE], Some(&test_rootfs()));
    let volume = format!("{dir}:/w");

    // Written in a container, as root and as another user: the host user's file, root-owned
    // as seen in the guest.
    let owner = run_in(&env, &volume, "echo x > /w/f && stat -c %u:%g /w/f");
    assert_eq!(owner.trim(), "0:0", "guest view of the owner");
    let f = shared.path().join("f");
    assert_eq!(std::fs::read_to_string(&f).expect("host sees f"), "x\n");
    let meta = std::fs::metadata(&f).expect("meta");
    let (uid, gid) = (nix_uid(), nix_gid());
    assert_eq!((meta.uid(), meta.gid()), (uid, gid), "owner on the host");
    // No privileges planted on the host through the share: set-id modes and device nodes
    // are refused (the container's root has CAP_FOWNER and CAP_MKNOD), other modes work.
    let said = run_in(
        &env,
        &volume,
        "chmod u+s /w/f 2>&1; chmod g+s /w/f 2>&1; mknod /w/dev c 1 3 2>&1; \
         chmod 600 /w/f && stat -c %a /w/f",
    );
    assert_eq!(
        said.matches("Operation not permitted").count(),
        3,
        "set-id or device node allowed: {said}"
    );
    assert!(said.ends_with("600\n"), "{said}");
    let mode_now = std::fs::metadata(&f).expect("meta").mode();
    assert_eq!(mode_now & 0o7777, 0o600, "the host file's mode");
    assert!(
        !shared.path().join("dev").exists(),
        "a device node reached the host"
    );
    // Host files look root-owned in the guest, so a non-root container user writes where the
    // host mode lets everyone write.
    let open = shared.path().join("open");
    std::fs::create_dir(&open).expect("open dir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    env.docker(
        &[
            "run",
            "--rm",
            "--user",
            "1000:1000",
            "-v",
            &volume,
            IMAGE,
            "sh",
            "-c",
            "echo y > /w/open/by-user",
        ],
        None,
    );
    let meta = std::fs::metadata(open.join("by-user")).expect("by-user");
    assert_eq!(
        (meta.uid(), meta.gid()),
        (uid, gid),
        "a container user's file"
    );

    // Mounted at the same path as on the host.
    let same = format!("{dir}:{dir}");
    assert_eq!(run_in(&env, &same, &format!("cat {dir}/f")), "x\n");

    // A host file is visible in a container.
    std::fs::write(shared.path().join("g"), "one").expect("write g");
    assert_eq!(run_in(&env, &volume, "cat /w/g"), "one");

    // An inotify watcher in a container.
    env.docker(
        &[
            "run",
            "-d",
            "--name",
            "watch",
            "-v",
            &volume,
            IMAGE,
            "inotify-watch",
            "/w",
        ],
        None,
    );
    wait_for(
        "the watcher to see a probe",
        Duration::from_secs(60),
        || {
            run_in(&env, &volume, "touch /w/probe");
            (watch_events(&env, "n", "probe") > 0).then_some(())
        },
    );

    // A host edit in place: the watcher fires (IN_MODIFY) and the new size is seen.
    let edited = Instant::now();
    std::fs::write(shared.path().join("g"), "two, longer").expect("rewrite g");
    wait_for("IN_MODIFY for a host edit", Duration::from_secs(30), || {
        (watch_events(&env, "c", "g") > 0).then_some(())
    });
    eprintln!(
        "host edit reached the container's inotify in {:.2} s",
        edited.elapsed().as_secs_f64()
    );
    assert_eq!(
        run_in(&env, &volume, "cat /w/g; echo; stat -c %s /w/g"),
        "two, longer\n11\n"
    );

    // No echo loop: the guest's touch does not come back as more events.
    std::thread::sleep(Duration::from_secs(3));
    let settled = watch_events(&env, "c", "g");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        watch_events(&env, "c", "g"),
        settled,
        "events kept coming: an echo loop"
    );
    assert!(settled <= 3, "{settled} IN_MODIFY events for one edit");

    // An editor's atomic save (write a temporary file, rename it over) and a removal.
    let tmp = shared.path().join(".g.swp");
    std::fs::write(&tmp, "three").expect("write tmp");
    std::fs::rename(&tmp, shared.path().join("g")).expect("rename");
    wait_for("an atomic replace", Duration::from_secs(30), || {
        (run_in(&env, &volume, "cat /w/g; echo; stat -c %s /w/g") == "three\n5\n").then_some(())
    });
    std::fs::remove_file(shared.path().join("g")).expect("rm g");
    wait_for("a removal", Duration::from_secs(30), || {
        (run_in(&env, &volume, "test -e /w/g || echo gone") == "gone\n").then_some(())
    });
    // A new host file appears in the watcher too.
    std::fs::write(shared.path().join("new"), "n").expect("new");
    wait_for(
        "an event for a new host file",
        Duration::from_secs(30),
        || (watch_events(&env, "c", "new") > 0).then_some(()),
    );

    env.docker(&["rm", "-f", "watch"], None);
    env.stop();
    assert!(!socket.exists(), "virtiofs socket left behind");
}

/// `docker --context berth ARGS` run to completion: (success, stdout, stderr).
fn docker_output(env: &Env, args: &[&str]) -> (bool, String, String) {
    let out = env
        .cmd("docker")
        .arg("--context")
        .arg("berth")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("docker CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn temporary_folders_are_shared_by_default_and_unshared_binds_are_reported() {
    let env = Env::new();
    // No settings file: the defaults, which share the home and the temporary folder (this
    // test's home is inside it, so the temporary folder alone).
    env.start();
    env.docker(&["import", "-", IMAGE], Some(&test_rootfs()));

    // What a test suite does: a folder from `mktemp -d`, bound into a container.
    let out = std::process::Command::new("mktemp")
        .arg("-d")
        .output()
        .expect("mktemp");
    assert!(out.status.success(), "mktemp -d failed");
    let made = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let _cleanup = RemoveOnDrop(made.clone());
    std::fs::write(made.join("from-host"), "host\n").expect("write on the host");
    let volume = format!("{}:/w", made.display());
    assert_eq!(
        run_in(
            &env,
            &volume,
            "cat /w/from-host && echo container > /w/from-container"
        ),
        "host\n",
        "the container sees the host's file in a mktemp folder"
    );
    assert_eq!(
        std::fs::read_to_string(made.join("from-container")).expect("the host sees it"),
        "container\n"
    );
    // Host tools keep working in the shared temporary folder: with no watcher in the VM, a
    // host file's event refreshes the VM's view but never touches the file, whose ctime
    // (which `tar` checks while it archives) stays put.
    let quiet = made.join("quiet");
    std::fs::write(&quiet, "q").expect("write quiet");
    let ctime = |p: &Path| {
        let m = std::fs::metadata(p).expect("meta");
        (m.ctime(), m.ctime_nsec())
    };
    let before = ctime(&quiet);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        ctime(&quiet),
        before,
        "the VM touched an unwatched host file"
    );
    assert_eq!(run_in(&env, &volume, "cat /w/quiet"), "q");
    // The same folder through its real path (`/tmp` on Linux, `/private/tmp` on macOS).
    let real = std::fs::canonicalize(&made).expect("real path");
    let volume = format!("{}:/w", real.display());
    assert_eq!(
        run_in(&env, &volume, "cat /w/from-container"),
        "container\n"
    );

    // A bind of a host folder in no shared folder: the container is created, and the docker
    // CLI prints the engine's warning naming the folder and the fix.
    let outside = "/srv/berth-e2e-not-shared";
    let (ok, _, stderr) = docker_output(
        &env,
        &["run", "--rm", "-v", &format!("{outside}:/w"), IMAGE, "true"],
    );
    assert!(ok, "the create must not be refused: {stderr}");
    let warning = format!("WARNING: {outside} is not in a folder shared with the Berth VM");
    assert!(
        stderr.contains(&warning) && stderr.contains("shared_folders"),
        "{stderr}"
    );
    // The engine's socket and shared folders give no warning.
    let (ok, _, stderr) = docker_output(
        &env,
        &[
            "run",
            "--rm",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            "-v",
            &format!("{}:/w", made.display()),
            IMAGE,
            "true",
        ],
    );
    assert!(ok && !stderr.contains("WARNING"), "{stderr}");
    // `--mount` refuses a source the VM lacks: the engine's error says why.
    let missing = "/srv/berth-e2e-missing";
    let (ok, _, stderr) = docker_output(
        &env,
        &[
            "run",
            "--rm",
            "--mount",
            &format!("type=bind,source={missing},target=/w"),
            IMAGE,
            "true",
        ],
    );
    assert!(!ok, "a missing --mount source was accepted");
    assert!(
        stderr.contains(&format!(
            "{missing} is not in a folder shared with the Berth VM"
        )),
        "{stderr}"
    );
    // The daemon's log has them too.
    let log = std::fs::read_to_string(env.home.join("state/berth/berth.log")).unwrap_or_default();
    assert!(log.contains(outside) && log.contains(missing), "{log}");
    env.stop();
}

/// Removes a folder this test made outside its temporary directories.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn bad_shared_folders_are_refused_naming_the_folder() {
    let env = Env::new();
    let parent = tempfile::tempdir().expect("parent");
    let inner = parent.path().join("inner");
    std::fs::create_dir(&inner).expect("inner");
    let missing = parent.path().join("missing");
    for (folders, expect) in [
        (
            vec![missing.clone()],
            format!("{} does not exist", missing.display()),
        ),
        (
            vec![parent.path().to_path_buf(), inner.clone()],
            format!("{} is inside", inner.display()),
        ),
        (
            vec![PathBuf::from("/var")],
            "would hide the VM's own".to_owned(),
        ),
        // Another OS's temporary folder (a settings file from a Mac).
        (
            vec![PathBuf::from("/private/var/folders")],
            "/private/var/folders does not exist here: it is macOS's temporary folder".to_owned(),
        ),
    ] {
        env.write_settings(&serde_json::json!({ "shared_folders": folders }));
        let (ok, _, stderr) =
            env.berth(&["start", "--image", image_dir().to_str().expect("utf-8")]);
        assert!(!ok, "{folders:?} was accepted");
        // The published state keeps the supervisor's error (`berth start` may report only
        // that the supervisor exited when it fails this fast).
        let state =
            std::fs::read_to_string(env.home.join("run/berth/state.json")).unwrap_or_default();
        let named = |text: &str| text.contains(&expect) && text.contains("shared_folders");
        assert!(
            named(&stderr) || named(&state),
            "{folders:?}: {stderr}\n{state}"
        );
        assert!(env.leftovers().is_empty());
    }
}

/// Copies `from` into the directory `to`, keeping the file name.
fn copy_into(from: &Path, to: &Path) -> PathBuf {
    let target = to.join(from.file_name().expect("name"));
    std::fs::copy(from, &target).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    target
}

/// Changes the owner of `path` and everything below it.
fn chown_tree(path: &Path, id: u32) {
    let status = std::process::Command::new("chown")
        .arg("-R")
        .arg(format!("{id}:{id}"))
        .arg(path)
        .status()
        .expect("chown");
    assert!(status.success());
}

#[test]
fn a_non_root_user_owns_what_containers_write() {
    if nix_uid() != 0 {
        // This test plays another user with setpriv, which needs root; as a non-root user the
        // first test already proves the same.
        return;
    }
    const ID: u32 = 4242;
    // Everything the user runs must be reachable by it: not under root's 0700 home.
    let base = tempfile::tempdir().expect("base");
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let bin = base.path().join("bin");
    let image = base.path().join("image");
    let home = base.path().join("home");
    let shared = base.path().join("shared");
    for dir in [&bin, &image, &home, &shared] {
        std::fs::create_dir(dir).expect("mkdir");
    }
    let berth = copy_into(&berth_e2e::berth::berth_binary(), &bin);
    for helper in ["virtiofsd", "vhost-device-vsock"] {
        let found = berth_core::vsock::find_helper(helper)
            .unwrap_or_else(|| panic!("{helper} is installed by installer/lib.sh"));
        copy_into(&found, &bin);
    }
    for entry in std::fs::read_dir(image_dir()).expect("image dir") {
        copy_into(&entry.expect("entry").path(), &image);
    }
    let env = Env::as_user(
        home.clone(),
        berth,
        RunAs {
            id: ID,
            path: format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
        },
    );
    env.write_settings(&serde_json::json!({ "shared_folders": [shared] }));
    chown_tree(&home, ID);
    chown_tree(&shared, ID);
    env.start_image(&image);

    let daemon = env
        .leftovers()
        .lines()
        .find(|l| l.contains("virtiofsd"))
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .expect("virtiofsd runs");
    let status = std::fs::read_to_string(format!("/proc/{daemon}/status")).expect("status");
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).expect("Uid");
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|id| id == ID.to_string()),
        "virtiofsd is not unprivileged: {uid_line}"
    );

    env.docker(&["import", "-", IMAGE], Some(&test_rootfs()));
    let volume = format!("{}:/w", shared.display());
    let owner = run_in(
        &env,
        &volume,
        "echo x > /w/f && id -u && stat -c %u:%g /w/f",
    );
    assert_eq!(
        owner, "0\n0:0\n",
        "root in the container, root-owned in the guest"
    );
    let meta = std::fs::metadata(shared.join("f")).expect("host sees f");
    assert_eq!((meta.uid(), meta.gid()), (ID, ID), "owned by the host user");
    assert_eq!(std::fs::read_to_string(shared.join("f")).expect("f"), "x\n");
    env.stop();
}

/// Changes a container tries in a shared folder, one shell command each.
const CHANGES: &[&str] = &[
    "echo new > keep",
    "echo more >> keep",
    "echo x > created",
    "rm keep",
    "chmod 777 keep",
    "touch keep",
    "mkdir made",
    "mv keep moved",
    "rm -r sub",
];

/// A script running each of [`CHANGES`] in `dir`, printing `== CHANGE`, its output and
/// `rc=STATUS`.
fn changes_script(dir: &str) -> String {
    let mut script = String::new();
    for change in CHANGES {
        script.push_str(&format!(
            "cd {dir} && echo '== {change}' && ({change}) 2>&1; echo rc=$?; "
        ));
    }
    script
}

/// The outcome of each change in `output` of [`changes_script`]: (change, its text, status).
fn change_outcomes(output: &str) -> Vec<(String, String, String)> {
    output
        .split("== ")
        .skip(1)
        .map(|part| {
            let (change, rest) = part.split_once('\n').unwrap_or((part, ""));
            let (text, rc) = rest.rsplit_once("rc=").unwrap_or((rest, ""));
            (
                change.to_owned(),
                text.trim().to_owned(),
                rc.trim().to_owned(),
            )
        })
        .collect()
}

/// Fills `dir` with what [`CHANGES`] work on: `keep` (0644) and `sub/inner`.
fn fill(dir: &Path) {
    std::fs::write(dir.join("keep"), "original\n").expect("keep");
    std::fs::set_permissions(dir.join("keep"), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    std::fs::create_dir(dir.join("sub")).expect("sub");
    std::fs::write(dir.join("sub/inner"), "inner\n").expect("inner");
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_read_only_folder_refuses_every_change_and_a_read_write_one_takes_them() {
    let env = Env::new();
    let ro = tempfile::tempdir().expect("read-only folder");
    let rw = tempfile::tempdir().expect("read-write folder");
    fill(ro.path());
    fill(rw.path());
    let keep = ro.path().join("keep");
    let before = std::fs::metadata(&keep).expect("keep");
    env.write_settings(&serde_json::json!({
        "shared_folders": [{ "path": ro.path(), "read_only": true }, rw.path()]
    }));
    env.start();
    let daemons = env.leftovers();
    let daemon = |dir: &Path| {
        daemons
            .lines()
            .find(|l| {
                l.contains("virtiofsd") && l.contains(&format!("--shared-dir {} ", dir.display()))
            })
            .unwrap_or_else(|| panic!("no virtiofsd for {}: {daemons}", dir.display()))
            .to_owned()
    };
    assert!(daemon(ro.path()).contains("--readonly"), "{daemons}");
    assert!(!daemon(rw.path()).contains("--readonly"), "{daemons}");
    env.docker(&["import", "-", IMAGE], Some(&test_rootfs()));
    let ro_volume = format!("{}:/r", ro.path().display());
    let rw_volume = format!("{}:/w", rw.path().display());
    let run = |extra: &[&str], script: &str| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "-v", &ro_volume, "-v", &rw_volume, IMAGE, "sh", "-c", script,
        ]);
        env.docker(&args, None)
    };

    // Readable, and mounted read-only in the container.
    let seen = run(&[], "cat /r/keep /r/sub/inner && grep ' /r ' /proc/mounts");
    assert!(seen.starts_with("original\ninner\n"), "{seen}");
    assert!(seen.contains(" ro,") || seen.contains(" ro "), "{seen}");

    // Every change fails with EROFS ("Read-only file system") in the read-only folder.
    let refused = change_outcomes(&run(&[], &changes_script("/r")));
    assert_eq!(refused.len(), CHANGES.len(), "{refused:?}");
    for (change, text, rc) in &refused {
        assert!(
            rc != "0" && text.contains("Read-only file system"),
            "{change}: allowed or another error: {text:?} rc={rc}"
        );
    }
    // A privileged container may remount its view read-write: the host's virtiofsd still
    // refuses.
    let remounted = run(
        &["--privileged"],
        &format!(
            "mount -o remount,rw /r && grep ' /r ' /proc/mounts && {}",
            changes_script("/r")
        ),
    );
    assert!(remounted.contains(" rw,"), "not remounted: {remounted}");
    for (change, text, rc) in change_outcomes(&remounted) {
        assert!(
            rc != "0" && text.contains("Read-only file system"),
            "{change} after a remount: {text:?} rc={rc}"
        );
    }
    let after = std::fs::metadata(&keep).expect("keep is still there");
    assert_eq!(std::fs::read_to_string(&keep).expect("keep"), "original\n");
    assert_eq!(
        (after.mode(), after.mtime(), after.mtime_nsec(), after.ino()),
        (
            before.mode(),
            before.mtime(),
            before.mtime_nsec(),
            before.ino()
        ),
        "the host file changed"
    );
    assert_eq!(names(ro.path()), ["keep", "sub"]);
    assert_eq!(names(&ro.path().join("sub")), ["inner"]);

    // The same changes in the read-write folder all work (but `chmod`, after `rm keep`).
    for (change, text, rc) in change_outcomes(&run(&[], &changes_script("/w"))) {
        assert!(
            rc == "0" || (change == "chmod 777 keep" && text.contains("No such file")),
            "{change} refused in the read-write folder: {text:?} rc={rc}"
        );
    }
    assert_eq!(names(rw.path()), ["created", "made", "moved"]);

    // Host edits in the read-only folder still reach containers: a file the guest has seen
    // (its entry cached for a day) and the host removes is gone within a second or so.
    std::fs::remove_file(ro.path().join("sub/inner")).expect("remove inner");
    wait_for(
        "a host removal in the read-only folder",
        Duration::from_secs(10),
        || {
            run(&[], "test -e /r/sub/inner && echo there; true")
                .is_empty()
                .then_some(())
        },
    );
    env.stop();
}

fn nix_uid() -> u32 {
    HostIds::current().uid
}

fn nix_gid() -> u32 {
    HostIds::current().gid
}
