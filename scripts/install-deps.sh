#!/usr/bin/env bash
# Installs faceau's build and test dependencies from Debian's packages (needs root or sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
      libjpeg62-turbo-dev libpng-dev python3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
