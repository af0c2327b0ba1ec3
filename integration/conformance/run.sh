#!/usr/bin/env bash
# Runs the OCI runtime-tools validation suite (v0.9.0) against rt and runc.
#
#   integration/conformance/run.sh                 # rt and runc, all 58 programs
#   RUNTIMES=rt PROGRAMS="create kill" run.sh      # quick rerun
#
# Environment:
#   RUNTIMES   runtimes to run, in order (default "runc rt"); "rt" is $RT_BIN,
#              "runc" is Debian's runc (installed with apt-get when missing),
#              anything else is looked up in PATH.
#   RT_BIN     rt binary (default: <repo>/rt, built with `go build` if missing)
#   PROGRAMS   space- or comma-separated program names (default: all)
#   TIMEOUT    seconds per program (default 60)
#   KEEP_WORK  1 = keep the per-program working directories
#
# Exit status: 0 when every failing assertion of rt is listed in
# known-failures.txt (and every program that passes with runc passes with rt),
# 1 otherwise, 2 on a usage or build error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=$HERE/build
BIN=$BUILD/bin
RESULTS=$BUILD/results
KNOWN=$HERE/known-failures.txt
SUITE_MODULE=github.com/opencontainers/runtime-tools

RUNTIMES=${RUNTIMES:-runc rt}
RUNTIMES=${RUNTIMES//,/ }
PROGRAMS=${PROGRAMS:-}
PROGRAMS=${PROGRAMS//,/ }
TIMEOUT=${TIMEOUT:-60}
RT_BIN=${RT_BIN:-$REPO/rt}
KEEP_WORK=${KEEP_WORK:-0}

log() { printf '%s\n' "$*" >&2; }
die() { log "conformance: $*"; exit 2; }

[[ $(id -u) -eq 0 ]] || die "must run as root (the suite creates containers, cgroups and mounts)"

# One conformance run at a time on this machine: the suite uses fixed cgroup
# paths (/cgrouptest, <own cgroup>/testdir/...), two runs would collide.
LOCK=/run/rt-conformance.lock
exec 9>"$LOCK"
if ! flock -n 9; then
	log "conformance: waiting for another run to finish ($LOCK)"
	flock 9
fi

# ---------------------------------------------------------------- build suite
build_suite() {
	local stamp=$BIN/.stamp
	if [[ -f $stamp && $stamp -nt $HERE/go.mod && $stamp -nt $HERE/go.sum && -f $BUILD/rootfs-amd64.tar.gz ]]; then
		return 0
	fi
	log "conformance: building $SUITE_MODULE validation programs and runtimetest"
	mkdir -p "$BIN"
	# CGO_ENABLED=0: runtimetest runs inside the busybox rootfs, it must be static.
	(cd "$HERE" && CGO_ENABLED=0 go build -trimpath -o "$BIN/" tool) || die "building the suite failed"
	local dir
	dir=$(cd "$HERE" && go list -m -f '{{.Dir}}' "$SUITE_MODULE") || die "cannot locate $SUITE_MODULE in the module cache"
	[[ -s $dir/rootfs-amd64.tar.gz ]] || die "$dir/rootfs-amd64.tar.gz is missing from the module"
	install -m 0644 "$dir/rootfs-amd64.tar.gz" "$BUILD/rootfs-amd64.tar.gz"
	touch "$stamp"
}

# The 58 programs: every tool in go.mod below validation/.
all_programs() {
	sed -n 's#^[[:space:]]*github.com/opencontainers/runtime-tools/validation/\([a-z0-9_]*\)$#\1#p' "$HERE/go.mod" | sort
}

# ------------------------------------------------------------ runtime binaries
runtime_bin() {
	case $1 in
	rt)
		if [[ ! -x $RT_BIN ]]; then
			log "conformance: $RT_BIN missing, building it"
			(cd "$REPO" && go build -o "$RT_BIN" .) || die "building rt failed"
		fi
		printf '%s\n' "$RT_BIN"
		;;
	runc)
		if ! command -v runc >/dev/null 2>&1; then
			log "conformance: installing Debian's runc"
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null) ||
				die "apt-get install runc failed"
		fi
		command -v runc
		;;
	*)
		command -v "$1" || die "runtime $1 not found"
		;;
	esac
}

