#!/usr/bin/env bash
# Build (or reuse) the Berth guest image: kernel, stage-1 initramfs and a read-only root image
# holding Debian's moby engine and the Berth agent as /sbin/init, plus manifest.json.
#
#   vm-image/build.sh [--arch amd64|arm64] [--format squashfs|erofs|initramfs|tar] [--agent PATH]
#   vm-image/build.sh --mirror   prints the Debian mirror the build uses (empty: mmdebstrap's)
#
# --arch arm64 builds the Apple silicon image (Virtualization.framework) on any host: Debian's
# arm64 packages, the arm64 cloud kernel unpacked to the uncompressed Image the framework boots,
# and an aarch64 agent. Maintainer scripts of a foreign architecture run under qemu-user
# (qemu-user-static and binfmt_misc; installer/lib.sh's ensure_foreign_arch sets them up).
# --format tar is the root as a tarball for `wsl --import` (the WSL 2 backend).
# Progress goes to stderr; the last line on stdout is the image directory. Results are cached
# outside the repository (BERTH_CACHE_DIR, default ${XDG_CACHE_HOME:-~/.cache}/berth):
#   base/<recipe hash>-<suites>/   the debootstrapped root, kernel and initramfs (slow part),
#                                  rebuilt when a suite (security, updates) publishes anew
#   images/<base>-<agent>-<fmt>/   the bootable artifacts and their manifest (seconds)
# A cached image is reused only when every artifact matches the manifest's sha256; otherwise it is
# rebuilt. Needs root (mmdebstrap --mode=root); elsewhere see vm-image/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=recipe.env
. "$here/recipe.env"
export SOURCE_DATE_EPOCH

format=squashfs
agent=
print_mirror=
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) ARCH=$2; shift 2 ;;
	--format) format=$2; shift 2 ;;
	--agent) agent=$2; shift 2 ;;
	--mirror) print_mirror=1; shift ;;
	-h | --help) sed -n '2,19p' "$0"; exit 0 ;;
	*) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$format" in squashfs | erofs | initramfs | tar) ;; *)
	echo "build.sh: unknown format '$format' (squashfs, erofs, initramfs or tar)" >&2; exit 2 ;;
esac
case "$ARCH" in
amd64) rust_target=x86_64-unknown-linux-musl ;;
arm64) rust_target=aarch64-unknown-linux-musl ;;
*) echo "build.sh: unknown architecture '$ARCH' (amd64 or arm64)" >&2; exit 2 ;;
esac
export ARCH
KERNEL_META=linux-image-cloud-$ARCH

say() { printf 'berth-image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
started=$(date +%s.%N)
elapsed() { printf '%.1f s' "$(echo "$(date +%s.%N) - $1" | bc)"; }

# The URI this machine's apt uses for its own release's suite with SUFFIX ("" or "-security"),
# on a Debian host; nothing elsewhere.
host_apt_uri() {
	. /etc/os-release 2>/dev/null || true
	[ "${ID:-}" = debian ] || return 0
	local suite=${VERSION_CODENAME:-}$1
	cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v suite="$suite" '
		/^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = uri }
		/^$/ { uri = "" } END { if (found) print found }' | head -n1 | grep . && return
	grep -hE '^deb\s' /etc/apt/sources.list 2>/dev/null | awk -v suite="$suite" '
		{ n = 2; if ($2 ~ /^\[/) { while ($n !~ /\]$/) n++; n++ } if ($(n + 1) == suite) { print $n; exit } }'
}

# The Debian mirror: BERTH_DEBIAN_MIRROR, else the one this machine's apt already uses (on a
# Debian host), else mmdebstrap's own default.
debian_mirror() {
	if [ -n "${BERTH_DEBIAN_MIRROR:-}" ]; then
		echo "$BERTH_DEBIAN_MIRROR"
	else
		host_apt_uri ""
	fi
}

if [ -n "$print_mirror" ]; then
	debian_mirror
	exit 0
fi
[ "$(id -u)" = 0 ] || die "building the image needs root (mmdebstrap --mode=root); run: sudo $0"
need() {
	command -v "$1" >/dev/null 2>&1 || die "'$1' is missing: install it with: apt-get install $2"
}
need mmdebstrap mmdebstrap
need mksquashfs squashfs-tools
need cpio cpio
need jq jq
need curl curl
need zstd zstd
need xz xz-utils
need bc bc
need depmod kmod
[ "$format" != erofs ] || need mkfs.erofs erofs-utils
if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then
	command -v arch-test >/dev/null 2>&1 && arch-test "$ARCH" >/dev/null 2>&1 ||
		die "$ARCH binaries cannot run here: install qemu-user-static, binfmt-support and arch-test and mount binfmt_misc (installer/lib.sh: ensure_foreign_arch)"
fi

cache=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}
recipe_hash=$( (cd "$here" && for f in recipe.env packages.txt stage1-init shell-init hooks/customize.sh build.sh; do
	printf '%s\n' "$f"
	cat "$f"
done
# The architecture is not in the files' text when chosen with --arch.
[ "$ARCH" = amd64 ] || printf 'arch=%s\n' "$ARCH"
) | sha256sum | cut -d' ' -f1)

