#!/usr/bin/env bash
# Installs what the aarch64 cross build and its emulated tests need (scripts/ci-arm64.sh), from
# Debian 12's packages: the cross compiler, the arm64 -dev packages faceau links (Debian's
# multiarch: `dpkg --add-architecture arm64`) and qemu-user to run the arm64 binaries on x86-64.
# Needs root or sudo. The x86-64 dependencies are scripts/install-deps.sh's.
set -euo pipefail
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user cmake pkgconf
      libavformat-dev:arm64 libavcodec-dev:arm64 libswscale-dev:arm64 libavutil-dev:arm64
      libjpeg62-turbo-dev:arm64 libpng-dev:arm64)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
fi
$sudo apt-get update -qq
# --no-install-recommends: the arm64 libraries' recommends (codec plugins, docs) are not needed
# to link and run faceau, and multiarch co-installation of them is where conflicts come from.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
