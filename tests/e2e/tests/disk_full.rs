//! A full data disk is said before it hurts, on one VM booted with a 1 GiB data disk (made
//! before the first start; Berth never touches an existing disk): filling a volume past 90 %
//! makes `berth status` warn with what uses the space and the commands that reclaim it; writing
//! on until `ENOSPC` makes it say the disk is full; the engine keeps answering and an earlier
//! volume's file still reads back; pruning clears the warning.

use std::process::Command;

use berth_e2e::berth::{busybox_rootfs, Env, APPLETS};

const IMAGE: &str = "berth-test/busybox:fill";

/// `berth status` as text, and as JSON.
fn status(env: &Env) -> (String, serde_json::Value) {
    let (ok, text, stderr) = env.berth(&["status"]);
    assert!(ok, "berth status failed: {stderr}");
    eprint!("berth status:\n{text}");
    (text, env.status())
}

#[test]
fn filling_the_data_disk_warns_in_status_and_reclaiming_clears_it() {
    let env = Env::new();
    let disk = env.home.join("data/berth/data.qcow2");
    std::fs::create_dir_all(disk.parent().expect("data dir")).expect("data dir");
    let out = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg("1G")
        .output()
        .expect("qemu-img");
    assert!(out.status.success(), "qemu-img create failed: {out:?}");
    env.start();

    let (text, json) = status(&env);
    let total = json["guest"]["disk_total_bytes"].as_u64().expect("total");
    assert!(
        total < 2 << 30,
        "the data disk is not the 1 GiB one: {json}"
    );
    assert!(
        !text.contains("warning:"),
        "a warning on an empty disk:\n{text}"
    );
    assert!(json["disk_warning"].is_null(), "{json}");

    let applets = [APPLETS, &["fallocate", "rm"]].concat();
    env.docker(
        &["import", "-", IMAGE],
        Some(&busybox_rootfs(&applets, &[])),
    );
    // A volume written before the disk fills, held by a running container (so pruning keeps it).
    env.docker(
        &[
            "run",
            "-d",
            "--name",
            "keeper",
            "-v",
            "keep:/keep",
            IMAGE,
            "sh",
            "-c",
            "echo kept > /keep/file && echo a line for the log && exec sleep 3600",
        ],
        None,
    );

    // Past 90 %: a volume filled to about 95 % of the disk.
    let (_, json) = status(&env);
    let used = json["guest"]["disk_used_bytes"].as_u64().expect("used");
    let fill = (total / 100 * 95).saturating_sub(used);
    env.docker(
        &[
            "run",
            "--name",
            "filler",
            "-v",
            "fill:/fill",
            IMAGE,
            "fallocate",
            "-l",
            &fill.to_string(),
            "/fill/a",
        ],
        None,
    );
    let (text, json) = status(&env);
    assert_eq!(json["disk_warning"]["pressure"], "nearly_full", "{json}");
    assert!(text.contains("  warning: the data disk is 9"), "{text}");
    assert!(text.contains("% full ("), "{text}");
    let using = text
        .lines()
        .find(|l| l.trim_start().starts_with("using it: images "))
        .unwrap_or_else(|| panic!("no breakdown:\n{text}"));
    for kind in ["build cache ", "volumes ", "containers ", "container logs "] {
        assert!(using.contains(kind), "no {kind:?} in {using:?}");
    }
    let volumes = json["disk_warning"]["breakdown"]["volumes"]["bytes"]
        .as_u64()
        .expect("volumes");
    assert!(
        volumes >= fill,
        "volumes use {volumes} B, the fill was {fill} B: {json}"
    );
    // The agent measures the logs (keeper's line), which /system/df leaves out.
    let logs = &json["disk_warning"]["breakdown"]["container_logs_bytes"];
    assert!(logs.as_u64().is_some_and(|n| n > 0), "no logs: {json}");
    for command in [
        "docker image prune -a",
        "docker builder prune -a",
        "docker volume prune -a",
        "docker container prune",
    ] {
        assert!(
            text.contains(&format!("`{command}`")),
            "no {command:?}:\n{text}"
        );
    }

    // Written on until the disk is full: the write fails with ENOSPC.
    let out = env.docker_output(
        &[
            "run",
            "--rm",
            "-v",
            "fill:/fill",
            IMAGE,
            "dd",
            "if=/dev/zero",
            "of=/fill/b",
            "bs=1M",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "dd filled 1 GiB without an error");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let (text, json) = status(&env);
    assert_eq!(json["disk_warning"]["pressure"], "full", "{json}");
    assert!(
        text.contains("  warning: the data disk is full (")
            && text.contains("until space is reclaimed"),
        "{text}"
    );

    // The engine survives the full disk, and nothing written before is lost.
    let state = env.docker(&["inspect", "-f", "{{.State.Status}}", "keeper"], None);
    assert_eq!(state.trim(), "running");
    assert_eq!(
        env.docker(&["exec", "keeper", "cat", "/keep/file"], None),
        "kept\n"
    );

    // Reclaimed as the warning says: the stopped filler, then the volumes no container uses.
    env.docker(&["container", "prune", "-f"], None);
    let pruned = env.docker(&["volume", "prune", "-a", "-f"], None);
    assert!(
        pruned.contains("fill"),
        "the fill volume was not pruned: {pruned}"
    );
    let (text, json) = status(&env);
    assert!(
        !text.contains("warning:"),
        "the warning stayed after reclaiming:\n{text}"
    );
    assert!(json["disk_warning"].is_null(), "{json}");
    assert_eq!(
        env.docker(&["exec", "keeper", "cat", "/keep/file"], None),
        "kept\n"
    );

    let (ok, _, stderr) = env.berth(&["stop"]);
    assert!(ok, "berth stop failed: {stderr}");
}
