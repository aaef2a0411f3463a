# shellcheck shell=bash
# Shared set-up steps of installer/berth-up and installer/berth-test. Every step checks first
# and says whether it installed something or found it present, so a second run is quick.

set -euo pipefail
BERTH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BERTH_CACHE_DIR=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}
# Build outputs live beside the image cache, outside the clone, so fresh clones reuse compiled
# dependencies. Cargo's own fingerprints decide what is rebuilt.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$BERTH_CACHE_DIR/target}
export CARGO_PROFILE_DEV_DEBUG=0
# Berth refuses to run its VM as root unless told to (crates/berth-daemon/src/root.rs). As
# root these scripts are on a throwaway machine (CI, a container), so they tell it, and say so.
if [ "$(id -u)" = 0 ] && [ -z "${BERTH_ALLOW_ROOT:-}" ]; then
	export BERTH_ALLOW_ROOT=1
	printf '    running as root: BERTH_ALLOW_ROOT=1 (Berth refuses to run as root otherwise)\n' >&2
fi

# Debian packages the host needs, one line: package, and the command that shows it is there (a
# present command satisfies the line whichever package provides it, e.g. Docker's own docker CLI).
HOST_PACKAGES=(
	"qemu-system-x86 qemu-system-x86_64"
	"qemu-utils qemu-img"
	"mmdebstrap mmdebstrap"
	"debian-archive-keyring"
	"squashfs-tools mksquashfs"
	"erofs-utils mkfs.erofs"
	"cpio cpio"
	"jq jq"
	"curl curl"
	"zstd zstd"
	"xz-utils xz"
	"bc bc"
	"kmod depmod"
	"musl-tools musl-gcc"
	"gcc cc"
	"binutils ld"
	"pkg-config pkg-config"
	"libseccomp-dev"
	"libcap-ng-dev"
	"ca-certificates"
	"busybox-static"
	"iproute2 ip"
	"docker.io docker"
	"hyperfine hyperfine"
)
# The desktop app's build needs (Tauri 2 on WebKitGTK; Node.js and npm for the UI), same format.
APP_PACKAGES=(
	"libwebkit2gtk-4.1-dev"
	"libgtk-3-dev"
	"libayatana-appindicator3-dev"
	"librsvg2-dev"
	"libssl-dev"
	"libxdo-dev"
	"nodejs node"
	"npm npm"
)
# What the app's tests need: a headless X server, WebKit's WebDriver, Chromium for the browser
# tests, a local registry for the pull test (and htpasswd to give one a password for the push
# test), unzip to open the diagnostics bundle the window suite exports, a real keychain (GNOME
# Keyring on a private D-Bus session) for registry accounts, and
# for the package test the desktop entry validator and xwininfo (the installed app's window);
# GLib's `gio launch` to start the app from its login entry;
# python3-xlib for the window suite's close button (ui/e2e/close-window.py); a tray's
# StatusNotifier watcher for the app to stay in (ui/e2e/tray.mjs); the Python docker SDK, a
# client nobody here wrote, for the end-to-end suite.
APP_TEST_PACKAGES=(
	"xvfb Xvfb"
	"xauth xauth"
	"x11-utils xwininfo"
	"haskell-status-notifier-item-utils status-notifier-watcher"
	"webkit2gtk-driver WebKitWebDriver"
	"chromium chromium"
	"docker-registry docker-registry"
	"apache2-utils htpasswd"
	"unzip unzip"
	"dbus-daemon dbus-run-session"
	"gnome-keyring gnome-keyring-daemon"
	"desktop-file-utils desktop-file-validate"
	"libglib2.0-bin gio"
	"python3-xlib"
	"python3-docker"
)
# The oldest Node.js the UI's build tools (Vite 7) run on.
MIN_NODE=20.19
# Rust targets: the guest agent (static musl, both guest architectures) and the platforms whose
# code is checked here without being built (macOS, Windows).
RUST_TARGETS=(
	x86_64-unknown-linux-musl
	aarch64-unknown-linux-musl
	aarch64-apple-darwin
	x86_64-pc-windows-gnu
)
# Windows code built for real (MinGW-w64 links it) and run under Wine: the test binaries of the
# crates whose Windows lines can run without Windows itself (the daemon's command channel on a
# named pipe and its ACL, the client, the options; berth-core's unit tests and the WSL backend
# against its stand-in wsl.exe, tests/wsl_stand_in.rs), then berth.exe itself.
WINDOWS_TEST_PACKAGES=(
	"wine64 /usr/lib/wine/wine64"
	"wine wineboot"
	"gcc-mingw-w64-x86-64 x86_64-w64-mingw32-gcc"
)
WINDOWS_TEST_CRATES=(berth-core berth-daemon berth-cli)
# The Windows installer built here (installer/windows/build-nsis): Tauri's bundler runs NSIS's
# makensis on Linux too, and the GNU target links with MinGW-w64 (its windres compiles the
# app's icon and version resource).
WINDOWS_BUNDLE_PACKAGES=(
	"nsis makensis"
	"gcc-mingw-w64-x86-64 x86_64-w64-mingw32-gcc"
	"binutils-mingw-w64-x86-64 x86_64-w64-mingw32-windres"
)
# What the desktop app's Windows check needs: its build script compiles the Windows resource
# with windres, which runs MinGW's C preprocessor.
WINDOWS_CHECK_PACKAGES=(
	"gcc-mingw-w64-x86-64 x86_64-w64-mingw32-gcc"
	"binutils-mingw-w64-x86-64 x86_64-w64-mingw32-windres"
)
# Cross-checked targets (cargo clippy, no linking: no SDK or C toolchain needed; the desktop
# app's build script needs windres).
CROSS_CHECK_TARGETS=(aarch64-apple-darwin x86_64-pc-windows-gnu)
# What running arm64 maintainer scripts needs when building the Apple silicon image elsewhere.
FOREIGN_ARCH_PACKAGES=(qemu-user-static binfmt-support arch-test)
# Debian packages the tests use without installing them (NAME:ARCH, from the guest's suite):
# static busybox of other CPUs for the multi-architecture test images, and docker-buildx, the
# docker CLI's BuildKit client, which Debian 12 does not have.
TEST_DEBS=(busybox-static:arm64 busybox-static:armhf busybox-static:riscv64 busybox-static:ppc64el
	busybox-static:s390x docker-buildx:amd64)
