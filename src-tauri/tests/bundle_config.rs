//! The bundle configurations agree with where the `berth` CLI looks for its parts
//! (`berth_core::install::Layout`): the Debian package puts the helpers and the image where an
//! installed `/usr/bin/berth` finds them, the macOS and Windows bundles put the CLI beside the
//! app and the image where their layouts look, and the macOS bundle carries the
//! virtualization entitlement; the Windows build has its `.ico` (the app's icon resource, the
//! tray's and the installer's). The packages themselves are built and installed by
//! `installer/linux/test-deb` (Linux, in CI); the macOS and Windows ones cannot be built here
//! (the Windows app cross-builds, but Tauri's NSIS bundler downloads a plugin of its own).

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

/// The sizes (pixels) of the images in an `.ico` file: its header (reserved 0, type 1, count)
/// and one 16-byte entry per image whose first byte is the width, 0 meaning 256.
fn ico_sizes(bytes: &[u8]) -> Vec<u32> {
    assert!(
        bytes.len() >= 6 && bytes[..4] == [0, 0, 1, 0],
        "an ICO header"
    );
    let count = usize::from(u16::from_le_bytes([bytes[4], bytes[5]]));
    (0..count)
        .map(|i| {
            let entry = bytes
                .get(6 + 16 * i..6 + 16 * (i + 1))
                .expect("an ICO entry");
            if entry[0] == 0 {
                256
            } else {
                u32::from(entry[0])
            }
        })
        .collect()
}

#[test]
fn the_windows_build_has_its_icon() {
    let conf = config("tauri.windows.conf.json");
    let icons: Vec<&str> = conf["bundle"]["icon"]
        .as_array()
        .expect("bundle.icon")
        .iter()
        .map(|i| i.as_str().expect("an icon path"))
        .collect();
    for icon in &icons {
        assert!(src_tauri().join(icon).is_file(), "{icon} exists");
    }
    // tauri-build compiles it into the executable (the window's and the tray's icon), and the
    // NSIS installer shows it.
    let ico = icons
        .iter()
        .find(|i| i.ends_with(".ico"))
        .expect("an .ico among the icons");
    assert_eq!(conf["bundle"]["windows"]["nsis"]["installerIcon"], *ico);
    let sizes = ico_sizes(&std::fs::read(src_tauri().join(ico)).expect("the .ico"));
    for size in [16, 32, 48, 256] {
        assert!(sizes.contains(&size), "{size} px in {sizes:?}");
    }
}
