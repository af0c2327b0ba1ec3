#!/usr/bin/env bats
# The CLI contract that containerd's shim, conmon and podman rely on
# (flags, exit codes, error texts, JSON shapes), checked like runc's.

bats_require_minimum_version 1.5.0
load helpers

@test "--version: first line is 'rt version X', then commit and spec" {
	run "$RT" --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^rt\ version\ [0-9] ]]
	[[ "$output" == *"spec: 1."* ]]
}

@test "unknown command exits non-zero" {
	run "$RT" frobnicate
	[ "$status" -ne 0 ]
	[[ "$output" == *frobnicate* ]]
}

@test "spec writes config.json and refuses to overwrite it" {
	d="$WORK/spec"
	mkdir "$d"
	run "$RT" spec --bundle "$d"
	[ "$status" -eq 0 ]
	jq -e '.ociVersion and .process.args and .linux.namespaces' "$d/config.json"
	echo '{"edited":true}' >"$d/config.json"
	run "$RT" spec --bundle "$d"
	[ "$status" -ne 0 ]
	[[ "$output" == *"already exists"* ]]
	grep -q edited "$d/config.json"
}

@test "spec --rootless adds a user namespace with mappings" {
	d="$WORK/spec"
	mkdir "$d"
	"$RT" spec --rootless --bundle "$d"
	jq -e '.linux.namespaces | map(.type) | index("user")' "$d/config.json"
	jq -e '.linux.uidMappings | length > 0' "$d/config.json"
}

@test "state prints runc's JSON shape, fields in order, no trailing newline" {
	set_args sleep 60
	rt create -b "$BUNDLE" st1
	run rt state st1
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r 'keys_unsorted | join(",")')" = "ociVersion,id,pid,status,bundle,rootfs,created,owner" ]
	[ "$(echo "$output" | jq -r .status)" = created ]
	[ "$(rt state st1 | tail -c1 | od -An -c | tr -d ' ')" = "}" ]
}

@test "list --format json prints null when empty, an array otherwise" {
	mkdir -p "$ROOT"
	run rt list --format json
	[ "$output" = "null" ]
	set_args sleep 60
	rt create -b "$BUNDLE" l1
	run rt list --format json
	[ "$(echo "$output" | jq -r '.[0].id + " " + .[0].status')" = "l1 created" ]
	run rt list -q
	[ "$output" = "l1" ]
}

@test "list with a --root that does not exist yet is an empty list (runc)" {
	run "$RT" --root "$WORK/nope" list
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "ID          PID         STATUS      BUNDLE      CREATED     OWNER" ]
	[ "${#lines[@]}" -eq 1 ]
	run "$RT" --root "$WORK/nope" list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$WORK/nope" ]
}

@test "errors use runc's texts: does not exist, already exists, invalid ID" {
	run rt state ghost
	[ "$status" -ne 0 ]
	[[ "$output" == *"container does not exist"* ]]
	set_args sleep 60
	rt create -b "$BUNDLE" twice
	run rt create -b "$BUNDLE" twice
	[ "$status" -ne 0 ]
	[[ "$output" == *"container with given ID already exists"* ]]
	run rt create -b "$BUNDLE" 'bad/id'
	[ "$status" -ne 0 ]
	[[ "$output" == *"invalid container ID format"* ]]
}

@test "kill accepts KILL, SIGKILL and 9; a stopped container is 'not running'" {
	for sig in KILL SIGKILL 9; do
		set_args sleep 60
		rt run -d -b "$BUNDLE" "k$sig"
		wait_status "k$sig" running
		rt kill "k$sig" 0
		rt kill "k$sig" "$sig"
		wait_status "k$sig" stopped
		run rt kill "k$sig" KILL
		[ "$status" -ne 0 ]
		[[ "$output" == *"container not running"* ]]
		# signal 0 only checks that it runs (runc, kill(2))
		run rt kill "k$sig" 0
		[ "$status" -ne 0 ]
		[[ "$output" == *"container not running"* ]]
		# kill --all of a stopped container is not an error (runc)
		rt kill --all "k$sig" KILL
		rt delete "k$sig"
	done
}

@test "kill rejects an unknown signal" {
	set_args sleep 60
	rt create -b "$BUNDLE" ks
	run rt kill ks NOTASIGNAL
	[ "$status" -ne 0 ]
	[[ "$output" == *NOTASIGNAL* ]]
}

@test "delete: created is killed, running needs --force, missing with --force is ok" {
	set_args sleep 60
	rt create -b "$BUNDLE" d1
	rt delete d1
	run rt state d1
	[ "$status" -ne 0 ]
	rt run -d -b "$BUNDLE" d2
	run rt delete d2
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot delete container d2 that is not stopped: running"* ]]
	rt delete --force d2
	run rt delete --force d2
	[ "$status" -eq 0 ]
	run rt delete d2
	[ "$status" -ne 0 ]
}