# Helpers from crates.io: name version.
CARGO_HELPERS=(
	"vhost-device-vsock 0.3.0"
	"virtiofsd 1.14.0"
)

# Each step is stamped with the minutes and seconds since the script began, so a run's log
# shows where its time went.
step() { printf '\033[1m==> %s\033[0m  [%d:%02d]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)) >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() { printf 'berth: error: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "this step needs root and sudo is missing: run as root: $*"
	fi
}

pkg_installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Prints the packages of the list named $1 that are missing.
missing_packages() {
	local -n list=$1
	local entry pkg cmd
	for entry in "${list[@]}"; do
		read -r pkg cmd <<<"$entry"
		if [ -n "${cmd:-}" ]; then
			PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null || echo "$pkg"
		else
			pkg_installed "$pkg" || echo "$pkg"
		fi
	done
}

ensure_host_packages() { ensure_packages "Host packages" HOST_PACKAGES; }
ensure_app_packages() { ensure_packages "Desktop app build packages" APP_PACKAGES; }
ensure_app_test_packages() { ensure_packages "Desktop app test packages" APP_TEST_PACKAGES; }
ensure_windows_bundle_packages() { ensure_packages "Windows installer build packages" WINDOWS_BUNDLE_PACKAGES; }

# ensure_packages TITLE LIST: installs what is missing of the package list named LIST.
ensure_packages() {
	local -n packages=$2
	step "$1"
	command -v apt-get >/dev/null || die "apt-get not found: Berth's set-up supports Debian and Ubuntu; install the packages listed in installer/lib.sh by hand"
	local missing updated=no pass
	# Two passes: installing one package can remove another (a newer qemu-utils conflicting
	# with the distribution's QEMU), which the second pass puts back.
	for pass in 1 2; do
		mapfile -t missing < <(missing_packages "$2")
		[ "${#missing[@]}" -eq 0 ] && break
		note "installing: ${missing[*]}"
		if [ "$updated" = no ]; then
			as_root apt-get update -q >/dev/null
			updated=yes
		fi
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
			die "apt-get install ${missing[*]} failed"
	done
	mapfile -t missing < <(missing_packages "$2")
	[ "${#missing[@]}" -eq 0 ] || die "still missing after apt-get install: ${missing[*]}"
	[ "$updated" = no ] && note "all ${#packages[@]} packages present"
	return 0
}

