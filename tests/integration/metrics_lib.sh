# metrics_lib.sh: scraping a pod started by lib.sh's start_pod, and the checks every scrape of
# the gateway must pass (sourced by test_metrics_lint.sh and test_prometheus.sh).

PENDING_RENAMES="$ROOT/tests/deploy/pending_renames.tsv"

# admin_port STAGE [POD_OUT]: the admin port run.sh printed (in POD_OUT, default the last pod
# started) for registry, bridge, core (core-0) or edge
admin_port() {
  grep -o "$1 :[0-9]*" "${2:-$POD_OUT}" | head -1 | grep -o '[0-9]*$'
}

# scrape_stages DIR [POD_OUT]: GET /metrics of the four stages into DIR/<stage>.prom
scrape_stages() {
  local dir="$1" s
  mkdir -p "$dir"
  for s in edge core bridge registry; do
    curl -sf --max-time 5 "http://127.0.0.1:$(admin_port $s "${2:-$POD_OUT}")/metrics" >"$dir/$s.prom" ||
      fail "GET /metrics of $s failed"
  done
}

# lint_metrics FILE...: `promtool check metrics` on each exposition must report nothing, except
# for a metric whose rename is pending (tests/deploy/pending_renames.tsv); a pending rename whose
# old name is no longer complained about (it was made) fails too, so that its line is removed.
lint_metrics() {
  local f line name complained="" bad=0
  local -a olds
  mapfile -t olds < <(grep -v '^#' "$PENDING_RENAMES" | cut -f1 | grep .)
  for f in "$@"; do
    while IFS= read -r line; do
      [ -n "$line" ] || continue
      name="${line%% *}"
      if printf '%s\n' "${olds[@]}" | grep -qx -- "$name"; then
        echo "note: $(basename "$f"): $line (rename pending: tests/deploy/pending_renames.tsv)"
        complained="$complained $name"
      else
        echo "FAIL: $(basename "$f"): promtool check metrics: $line" >&2
        bad=1
      fi
    done < <(promtool check metrics <"$f" 2>&1 || true)
  done
  for name in "${olds[@]}"; do
    if ! grep -q "^# TYPE $name " "$@"; then
      echo "FAIL: $name is no longer exported: the rename is made, remove it from tests/deploy/pending_renames.tsv" >&2
      bad=1
    elif [[ " $complained " != *" $name "* ]] &&
      grep -v '^#' "$PENDING_RENAMES" | grep -q "^$name	[^	]*	promtool"; then
      echo "FAIL: promtool no longer complains about $name: remove it from tests/deploy/pending_renames.tsv" >&2
      bad=1
    fi
  done
  [ $bad -eq 0 ] || fail "promtool check metrics found problems"
  ok "promtool check metrics: nothing to report on $(basename -a "$@" | tr '\n' ' ')(pending renames aside)"
}

# check_metrics_documented FILE...: every exported family is in docs/operations.md
check_metrics_documented() {
  python3 "$ROOT/tests/integration/metrics_doc.py" "$ROOT/docs/operations.md" "$PENDING_RENAMES" "$@" ||
    fail "docs/operations.md does not document every exported metric"
}
