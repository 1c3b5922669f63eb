#!/usr/bin/env bash
# Removes guest images (with their saved guest states, ~330 MB each) that no run has used for
# more than POWERCUT_IMAGE_KEEP_DAYS whole days (default 14).
# Usage: prune-images.sh CACHE_ROOT KEEP_DIR.
# Candidates are only directories directly under CACHE_ROOT named like an image key (16 hex
# digits) and holding the image.info that build-image.sh writes; KEEP_DIR (the image in use
# now) never is. build-image.sh touches an image's directory whenever it hands it out, so an
# image another checkout still uses is kept.
set -euo pipefail
cache_root=$1
keep=$2
days=${POWERCUT_IMAGE_KEEP_DAYS:-14}
[[ $days =~ ^[0-9]+$ ]] || { echo "prune-images: POWERCUT_IMAGE_KEEP_DAYS=$days is not a number of days" >&2; exit 2; }
[[ -d $cache_root ]] || exit 0
find "$cache_root" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
  -regex '.*/[0-9a-f]{16}' -mtime "+$days" -print0 |
  while IFS= read -r -d '' dir; do
    [[ $(readlink -f "$dir") == $(readlink -f "$keep") ]] && continue
    [[ -f $dir/image.info ]] || continue # not an image this script built
    # Best effort: a prune running at the same time may be removing it too.
    if rm -rf -- "$dir" 2>/dev/null; then
      echo "prune-images: removed $dir (unused for over $days days)" >&2
    fi
  done
exit 0
