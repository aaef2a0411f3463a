//! The image cache: a cached image whose artifact no longer matches the manifest is rebuilt,
//! never reused, and an intact one is reused.

use std::os::unix::fs::PermissionsExt;

use berth_core::image::{GuestImage, Role};
use berth_e2e::{build_image, image_dir, open_image, squashfs_cat};

#[test]
fn a_corrupt_cached_image_is_rebuilt_and_an_intact_one_reused() {
    let image = open_image(&image_dir());
    let real_cache = image
        .dir
        .parent()
        .and_then(|p| p.parent())
        .expect("cache dir")
        .to_path_buf();

    // A private cache sharing the (read-only here) base root, with a copy of the image.
    let cache = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(real_cache.join("base"), cache.path().join("base"))
        .expect("link base");
    let name = image.dir.file_name().expect("image name");
    let copy = cache.path().join("images").join(name);
    std::fs::create_dir_all(&copy).expect("mkdir");
    for entry in std::fs::read_dir(&image.dir).expect("read image dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), copy.join(entry.file_name())).expect("copy");
    }
    let agent = cache.path().join("berth-agent");
    std::fs::write(
        &agent,
        squashfs_cat(&image.path(Role::Root), "usr/sbin/init"),
    )
    .expect("agent");
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let agent_arg = agent.to_str().expect("utf-8 path");
    let env = [("BERTH_CACHE_DIR", cache.path())];

    let (dir, log) = build_image(&["--agent", agent_arg], &env);
    assert_eq!(dir, copy);
    assert!(log.contains("reusing cached image"), "{log}");

    // Flip one byte in the middle of the root image.
    let root = copy.join(
        image
            .manifest
            .artifact(Role::Root)
            .expect("root")
            .file
            .as_str(),
    );
    let mut bytes = std::fs::read(&root).expect("read root");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&root, &bytes).expect("corrupt root");
    assert!(
        GuestImage::open(&copy).is_err(),
        "the corrupt copy must not verify"
    );

    let (dir, log) = build_image(&["--agent", agent_arg], &env);
    assert_eq!(dir, copy);
    assert!(
        log.contains("does not match its manifest: rebuilding"),
        "{log}"
    );
    let rebuilt = open_image(&copy);
    assert_eq!(
        rebuilt.manifest.artifacts, image.manifest.artifacts,
        "the rebuild is reproducible"
    );
}
