#!/usr/bin/env bash
# Installs the Debian packages isitup needs to build, test and run its development stack.
# Idempotent: installs only what is missing; waits for another apt to release the dpkg lock.
set -euo pipefail

packages=(
  g++ make cmake ninja-build pkg-config clang-format
  libboost-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev rapidjson-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  librdkafka-dev libpqxx-dev libpq-dev libcurl4-openssl-dev libc-ares-dev libre2-dev libssl-dev
  libidn2-dev libhttp-parser-dev libcpp-httplib-dev
  postgresql nginx-light dnsmasq-base openssl ca-certificates wrk kcat python3-kafka python3-lz4
  python3-prometheus-client
  docker-compose dpkg-dev file
  zlib1g-dev chromium-headless-shell
)

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
