#!/bin/sh
# Description: pagerctl top draws each client's regions and speaks JSON.
# With tests/layout-prog running: top 1 shows the client and under it a
# bar of each of its two regions (-w cells wide); -j top 2 prints two
# rounds, a JSON object a line, with the memory figures and each region's
# bar and counts of page states; top 0 runs until interrupted; a count
# that is not a number is refused.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

head -c 1000000 /dev/urandom >"$dir/data"
start_layout "$sock" "$dir/data"

"$ctl" -s "$sock" -w 10 top 1 >"$dir/out" || fail "top 1 exited $?"
cat "$dir/out"
grep -Eq "^ *$lpid +layout-prog " "$dir/out" || fail "top does not show the client"
[ "$(grep -Ec '^ +[0-9a-f]{14} \[[.#cDr]{10}\] ' "$dir/out")" = 2 ] ||
    fail "top does not show two bars of 10 cells"
grep -Eq "^ +[0-9a-f]{14} \[D+\] zero-fill$" "$dir/out" ||
    fail "top does not show the copy-on-write region dirty"
grep -Eq "^ +[0-9a-f]{14} \[#[.#c]{9}\] $dir/data$" "$dir/out" ||
    fail "top does not show the file region's first page resident"

"$ctl" -s "$sock" -j top 2 >"$dir/out" || fail "-j top 2 exited $?"
python3 - "$lpid" "$dir/out" <<'PY' || fail "-j top is wrong"
import json, sys
lines = open(sys.argv[2]).read().splitlines()
assert len(lines) == 2, lines
for n, line in enumerate(lines, 1):
    t = json.loads(line)
    assert t["round"] == n and t["memory"]["cache_budget"] > 0, t
    assert "cache_held" in t["memory"] and "cache_evicted" in t["memory"], t
    assert [u["uid"] for u in t["memory"]["cache_users"]] == [0], t
    c = [c for c in t["clients"] if c["pid"] == int(sys.argv[1])]
    assert len(c) == 1 and c[0]["program"] == "layout-prog", t
    assert "faults_per_s" in c[0] and "pages_per_s" in c[0], c
    assert len(c[0]["regions"]) == 2, c
    for r in c[0]["regions"]:
        assert len(r["bar"]) == 40, r
        assert sum(r["counts"].values()) == r["length"] // 4096, r
PY
echo "ok: -j top"

timeout 2.5 "$ctl" -s "$sock" top 0 >"$dir/out"
[ $? -eq 124 ] || fail "top 0 ended by itself"
grep -q "layout-prog" "$dir/out" || fail "top 0 showed nothing"
"$ctl" -s "$sock" top x 2>"$dir/err" && fail "top x exited 0"
grep -q "count x is invalid" "$dir/err" || fail "top x: $(cat "$dir/err")"
echo "ok: top 0 and top x"
exec 7>&-
wait "$lpid"
exit 0
