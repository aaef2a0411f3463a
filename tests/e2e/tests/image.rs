//! The built guest image: a valid manifest whose checksums match, the engine and runtimes in the
//! root, the agent installed as `/sbin/init`, and the size target.

use std::process::Command;

use berth_core::image::{Role, RootFormat};
use berth_e2e::{image_dir, open_image, squashfs_cat};
use coreutils_sha256::sha256_hex;

/// sha256 through coreutils, so the test does not trust the code under test.
mod coreutils_sha256 {
    pub fn sha256_hex(data: &[u8]) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("blob");
        std::fs::write(&file, data).expect("write");
        let out = std::process::Command::new("sha256sum")
            .arg(&file)
            .output()
            .expect("sha256sum");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

#[test]
fn manifest_is_valid_and_every_checksum_matches() {
    let image = open_image(&image_dir());
    let m = &image.manifest;
    assert_eq!(m.suite, "trixie");
    assert_eq!(m.root_format, RootFormat::Squashfs);
    for artifact in &m.artifacts {
        let data = std::fs::read(image.dir.join(&artifact.file)).expect("read artifact");
        assert_eq!(sha256_hex(&data), artifact.sha256, "{}", artifact.file);
        assert_eq!(data.len() as u64, artifact.size, "{}", artifact.file);
    }
    for component in [
        "kernel",
        "docker.io",
        "containerd",
        "runc",
        "crun",
        "docker-compose",
        "qemu-user",
    ] {
        let version = m
            .components
            .get(component)
            .map(String::as_str)
            .unwrap_or_default();
        assert!(
            !version.is_empty(),
            "{component} has no version in the manifest"
        );
    }
    assert!(
        m.components["kernel"].ends_with("-cloud-amd64"),
        "{}",
        m.components["kernel"]
    );
}

#[test]
fn root_holds_the_engine_and_the_agent_is_init() {
    let image = open_image(&image_dir());
    let root = image.path(Role::Root);
    let listing = Command::new("unsquashfs")
        .arg("-lls")
        .arg(&root)
        .output()
        .expect("unsquashfs");
    assert!(listing.status.success());
    let listing = String::from_utf8_lossy(&listing.stdout);
    for path in [
        "/usr/sbin/dockerd",
        "/usr/bin/containerd",
        "/usr/sbin/runc",
        "/usr/bin/crun",
        "/usr/bin/docker",
        "/usr/sbin/iptables",
        "/usr/sbin/mkfs.ext4",
        "/usr/sbin/init",
    ] {
        let found = listing.lines().any(|l| {
            l.ends_with(&format!("squashfs-root{path}"))
                || l.contains(&format!("squashfs-root{path} "))
        });
        assert!(found, "{path} is missing from the root image");
    }
    assert!(
        listing
            .lines()
            .any(|l| l.contains("squashfs-root/sbin -> usr/sbin")),
        "/sbin is not the merged-usr link, so /sbin/init would not be the agent"
    );
    assert!(
        listing.contains("docker-compose"),
        "docker compose is missing"
    );
    let init = squashfs_cat(&root, "usr/sbin/init");
    assert_eq!(
        sha256_hex(&init),
        image.manifest.agent_sha256,
        "/sbin/init is not the agent"
    );
    assert!(
        init.starts_with(b"\x7fELF"),
        "/sbin/init is not an ELF binary"
    );
}

#[test]
fn root_image_is_within_the_size_target() {
    let image = open_image(&image_dir());
    let size = image
        .manifest
        .artifact(Role::Root)
        .map(|a| a.size)
        .unwrap_or(u64::MAX);
    assert!(
        size <= 350 * 1024 * 1024,
        "root image is {} MiB, target 350",
        size / 1048576
    );
}

/// Stage 1 loads its modules with busybox `insmod`, which resolves nothing: `modules/order` must
/// list every module after the modules it depends on (from each module's own `depends=`).
#[test]
fn stage1_modules_load_after_their_dependencies() {
    let image = open_image(&image_dir());
    let dir = tempfile::tempdir().expect("tempdir");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -dc '{}' | cpio -id --quiet 'modules/*'",
            image.path(Role::Initrd).display()
        ))
        .current_dir(dir.path())
        .status()
        .expect("unpack the initramfs");
    assert!(status.success(), "cpio failed");
    let modules = dir.path().join("modules");
    let order = std::fs::read_to_string(modules.join("order")).expect("modules/order");
    let order: Vec<&str> = order.lines().collect();
    assert!(!order.is_empty(), "modules/order is empty");
    for (i, file) in order.iter().enumerate() {
        let out = Command::new("/usr/sbin/modinfo")
            .args(["-F", "depends"])
            .arg(modules.join(file))
            .output()
            .expect("modinfo (kmod)");
        assert!(out.status.success(), "modinfo {file}: {out:?}");
        let depends = String::from_utf8_lossy(&out.stdout);
        for dep in depends.trim().split(',').filter(|d| !d.is_empty()) {
            let position = order
                .iter()
                .position(|m| m.trim_end_matches(".ko").replace('-', "_") == dep.replace('-', "_"));
            assert!(
                position.is_some_and(|p| p < i),
                "{file} depends on {dep}, which modules/order does not load before it: {order:?}"
            );
        }
    }
}

#[test]
fn stage1_initramfs_has_init_busybox_and_root_modules() {
    let image = open_image(&image_dir());
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -dc '{}' | cpio -it --quiet",
            image.path(Role::Initrd).display()
        ))
        .output()
        .expect("list initramfs");
    let listing = String::from_utf8_lossy(&out.stdout);
    for entry in [
        "init",
        "bin/busybox",
        "modules/order",
        "modules/virtio_blk.ko",
        "modules/squashfs.ko",
        "modules/overlay.ko",
    ] {
        assert!(
            listing.lines().any(|l| l == entry),
            "{entry} missing from the initramfs:\n{listing}"
        );
    }
}
