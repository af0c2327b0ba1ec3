#!/usr/bin/env bash
# bench/timeline.sh: where the time of one `rt run` of /bin/true goes, from
# kernel tracepoints (perf trace: process exec/fork/exit and a few syscalls),
# median of N runs per phase. The phases and what they hold are described in
# bench/TIMELINE.md. Needs root and perf.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
RT=${RT:-$here/../rt}
N=${N:-15}
work=$(mktemp -d /tmp/rt-timeline.XXXXXX)
trap 'rm -rf "$work"' EXIT
RT="$RT" "$here/../tests/lib/mkbundle.sh" "$work/b" /bin/true >/dev/null
cd "$work/b"
events='sched:sched_process_exec,sched:sched_process_fork,sched:sched_process_exit,syscalls:sys_enter_fsopen,syscalls:sys_enter_sendmsg,syscalls:sys_enter_pivot_root'
for i in $(seq "$N"); do
	perf trace -f -e "$events" -- "$RT" --root "$work/st" run "t$i" 2>&1 >/dev/null |
		awk -v run="$i" '
		# fields: time comm/pid event(...)
		{ t = $1; split($2, a, "/"); pid = a[2]; ev = $3 }
		NR == 1 { main = pid }
		ev ~ /sched_process_fork/ && pid == main && !up { up = t }
		ev ~ /sys_enter_fsopen/ && pid == main && !seal { seal = t }
		ev ~ /sched_process_exec/ && $0 ~ /rt init|fd\/[0-9]+"/ && !iexec { iexec = t; ipid = pid }
		ev ~ /sys_enter_sendmsg/ && pid != ipid && !boot && iexec { boot = t }
		ev ~ /sched_process_fork/ && pid == ipid && !ifork { ifork = t }
		ev ~ /sys_enter_pivot_root/ && !pivot { pivot = t }
		ev ~ /sched_process_exec/ && $0 ~ /bin\/true/ { uexec = t }
		ev ~ /sched_process_exit/ && $0 ~ /true\// { uexit = t }
		ev ~ /sched_process_exit/ { done = t } # rt'"'"'s last thread is the last to exit
		END {
			printf "%s %.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f\n", run,
				up, seal - up, iexec - seal, boot - iexec, ifork - boot, pivot - ifork, uexec - pivot, uexit - uexec, done - uexit, done
		}' >>"$work/phases"
done
labels=("Go runtime up (exec to first thread)" "CLI, spec, state dir, cgroup dirs (to exeseal)" "exeseal + start of rt init" "cgroup claim + attach (to bootstrap)" "nsenter: unshare, fork (to init's fork)" "init: Go up, config, mounts (to pivot_root)" "pivot, process set-up, ready, start (to execve)" "/bin/true runs" "reap, delete, exit" "total")
printf 'rt run of /bin/true: median of %d traced runs (ms), load average %s\n' "$N" "$(cut -d' ' -f1-3 /proc/loadavg)"
for k in $(seq 2 11); do
	printf '  %-50s %7.2f\n' "${labels[$((k - 2))]}" "$(cut -d' ' -f"$k" "$work/phases" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')"
done
