#!/usr/bin/env bash
# lint.sh: clang-format conformance and the banned-function list, over every C source we own.
# Generated files are formatted by their generator and checked like the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -v -E '^(build|tests/e2e/node_modules)/' || true)
[ ${#files[@]} -gt 0 ] || { echo "lint: no sources"; exit 0; }
fail=0
if command -v clang-format >/dev/null; then
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
      echo "lint: $f is not clang-formatted (run: clang-format -i $f)"
      fail=1
    fi
  done
else
  echo "lint: clang-format not installed (scripts/install-deps.sh installs it)"; fail=1
fi
# Unbounded or non-reentrant calls we never use: strcpy, strcat, sprintf, vsprintf, strtok, atoi, atol, gets.
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets)[[:space:]]*\('
if grep -n -E "$banned" "${files[@]}" | grep -v -E '^\S+:[0-9]+:\s*(//|\*|/\*)'; then
  echo "lint: banned function used (see the list in scripts/lint.sh)"
  fail=1
fi
[ $fail -eq 0 ] && echo "lint: ${#files[@]} files clean"
exit $fail