# ------------------------------------------------------------------- cleanup
# Everything below removes only what the suite created for one program: the
# containers in that program's private --root (whose bundle lies in its
# private TMPDIR), mounts below its working directory, and the cgroups whose
# paths the suite names (/cgrouptest and testdir/cgrouptest/container relative
# to our own cgroup) or that are named after one of its container ids, and
# only when they hold no process.

# Prints "<mountpoint>" of each cgroup v1/v2 hierarchy, and our own path in it.
cgroup_hierarchies() {
	# mountinfo: field 5 = mount point, after " - ": fstype, source, super options
	awk '{
		for (i = 7; i <= NF; i++) if ($i == "-") break
		fstype = $(i + 1); opts = $(i + 3)
		if (fstype == "cgroup2") { print $5 "\t" "" ; next }
		if (fstype != "cgroup") next
		n = split(opts, o, ","); ctl = ""
		for (j = 1; j <= n; j++) {
			if (o[j] ~ /^(rw|ro)$/ || o[j] ~ /^(nsdelegate|clone_children|noprefix|xattr|cpuset_v2_mode|memory_recursiveprot|memory_localevents|favordynmods)$/ || o[j] ~ /^release_agent=/) continue
			ctl = ctl (ctl == "" ? "" : ",") o[j]
		}
		print $5 "\t" ctl
	}' /proc/self/mountinfo
}

# own_cgroup CONTROLLERS -> our path in that hierarchy ("" = cgroup v2)
own_cgroup() {
	awk -F: -v want="$1" '
		want == "" && $1 == "0" && $2 == "" { print $3; exit }
		want != "" && $2 == want { print $3; exit }' /proc/self/cgroup
}

cgroup_empty() { # dir
	[[ -d $1 ]] || return 1
	[[ -z $(cat "$1/cgroup.procs" 2>/dev/null) ]]
}

remove_cgroup_tree() { # dir: rmdir it and its sub-cgroups, deepest first, only when empty of processes
	local d=$1 sub
	[[ -d $d ]] || return 0
	while IFS= read -r sub; do
		if cgroup_empty "$sub"; then
			rmdir "$sub" 2>/dev/null || log "conformance: could not remove cgroup $sub"
		else
			log "conformance: cgroup $sub still has processes, left in place"
		fi
	done < <(find "$d" -mindepth 0 -type d 2>/dev/null | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-)
}

cleanup_cgroups() { # ids...
	local mnt ctl own base id
	while IFS=$'\t' read -r mnt ctl; do
		own=$(own_cgroup "$ctl")
		[[ $own == / ]] && own=
		# absolute cgroupsPath used by the suite (cgroups.AbsCgroupPath)
		remove_cgroup_tree "$mnt/cgrouptest"
		# relative cgroupsPath (cgroups.RelCgroupPath), below our cgroup or the root
		for base in "$mnt$own" "$mnt"; do
			remove_cgroup_tree "$base/testdir/cgrouptest/container"
			for d in "$base/testdir/cgrouptest" "$base/testdir"; do
				if [[ -d $d ]] && [[ -z $(find "$d" -mindepth 1 -maxdepth 1 -type d 2>/dev/null) ]] && cgroup_empty "$d"; then
					rmdir "$d" 2>/dev/null || true
				fi
			done
			# cgroups named after the suite's container ids (a runtime's default cgroupsPath)
			for id in "$@"; do
				[[ $id =~ ^[0-9a-f-]{36}$ ]] || continue
				remove_cgroup_tree "$base/$id"
			done
		done
	done < <(cgroup_hierarchies)
}

# state_field JSON NAME -> value of a top-level string/number field
state_field() {
	tr -d '\n' <<<"$1" | sed -n 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*"\{0,1\}\([^",}]*\)"\{0,1\}.*/\1/p'
}

