//! The installed layout (what the Debian package puts in /usr): `installer/linux/stage` lays out
//! the CLI, the vhost-user helpers and the guest image under a prefix, and the staged `berth
//! doctor` finds the helpers and the image there on its own, with nothing of the build tree on
//! `PATH` or in `HOME`.

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_e2e::image_dir;

fn berth_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("berth")
}

#[test]
fn the_staged_package_layout_passes_doctor() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = tempfile::tempdir().expect("tempdir");
    let dest = root.path().join("stage");
    let out = Command::new(repo.join("installer/linux/stage"))
        .arg(&dest)
        .arg(image_dir())
        .env("BERTH_BIN", berth_binary())
        .output()
        .expect("run the stage script");
    assert!(
        out.status.success(),
        "stage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "usr/bin/berth",
        "usr/lib/berth/vhost-device-vsock",
        "usr/lib/berth/virtiofsd",
        "usr/share/berth/image/manifest.json",
    ] {
        assert!(dest.join(file).is_file(), "{file} was not staged");
    }

    // A user with nothing but the package: no ~/.cargo/bin, no BERTH_IMAGE.
    let home = root.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let out = Command::new(dest.join("usr/bin/berth"))
        .arg("doctor")
        .env_clear()
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .output()
        .expect("run the staged berth");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "doctor failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let helpers = dest.join("usr/lib/berth");
    assert!(
        stdout.contains(&format!(
            "ok    vhost-device-vsock: {}",
            helpers.join("vhost-device-vsock").display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "ok    guest image: {}",
            dest.join("usr/share/berth/image").display()
        )),
        "{stdout}"
    );
}
