#!/usr/bin/env bash
# Builds a debian/bookworm64-compatible libvirt box offline, from Debian packages only (for CI
# and for users without Vagrant Cloud), and adds it as `debian/bookworm64`:
#   mmdebstrap (Debian 12, its stock kernel with dm-flakey, systemd, sshd, the tools powercut
#   uses) → a partitioned raw disk: ext4 populated straight from the tree (mke2fs -d, at the
#   partition's offset: no loop device, no mount) and GRUB's boot.img and core.img in the MBR
#   and the gap before the partition (no grub-install, no boot needed) → qcow2 → box
#   (metadata.json, box.img, Vagrantfile) → `vagrant box add`.
# Like Vagrant Cloud's box: a `vagrant` user with Vagrant's insecure key and password-less sudo,
# DHCP on eth0 (net.ifnames=0). Unlike it, the tools powercut runs are installed already and
# initramfs updates are off, so provisioning needs no apt and no initramfs rebuild (minutes
# under TCG). Cached under a key of this script's content; prints the box file on its last line.
# Needs root (to keep file owners) and vm/vagrant/host-setup.sh's packages.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${POWERCUT_CACHE:-$HOME/.cache/powercut}/vagrant
key=$( { cat "$here/build-box.sh"; echo "${POWERCUT_BOX_MIRROR:-}"; } | sha256sum | cut -c1-16)
out=$cache_root/$key
box=$out/debian-bookworm64.box
name=${POWERCUT_BOX_NAME:-debian/bookworm64}

add_box() {
  if vagrant box list 2>/dev/null | grep -q "^$name .*libvirt"; then
    if [[ -f $out/added ]]; then return; fi
    vagrant box remove --force --provider libvirt "$name" >/dev/null
  fi
  vagrant box add --force --name "$name" "$box" >/dev/null
  touch "$out/added"
}

if [[ -f $box ]]; then
  add_box
  echo "$box"
  exit 0
fi

start=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/powercut-box.XXXXXX")
trap 'rm -rf "$work"' EXIT

insecure_key='ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key'
pkgs=linux-image-amd64,systemd-sysv,udev,openssh-server,sudo,kmod,iproute2,procps,ca-certificates,dmsetup,util-linux,mount,e2fsprogs,xfsprogs,btrfs-progs,psmisc,rsync

echo "build-box: mmdebstrap (Debian 12 + $pkgs)" >&2
mmdebstrap --quiet --variant=minbase --include="$pkgs" \
  --customize-hook='echo powercut > "$1/etc/hostname"' \
  --customize-hook='printf "127.0.0.1 localhost\n127.0.1.1 powercut\n" > "$1/etc/hosts"' \
  --customize-hook='chroot "$1" useradd -m -s /bin/bash vagrant' \
  --customize-hook='echo "vagrant ALL=(ALL) NOPASSWD:ALL" > "$1/etc/sudoers.d/vagrant" && chmod 440 "$1/etc/sudoers.d/vagrant"' \
  --customize-hook="mkdir -p \"\$1/home/vagrant/.ssh\" && echo '$insecure_key' > \"\$1/home/vagrant/.ssh/authorized_keys\"" \
  --customize-hook='chroot "$1" chown -R vagrant:vagrant /home/vagrant/.ssh && chmod 700 "$1/home/vagrant/.ssh" && chmod 600 "$1/home/vagrant/.ssh/authorized_keys"' \
  --customize-hook='echo "UseDNS no" > "$1/etc/ssh/sshd_config.d/vagrant.conf"' \
  --customize-hook='printf "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n" > "$1/etc/systemd/network/eth0.network"' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd ssh >/dev/null 2>&1' \
  --customize-hook='printf "loop\ndm-mod\ndm-flakey\ndm-log-writes\ndm-snapshot\n" > "$1/etc/modules-load.d/powercut.conf"' \
  --customize-hook='sed -i "s/^update_initramfs=.*/update_initramfs=no/" "$1/etc/initramfs-tools/update-initramfs.conf"' \
  --customize-hook='rm -f "$1/etc/machine-id" && touch "$1/etc/machine-id"' \
  ${POWERCUT_BOX_MIRROR:+--setup-hook="echo deb $POWERCUT_BOX_MIRROR bookworm main > \"\$1/etc/apt/sources.list\""} \
  bookworm "$work/rootfs.tar"

echo "build-box: disk image with GRUB" >&2
root=$work/root
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$work/rootfs.tar"
rm -f "$work/rootfs.tar"
uuid=$(cat /proc/sys/kernel/random/uuid)
echo "UUID=$uuid / ext4 errors=remount-ro 0 1" > "$root/etc/fstab"
kernel=$(basename "$(ls "$root"/boot/vmlinuz-* | tail -n1)")
initrd=$(basename "$(ls "$root"/boot/initrd.img-* | tail -n1)")
mkdir -p "$root/boot/grub"
cp -r /usr/lib/grub/i386-pc "$root/boot/grub/"
cat > "$root/boot/grub/grub.cfg" <<GRUB
set timeout=0
serial --unit=0 --speed=115200
terminal_output serial console
menuentry "Debian 12 (powercut box)" {
  search --no-floppy --fs-uuid --set=root $uuid
  linux /boot/$kernel root=UUID=$uuid ro net.ifnames=0 biosdevname=0 console=tty0 console=ttyS0,115200
  initrd /boot/$initrd
}
GRUB
disk=$work/box.raw
size_mib=16384
truncate -s ${size_mib}M "$disk"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$disk"
# The partition starts at 1 MiB: the filesystem goes there, populated from the tree.
mkfs.ext4 -q -L root -U "$uuid" -E offset=$((1 << 20)) -d "$root" "$disk" $(( (size_mib - 1) * 1024 ))k
rm -rf "$root"
# GRUB as grub-bios-setup lays it out: boot.img in the MBR (its code, not the partition table),
# core.img from sector 1 (boot.img's default), which loads its modules and grub.cfg from the
# partition.
grub-mkimage -O i386-pc -o "$work/core.img" -p "(hd0,msdos1)/boot/grub" biosdisk part_msdos ext2
(( $(stat -c %s "$work/core.img") < 2047 * 512 )) || { echo "build-box: core.img too big" >&2; exit 1; }
dd if=/usr/lib/grub/i386-pc/boot.img of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none

echo "build-box: qcow2 and box" >&2
mkdir -p "$work/box"
qemu-img convert -O qcow2 "$disk" "$work/box/box.img"
rm -f "$disk"
printf '{"provider":"libvirt","format":"qcow2","virtual_size":16}\n' > "$work/box/metadata.json"
cat > "$work/box/Vagrantfile" <<'VF'
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.disk_bus = "virtio"
  end
end
VF
mkdir -p "$out"
tar -C "$work/box" -cf "$box.tmp" metadata.json box.img Vagrantfile
mv "$box.tmp" "$box"
add_box
echo "build-box: built and added $name in $(( $(date +%s) - start )) s" >&2
echo "$box"