ensure_rust() {
	step "Rust toolchain"
	command -v cargo >/dev/null || die "cargo not found: install rustup (see https://rustup.rs) and open a new shell"
	local installed missing=() target
	installed=$(rustup target list --installed 2>/dev/null || true)
	for target in "${RUST_TARGETS[@]}"; do
		grep -qx "$target" <<<"$installed" || missing+=("$target")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		note "$(rustc --version), targets present: ${RUST_TARGETS[*]}"
	else
		note "adding targets: ${missing[*]} (guest agent, macOS and Windows checks)"
		rustup target add "${missing[@]}" >/dev/null || die "rustup target add ${missing[*]} failed"
	fi
}

# Running arm64 binaries under qemu-user, for building the arm64 guest image on an amd64 host:
# Debian's qemu-user-static registers its binfmt_misc handlers (with the fix-binary flag, so
# they work inside the chroot); binfmt_misc is mounted first when it is not.
ensure_foreign_arch() {
	step "Foreign architecture support (qemu-user, binfmt_misc)"
	local missing=() pkg
	for pkg in "${FOREIGN_ARCH_PACKAGES[@]}"; do
		pkg_installed "$pkg" || missing+=("$pkg")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		note "installing: ${missing[*]}"
		as_root apt-get update -q >/dev/null
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
			die "apt-get install ${missing[*]} failed"
	fi
	if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
		as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
			die "cannot mount binfmt_misc: this machine cannot run foreign binaries"
	fi
	[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || as_root update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
	arch-test arm64 >/dev/null 2>&1 || die "arm64 binaries still do not run (arch-test arm64)"
	note "arm64 binaries run under qemu-user"
}

# fetch_test_debs: downloads TEST_DEBS into BERTH_CACHE_DIR/debs (once) with an apt
# configuration of its own for the guest's suite on the image build's Debian mirror, leaving the
# machine's apt sources and architectures alone; unpacks docker-buildx as the docker CLI plugin
# BERTH_CACHE_DIR/cli-plugins/docker-buildx.
fetch_test_debs() {
	step "Debian packages for the tests (${TEST_DEBS[*]})"
	local dir=$BERTH_CACHE_DIR/debs pkg missing=() mirror suite archs
	mkdir -p "$dir"
	for pkg in "${TEST_DEBS[@]}"; do
		compgen -G "$dir/${pkg%%:*}_*_${pkg##*:}.deb" >/dev/null || missing+=("$pkg")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		note "present in $dir"
	else
		mirror=$("$BERTH_REPO/vm-image/build.sh" --mirror)
		[ -n "$mirror" ] || die "no Debian mirror known: set BERTH_DEBIAN_MIRROR to one"
		suite=$(. "$BERTH_REPO/vm-image/recipe.env" && echo "$SUITE")
		archs=$(printf '"%s"; ' "${TEST_DEBS[@]##*:}")
		local apt=$dir/apt
		mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/state" "$apt/parts"
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$apt/sources.list"
		cat >"$apt/apt.conf" <<-EOF
			Dir::State "$apt/state"; Dir::State::Lists "$apt/lists"; Dir::State::status "/dev/null";
			Dir::Cache "$apt/cache"; Dir::Etc::SourceList "$apt/sources.list";
			Dir::Etc::SourceParts "$apt/parts"; Dir::Etc::Preferences "/nonexistent";
			Dir::Etc::PreferencesParts "$apt/parts"; APT::Sandbox::User "root";
			APT::Architecture "$(dpkg --print-architecture)"; APT::Architectures { $archs};
		EOF
		note "downloading ${missing[*]} from Debian $suite"
		(cd "$dir" && APT_CONFIG=$apt/apt.conf apt-get update -qq && APT_CONFIG=$apt/apt.conf apt-get download -qq "${missing[@]}") ||
			die "cannot download ${missing[*]} from $mirror ($suite)"
		rm -rf "$apt/lists"
	fi
	local plugin=$BERTH_CACHE_DIR/cli-plugins/docker-buildx unpacked
	if [ ! -x "$plugin" ]; then
		unpacked=$(mktemp -d)
		dpkg-deb -x "$(compgen -G "$dir/docker-buildx_*.deb" | head -n1)" "$unpacked"
		install -D -m 0755 "$unpacked/usr/libexec/docker/cli-plugins/docker-buildx" "$plugin"
		rm -rf "$unpacked"
	fi
	"$plugin" version >/dev/null || die "$plugin does not run"
	note "docker buildx plugin: $plugin ($("$plugin" version | cut -d' ' -f2))"
}

ensure_cargo_helpers() {
	step "VM helpers (vhost-user devices)"
	local entry name version have
	for entry in "${CARGO_HELPERS[@]}"; do
		read -r name version <<<"$entry"
		have=$("$name" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true)
		if [ "$have" = "$version" ]; then
			note "$name $version present"
		else
			note "installing $name $version with cargo (about a minute)"
			cargo install --locked --quiet "$name@$version" || die "cargo install $name@$version failed"
		fi
	done
}

build_agent() {
	step "Guest agent"
	# Without the checkout's path in the binary, every clone builds the same agent, so the
	# cached image (keyed by the agent's hash) is reused. Only the musl target is affected.
	(cd "$BERTH_REPO" && CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="--remap-path-prefix=$BERTH_REPO=/berth" \
		cargo build --quiet --release -p berth-agent --target x86_64-unknown-linux-musl)
	BERTH_AGENT_BIN=$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release/berth-agent
	note "built $BERTH_AGENT_BIN"
}

# The agent for Apple silicon guests: linked by rust-lld with the target's self-contained musl
# start files, so no aarch64 C toolchain is needed.
build_agent_arm64() {
	step "Guest agent (aarch64)"
	(cd "$BERTH_REPO" && CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C linker-flavor=ld.lld -C link-self-contained=yes --remap-path-prefix=$BERTH_REPO=/berth" \
		cargo build --quiet --release -p berth-agent --target aarch64-unknown-linux-musl)
	BERTH_AGENT_ARM64_BIN=$CARGO_TARGET_DIR/aarch64-unknown-linux-musl/release/berth-agent
	note "built $BERTH_AGENT_ARM64_BIN"
}

# windows_tests: builds the Windows test binaries of WINDOWS_TEST_CRATES with MinGW-w64 and
# runs them under Wine, in a Wine prefix of Berth's own cache. Wine 8 (Debian 12) has no
# bcryptprimitives.dll, where Rust's standard library takes its random numbers from: a
# stand-in built from installer/windows/wine/ goes into the prefix's system32 first.
windows_tests() {
	ensure_packages "Windows tests under Wine" WINDOWS_TEST_PACKAGES
	export WINEPREFIX=${BERTH_WINEPREFIX:-$BERTH_CACHE_DIR/wine}
	export WINEDEBUG=-all
	export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64
	export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
	local shim=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
	if [ ! -f "$WINEPREFIX/system.reg" ]; then
		note "creating the Wine prefix $WINEPREFIX"
		wineboot --init >/dev/null 2>&1 || die "wineboot --init failed for $WINEPREFIX"
	fi
	local source=$BERTH_REPO/installer/windows/wine/bcryptprimitives
	if [ ! -f "$shim" ] || [ "$source.c" -nt "$shim" ] || [ "$source.def" -nt "$shim" ]; then
		x86_64-w64-mingw32-gcc -shared -O2 -o "$shim" "$source.c" "$source.def" -ladvapi32 ||
			die "cannot build the bcryptprimitives.dll stand-in for Wine"
	fi
	step "Windows code under Wine (${WINDOWS_TEST_CRATES[*]})"
	local crates=() name
	for name in "${WINDOWS_TEST_CRATES[@]}"; do crates+=(-p "$name"); done
	(cd "$BERTH_REPO" && cargo test --quiet "${crates[@]}" --target x86_64-pc-windows-gnu) ||
		die "the Windows tests under Wine failed"
	windows_cli
}

# windows_cli: berth.exe under Wine, as a copy alone in a folder (no image beside it): its
# version, and `berth doctor`, which fails there (Wine has no WSL) and must say how to get it.
windows_cli() {
	step "berth.exe under Wine"
	(cd "$BERTH_REPO" && cargo build --quiet -p berth-cli --target x86_64-pc-windows-gnu) ||
		die "cannot build berth.exe"
	local dir out rc
	dir=$(mktemp -d)
	cp "$CARGO_TARGET_DIR/x86_64-pc-windows-gnu/debug/berth.exe" "$dir/" || die "no berth.exe"
	out=$(cd "$dir" && RUST_BACKTRACE=0 /usr/lib/wine/wine64 ./berth.exe --version 2>&1) ||
		die "berth.exe --version failed: $out"
	note "berth.exe --version: $out"
	rc=0
	out=$(cd "$dir" && RUST_BACKTRACE=0 /usr/lib/wine/wine64 ./berth.exe doctor 2>&1) || rc=$?
	rm -rf "$dir"
	printf '%s\n' "$out" | sed 's/^/    | /' >&2
	# Under Wine there is no wsl.exe: the check fails (so doctor exits non-zero) naming the fix.
	[ "$rc" -ne 0 ] || die "berth.exe doctor passed under Wine, where WSL is missing"
	grep -q '^FAIL  WSL: ' <<<"$out" || die "berth.exe doctor has no failing WSL check"
	grep -qF 'fix: install WSL: `wsl --install --no-distribution`' <<<"$out" ||
		die "berth.exe doctor does not name the WSL fix"
	note "berth.exe doctor names the WSL fix (exit $rc, as expected without WSL)"
}

# The desktop app's Windows configuration without the parts installer/windows/build-nsis stages
# (the CLI sidecar and the guest image, which tauri-build wants to exist): enough to check it.
APP_CHECK_TAURI_CONFIG='{"bundle":{"externalBin":null,"resources":null}}'

# cross_check: clippy (which type-checks everything) of the host crates for macOS and Windows,
# and of the desktop app (its tests too) for Windows.
cross_check() {
	step "macOS and Windows checks (${CROSS_CHECK_TARGETS[*]})"
	local target
	for target in "${CROSS_CHECK_TARGETS[@]}"; do
		(cd "$BERTH_REPO" && cargo clippy --quiet -p berth-core --all-targets --target "$target" -- -D warnings &&
			cargo clippy --quiet -p berth-daemon -p berth-cli --target "$target" -- -D warnings) ||
			die "the $target check failed"
		note "$target: berth-core, berth-daemon and berth-cli are clean"
	done
	# tauri-build compiles the app's Windows resource (manifest, version) with MinGW's windres.
	ensure_packages "Windows check of the desktop app" WINDOWS_CHECK_PACKAGES
	(cd "$BERTH_REPO" && TAURI_CONFIG=$APP_CHECK_TAURI_CONFIG \
		cargo clippy --quiet -p berth-desktop --all-targets --target x86_64-pc-windows-gnu -- -D warnings) ||
		die "the x86_64-pc-windows-gnu check of berth-desktop failed"
	note "x86_64-pc-windows-gnu: berth-desktop is clean"
}

# The fuzz targets (fuzz/, its own workspace; ARCHITECTURE.md, "Fuzzing"). cargo fuzz needs
# nightly flags: RUSTC_BOOTSTRAP=1 lets the stable toolchain take them. Always at the lowest
# priority and one process: the machine's cores are shared with VM tests.
FUZZ_CARGO_FUZZ_VERSION=0.13.2
# cargo-fuzz is installed once per version under the cache (outside the clone), so a machine
# that kept its cache skips the few minutes of `cargo install`; it is on PATH from here on.
FUZZ_CARGO_FUZZ_ROOT=$BERTH_CACHE_DIR/cargo-fuzz-$FUZZ_CARGO_FUZZ_VERSION
ensure_cargo_fuzz() {
	export PATH=$FUZZ_CARGO_FUZZ_ROOT/bin:$PATH
	if cargo fuzz --version 2>/dev/null | grep -q "$FUZZ_CARGO_FUZZ_VERSION"; then
		return
	fi
	note "installing cargo-fuzz $FUZZ_CARGO_FUZZ_VERSION into $FUZZ_CARGO_FUZZ_ROOT (a few minutes)"
	# Its own target directory: the build of one tool, thrown away after.
	CARGO_TARGET_DIR=$FUZZ_CARGO_FUZZ_ROOT/build nice -n 10 cargo install --locked --quiet \
		--root "$FUZZ_CARGO_FUZZ_ROOT" "cargo-fuzz@$FUZZ_CARGO_FUZZ_VERSION" || die "cargo install cargo-fuzz failed"
	rm -rf "$FUZZ_CARGO_FUZZ_ROOT/build"
}

fuzz_targets() { (cd "$BERTH_REPO/fuzz" && RUSTC_BOOTSTRAP=1 cargo fuzz list); }

# fuzz_all [SECONDS] [TARGET...]: runs each target (all by default) for SECONDS (60) from its
# corpus in fuzz/corpus/TARGET, new inputs going to a scratch directory (fuzz/corpus-new, not
# committed) so the kept corpus stays small; `cargo fuzz cmin TARGET` folds them in. A crash
# leaves its input in fuzz/artifacts/TARGET and fails.
fuzz_all() {
	local seconds=${1:-60} target scratch crashed=()
	shift || true
	ensure_cargo_fuzz
	local targets=("$@")
	[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(fuzz_targets)
	for target in "${targets[@]}"; do
		step "Fuzzing $target for ${seconds}s"
		scratch=$BERTH_REPO/fuzz/corpus-new/$target
		mkdir -p "$scratch" "$BERTH_REPO/fuzz/corpus/$target"
		rm -f "$scratch.log"
		(cd "$BERTH_REPO/fuzz" && RUSTC_BOOTSTRAP=1 nice -n 19 cargo fuzz run -O "$target" \
			"$scratch" "corpus/$target" -- -max_total_time="$seconds" \
			>"$scratch.log" 2>&1) || note "$target failed: its log is $scratch.log"
		# libFuzzer's last status line (executions, coverage, corpus) and the run's total.
		grep -E '^#[0-9]+' "$scratch.log" | tail -n1 >&2 || true
		grep -E '^Done [0-9]+ runs' "$scratch.log" >&2 || true
		[ -z "$(ls -A "$BERTH_REPO/fuzz/artifacts/$target" 2>/dev/null)" ] || crashed+=("$target")
	done
	[ ${#crashed[@]} -eq 0 ] || die "fuzz targets crashed: ${crashed[*]} (inputs in fuzz/artifacts/)"
}

# fuzz_smoke: builds every target and runs each input of its committed corpus once (seeds and
# earlier findings; no new inputs). Unoptimised (`--dev`: debug assertions, overflow checks) and
# without ASan (the parsers are safe Rust): a few minutes cold where fuzz_all's optimised ASan
# build takes over ten (ARCHITECTURE.md, "Fuzzing"). A failure names the target and the input.
FUZZ_SMOKE_BUILD=(--dev --sanitizer none)
fuzz_smoke() {
	step "Fuzz targets: replaying the corpus"
	ensure_cargo_fuzz
	local target log inputs failed=()
	(cd "$BERTH_REPO/fuzz" && RUSTC_BOOTSTRAP=1 nice -n 19 cargo fuzz build "${FUZZ_SMOKE_BUILD[@]}") ||
		die "the fuzz targets do not build"
	log=$(mktemp)
	for target in $(fuzz_targets); do
		# Inputs given as files: libFuzzer runs each once and prints `Running: FILE` first.
		mapfile -t inputs < <(find "$BERTH_REPO/fuzz/corpus/$target" -type f | sort)
		[ ${#inputs[@]} -gt 0 ] || die "fuzz target $target has no corpus in fuzz/corpus/$target"
		if (cd "$BERTH_REPO/fuzz" && RUSTC_BOOTSTRAP=1 nice -n 19 \
			cargo fuzz run "${FUZZ_SMOKE_BUILD[@]}" "$target" "${inputs[@]}" >"$log" 2>&1); then
			note "$target: ${#inputs[@]} inputs replayed"
		else
			tail -n 30 "$log" >&2
			note "fuzz target $target fails on $(grep '^Running: ' "$log" | tail -n1 | cut -d' ' -f2-)"
			failed+=("$target")
		fi
	done
	rm -f "$log"
	[ ${#failed[@]} -eq 0 ] || die "fuzz targets fail on their corpus: ${failed[*]} (each input named above)"
}

ensure_image() {
	step "Guest image"
	local out
	if [ "$(id -u)" = 0 ]; then
		out=$("$BERTH_REPO/vm-image/build.sh" --agent "$BERTH_AGENT_BIN")
	else
		out=$(sudo env BERTH_CACHE_DIR="$BERTH_CACHE_DIR" PATH="$PATH" "$BERTH_REPO/vm-image/build.sh" --agent "$BERTH_AGENT_BIN")
		sudo chown -R "$(id -u):$(id -g)" "$BERTH_CACHE_DIR/images"
	fi
	export BERTH_IMAGE=$out
	note "image: $BERTH_IMAGE"
}

# Builds the desktop app's UI (ui/dist), which `tauri::generate_context!` embeds: it must exist
# before any cargo build of the workspace. `npm ci` runs when the lock file changed.
build_ui() {
	step "Desktop app UI"
	local node
	node=$(node --version 2>/dev/null | tr -d v)
	if [ "$(printf '%s\n%s\n' "$MIN_NODE" "$node" | sort -V | head -n1)" != "$MIN_NODE" ]; then
		die "Node.js ${node:-(none)} is too old for the UI's build (Vite 7 needs $MIN_NODE or newer): install a current Node.js (e.g. from NodeSource) and run this again"
	fi
	local ui=$BERTH_REPO/ui
	if [ -L "$ui/node_modules" ]; then
		# Another checkout's modules, linked: npm ci would empty the folder the link points to.
		note "ui/node_modules links to $(readlink -f "$ui/node_modules"): used as it is, no npm ci"
	elif [ ! -f "$ui/node_modules/.package-lock.json" ] || [ "$ui/package-lock.json" -nt "$ui/node_modules/.package-lock.json" ]; then
		note "npm ci (node $node)"
		(cd "$ui" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed in $ui"
	fi
	if [ -f "$ui/dist/index.html" ] && [ -z "$(find "$ui/src" "$ui/public" "$ui/index.html" "$ui/vite.config.ts" "$ui/package-lock.json" -newer "$ui/dist/index.html" -print -quit)" ]; then
		note "ui/dist is up to date"
	else
		(cd "$ui" && npm run --silent build >/dev/null) || die "the UI build failed: run 'npm run build' in $ui to see why"
		note "built ui/dist"
	fi
}

# tauri-driver, the WebDriver proxy the real-window tests drive the app through.
ensure_tauri_driver() {
	step "tauri-driver"
	if tauri-driver --help >/dev/null 2>&1; then
		note "present"
	else
		note "installing tauri-driver 2 with cargo (about a minute)"
		cargo install --locked --quiet tauri-driver --version '^2' || die "cargo install tauri-driver failed"
	fi
}

setup_all() {
	ensure_host_packages
	ensure_app_packages
	ensure_rust
	ensure_cargo_helpers
	build_agent
	ensure_image
	build_ui
}
