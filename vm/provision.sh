#!/usr/bin/env bash
# Provisions the Vagrant box (Debian 12) as a powercut target: the same tools the embedded
# guest has, and node (Debian's nodejs 18 runs the bundled engines; the addon is Node-API, whose
# ABI is stable across Node versions, so the host's build loads there too).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends dmsetup util-linux e2fsprogs xfsprogs btrfs-progs \
  nodejs psmisc >/dev/null
modprobe dm-flakey
modprobe dm-log-writes || true
grep -q dm-flakey /etc/modules || printf 'dm-flakey\ndm-log-writes\n' >>/etc/modules
dmsetup targets | grep -q flakey && echo "provision: dm-flakey ready"
