#!/usr/bin/env bash
# Builds the embedded powercut guest from Debian packages: Debian's kernel (downloaded, not
# installed) + an initramfs with busybox, dm/loop/fs modules, dmsetup, losetup, mkfs/fsck for
# ext4/xfs/btrfs, dropbear and the host's node. Cached under a key of all its inputs; prints
# the cache directory on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${POWERCUT_CACHE:-$HOME/.cache/powercut}/vm
modules=(loop dm-mod dm-flakey dm-log-writes dm-snapshot ext4 xfs btrfs virtio_net virtio_pci virtio_blk virtio_console crc32c_generic)
# util-linux's and psmisc's own tools (flock, fuser, ...), not busybox's: the guest must behave like
# the hosts users run on (psmisc's `fuser -m` on a non-mount-point selects the whole root fs;
# util-linux's mount refuses a filesystem that is mounted already, busybox's stacks it again).
binaries=(dash dmsetup losetup blockdev mke2fs e2fsck filefrag mkfs.xfs xfs_repair mkfs.btrfs btrfs dropbear fallocate node
  flock fuser mountpoint findmnt setsid mount umount)
tool_pkgs=(busybox-static dmsetup util-linux e2fsprogs e2fsck-static xfsprogs btrfs-progs dropbear-bin psmisc)