@test "--pid-file is written with the init's pid before create returns" {
	set_args sleep 60
	rt create -b "$BUNDLE" --pid-file "$WORK/pid" p1
	[ "$(cat "$WORK/pid")" = "$(rt state p1 | jq .pid)" ]
	[ -d "/proc/$(cat "$WORK/pid")" ]
}

@test "--log-format json writes a level=error line to --log" {
	run "$RT" --root "$ROOT" --log "$WORK/log.json" --log-format json state ghost
	[ "$status" -ne 0 ]
	jq -e 'select(.level == "error") | .msg | contains("container does not exist")' "$WORK/log.json"
}

@test "run: stdio passes through and the exit status is the container's" {
	cd "$BUNDLE"
	set_args sh -c 'echo out; echo err >&2; exit 3'
	run --separate-stderr rt run io1
	[ "$status" -eq 3 ]
	[ "$output" = out ]
	[ "$stderr" = err ]
}

@test "run: stdin reaches the container" {
	cd "$BUNDLE"
	set_args sh -c 'read x; echo "got $x"'
	run bash -c "echo hello | '$RT' --root '$ROOT' run in1"
	[ "$status" -eq 0 ]
	[ "$output" = "got hello" ]
}

@test "run -d with terminal but no console socket is refused (runc's message)" {
	jq '.process.terminal = true' "$BUNDLE/config.json" >"$BUNDLE/c.json" && mv "$BUNDLE/c.json" "$BUNDLE/config.json"
	run rt run -d -b "$BUNDLE" t1
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot allocate tty if rt will detach without setting console socket"* ]]
	run rt state t1
	[ "$status" -ne 0 ]
}

@test "run --keep leaves a stopped container to inspect" {
	set_args true
	rt run --keep -b "$BUNDLE" keep1
	[ "$(rt state keep1 | jq -r .status)" = stopped ]
	rt delete keep1
}

@test "--preserve-fds passes extra fds to the container" {
	set_args sh -c 'cat <&3'
	echo preserved >"$WORK/fd3"
	run bash -c "'$RT' --root '$ROOT' run -b '$BUNDLE' --preserve-fds 1 pf1 3<'$WORK/fd3'"
	[ "$status" -eq 0 ]
	[ "$output" = preserved ]
}

@test "only stdio reaches the container process (no leaked fds)" {
	set_args sh -c 'ls /proc/self/fd | sort -n | tr "\n" " "'
	run bash -c "'$RT' --root '$ROOT' run -b '$BUNDLE' fd1 4</etc/hostname 5</etc/hostname"
	[ "$status" -eq 0 ]
	# 0 1 2 and the fd ls itself opens (3)
	[ "$output" = "0 1 2 3 " ]
}

@test "run under timeout --preserve-status -s INT: SIGINT reaches a trapping process" {
	cd "$BUNDLE"
	set_args sh -c 'trap "echo trapped; exit 5" INT; while :; do sleep 0.1; done'
	run timeout --preserve-status -s INT 1 "$RT" --root "$ROOT" run sigint1
	[ "$status" -eq 5 ]
	[ "$output" = trapped ]
}

@test "100 containers from a shell loop: all exit 0, nothing is left" {
	set_args true
	for i in $(seq 100); do
		"$RT" --root "$ROOT" run -b "$BUNDLE" "loop$$-$i" >"$WORK/out.$i" 2>&1 &
	done
	fails=0
	for job in $(jobs -p); do wait "$job" || fails=$((fails + 1)); done
	[ "$fails" -eq 0 ]
	[ -z "$(rt list -q)" ]
	! ls -d /sys/fs/cgroup/*/rt/loop$$-* /sys/fs/cgroup/rt/loop$$-* 2>/dev/null
	! grep -q "$WORK" /proc/self/mountinfo
}

@test "features prints runtime-spec features JSON that matches what rt accepts" {
	run "$RT" features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.ociVersionMin == "1.0.0" and (.linux.namespaces | index("user")) and (.mountOptions | index("rro"))'
	echo "$output" | jq -e '.linux.seccomp.enabled == true and (.linux.seccomp.actions | index("SCMP_ACT_NOTIFY"))'
	echo "$output" | jq -e '.linux.apparmor.enabled == false and .linux.cgroup.systemd == true'
	echo "$output" | jq -e '(.linux.memoryPolicy.modes | index("MPOL_INTERLEAVE")) and (.linux.memoryPolicy.flags | index("MPOL_F_STATIC_NODES"))'
}
