#!/usr/bin/env bash
# bench/run.sh: median wall time and peak RSS of a `run` + `delete` cycle of
# /bin/true, for rt and for Debian's runc, measured interleaved in one run
# (so both see the same machine load), then their ratios.
set -euo pipefail
RT=${RT:-$(cd "$(dirname "$0")/.." && pwd)/rt}
RUNC=${RUNC:-$(command -v runc || true)}
N=${N:-30}
[ -x "$RUNC" ] || { echo "bench: runc not found (make bench installs it)" >&2; exit 1; }
work=$(mktemp -d /tmp/rt-bench.XXXXXX)
trap 'for r in "$RT" "$RUNC"; do "$r" --root "$work/state-$(basename "$r")" delete -f bench-$$ >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
"$(dirname "$0")/../tests/lib/mkbundle.sh" "$work/bundle" /bin/true >/dev/null
cd "$work/bundle"

# one RUNTIME: prints "<seconds> <peak KiB>" for run+delete.
cycle() {
	local rt=$1 root="$work/state-$(basename "$1")" id="bench-$$" t0 t1 kb
	t0=$(date +%s%N)
	kb=$(/usr/bin/time -f %M "$rt" --root "$root" run "$id" 2>&1 >/dev/null | tail -1)
	"$rt" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
	t1=$(date +%s%N)
	echo "$(( (t1 - t0) / 1000 )) $kb"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

: >"$work/rt.txt"; : >"$work/runc.txt"
for _ in 1 2 3; do cycle "$RT" >/dev/null; cycle "$RUNC" >/dev/null; done # warm caches
for _ in $(seq "$N"); do
	cycle "$RT" >>"$work/rt.txt"
	cycle "$RUNC" >>"$work/runc.txt"
done
rt_us=$(cut -d' ' -f1 "$work/rt.txt" | median)
runc_us=$(cut -d' ' -f1 "$work/runc.txt" | median)
rt_kb=$(cut -d' ' -f2 "$work/rt.txt" | sort -n | tail -1)
runc_kb=$(cut -d' ' -f2 "$work/runc.txt" | sort -n | tail -1)
printf 'run+delete of /bin/true, median of %d interleaved cycles (%s)\n' "$N" "$("$RUNC" --version | head -1)"
awk -v a="$rt_us" -v b="$runc_us" -v ka="$rt_kb" -v kb="$runc_kb" 'BEGIN {
	printf "  %-6s %8.2f ms   peak RSS %6d KiB\n", "rt", a / 1000, ka
	printf "  %-6s %8.2f ms   peak RSS %6d KiB\n", "runc", b / 1000, kb
	printf "  ratio rt/runc: time %.2f, memory %.2f\n", a / b, ka / kb
}'
