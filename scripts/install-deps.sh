#!/usr/bin/env bash
# Installs faceau's build and test dependencies from Debian's packages (needs root or sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
      libjpeg62-turbo-dev libpng-dev python3 locales ffmpeg
      # the Python binding (python/faceau) and its tests; Debian's, for /usr/bin/python3
      python3-numpy python3-pandas python3-matplotlib python3-dask python3-distributed
      python3-pytest python3-setuptools python3-venv python3-pip
      # the fuzz targets (scripts/fuzz.sh): clang's libFuzzer
      clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
# tests/test_locale.c runs the number parsing and printing inside a decimal-comma locale
if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
    $sudo localedef -i de_DE -f UTF-8 de_DE.UTF-8
fi
