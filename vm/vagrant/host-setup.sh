#!/usr/bin/env bash
# The Vagrant path's host side, on Debian 12: Vagrant with vagrant-libvirt and libvirt from
# Debian's packages, and the tools vm/vagrant/build-box.sh needs to build a box offline. Starts
# libvirt's daemons when no init system does (a container, a CI machine without systemd).
# Idempotent: installs only what is missing, starts only what is not running.
set -euo pipefail
pkgs=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 qemu-utils dnsmasq-base ebtables mmdebstrap fdisk grub-pc-bin openssh-client)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
if ((${#missing[@]} > 0)); then
  echo "vagrant host-setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# libvirt without systemd: virtlogd and libvirtd by hand (-l would need TLS certificates).
if ! pgrep -x virtlogd >/dev/null; then $sudo virtlogd -d; fi
if ! pgrep -x libvirtd >/dev/null; then $sudo libvirtd -d; fi
for _ in $(seq 1 50); do
  $sudo virsh -c qemu:///system version >/dev/null 2>&1 && break
  sleep 0.2
done
$sudo virsh -c qemu:///system version >/dev/null
echo "vagrant host-setup: libvirt is up ($($sudo virsh -c qemu:///system version | awk '/Running hypervisor/ {print $3, $4}'))"
