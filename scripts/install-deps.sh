#!/usr/bin/env bash
# Installs the Debian packages isitup needs to build, test and run its development stack.
# Idempotent: installs only what is missing; waits for another apt to release the dpkg lock.
set -euo pipefail

# The package lists are scripts/deps/*.txt (build.txt is also what deploy/Dockerfile installs).
deps_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/deps"
packages=()
for list in "$deps_dir/build.txt" "$deps_dir/dev.txt"; do
  while read -r name _; do
    [[ -z $name || $name == \#* ]] || packages+=("$name")
  done <"$list"
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
