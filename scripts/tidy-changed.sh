#!/usr/bin/env bash
# clang-tidy (the committed .clang-tidy) on only what a contributor changed: the C and C++ files
# that differ from the branch point with TIDY_BASE (main), committed, staged, unstaged or new.
# A changed source is checked as compiled (BUILD_DIR's compile_commands.json: configuring is
# enough, no build needed); a changed header through one source of the build that includes it
# (its findings show through any of them). Fails when clang-tidy reports anything.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
build_dir=${BUILD_DIR:-build}
base=${TIDY_BASE:-main}
jobs=${JOBS:-$(nproc)}
db="$build_dir/compile_commands.json"
[[ -f $db ]] || { echo "tidy-changed: no $db (run make configure first)" >&2; exit 2; }

fork=$(git merge-base "$base" HEAD)
mapfile -t changed < <({
  git diff --name-only --diff-filter=d "$fork"
  git ls-files --others --exclude-standard
} | grep -E '\.(c|cc|cpp|h|hpp)$' | sort -u)
if ((${#changed[@]} == 0)); then
  echo "tidy-changed: no C or C++ file changed against $base"
  exit 0
fi

# The sources the build compiles, as the relative paths git gives.
root=$PWD
mapfile -t compiled < <(python3 -c '
import json, os, sys
seen = set()
for e in json.load(open(sys.argv[1])):
    path = os.path.relpath(os.path.join(e["directory"], e["file"]), sys.argv[2])
    if path not in seen:
        seen.add(path)
        print(path)
' "$db" "$root")

declare -A is_compiled=()
for f in "${compiled[@]}"; do is_compiled[$f]=1; done
declare -A units=()
for f in "${changed[@]}"; do
  if [[ $f =~ \.(c|cc|cpp)$ ]]; then
    if [[ -n ${is_compiled[$f]:-} ]]; then
      units[$f]=1
    else
      echo "tidy-changed: $f is not compiled by $build_dir, skipped"
    fi
    continue
  fi
  # Its own source first, then sources near it: a name like config.hpp is not unique.
  name=$(basename "$f")
  dir=$(dirname "$f")
  own=()
  for ext in cpp cc c; do [[ -n ${is_compiled[${f%.*}.$ext]:-} ]] && own+=("${f%.*}.$ext"); done
  mapfile -t near < <(printf '%s\n' "${compiled[@]}" | awk -v d="${dir%%/include/*}/" 'index($0, d) == 1')
  includer=""
  for s in "${own[@]}" "${near[@]}" "${compiled[@]}"; do
    if grep -qE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]([^\">]*/)?${name//./\\.}[\">]" "$s" 2>/dev/null; then
      includer=$s
      break
    fi
  done
  if [[ -n $includer ]]; then
    units[$includer]=1
  else
    echo "tidy-changed: no source of $build_dir includes $f directly, skipped"
  fi
done
((${#units[@]} > 0)) || exit 0

echo "tidy-changed: ${!units[*]}"
mapfile -t patterns < <(printf '%s\n' "${!units[@]}" | sed -e 's/[.+]/\\&/g' -e "s|^|^$root/|" -e 's/$/$/')
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run-clang-tidy -p "$build_dir" -j "$jobs" -quiet "${patterns[@]}" 2>&1 | tee "$log" || true
if grep -qE '(warning|error): ' "$log"; then
  echo "tidy-changed: clang-tidy reported findings (above)" >&2
  exit 1
fi
echo "tidy-changed: clean"
