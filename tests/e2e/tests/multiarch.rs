//! Images of other CPU architectures, through the `berth` CLI and the stock docker CLI on a real
//! VM: arm64, arm/v7, riscv64, ppc64le and s390x images (Debian's static busybox of those
//! architectures, imported) run under the qemu-user handlers the agent registers at boot; a
//! multi-stage `docker buildx build --platform linux/arm64 --load` loads and its image runs; an
//! unparsable platform or a program of an architecture without an emulator each fail with a
//! message naming what to do. Needs `installer/lib.sh`'s `fetch_test_debs`.

use std::os::unix::fs::PermissionsExt;

use berth_e2e::berth::{busybox_tree, tar_of, Env};
use berth_e2e::foreign::{busybox_rootfs_of, install_buildx, APPLETS};

/// A multi-stage build for linux/arm64: stage 2 copies what a RUN of stage 1 wrote.
const DOCKERFILE: &str = "FROM berth-test/arm64:1 AS build\n\
    RUN uname -m > /machine && echo built-by-stage-1 >> /machine\n\
    FROM berth-test/arm64:1\n\
    COPY --from=build /machine /machine\n\
    CMD [\"cat\", \"/machine\"]\n";

#[test]
fn arm_images_run_and_build_under_emulation() {
    let env = Env::new();
    install_buildx(&env);
    env.start();
    let (_, console, _) = env.berth(&["logs", "console"]);
    let registered = console
        .lines()
        .find(|line| line.contains("binfmt: registered"))
        .unwrap_or_else(|| panic!("the agent reported no handlers:\n{console}"));
    for name in [
        "qemu-aarch64",
        "qemu-arm",
        "qemu-riscv64",
        "qemu-ppc64le",
        "qemu-s390x",
    ] {
        assert!(registered.contains(name), "{registered}");
    }
    assert!(!registered.contains("qemu-x86_64"), "{registered}");

    for (deb_arch, platform, machine) in [
        ("arm64", "linux/arm64", "aarch64"),
        ("armhf", "linux/arm/v7", "armv7l"),
        ("riscv64", "linux/riscv64", "riscv64"),
        ("ppc64el", "linux/ppc64le", "ppc64le"),
        ("s390x", "linux/s390x", "s390x"),
    ] {
        let tag = format!("berth-test/{deb_arch}:1");
        env.docker(
            &["import", "--platform", platform, "-", &tag],
            Some(&busybox_rootfs_of(deb_arch)),
        );
        let inspected = env.docker(
            &[
                "image",
                "inspect",
                "--format",
                "{{.Os}}/{{.Architecture}}{{if .Variant}}/{{.Variant}}{{end}}",
                &tag,
            ],
            None,
        );
        assert_eq!(inspected.trim(), platform);
        let uname = env.docker(
            &["run", "--rm", "--platform", platform, &tag, "uname", "-m"],
            None,
        );
        assert_eq!(uname.trim(), machine, "{platform}");
    }

    let context = tempfile::tempdir().expect("build context");
    std::fs::write(context.path().join("Dockerfile"), DOCKERFILE).expect("Dockerfile");
    let dir = context.path().to_str().expect("utf-8 path");
    let built = env.docker_output(
        &[
            "buildx",
            "build",
            "--platform",
            "linux/arm64",
            "--load",
            "-t",
            "berth-test/built-arm64:1",
            dir,
        ],
        None,
    );
    assert!(
        built.status.success(),
        "buildx: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let ran = env.docker(
        &[
            "run",
            "--rm",
            "--platform",
            "linux/arm64",
            "berth-test/built-arm64:1",
        ],
        None,
    );
    assert_eq!(ran, "aarch64\nbuilt-by-stage-1\n");

    // An unparsable platform: the docker CLI's own message names the specifier.
    let bad = env.docker_output(
        &[
            "run",
            "--rm",
            "--platform",
            "linux/arm64/v8/x",
            "berth-test/arm64:1",
        ],
        None,
    );
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        said.contains("\"linux/arm64/v8/x\"") && said.contains("cannot parse platform specifier"),
        "{said}"
    );

    // A program of an architecture without an emulator (an amd64 busybox relabelled as
    // mips64el): the agent, as its handler, says so instead of `exec format error`.
    let tree = busybox_tree(APPLETS);
    let fake = tree.path().join("bin/mips64el-program");
    let mut elf = std::fs::read(tree.path().join("bin/busybox")).expect("busybox");
    elf[18..20].copy_from_slice(&0x08u16.to_le_bytes());
    std::fs::write(&fake, elf).expect("write");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    env.docker(
        &[
            "import",
            "--platform",
            "linux/mips64le",
            "-",
            "berth-test/mips64le:1",
        ],
        Some(&tar_of(tree.path())),
    );
    let run = env.docker_output(
        &[
            "run",
            "--rm",
            "--platform",
            "linux/mips64le",
            "berth-test/mips64le:1",
            "/bin/mips64el-program",
        ],
        None,
    );
    let said = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(126), "{said}");
    assert!(
        said.contains("berth: /bin/mips64el-program is a program for mips64el, which this Berth VM cannot run")
            && said.contains("use an image for linux/amd64, linux/arm64"),
        "{said}"
    );
    env.stop();
}
