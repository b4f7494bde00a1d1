#!/usr/bin/env bash
# The Debian package lists scripts/deps/*.txt are the one place packages are named:
# scripts/install-deps.sh and deploy/Dockerfile read them and name none themselves, and every
# name is a package apt knows. Usage: package_lists_test.sh SOURCE_DIR
set -euo pipefail
src=${1:?source dir}
fail=0
problem() { echo "package lists: $*" >&2; fail=1; }

names=()
for list in "$src/scripts/deps/build.txt" "$src/scripts/deps/dev.txt"; do
  while read -r name extra; do
    [[ -z $name || $name == \#* ]] && continue
    [[ -z $extra ]] || problem "$list: one package a line, comments on lines of their own: '$name $extra'"
    [[ $name =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || problem "$list: '$name' is not a Debian package name"
    names+=("$name")
  done <"$list"
done
((${#names[@]} > 10)) || problem "only ${#names[@]} packages read"
dups=$(printf '%s\n' "${names[@]}" | sort | uniq -d)
[[ -z $dups ]] || problem "listed twice: $dups"

grep -q '^COPY scripts/deps/build.txt ' "$src/deploy/Dockerfile" ||
  problem "deploy/Dockerfile does not install scripts/deps/build.txt"
grep -q 'scripts/deps\|deps_dir' "$src/scripts/install-deps.sh" ||
  problem "scripts/install-deps.sh does not read scripts/deps"
# The words of every apt-get install command (continuation lines joined, comments dropped).
installed_words() {
  sed -e 's/#.*//' "$1" | sed -e ':a' -e '/\\$/N' -e 's/\\\n/ /' -e 'ta' |
    grep 'apt-get.* install' | tr -s ' \t&;|' '\n'
}
for file in deploy/Dockerfile scripts/install-deps.sh; do
  while read -r word; do
    # The runtime image installs only the agent's .deb, and the CA certificates it verifies with.
    [[ $file == deploy/Dockerfile && $word == ca-certificates ]] && continue
    for name in "${names[@]}"; do
      [[ $word == "$name" ]] && problem "$file installs $name itself; name it in scripts/deps/*.txt"
    done
  done < <(installed_words "$src/$file")
done
# One apt-cache call for all (each call reads the whole cache); it leaves out what it does not
# know, or knows only as a virtual package with no candidate.
known=$(apt-cache policy "${names[@]}" 2>/dev/null |
  awk '/^[^ ].*:$/ {name = substr($0, 1, length($0) - 1)} /Candidate: [^(]/ {print name}')
for name in "${names[@]}"; do
  grep -qxF "$name" <<<"$known" || problem "apt has no package '$name'"
done
exit $fail
