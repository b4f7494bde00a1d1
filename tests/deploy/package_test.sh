#!/usr/bin/env bash
# Builds the .deb with CPack from a finished build folder and checks what it holds and needs.
set -euo pipefail
build=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || { cat "$out/cpack.log"; exit 1; }
deb=$(ls "$out"/isitup_*.deb)
contents=$(dpkg-deb -c "$deb")
fail=0
for f in ./usr/bin/isitup-agent ./usr/lib/isitup/plugins/stdout_sink.so \
         ./usr/include/isitup/plugin.h ./usr/include/isitup/plugin.hpp \
         ./usr/lib/cmake/isitup_sdk/isitup_sdkConfig.cmake \
         ./usr/lib/systemd/system/isitup-agent.service; do
  grep -q " $f\$" <<<"$contents" || { echo "missing from the package: $f"; fail=1; }
done
if grep -q "test-plugins\|bench-plugins\|/test_plugin_\|good_cpp" <<<"$contents"; then
  echo "test-only files in the package:"; grep "test-plugins\|bench-plugins\|good_cpp" <<<"$contents"; fail=1
fi
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libyaml-cpp libspdlog; do
  grep -q "$lib" <<<"$depends" || { echo "Depends lacks $lib: $depends"; fail=1; }
done
[[ $fail == 0 ]] && echo "package ok: $(basename "$deb") ($(wc -l <<<"$contents") entries); Depends: $depends"
exit $fail
