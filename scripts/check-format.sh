#!/usr/bin/env bash
# Fails, naming the files, when a tracked C or C++ file differs from what clang-format (the
# repository's .clang-format) makes of it; `make format` fixes them. Usage: check-format.sh [DIR]
set -euo pipefail
cd "${1:-.}"
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')
# One clang-format for all of them; it names each file it would change in its warnings.
if ! out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
  echo "not formatted (run make format):" >&2
  grep -oE '^[^: ]+\.(cpp|hpp|h|c):[0-9]+' <<<"$out" | cut -d: -f1 | sort -u >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
