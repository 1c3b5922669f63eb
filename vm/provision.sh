#!/usr/bin/env bash
# Provisions the Vagrant VM (Debian 12) as a powercut target, in seconds: the tools powercut runs
# in a target (dmsetup, util-linux, psmisc, mkfs/fsck for ext4, xfs, btrfs) and the dm modules.
# The box from vm/vagrant/build-box.sh has them all, so this installs nothing there. On another
# Debian box (Vagrant Cloud's debian/bookworm64) it installs what is missing with initramfs
# updates off: under TCG an initramfs rebuild takes over a quarter of an hour. No node: powercut
# uploads the host's node binary itself, as it does for the embedded guest.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for pair in dmsetup:dmsetup losetup:util-linux flock:util-linux fuser:psmisc mkfs.ext4:e2fsprogs \
  mkfs.xfs:xfsprogs mkfs.btrfs:btrfs-progs; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair##*:}")
done
if ((${#need[@]} > 0)); then
  conf=/etc/initramfs-tools/update-initramfs.conf
  [[ -f $conf ]] && sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$conf"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
printf 'loop\ndm-mod\ndm-flakey\ndm-log-writes\ndm-snapshot\n' > /etc/modules-load.d/powercut.conf
for m in loop dm-mod dm-flakey dm-log-writes dm-snapshot; do modprobe "$m"; done
dmsetup targets | grep -q '^flakey' && echo "provision: dm-flakey ready ($(uname -r))"
