#!/usr/bin/env bash
# Installs the Debian packages the tests need (listed in scripts/debian-packages.txt, one a line,
# '#' comments) when any is missing: `make venv` calls it, so a fresh machine and CI get them.
# Needs root (or sudo) and Debian's apt; elsewhere it names what to install and fails.
set -euo pipefail
cd "$(dirname "$0")"
mapfile -t wanted < <(sed 's/#.*//; s/[[:space:]]*$//; /^$/d' debian-packages.txt)
[ ${#wanted[@]} -gt 0 ] || exit 0
missing=()
for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
[ ${#missing[@]} -gt 0 ] || exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    echo "Install these Debian packages first: ${missing[*]}" >&2; exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
"${sudo[@]}" apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
