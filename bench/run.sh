#!/usr/bin/env bash
# bench/run.sh: rt against runc and crun, measured interleaved in one run (so
# all three see the same machine load), medians of N samples, then the
# ratios and the targets of issue 14 (see bench/TIMELINE.md):
#   run+delete of /bin/true        rt <= 0.6x runc wall, and below crun
#   peak RSS of `run` (GNU %M)     rt <= 6 MiB
#   create+start+delete            printed as its own line
#   exec of true in a container    rt <= 0.6x runc exec
#   P containers in parallel       total wall and per-container cost, P = 10, 100
# Nothing here asserts: it prints. A runtime that is missing is skipped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
RT=${RT:-$here/../rt}
RUNC=${RUNC:-$(command -v runc || true)}
CRUN=${CRUN:-$(command -v crun || true)}
N=${N:-25}             # samples of each sequential measurement
PAR=${PAR:-"10 100"}   # sizes of the parallel batches
PAR_ROUNDS=${PAR_ROUNDS:-3}
[ -x "$RT" ] || { echo "bench: $RT missing (make rt)" >&2; exit 1; }
[ -x "$RUNC" ] || { echo "bench: runc not found (make deps installs it)" >&2; exit 1; }
# crun 1.8 refuses a hybrid host whose cgroup2 hierarchy has controllers
# ("cgroups in hybrid mode not supported"; hugetlb here) and runs nothing.
# The bench then runs, all three runtimes alike, in a private mount
# namespace without the /sys/fs/cgroup/unified mount: a plain cgroup v1
# host, on which crun makes v1 cgroups as rt and runc do.
if [ -x "$CRUN" ] && [ -z "${RT_BENCH_NS:-}" ] && grep -qs . /sys/fs/cgroup/unified/cgroup.controllers; then
	exec env RT_BENCH_NS=1 unshare -m --propagation private "$0" "$@"
fi
if [ -n "${RT_BENCH_NS:-}" ]; then
	umount -l /sys/fs/cgroup/unified
fi
names=(rt runc)
bins=("$RT" "$RUNC")
if [ -x "$CRUN" ]; then names+=(crun); bins+=("$CRUN"); fi

work=$(mktemp -d /tmp/rt-bench.XXXXXX)
cleanup() {
	local i id
	for i in "${!names[@]}"; do
		for id in $("${bins[$i]}" --root "$work/state-${names[$i]}" list -q 2>/dev/null); do
			"${bins[$i]}" --root "$work/state-${names[$i]}" delete -f "$id" >/dev/null 2>&1 || true
		done
	done
	rm -rf "$work"
}
trap cleanup EXIT

# One rootfs; a bundle per runtime and program. crun 1.8 refuses a config
# newer than the runtime-spec it knows, so its configs say 1.0.2.
RT="$RT" "$here/../tests/lib/mkbundle.sh" "$work/base" /bin/true >/dev/null
bundle() { # NAME RUNTIME ARGS_JSON
	mkdir -p "$work/$1"
	local v='.ociVersion'
	[ "$2" = crun ] && v='"1.0.2"'
	jq --arg r "$work/base/rootfs" --argjson a "$3" ".ociVersion = $v | .root.path = \$r | .process.args = \$a" \
		"$work/base/config.json" >"$work/$1/config.json"
}
for n in "${names[@]}"; do
	bundle "true-$n" "$n" '["/bin/true"]'
	bundle "sleep-$n" "$n" '["/bin/sleep","100000"]'
done

# Each binary is loaded as after a reboot: a freshly linked rt sits in the
# page cache in larger folios than an installed runc, and the kernel maps a
# whole folio on a fault, which inflates peak RSS by ~3 MiB.
for b in "${bins[@]}"; do sync "$b" 2>/dev/null || true; dd if="$b" iflag=nocache count=0 status=none 2>/dev/null || true; done

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# run+delete: "<us> <peak KiB>".
cycle_run() {
	local i=$1 id=$2 root="$work/state-${names[$1]}" t0 t1 kb
	cd "$work/true-${names[$i]}"
	t0=$(now)
	kb=$(/usr/bin/time -f %M "${bins[$i]}" --root "$root" run "$id" 2>&1 >/dev/null | tail -1)
	"${bins[$i]}" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
	t1=$(now)
	echo "$(((t1 - t0) / 1000)) $kb"
}
# create+start+delete (the container exits by itself; delete reaps it).
cycle_csd() {
	local i=$1 id=$2 b=${bins[$1]} root="$work/state-${names[$1]}" t0 t1
	t0=$(now)
	"$b" --root "$root" create --bundle "$work/true-${names[$i]}" "$id" </dev/null >/dev/null 2>&1
	"$b" --root "$root" start "$id" >/dev/null 2>&1
	"$b" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
	t1=$(now)
	echo $(((t1 - t0) / 1000))
}
cycle_exec() {
	local i=$1 t0 t1
	t0=$(now)
	"${bins[$i]}" --root "$work/state-${names[$i]}" exec bench-sleep /bin/true </dev/null >/dev/null 2>&1
	t1=$(now)
	echo $(((t1 - t0) / 1000))
}
# P runs of /bin/true started at once from a shell loop; wall time until the
# last has exited (each run deletes its container on exit).
batch() {
	local i=$1 p=$2 tag=$3 b=${bins[$1]} root="$work/state-${names[$1]}" t0 t1 k
	cd "$work/true-${names[$i]}"
	t0=$(now)
	for k in $(seq "$p"); do "$b" --root "$root" run "p$tag-$k" </dev/null >/dev/null 2>&1 & done
	wait
	t1=$(now)
	for k in $(seq "$p"); do "$b" --root "$root" delete -f "p$tag-$k" >/dev/null 2>&1 || true; done
	echo $(((t1 - t0) / 1000))
}

