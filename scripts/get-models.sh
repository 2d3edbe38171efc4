#!/usr/bin/env bash
# get-models.sh - installs OpenFace's model files where faceau looks for them.
#
#   scripts/get-models.sh --from DIR   copy from a local OpenFace checkout or model folder
#   scripts/get-models.sh              download them from OpenFace's public GitHub repository
#   options: --dest DIR (default: ${XDG_DATA_HOME:-~/.local/share}/faceau/models)
#
# Either way every file is checked against scripts/models.sha256; a missing or differing
# file is named and the script fails. The models are OpenFace's, under OpenFace's licence
# (academic, non-commercial use): faceau never bundles them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sums="$here/models.sha256"
dest="${XDG_DATA_HOME:-$HOME/.local/share}/faceau/models"
from=""
repo_url="https://raw.githubusercontent.com/TadasBaltrusaitis/OpenFace/master"

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --from) from="${2:?--from needs a directory}"; shift 2 ;;
    --dest) dest="${2:?--dest needs a directory}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "get-models.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

# Where a model file lives in an OpenFace source tree.
openface_path() {
  case "$1" in
    AU_predictors/*) echo "lib/local/FaceAnalyser/$1" ;;
    *) echo "lib/local/LandmarkDetector/model/$1" ;;
  esac
}

# Finds one model file under --from: a model folder in faceau's layout, OpenFace's
# model/ folder next to an AU_predictors folder, or a whole OpenFace checkout.
find_source() {
  local rel="$1" c
  for c in "$from/$rel" "$from/$(openface_path "$rel")" "$from/../$rel" \
           "$from/../../FaceAnalyser/$rel" "$from/../../LandmarkDetector/model/$rel"; do
    [ -f "$c" ] && { echo "$c"; return 0; }
  done
  return 1
}

tmp="$dest.partial.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
missing=0
while read -r sum rel; do
  mkdir -p "$tmp/$(dirname "$rel")"
  if [ -n "$from" ]; then
    if ! src=$(find_source "$rel"); then
      echo "missing: $rel (not found under $from)" >&2; missing=1; continue
    fi
    cp "$src" "$tmp/$rel"
  else
    if ! curl -fsSL "$repo_url/$(openface_path "$rel")" -o "$tmp/$rel"; then
      echo "missing: $rel (download of $repo_url/$(openface_path "$rel") failed)" >&2; missing=1; continue
    fi
  fi
done < "$sums"
[ "$missing" = 0 ] || { echo "get-models.sh: some model files are missing; nothing installed" >&2; exit 1; }

if ! (cd "$tmp" && sha256sum --quiet -c "$sums" >/dev/null 2>&1); then
  (cd "$tmp" && sha256sum -c "$sums" 2>/dev/null | grep -v ': OK$' | sed 's/^/differs: /' >&2) || true
  echo "get-models.sh: some model files differ from OpenFace 2.2's; nothing installed" >&2
  exit 1
fi

mkdir -p "$(dirname "$dest")"
rm -rf "$dest.old.$$"
[ -e "$dest" ] && mv "$dest" "$dest.old.$$"
mv "$tmp" "$dest"
rm -rf "$dest.old.$$"
trap - EXIT
echo "installed $(wc -l < "$sums") OpenFace model files into $dest"
