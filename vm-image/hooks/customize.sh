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

# Kernel image and its modules for the root.
cp kernel/boot/vmlinuz-"$kver" "$out/vmlinuz"
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
echo "berth" >"$rootfs/etc/hostname"
# The engine's network setup runs dozens of iptables calls; the legacy backend skips the
# nft translation layer, which is slow under TCG.
chroot "$rootfs" update-alternatives --quiet --set iptables /usr/sbin/iptables-legacy
chroot "$rootfs" update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-legacy