# The security mirror: BERTH_DEBIAN_SECURITY_MIRROR, else the one this machine's apt uses for
# its release's security suite; empty with no main mirror either (mmdebstrap's default sources
# then include the security and updates suites themselves).
debian_security_mirror() {
	if [ -n "${BERTH_DEBIAN_SECURITY_MIRROR:-}" ]; then
		echo "$BERTH_DEBIAN_SECURITY_MIRROR"
	else
		host_apt_uri -security
	fi
}

# The suites the root is built from: the release, its updates and its security fixes (names
# overridable for a mirror that carries them under others), as "mirror suite" lines.
mirror=$(debian_mirror)
security_mirror=$(debian_security_mirror)
[ -n "$security_mirror" ] || security_mirror=$mirror
sources() {
	[ -n "$mirror" ] || return 0
	printf '%s %s\n' "$mirror" "$SUITE" "$mirror" "$UPDATES_SUITE" "$security_mirror" "$SECURITY_SUITE"
}

# The suites' publication dates (their InRelease `Date:`), part of the base root's cache key: a
# base never outlives a security release. The newest is the image's `packages_date`.
suite_dates() {
	local m s date
	sources | while read -r m s; do
		date=$(curl -fsS --max-time 30 "$m/dists/$s/InRelease" 2>/dev/null | sed -n 's/^Date: //p' | head -n1)
		[ -n "$date" ] || { say "cannot read the date of $s at $m"; return 1; }
		printf '%s %s\n' "$s" "$date"
	done
}
if [ -z "$mirror" ]; then
	base=$cache/base/$recipe_hash
	packages_date=$(date +%s)
elif dates=$(suite_dates) && [ -n "$dates" ]; then
	base=$cache/base/$recipe_hash-$(printf '%s\n' "$dates" | sha256sum | cut -c1-16)
	packages_date=$(printf '%s\n' "$dates" | cut -d' ' -f2- | while read -r d; do date -d "$d" +%s; done | sort -n | tail -n1)
else
	# Offline: the newest base of this recipe, if any (mmdebstrap could not run anyway).
	base=$(ls -td "$cache/base/$recipe_hash"-* 2>/dev/null | head -n1 || true)
	[ -n "$base" ] || die "cannot reach the Debian mirror $mirror to check its suites, and no base root of this recipe is cached"
	packages_date=$(cat "$base/packages.date" 2>/dev/null || echo 0)
	say "cannot check the suites' dates: reusing the base root $base"
fi

# --- stage 1: the base root (cached by recipe hash and the suites' dates) ----------------------
if [ -f "$base/.complete" ]; then
	say "reusing cached base ${base##*/} (recipe and suites unchanged)"
else
	say "[1/3] building base root from Debian $SUITE, $UPDATES_SUITE and $SECURITY_SUITE (${mirror:-mmdebstrap default mirror}); recipe $recipe_hash"
	t=$(date +%s.%N)
	rm -rf "$base.tmp"
	mkdir -p "$base.tmp"
	include=$(grep -v '^\s*#' "$here/packages.txt" | tr -s ' \n' ',' | sed 's/^,//;s/,$//')
	mirror_lines=()
	while read -r m s; do mirror_lines+=("deb $m $s main"); done < <(sources)
	mmdebstrap --mode=root --variant=essential --arch="$ARCH" --include="$include" \
		--aptopt='APT::Install-Recommends "false"' \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--customize-hook="\"$here/hooks/customize.sh\" \"\$1\" \"$base.tmp\"" \
		"$SUITE" "$base.tmp/rootfs" "${mirror_lines[@]}" >&2 ||
		die "mmdebstrap failed (see above); nothing was cached"
	echo "$packages_date" >"$base.tmp/packages.date"
	dpkg-query --admindir="$base.tmp/rootfs/var/lib/dpkg" -W -f '${Package}\t${Version}\n' \
		>"$base.tmp/packages.versions"
	touch "$base.tmp/.complete"
	rm -rf "$base"
	mv "$base.tmp" "$base"
	say "base root built in $(elapsed "$t")"
fi

# --- stage 2: the guest agent (static musl) ---------------------------------------------------
if [ -z "$agent" ]; then
	say "[2/3] building the guest agent (static, $rust_target)"
	# aarch64 links with rust-lld and the target's self-contained musl start files: no cross
	# C toolchain needed.
	(cd "$repo" && CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="--remap-path-prefix=$repo=/berth" \
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C linker-flavor=ld.lld -C link-self-contained=yes --remap-path-prefix=$repo=/berth" \
		cargo build -q --release -p berth-agent --target "$rust_target") >&2 ||
		die "agent build failed; is the musl target installed? rustup target add $rust_target"
	target_dir=$(cd "$repo" && cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
	agent=$target_dir/$rust_target/release/berth-agent
fi
[ -x "$agent" ] || die "agent binary '$agent' not found"
# ELF e_machine (offset 18): 0x3e x86-64, 0xb7 aarch64.
case "$ARCH:$(od -An -tx1 -j18 -N1 "$agent" | tr -d ' ')" in
amd64:3e | arm64:b7) ;;
*) die "agent binary '$agent' is not built for $ARCH (use --target $rust_target)" ;;
esac
agent_sha=$(sha256sum "$agent" | cut -d' ' -f1)