# memo NAME STAMP CMD...: CMD's output, remembered while STAMP is unchanged. Keeps the cached
# path under a second: `apt-cache policy` (~0.6 s here) and hashing node (~0.35 s) are slow.
memo() {
  local file=$cache_root/.memo-$1 stamp=$2
  shift 2
  if [[ -f $file && $(head -n1 "$file") == "$stamp" ]]; then
    tail -n +2 "$file"
    return
  fi
  local value
  value=$("$@")
  mkdir -p "$cache_root"
  printf '%s\n%s\n' "$stamp" "$value" >"$file.$$" && mv "$file.$$" "$file"
  printf '%s\n' "$value"
}
kernel_meta_version() { apt-cache policy linux-image-amd64 | awk '/Candidate:/ {print $2}'; }
apt_stamp=$(stat -c '%n %s %Y' /var/lib/apt/lists/* /etc/apt/sources.list* /etc/apt/preferences* 2>/dev/null | sha256sum)
kver_pkg=$(memo kernel "$apt_stamp" kernel_meta_version)
if [[ -z $kver_pkg || $kver_pkg == "(none)" ]]; then
  apt-get update -qq
  apt_stamp=$(stat -c '%n %s %Y' /var/lib/apt/lists/* /etc/apt/sources.list* /etc/apt/preferences* 2>/dev/null | sha256sum)
  kver_pkg=$(memo kernel "$apt_stamp" kernel_meta_version)
fi
node_bin=$(command -v node)
node_real=$(readlink -f "$node_bin")
node_sum=$(memo node "$(stat -c '%n %s %Y %i' "$node_real")" sha256sum "$node_real")
key=$( {
  cat "$here/build-image.sh" "$here/guest-init.sh"
  echo "kernel $kver_pkg"
  dpkg-query -W "${tool_pkgs[@]}"
  "$node_bin" --version
  echo "$node_sum"
} | sha256sum | cut -c1-16)
out=$cache_root/$key
if [[ -f $out/initramfs.cpio.gz && -f $out/vmlinuz ]]; then
  touch "$out" # used now: kept by prune-images.sh
  bash "$here/prune-images.sh" "$cache_root" "$out" || true # pruning never fails a build
  echo "$out"
  exit 0
fi

start=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/powercut-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/kernel" "$work/root"
chmod 755 "$work" && chmod 777 "$work/debs" # apt downloads as _apt

# Kernel: the meta package names the versioned image package.
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
(cd "$work/debs" && apt-get download -q linux-image-amd64 "$kpkg" >/dev/null)
for deb in "$work"/debs/linux-image-*.deb; do dpkg -x "$deb" "$work/kernel"; done
kver=$(ls "$work/kernel/lib/modules")
depmod -b "$work/kernel" "$kver"

root=$work/root
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt,root/.ssh,usr/bin,usr/sbin,lib64,var/tmp,etc/dropbear,opt/powercut}

# Modules in load order (dependencies first), decompressed so busybox insmod can load them.
: >"$root/etc/modules.order"
for m in "${modules[@]}"; do
  modprobe -d "$work/kernel" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
  rel=${ko#"$work/kernel"}
  mkdir -p "$root$(dirname "$rel")"
  case $ko in
    *.xz) xz -dc "$ko" >"$root${rel%.xz}"; rel=${rel%.xz} ;;
    *.zst) zstd -qdc "$ko" >"$root${rel%.zst}"; rel=${rel%.zst} ;;
    *) cp "$ko" "$root$rel" ;;
  esac
  echo "$rel" >>"$root/etc/modules.order"
done

cp /bin/busybox "$root/bin/busybox"
copy_with_libs() {
  local bin=$1
  mkdir -p "$root$(dirname "$bin")"
  cp -L "$bin" "$root$bin"
  ldd "$bin" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
    [[ -e $root$lib ]] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
for b in "${binaries[@]}"; do
  path=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$b") || { echo "build-image: $b not found (run vm/host-deps.sh)" >&2; exit 1; }
  copy_with_libs "$path"
done
# The guest's e2fsck is Debian's static build of it (e2fsck-static: the same source and
# version): under TCG the dynamic loader was most of every fsck, 107-114 ms a run of `e2fsck -fn`
# on an empty 64 MB ext4 against 22-29 ms static (measured in this guest).
e2fsck_static=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v e2fsck.static) || { echo "build-image: e2fsck.static not found (run vm/host-deps.sh)" >&2; exit 1; }
cp -L "$e2fsck_static" "$root$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v e2fsck)"
# dash as /bin/sh: busybox's static sh prefers its own applets (a busybox losetup without
# --show) over the real tools on PATH.
cp -L "$(command -v dash)" "$root/bin/sh"
# No udev in the guest: dmsetup must not wait for udev cookies, whoever calls it.
dmsetup_path=$(command -v dmsetup)
mv "$root$dmsetup_path" "$root$dmsetup_path.real"
printf '#!/bin/sh\nDM_DISABLE_UDEV=1 exec %s.real "$@"\n' "$dmsetup_path" >"$root$dmsetup_path"
chmod 755 "$root$dmsetup_path"
ln -sf mke2fs "$root$(dirname "$(command -v mke2fs)")/mkfs.ext4"
ln -sf e2fsck "$root$(dirname "$(command -v e2fsck)")/fsck.ext4"
mkdir -p "$root/lib/x86_64-linux-gnu"
cp -L /lib/x86_64-linux-gnu/libnss_files.so.2 "$root/lib/x86_64-linux-gnu/" 2>/dev/null || true

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
PASSWD
echo 'root:*:19000:0:99999:7:::' >"$root/etc/shadow"
echo 'root:x:0:' >"$root/etc/group"
printf '/bin/sh\n' >"$root/etc/shells"
printf 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nexport DM_DISABLE_UDEV=1\n' >"$root/etc/profile"
install -m 0755 "$here/guest-init.sh" "$root/init"

mkdir -p "$work/out"
ssh-keygen -q -t ed25519 -N '' -C powercut -f "$work/out/id_ed25519"
dropbearkey -t ed25519 -f "$root/etc/dropbear/dropbear_ed25519_host_key" >/dev/null 2>&1
dropbearkey -y -f "$root/etc/dropbear/dropbear_ed25519_host_key" | awk '/^ssh-ed25519 / {print $1, $2}' >"$work/out/host_key.pub"
install -m 0600 "$work/out/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
chmod 700 "$root/root" "$root/root/.ssh"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 >"$work/out/initramfs.cpio.gz")
cp "$work/kernel/boot/vmlinuz-$kver" "$work/out/vmlinuz"
printf 'kernel=%s\npackage=%s\nbuilt=%s\nseconds=%s\n' "$kver" "$kpkg" "$(date -u +%FT%TZ)" "$(( $(date +%s) - start ))" >"$work/out/image.info"
mkdir -p "$cache_root"
rm -rf "$out.tmp" && mv "$work/out" "$out.tmp" && mv "$out.tmp" "$out"
echo "built guest image in $(( $(date +%s) - start )) s" >&2
bash "$here/prune-images.sh" "$cache_root" "$out" || true # pruning never fails a build
echo "$out"