load() { cut -d' ' -f1-3 /proc/loadavg; }
load0=$(load)
for i in "${!names[@]}"; do : >"$work/run-$i"; : >"$work/csd-$i"; : >"$work/exec-$i"; done
for w in 1 2 3; do for i in "${!names[@]}"; do cycle_run "$i" "warm-$w" >/dev/null; done; done
for s in $(seq "$N"); do
	for i in "${!names[@]}"; do cycle_run "$i" "r$s" >>"$work/run-$i"; done
	for i in "${!names[@]}"; do cycle_csd "$i" "c$s" >>"$work/csd-$i"; done
done
for i in "${!names[@]}"; do
	cd "$work/sleep-${names[$i]}"
	"${bins[$i]}" --root "$work/state-${names[$i]}" run -d bench-sleep </dev/null >/dev/null 2>&1
	cycle_exec "$i" >/dev/null
done
for s in $(seq "$N"); do for i in "${!names[@]}"; do cycle_exec "$i" >>"$work/exec-$i"; done; done
for i in "${!names[@]}"; do "${bins[$i]}" --root "$work/state-${names[$i]}" delete -f bench-sleep >/dev/null 2>&1 || true; done
for p in $PAR; do
	for i in "${!names[@]}"; do : >"$work/par$p-$i"; done
	for r in $(seq "$PAR_ROUNDS"); do
		for i in "${!names[@]}"; do batch "$i" "$p" "$p-$r" >>"$work/par$p-$i"; done
	done
done
load1=$(load)

med() { cut -d' ' -f"${2:-1}" "$1" | median; }
printf 'rt against %s' "$("$RUNC" --version | head -1)"
[ -x "$CRUN" ] && printf ' and %s' "$("$CRUN" --version | head -1)"
printf '\n%s cores, load average %s at start, %s at end; medians of %d interleaved samples (parallel: %d rounds);\nratios are medians of the side-by-side pairs\n' \
	"$(nproc)" "$load0" "$load1" "$N" "$PAR_ROUNDS"
[ -n "${RT_BENCH_NS:-}" ] && echo "(in a mount namespace without /sys/fs/cgroup/unified, so that crun runs: all three make v1 cgroups)"
# pairratio A B FIELD: the median of the ratios of the samples taken side by
# side (sample k of A over sample k of B), which load that drifts during the
# run moves far less than the ratio of the two medians.
pairratio() {
	paste -d' ' <(cut -d' ' -f"$3" "$1") <(cut -d' ' -f"$3" "$2") | awk '$2 > 0 {print $1 / $2}' | median
}
# line LABEL UNIT SCALE TARGET FILE-PREFIX [FIELD]: one figure (median) per
# runtime, the ratios rt/runc and rt/crun (pairratio), the target.
line() {
	local label=$1 unit=$2 scale=$3 target=$4 f=$5 field=${6:-1} i vals=() r1 r2=""
	for i in "${!names[@]}"; do vals+=("$(med "$work/$f-$i" "$field")"); done
	r1=$(pairratio "$work/$f-0" "$work/$f-1" "$field")
	[ -n "${vals[2]:-}" ] && r2=$(pairratio "$work/$f-0" "$work/$f-2" "$field")
	awk -v label="$label" -v unit="$unit" -v scale="$scale" -v target="$target" -v crun="${vals[2]:-}" \
		-v rt="${vals[0]}" -v runc="${vals[1]}" -v r1="$r1" -v r2="$r2" 'BEGIN {
		c = (crun == "") ? "-" : sprintf("%.2f", crun / scale)
		rc = (r2 == "") ? "-" : sprintf("%.2f", r2)
		printf "  %-34s %9.2f %9.2f %9s %8.2f %8s   %s\n", label " (" unit ")", rt / scale, runc / scale, c, r1, rc, target
	}'
}
printf '  %-34s %9s %9s %9s %8s %8s   %s\n' "" rt runc crun rt/runc rt/crun target
line "run+delete of /bin/true" ms 1000 "rt <= 0.60x runc, rt < crun" run
line "peak RSS of run" MiB 1024 "rt <= 6 MiB" run 2
line "create+start+delete" ms 1000 "improves in step" csd
line "exec of true, running container" ms 1000 "rt <= 0.60x runc" exec
for p in $PAR; do
	line "$p in parallel: total" ms 1000 "" "par$p"
	line "$p in parallel: per container" ms $((1000 * p)) "flat from 10 to 100" "par$p"
done
# How the per-container cost grows from the smallest to the largest batch
# (1.00: flat).
set -- $PAR
if [ $# -ge 2 ]; then
	lo=$1 hi=${!#}
	vals=()
	for i in "${!names[@]}"; do
		vals+=("$(awk -v a="$(med "$work/par$hi-$i")" -v b="$(med "$work/par$lo-$i")" -v hi="$hi" -v lo="$lo" 'BEGIN {printf "%.2f", (a / hi) / (b / lo)}')")
	done
	printf '  %-34s %9s %9s %9s %8s %8s   %s\n' "per-container cost, $hi vs $lo (x)" "${vals[0]}" "${vals[1]}" "${vals[2]:--}" "" "" "flat: about 1.00"
fi
