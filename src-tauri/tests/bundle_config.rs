//! The bundle configurations agree with where the `berth` CLI looks for its parts
//! (`berth_core::install::Layout`): the Debian package puts the helpers and the image where an
//! installed `/usr/bin/berth` finds them, the macOS and Windows bundles put the CLI beside the
//! app and the image where their layouts look, and the macOS bundle carries the
//! virtualization entitlement. The packages themselves are built and installed by
//! `installer/linux/test-deb` (Linux, in CI); the macOS and Windows ones cannot be built here.

use std::path::{Path, PathBuf};

use berth_core::install::Layout;
use serde_json::Value;

fn src_tauri() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(name: &str) -> Value {
    let path = src_tauri().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_debian_package_installs_what_the_installed_cli_looks_for() {
    let conf = config("tauri.linux.conf.json");
    let deb = &conf["bundle"]["linux"]["deb"];
    let files = deb["files"].as_object().expect("bundle.linux.deb.files");
    let layout = Layout::beside(Path::new("/usr/bin/berth")).expect("layout");
    let image_parent = layout.image.parent().expect("image parent");
    for (dest, want) in [
        (Path::new("/usr/bin/berth"), "deb-stage/usr/bin/berth"),
        (layout.helpers.as_path(), "deb-stage/usr/lib/berth"),
        (image_parent, "deb-stage/usr/share/berth"),
    ] {
        let dest = dest.to_str().expect("utf-8");
        assert_eq!(
            files.get(dest).and_then(Value::as_str),
            Some(want),
            "{dest} in the package"
        );
    }
    // Each source is the staged tree (installer/linux/stage), nothing else of the build tree.
    for source in files.values() {
        let source = source.as_str().expect("a path");
        assert!(source.starts_with("deb-stage/usr/"), "{source}");
    }
    let depends: Vec<&str> = deb["depends"]
        .as_array()
        .expect("depends")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for package in ["qemu-system-x86", "qemu-utils", "libseccomp2", "libcap-ng0"] {
        assert!(
            depends
                .iter()
                .any(|d| d.split_whitespace().next() == Some(package)),
            "{package} in {depends:?}"
        );
    }
}

/// The `bundle` of a macOS or Windows configuration, checked to carry the `berth` CLI as a
/// sidecar and the guest image as a resource (the layout the CLI looks for).
fn cli_and_image_bundle(conf: &Value) -> &Value {
    let bundle = &conf["bundle"];
    assert_eq!(bundle["externalBin"][0], "binaries/berth");
    assert_eq!(bundle["resources"]["resources/image/"], "image/");
    bundle
}

#[test]
fn the_macos_bundle_carries_the_cli_the_image_and_the_entitlement() {
    let conf = config("tauri.macos.conf.json");
    let bundle = cli_and_image_bundle(&conf);
    // Tauri puts the sidecar in Contents/MacOS and resources in Contents/Resources.
    let layout =
        Layout::beside(Path::new("/Applications/Berth.app/Contents/MacOS/berth")).expect("layout");
    assert_eq!(
        layout.image,
        Path::new("/Applications/Berth.app/Contents/Resources/image")
    );
    let entitlements = bundle["macOS"]["entitlements"]
        .as_str()
        .expect("bundle.macOS.entitlements");
    let plist = std::fs::read_to_string(src_tauri().join(entitlements)).expect("entitlements");
    let key = "<key>com.apple.security.virtualization</key>";
    let after = plist
        .split(key)
        .nth(1)
        .expect("the virtualization entitlement");
    assert!(after.trim_start().starts_with("<true/>"), "{plist}");
    assert_eq!(bundle["macOS"]["hardenedRuntime"], true);
}

#[test]
fn the_windows_installers_carry_the_cli_and_the_image() {
    let conf = config("tauri.windows.conf.json");
    let bundle = cli_and_image_bundle(&conf);
    let layout = Layout::flat(Path::new("/install"));
    assert_eq!(layout.image, Path::new("/install/image"));
    for hook in [
        bundle["windows"]["nsis"]["installerHooks"].as_str(),
        bundle["windows"]["wix"]["fragmentPaths"][0].as_str(),
    ] {
        let hook = hook.expect("installer hook");
        assert!(src_tauri().join(hook).is_file(), "{hook} exists");
    }
}