cleanup_program() { # wrapper workdir
	local wrapper=$1 work=$2 root=$2/root tmp=$2/tmp id st bundle pid m ids=()
	if [[ -d $root ]]; then
		for id in "$root"/*; do
			[[ -d $id ]] || continue
			id=${id##*/}
			ids+=("$id")
			st=$("$wrapper" state "$id" 2>/dev/null || true)
			bundle=$(state_field "$st" bundle)
			if [[ -n $bundle && $bundle != "$tmp"/* ]]; then
				log "conformance: container $id has bundle $bundle outside $tmp, not touched"
				continue
			fi
			if ! timeout 30 "$wrapper" delete --force "$id" >/dev/null 2>&1; then
				# The runtime could not delete it: kill its init (a process the
				# suite made: the pid comes from this private root) and retry.
				pid=$(state_field "$st" pid)
				if [[ $pid =~ ^[0-9]+$ && $pid -gt 1 ]]; then
					kill -KILL "$pid" 2>/dev/null || true
					sleep 0.2
				fi
				timeout 30 "$wrapper" delete --force "$id" >/dev/null 2>&1 ||
					log "conformance: $wrapper delete --force $id failed; container left in $root"
			fi
		done
	fi
	# Mounts below the working directory (bundle rootfs bind mounts, ...), deepest first.
	while IFS= read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "conformance: cannot unmount $m"
	done < <(awk -v w="$work/" 'index($5, w) == 1 { print length($5) "\t" $5 }' /proc/self/mountinfo | sort -rn | cut -f2- | sed 's/\\040/ /g')
	cleanup_cgroups "${ids[@]}"
}

# ---------------------------------------------------------------- TAP parsing
# A program may print several TAP streams (one per tap.New()); only lines at
# column 0 are assertions, the indented ones are YAML diagnostics.
# Some programs report their result only as a YAML block {"error": "..."}
# with no assertion at all ("1..0"): tap_yaml_error prints the first line of
# the first such error when the program has no assertion.

# tap_counts FILE -> "ok notok skip todo plans streams"
tap_counts() {
	awk '
		BEGIN { ok = 0; nok = 0; skip = 0; todo = 0; plans = 0; streams = 0 }
		/^TAP version/ { streams++; next }
		/^1\.\.[0-9]+/ { p = $0; sub(/^1\.\./, "", p); sub(/[^0-9].*/, "", p); plans += p; next }
		/^(not )?ok([ \t]|$)/ {
			dir = ""
			if (match($0, /#[ \t]*([Ss][Kk][Ii][Pp]|[Tt][Oo][Dd][Oo])/)) dir = toupper(substr($0, RSTART + 1, RLENGTH - 1))
			gsub(/[ \t]/, "", dir)
			if ($0 ~ /^not ok/) { if (dir == "TODO") todo++; else nok++ }
			else { if (dir == "SKIP") skip++; else if (dir == "TODO") todo++; else ok++ }
		}
		END { print ok, nok, skip, todo, plans, streams }' "$1"
}

# tap_failures FILE -> one TAP description per failing assertion ("#N" when
# it has none). Where the suite ran runtimetest inside the container and
# put its TAP in the YAML block just before the assertion ("stdout"), each
# failing inner assertion is reported as "<outer> > <inner>".
tap_failures() {
	awk '
		function desc(line,    n) {
			sub(/^not ok[ \t]*/, "", line)
			n = line; sub(/[^0-9].*/, "", n)
			sub(/^[0-9]+[ \t]*/, "", line); sub(/^-[ \t]*/, "", line)
			sub(/[ \t]*#[ \t]*[Ss][Kk][Ii][Pp].*$/, "", line)
			if (line == "") line = "#" n
			return line
		}
		/^  ---/ { inyaml = 1; stdout = ""; next }
		/^  \.\.\./ { inyaml = 0; lastyaml = NR; next }
		inyaml && /^ *"stdout": "/ {
			stdout = $0; sub(/^ *"stdout": "/, "", stdout); sub(/",?$/, "", stdout)
			next
		}
		/^not ok([ \t]|$)/ {
			if ($0 ~ /#[ \t]*[Tt][Oo][Dd][Oo]/) next
			outer = desc($0); inner = 0
			if (lastyaml == NR - 1 && stdout != "") {
				n = split(stdout, l, /\\n/)
				for (i = 1; i <= n; i++) {
					if (l[i] !~ /^not ok([ \t]|$)/ || l[i] ~ /#[ \t]*[Tt][Oo][Dd][Oo]/) continue
					d = desc(l[i]); gsub(/\\"/, "\"", d)
					print outer " > " d; inner++
				}
			}
			if (!inner) print outer
		}' "$1"
}

# tap_yaml_error FILE -> first line of the first "error" of a YAML block
tap_yaml_error() {
	awk '
		/^  ---/ { inyaml = 1; next }
		/^  \.\.\./ { inyaml = 0; next }
		inyaml && /^ *"error": "/ {
			v = $0; sub(/^ *"error": "/, "", v); sub(/",?$/, "", v)
			i = index(v, "\\n"); if (i > 0) v = substr(v, 1, i - 1)
			gsub(/\\"/, "\"", v)
			if (v == "") next
			print v; exit
		}' "$1"
}

# Lines of known-failures.txt are "program | description | reason"; in the
# description, "*" matches any text (the only wildcard).
GLOB_AWK='
	function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
	function glob(pat, str,    n, parts, i, pos, k) {
		n = split(pat, parts, "*")
		if (n == 1) return pat == str
		if (substr(str, 1, length(parts[1])) != parts[1]) return 0
		pos = length(parts[1]) + 1
		for (i = 2; i < n; i++) {
			if (parts[i] == "") continue
			k = index(substr(str, pos), parts[i]); if (k == 0) return 0
			pos += k - 1 + length(parts[i])
		}
		return length(str) - pos + 1 >= length(parts[n]) && substr(str, length(str) - length(parts[n]) + 1) == parts[n]
	}'

# known_match PATTERN DESCRIPTION -> 0 when the pattern matches
known_match() {
	KPAT=$1 KDESC=$2 awk "$GLOB_AWK"' BEGIN { exit !glob(ENVIRON["KPAT"], ENVIRON["KDESC"]) }'
}

# known PROGRAM DESCRIPTION -> 0 when listed in known-failures.txt
known() {
	[[ -f $KNOWN ]] || return 1
	KPROG=$1 KDESC=$2 awk -F'|' "$GLOB_AWK"'
		BEGIN { p = ENVIRON["KPROG"]; d = ENVIRON["KDESC"] }
		/^[ \t]*(#|$)/ { next }
		trim($1) == p && glob(trim($2), d) { found = 1; exit }
		END { exit !found }' "$KNOWN"
}

# ------------------------------------------------------------------- running
# run_runtime NAME -> fills results/NAME/, prints one line per program,
# writes results/NAME/summary ("passed failed skipped programs_passed programs").
run_runtime() {
	local name=$1 bin out wrapper prog work rc class ok nok skip todo plans streams yerr t0 t1 line
	local tot_ok=0 tot_nok=0 tot_skip=0 npass=0 nprog=0
	bin=$(runtime_bin "$name")
	out=$RESULTS/$name
	rm -rf "$out"
	mkdir -p "$out"
	: >"$out/failures"
	: >"$out/programs"
	log ""
	log "== $name ($bin: $("$bin" --version 2>/dev/null | head -n1 || echo 'version unknown'))"

	for prog in "${PROG_LIST[@]}"; do
		work=$(mktemp -d "$WORKROOT/$name-$prog.XXXXXX")
		mkdir -p "$work/tmp" "$work/root" "$work/bin"
		# Traversable by the uids a user namespace maps (the suite maps 1000).
		chmod 0711 "$work" "$work/tmp"
		# The suite takes RUNTIME as a bare path (no arguments), so a wrapper
		# adds the private --root; exec keeps the runtime the direct child.
		wrapper=$work/bin/$name
		printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$bin" "$work/root" >"$wrapper"
		chmod 0755 "$wrapper"
		# Real files, not symlinks: the suite copies runtimetest with
		# fileutils.CopyFile, which would copy a symlink as a symlink.
		for f in "$BIN/runtimetest" "$BUILD/rootfs-amd64.tar.gz"; do
			ln "$f" "$work/" 2>/dev/null || cp "$f" "$work/"
		done

		t0=$(date +%s.%N)
		rc=0
		(cd "$work" && exec env TMPDIR="$work/tmp" RUNTIME="$wrapper" \
			timeout --kill-after=5 "$TIMEOUT" "$BIN/$prog") \
			</dev/null >"$out/$prog.tap" 2>"$out/$prog.stderr" || rc=$?
		t1=$(date +%s.%N)
		cleanup_program "$wrapper" "$work"
		[[ $KEEP_WORK == 1 ]] || rm -rf "$work" 2>/dev/null || log "conformance: could not remove $work"

		read -r ok nok skip todo plans streams < <(tap_counts "$out/$prog.tap")
		yerr=
		if [[ $((ok + nok + skip + todo)) -eq 0 ]]; then
			yerr=$(tap_yaml_error "$out/$prog.tap")
		fi
		if [[ $rc -eq 124 || $rc -eq 137 ]]; then
			class=timeout
		elif [[ $rc -gt 128 ]] || grep -q -e '^panic: ' -e '^fatal error: ' "$out/$prog.stderr"; then
			class=crash
		elif [[ $nok -gt 0 || -n $yerr ]]; then
			class=fail
		elif [[ $rc -ne 0 || ($streams -gt 0 && $plans -ne $((ok + nok + skip + todo))) ]]; then
			class=error
		else
			class=pass
		fi
		tap_failures "$out/$prog.tap" | sed "s#^#$prog\t#" >>"$out/failures"
		# A program that reports only through a YAML error, or passes with no
		# assertion at all, counts as one assertion.
		if [[ -n $yerr ]]; then
			nok=$((nok + 1))
			printf '%s\t%s\n' "$prog" "$yerr" >>"$out/failures"
		elif [[ $class == pass && $((ok + skip + todo)) -eq 0 ]]; then
			ok=1
		fi
		# A program that did not finish is one failed assertion: "(error)",
		# "(crash)" or "(timeout)", so it shows in the totals and must be listed.
		if [[ $class == error || $class == crash || $class == timeout ]]; then
			nok=$((nok + 1))
			printf '%s\t(%s)\n' "$prog" "$class" >>"$out/failures"
		fi
		if [[ $class == pass ]]; then npass=$((npass + 1)); fi
		tot_ok=$((tot_ok + ok)); tot_nok=$((tot_nok + nok)); tot_skip=$((tot_skip + skip))
		nprog=$((nprog + 1))
		printf '%s\t%s\n' "$prog" "$class" >>"$out/programs"
		line=$(printf '%-8s %-36s %3d ok %3d not ok %3d skip  exit %-3d %5.1fs' \
			"${class^^}" "$prog" "$ok" "$nok" "$skip" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
		printf '%s\n' "$line"
		printf '%s\n' "$line" >>"$out/report.txt"
	done
	printf '%s %s %s %s %s\n' "$tot_ok" "$tot_nok" "$tot_skip" "$npass" "$nprog" >"$out/summary"
	printf '%s: %d/%d programs passed; %d passed, %d failed, %d skipped\n' \
		"$name" "$npass" "$nprog" "$tot_ok" "$tot_nok" "$tot_skip"
}

# ---------------------------------------------------------------------- main
build_suite

mapfile -t ALL < <(all_programs)
[[ ${#ALL[@]} -gt 0 ]] || die "no validation programs listed in go.mod"
if [[ -n $PROGRAMS ]]; then
	read -r -a PROG_LIST <<<"$PROGRAMS"
	for p in "${PROG_LIST[@]}"; do
		[[ -x $BIN/$p ]] || die "unknown program $p (see go.mod)"
	done
else
	PROG_LIST=("${ALL[@]}")
fi
read -r -a RT_LIST <<<"$RUNTIMES"

WORKROOT=$(mktemp -d /tmp/rt-conformance.XXXXXX)
chmod 0711 "$WORKROOT"
trap 'rm -rf "$WORKROOT" 2>/dev/null || true' EXIT
mkdir -p "$RESULTS"

for r in "${RT_LIST[@]}"; do
	run_runtime "$r"
done

# ------------------------------------------------------------------ summary
status=0
echo
echo "== side by side"
hdr=$(printf '%-36s' program)
for r in "${RT_LIST[@]}"; do hdr+=$(printf ' %-8s' "$r"); done
echo "$hdr"
for prog in "${PROG_LIST[@]}"; do
	row=$(printf '%-36s' "$prog")
	for r in "${RT_LIST[@]}"; do
		row+=$(printf ' %-8s' "$(awk -F'\t' -v p="$prog" '$1 == p { print $2 }' "$RESULTS/$r/programs")")
	done
	echo "$row"
done

gate=
for r in "${RT_LIST[@]}"; do [[ $r == rt ]] && gate=rt; done
if [[ -n $gate ]]; then
	echo
	unexpected=0
	: >"$RESULTS/rt/unexpected"
	while IFS=$'\t' read -r prog desc; do
		if known "$prog" "$desc"; then
			continue
		fi
		printf '%s | %s\n' "$prog" "$desc" >>"$RESULTS/rt/unexpected"
		unexpected=$((unexpected + 1))
	done <"$RESULTS/rt/failures"
	# one line per distinct assertion, "(xN)" when it failed several times
	sort "$RESULTS/rt/unexpected" | uniq -c | while read -r n line; do
		if [[ $n -gt 1 ]]; then line+=" (x$n)"; fi
		echo "UNEXPECTED rt failure: $line"
	done
	for r in "${RT_LIST[@]}"; do
		[[ $r == runc ]] || continue
		while IFS=$'\t' read -r prog class; do
			[[ $class == pass ]] || continue
			rc_class=$(awk -F'\t' -v p="$prog" '$1 == p { print $2 }' "$RESULTS/rt/programs")
			if [[ $rc_class != pass ]]; then
				echo "REGRESSION vs runc: $prog passes with runc, $rc_class with rt"
				unexpected=$((unexpected + 1))
			fi
		done <"$RESULTS/runc/programs"
	done
	# Entries of known-failures.txt that rt no longer fails (programs that ran).
	if [[ -f $KNOWN ]]; then
		while IFS='|' read -r kprog kdesc _; do
			kprog=$(echo "$kprog" | xargs); kdesc=$(echo "$kdesc" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
			grep -q "^$kprog"$'\t' "$RESULTS/rt/programs" || continue
			hit=0
			while IFS=$'\t' read -r prog desc; do
				[[ $prog == "$kprog" ]] || continue
				if known_match "$kdesc" "$desc"; then hit=1; break; fi
			done <"$RESULTS/rt/failures"
			[[ $hit == 1 ]] || echo "note: known failure not seen in this run: $kprog | $kdesc"
		done < <(grep -v -E '^[[:space:]]*(#|$)' "$KNOWN")
	fi
	if [[ $unexpected -gt 0 ]]; then
		echo "conformance: $unexpected unexpected failure(s) of rt (not in known-failures.txt); TAP in $RESULTS/rt/"
		status=1
	else
		echo "conformance: rt fails only the assertions listed in known-failures.txt"
	fi
fi

echo
for r in "${RT_LIST[@]}"; do
	read -r ok nok skip np nprog <"$RESULTS/$r/summary"
	printf '%-6s %2d/%d programs passed\n' "$r" "$np" "$nprog"
done
# The closing lines: "<runtime>: N passed, M failed" (rt last when it ran).
for r in "${RT_LIST[@]}"; do
	[[ $r == "$gate" ]] && continue
	read -r ok nok skip np nprog <"$RESULTS/$r/summary"
	printf '%s: %d passed, %d failed, %d skipped\n' "$r" "$ok" "$nok" "$skip"
done
if [[ -n $gate ]]; then
	read -r ok nok skip np nprog <"$RESULTS/rt/summary"
	printf '%s: %d passed, %d failed, %d skipped\n' rt "$ok" "$nok" "$skip"
fi
exit "$status"
