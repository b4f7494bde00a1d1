#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets with clang (ASan + UBSan) in $FUZZ_BUILD_DIR from
# the fuzz preset in CMakePresets.json and runs each for $FUZZ_SECONDS (default 60), one after
# the other, starting from the seed corpus in fuzz/corpus/<target>. New inputs go to
# $FUZZ_BUILD_DIR/corpus/<target> (not the repo); a crash leaves its input in
# $FUZZ_BUILD_DIR/crashes/ and fails the run.
#   FUZZ_TARGETS="codec config"   only these targets
#   FUZZ_JOBS=2                   libFuzzer processes per target (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
targets=${FUZZ_TARGETS:-"config domains codec http_response copy_row"}

# clang and libFuzzer are only needed here, not by the build or the tests.
for p in clang-14 libfuzzer-14-dev; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
      install -y -qq --no-install-recommends clang-14 libfuzzer-14-dev
    break
  fi
done

if [[ ! -f $build/build.ninja ]]; then
  cmake --preset fuzz -B "$build"
fi
cmake --build "$build" --target fuzz_targets --parallel "$(nproc)"

mkdir -p "$build/crashes"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Fork mode: a crash, timeout or out-of-memory input is saved and the run goes on, so one
# finding does not hide the next.
findings=()
for t in $targets; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  extra=()
  [[ -f fuzz/dict/$t.dict ]] && extra+=(-dict="fuzz/dict/$t.dict")
  before=$(find "$build/crashes" -name "$t-*" | wc -l)
  echo "== fuzz_$t for ${seconds}s"
  "$build/bin/fuzz_$t" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_funcs=0 \
    -artifact_prefix="$build/crashes/$t-" "${extra[@]}" "$work" "fuzz/corpus/$t" 2>&1 |
    grep -vE '^#[0-9]+' || true
  after=$(find "$build/crashes" -name "$t-*" | wc -l)
  ((after > before)) && findings+=("$t: $((after - before))")
done
if ((${#findings[@]})); then
  echo "fuzz: new findings (${findings[*]}); inputs in $build/crashes/" >&2
  exit 1
fi
echo "fuzz: ${targets// /, }: nothing found in ${seconds}s each"
