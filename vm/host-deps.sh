#!/usr/bin/env bash
# Installs, from Debian packages, what the host needs to build and boot the embedded guest.
# Idempotent: installs only what is missing (a no-op in well under a second when all is there).
set -euo pipefail
pkgs=(qemu-system-x86 busybox-static dmsetup util-linux e2fsprogs xfsprogs btrfs-progs
  e2fsck-static # e2fsck without the dynamic loader at each start: the guest's, the host screen's
  dropbear-bin psmisc openssh-client cpio kmod gzip xz-utils make gcc libc6-dev liburing-dev
  libsqlite3-dev liblmdb-dev) # the last two: the SQLite and LMDB adapters (examples/)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "host-deps: all present"
  exit 0
fi
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "host-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "host-deps: done"