# --- stage 3: the bootable image (cached by recipe, agent and format) -------------------------
# The base root's name holds the recipe and the suites' dates.
key=$(printf '%s' "${base##*/}" | sha256sum | cut -c1-16)-${agent_sha:0:16}-$format
img=$cache/images/$key
root_file=root.$format
[ "$format" = initramfs ] && root_file=root.cpio

verify() { # every artifact listed in the manifest exists and matches its sha256
	[ -f "$img/manifest.json" ] || return 1
	jq -r '.artifacts[] | "\(.sha256)  \(.file)"' "$img/manifest.json" >"$img/.sums" 2>/dev/null || return 1
	[ -s "$img/.sums" ] && (cd "$img" && sha256sum --quiet -c .sums >/dev/null 2>&1)
}

if verify; then
	say "reusing cached image $key (checksums match)"
	echo "$img"
	exit 0
fi
if [ -e "$img" ]; then
	say "cached image $key does not match its manifest: rebuilding it"
fi
say "[3/3] assembling $format image $key"
t=$(date +%s.%N)
rm -rf "$img.tmp"
mkdir -p "$img.tmp"
cp "$base/vmlinuz" "$img.tmp/vmlinuz"
cp "$base/initrd.img" "$img.tmp/initrd.img"
case "$format" in
squashfs)
	mksquashfs "$base/rootfs" "$img.tmp/$root_file" -comp lz4 -Xhc -noappend -quiet \
		-p "usr/sbin/init f 0755 0 0 cat $agent" >&2
	;;
erofs | initramfs | tar)
	tree=$img.tmp/tree
	cp -a "$base/rootfs" "$tree"
	install -m 0755 "$agent" "$tree/usr/sbin/init"
	ln -sf usr/sbin/init "$tree/init"
	find "$tree" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	if [ "$format" = erofs ]; then
		mkfs.erofs -zlz4hc -T"$SOURCE_DATE_EPOCH" "$img.tmp/$root_file" "$tree" >/dev/null
	elif [ "$format" = tar ]; then
		# WSL's init is PID 1 there: the agent runs as /usr/sbin/init --wsl, nothing boots it.
		rm -f "$tree/init"
		tar --sort=name --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
			-C "$tree" -cf "$img.tmp/$root_file" .
	else
		(cd "$tree" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible) >"$img.tmp/$root_file"
	fi
	rm -rf "$tree"
	;;
esac

artifact() { # file role -> JSON
	jq -n --arg file "$1" --arg role "$2" --arg sha "$(sha256sum "$img.tmp/$1" | cut -d' ' -f1)" \
		--argjson size "$(stat -c %s "$img.tmp/$1")" '{role: $role, file: $file, sha256: $sha, size: $size}'
}
version_of() { awk -F'\t' -v p="$1" '$1 == p { print $2 }' "$base/packages.versions"; }
kernel=$(sed -n 's/^kernel=//p' "$base/stage1.versions")
agent_version=$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
	jq -r '.packages[] | select(.name == "berth-agent") | .version')
{
	artifact vmlinuz kernel
	artifact initrd.img initrd
	artifact "$root_file" root
} | jq -s --arg recipe "$recipe_hash" --arg agent_sha "$agent_sha" --arg format "$format" \
	--arg suite "$SUITE" --arg arch "$ARCH" --arg kernel "$kernel" --arg agent_version "$agent_version" \
	--arg docker "$(version_of docker.io)" --arg containerd "$(version_of containerd)" \
	--arg runc "$(version_of runc)" --arg crun "$(version_of crun)" \
	--arg compose "$(version_of docker-compose)" --arg qemu "$(version_of qemu-user)" --arg busybox "$(sed -n 's/^busybox_static=//p' "$base/stage1.versions")" \
	--argjson epoch "$SOURCE_DATE_EPOCH" --argjson packages_date "$(cat "$base/packages.date" 2>/dev/null || echo 0)" '{
		schema: 1, recipe_hash: $recipe, suite: $suite, arch: $arch, root_format: $format,
		source_date_epoch: $epoch, packages_date: $packages_date,
		components: {kernel: $kernel, "docker.io": $docker, containerd: $containerd, runc: $runc,
			crun: $crun, "docker-compose": $compose, "qemu-user": $qemu, "busybox-static": $busybox,
			"berth-agent": $agent_version},
		agent_sha256: $agent_sha, artifacts: .}' >"$img.tmp/manifest.json"
rm -rf "$img"
mv "$img.tmp" "$img"
verify || die "the image just built does not match its manifest"

say "image assembled in $(elapsed "$t"); total $(elapsed "$started")"
jq -r '.artifacts[] | "berth-image:   \(.file)\t\(.size / 1048576 * 10 | floor / 10) MiB"' "$img/manifest.json" >&2
echo "$img"
