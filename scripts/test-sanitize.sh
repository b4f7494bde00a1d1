#!/usr/bin/env bash
# `make test-sanitize`: tests again in a build instrumented by sanitizers, in a build folder of
# its own, building only what those tests need (the presets in CMakePresets.json). Any
# sanitizer report stops the test process and fails the run.
#   SANITIZE=address,undefined (default): ASan + UBSan in build-asan/, the unit tests and the
#     fuzz corpus replay (`ctest -L 'unit|fuzz'`).
#     Built with -O1 -g1 (the preset): half the compile CPU of RelWithDebInfo's -O2 -g and
#     objects under half the size, while reports still name file:line (line tables). Asserts
#     are on (no -DNDEBUG) and compiler warnings fail the build (ISITUP_WERROR).
#   SANITIZE=thread: TSan in build-tsan/, the pipeline, scheduler and timer unit tests and the
#     agent and reload tests (real agents on 127.0.0.1) and the alert tracker (also with a state
#     sink), each binary run whole.
# `test-sanitize.sh build` only configures and builds (CI starts that at the lowest priority
# while the normal suite runs, then runs this script again for the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
case ${SANITIZE:-address,undefined} in
  address,undefined) preset=asan-ubsan ;;
  thread) preset=tsan ;;
  *) echo "test-sanitize: SANITIZE is address,undefined or thread" >&2; exit 2 ;;
esac

# Configured every time (the folder is the preset's binaryDir, build-asan/ for asan-ubsan), so a
# build folder from before a change of the preset gets its flags.
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --parallel "$jobs"
[[ ${1:-} == build ]] && exit 0

if [[ $preset == asan-ubsan ]]; then
  ctest --preset asan-ubsan --parallel "$jobs"
  exit
fi
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
failed=()
for t in pipeline_test scheduler_test timer_wheel_test recurring_timer_test agent_test reload_test \
  alert_tracker_test alert_tracker_state_test; do
  echo "== $t"
  filter=()
  # Under gcc 12's TSan runtime a thread librdkafka starts inside a dlopen'ed plugin crashes in
  # the runtime's allocator on its first TLS access (not in our code), so the example configs
  # that create kafka_sink instances are validated by the normal build only.
  [[ $t == agent_test ]] && filter=(--gtest_filter=-agent.every_example_config_validates)
  "build-tsan/bin/$t" --gtest_brief=1 "${filter[@]}" || failed+=("$t")
done
if ((${#failed[@]})); then
  echo "test-sanitize: failed under TSan: ${failed[*]}" >&2
  exit 1
fi
