#!/usr/bin/env bash
# mmdebstrap customize hook: add the kernel's modules to the guest root, extract the kernel and
# build the stage-1 initramfs. Runs on the build host with the target suite's apt configuration.
# Usage (from build.sh): customize.sh ROOTFS OUTDIR
set -euo pipefail
rootfs=$1
out=$2
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../recipe.env
. "$here/recipe.env"
export APT_CONFIG=$MMDEBSTRAP_APT_CONFIG

work=$(mktemp -d -p "$out")
trap 'rm -rf "$work"' EXIT
cd "$work"

kernel_pkg=$(apt-cache depends "$KERNEL_META" | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
[ -n "$kernel_pkg" ] || { echo "customize: cannot resolve $KERNEL_META in $SUITE" >&2; exit 1; }
echo "berth-image: kernel package $kernel_pkg"
apt-get download -q "$kernel_pkg" busybox-static >/dev/null
dpkg-deb -x "$kernel_pkg"_*.deb kernel
dpkg-deb -x busybox-static_*.deb busybox
kver=$(ls kernel/usr/lib/modules 2>/dev/null || ls kernel/lib/modules)
moddir=kernel/usr/lib/modules/$kver
[ -d "$moddir" ] || moddir=kernel/lib/modules/$kver

# The arm64 kernel for Virtualization.framework, which boots only an uncompressed Image: the
# package's vmlinuz is gzip-compressed or an EFI zboot image (header: "MZ", "zimg" at 4, payload
# offset and size as little-endian u32 at 8 and 12, compression name at 24).
unpack_arm64_kernel() { # IN OUT
	local in=$1 out=$2 offset size comp
	if [ "$(head -c2 "$in" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; then
		gzip -dc "$in" >"$out"
	elif [ "$(dd if="$in" bs=1 skip=4 count=4 2>/dev/null)" = zimg ]; then
		offset=$(od -An -tu4 -j8 -N4 "$in" | tr -d ' ')
		size=$(od -An -tu4 -j12 -N4 "$in" | tr -d ' ')
		comp=$(dd if="$in" bs=1 skip=24 count=8 2>/dev/null | tr -d '\0')
		case "$comp" in
		gzip) tail -c +$((offset + 1)) "$in" | head -c "$size" | gzip -dc >"$out" ;;
		zstd) tail -c +$((offset + 1)) "$in" | head -c "$size" | zstd -qdc >"$out" ;;
		xz) tail -c +$((offset + 1)) "$in" | head -c "$size" | xz -dc >"$out" ;;
		*) echo "customize: unknown zboot compression '$comp'" >&2; exit 1 ;;
		esac
	else
		cp "$in" "$out"
	fi
	[ "$(dd if="$out" bs=1 skip=56 count=4 2>/dev/null)" = "$(printf 'ARM\144')" ] ||
		{ echo "customize: $in did not unpack to an arm64 Image" >&2; exit 1; }
}

# Kernel image and its modules for the root.
if [ "$ARCH" = arm64 ]; then
	unpack_arm64_kernel kernel/boot/vmlinuz-"$kver" "$out/vmlinuz"
else
	cp kernel/boot/vmlinuz-"$kver" "$out/vmlinuz"
fi
mkdir -p "$rootfs/usr/lib/modules"
cp -a "$moddir" "$rootfs/usr/lib/modules/"
# Uncompressed modules: kmod's userspace xz is slow under TCG (1.5 s of boot for ~17 modules),
# and squashfs compresses them anyway.
find "$rootfs/usr/lib/modules/$kver" -name '*.ko.xz' -exec xz -d {} +
depmod -b "$rootfs" "$kver"
{
	echo "kernel=$kver"
	echo "kernel_package=$kernel_pkg $(dpkg-deb -f "$kernel_pkg"_*.deb Version)"
	echo "busybox_static=$(dpkg-deb -f busybox-static_*.deb Version)"
} >"$out/stage1.versions"

# Stage-1 initramfs: static busybox, the init script and the root's modules (decompressed, in
# dependency order as modprobe would load them).
s1=$work/stage1
mkdir -p "$s1/bin" "$s1/modules"
for bb in busybox/usr/bin/busybox busybox/bin/busybox; do
	[ -x "$bb" ] && break
done
cp "$bb" "$s1/bin/busybox"
applets=$("$s1/bin/busybox" --list)
for applet in $applets; do
	[ "$applet" = busybox ] || ln -sf busybox "$s1/bin/$applet"
done
cp "$here/stage1-init" "$s1/init"
: >"$s1/modules/order"
for module in $STAGE1_MODULES; do
	modprobe -d "$rootfs" -S "$kver" --show-depends "$module" | while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		name=$(basename "$path")
		name=${name%.xz}
		name=${name%.zst}
		name=${name%.gz}
		grep -qx "$name" "$s1/modules/order" && continue
		case "$path" in
		*.xz) xz -dc "$path" >"$s1/modules/$name" ;;
		*.zst) zstd -qdc "$path" >"$s1/modules/$name" ;;
		*.gz) gzip -dc "$path" >"$s1/modules/$name" ;;
		*) cp "$path" "$s1/modules/$name" ;;
		esac
		echo "$name" >>"$s1/modules/order"
	done
done
echo "berth-image: stage-1 modules: $(tr '\n' ' ' <"$s1/modules/order")"
find "$s1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$s1" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible | gzip -9n) >"$out/initrd.img"

# Trim what a headless engine VM never reads.
rm -rf "$rootfs"/usr/share/{doc,man,info,locale,lintian,linda,bug} \
	"$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* \
	"$rootfs"/usr/lib/modules/"$kver"/kernel/{sound,drivers/gpu,drivers/media,drivers/infiniband,net/wireless}
depmod -b "$rootfs" "$kver"

# qemu-user: keep the emulators of EMULATED but the guest's own architecture (qemu's names; the
# Debian aliases such as qemu-arm64 are symlinks, kept when their target is) and give each one a
# binfmt.d entry, which the agent registers at boot (guest-agent/src/binfmt.rs). The arm64 package links no qemu-arm entry
# (arm64 CPUs used to run 32-bit code themselves; Apple's do not), hence the links made here.
case "$ARCH" in amd64) native=x86_64 ;; arm64) native=aarch64 ;; *) native=$ARCH ;; esac
emulated=" $(echo "$EMULATED" | tr ' ' '\n' | grep -vx "$native" | tr '\n' ' ')"
kept() { case "$emulated" in *" $1 "*) return 0 ;; *) return 1 ;; esac }
for bin in "$rootfs"/usr/bin/qemu-*; do
	target=$(basename "$(readlink -f "$bin")")
	kept "${target#qemu-}" || rm -f "$bin"
done
for wrapper in "$rootfs"/usr/libexec/qemu-binfmt/*-binfmt-P; do
	name=$(basename "$wrapper")
	kept "${name%-binfmt-P}" || rm -f "$wrapper"
done
# The other architectures' definitions (not the guest's own) go to unemulated.d: the agent
# registers them with itself as the interpreter, which explains that there is no emulator.
mkdir -p "$rootfs/usr/lib/berth/unemulated.d"
ln -sf ../../sbin/init "$rootfs/usr/lib/berth/unemulated"
for conf in "$rootfs"/usr/share/qemu/binfmt.d/qemu-*.conf; do
	name=$(basename "$conf" .conf)
	kept "${name#qemu-}" && continue
	[ "${name#qemu-}" = "$native" ] || mv "$conf" "$rootfs/usr/lib/berth/unemulated.d/"
	rm -f "$conf"
done
rm -f "$rootfs"/usr/lib/binfmt.d/qemu-*.conf
mkdir -p "$rootfs/usr/lib/binfmt.d"
for arch in $emulated; do
	[ -f "$rootfs/usr/share/qemu/binfmt.d/qemu-$arch.conf" ] && [ -x "$rootfs/usr/bin/qemu-$arch" ] ||
		{ echo "customize: qemu-user has no $arch emulator (EMULATED in recipe.env)" >&2; exit 1; }
	ln -s "../../share/qemu/binfmt.d/qemu-$arch.conf" "$rootfs/usr/lib/binfmt.d/qemu-$arch.conf"
done
echo "berth-image: qemu-user emulators:$emulated"

echo "berth" >"$rootfs/etc/hostname"
install -D -m 0755 "$here/shell-init" "$rootfs/usr/lib/berth/shell-init"
# The engine's network setup runs dozens of iptables calls; the legacy backend skips the
# nft translation layer, which is slow under TCG.
chroot "$rootfs" update-alternatives --quiet --set iptables /usr/sbin/iptables-legacy
chroot "$rootfs" update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-legacy
