package integration

// Issue 10: one container per lock, whatever races with it. Each test
// reproduces one race deterministically: rt is stopped at a known phase
// (RT_TEST_STOP, see libcontainer/testhook.go; or a hook that SIGSTOPs its
// rt; or SIGSTOP from the test once rt is known to wait on the lock), the
// test acts, then rt continues. No test depends on timing; waits are bounded
// only so that a hang fails instead of blocking the run.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tid is a container ID unique to this test process (its cgroup is
// /rt/<tid>, so parallel test runs never share one).
func tid(name string) string { return fmt.Sprintf("rt-test-%d-%s", os.Getpid(), name) }

// bgRT is an rt command running in the background.
type bgRT struct {
	cmd    *exec.Cmd
	errf   string
	done   chan struct{}
	code   int
	waited bool
}

// startRT starts rt with this env's --root in dir (may be ""), with extra
// environment variables. The test's cleanup continues and kills it by PID
// if it still runs.
func (e *env) startRT(dir string, extraEnv []string, args ...string) *bgRT {
	e.t.Helper()
	cmd := exec.Command(rtBin(e.t), append([]string{"--root", e.root}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extraEnv...)
	outf, errf := e.tempFile(), e.tempFile()
	defer outf.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = outf, errf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	b := &bgRT{cmd: cmd, errf: errf.Name(), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		b.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			b.code = ee.ExitCode()
		} else if err != nil {
			b.code = -1
		}
		close(b.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
			<-b.done
		}
	})
	return b
}

func (b *bgRT) pid() int { return b.cmd.Process.Pid }

// wait returns rt's exit code and stderr; a command still running after
// limit is killed and reported as a hang.
func (b *bgRT) wait(t *testing.T, limit time.Duration) (int, string) {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(limit):
		_ = syscall.Kill(b.pid(), syscall.SIGKILL)
		<-b.done
		errs, _ := os.ReadFile(b.errf)
		t.Fatalf("rt %v did not return within %v (killed): %s", b.cmd.Args[3:], limit, errs)
	}
	errs, _ := os.ReadFile(b.errf)
	return b.code, string(errs)
}

// procState is the state letter of /proc/<pid>/stat ("" if gone).
func procState(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// waitStopped waits until the process is stopped by a signal.
func waitStopped(t *testing.T, b *bgRT) {
	t.Helper()
	waitFor(t, func() bool {
		select {
		case <-b.done:
			errs, _ := os.ReadFile(b.errf)
			t.Fatalf("rt %v exited (%d) instead of stopping: %s", b.cmd.Args[3:], b.code, errs)
		default:
		}
		return procState(b.pid()) == "T"
	})
}

// flockWaiters returns the pids blocked in flock(2), from /proc/locks
// ("N: -> FLOCK ADVISORY WRITE <pid> ...").
func flockWaiters() map[int]bool {
	out := map[int]bool{}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return out
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 6 && fields[1] == "->" && fields[2] == "FLOCK" {
			if pid, err := strconv.Atoi(fields[5]); err == nil {
				out[pid] = true
			}
		}
	}
	return out
}

func statePid(t *testing.T, e *env, id string) int {
	t.Helper()
	return int(e.state(id)["pid"].(float64))
}

// hookStopParent is a hook that stops the rt running it (SIGSTOP to its
// parent), so the test acts while rt is inside that hook, holding the lock.
var hookStopParent = map[string]any{"path": "/bin/sh", "args": []any{"sh", "-c", "kill -STOP $PPID"}}

func addHook(kind string, h map[string]any) func(map[string]any) {
	return func(cfg map[string]any) {
		hooks := obj(cfg, "hooks")
		list, _ := hooks[kind].([]any)
		hooks[kind] = append(list, h)
	}
}

// Case 1: a `delete --force` that looked the container up, then lost the
// race to another delete, must still exit 0 (runc: --force of a container
// that is gone succeeds).
func TestForceDeleteLosingTheRace(t *testing.T) {
	e := newEnv(t)
	id := tid("race1")
	b := e.bundle("b", nil, "sleep", "600")
	if _, errs, code := e.rtIn(b, nil, "run", "-d", id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	// The loser: it has loaded the container and stops before the lock.
	loser := e.startRT("", []string{"RT_TEST_STOP=lock"}, "delete", "--force", id)
	waitStopped(t, loser)
	e.mustRT("delete", "--force", id)
	_ = syscall.Kill(loser.pid(), syscall.SIGCONT)
	if code, errs := loser.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("delete --force that lost the race: exit %d, %q (want 0)", code, errs)
	}
	// Without --force the same race says the container does not exist.
	if _, errs, code := e.rtIn(b, nil, "run", "-d", id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	loser = e.startRT("", []string{"RT_TEST_STOP=lock"}, "kill", id, "KILL")
	waitStopped(t, loser)
	e.mustRT("delete", "--force", id)
	_ = syscall.Kill(loser.pid(), syscall.SIGCONT)
	if code, errs := loser.wait(t, 30*time.Second); code != 1 || !strings.Contains(errs, "container does not exist") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("kill that lost the race: exit %d, %q (want 1, one line: container does not exist)", code, errs)
	}
}

// Case 2: commands queued on X's lock while X is being deleted must not act
// on a new container X created as soon as the old one is gone.
func TestQueuedDeletesSpareNewContainer(t *testing.T) {
	e := newEnv(t)
	id := tid("race2")
	old := e.bundle("old", addHook("poststop", hookStopParent), "sleep", "600")
	fresh := e.bundle("new", nil, "sleep", "600")
	if _, errs, code := e.rtIn(old, nil, "run", "-d", id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	// The first delete stops in X's poststop hook, holding X's lock.
	first := e.startRT("", nil, "delete", "--force", id)
	waitStopped(t, first)
	var queued []*bgRT
	for i := 0; i < 8; i++ {
		queued = append(queued, e.startRT("", nil, "delete", "--force", id))
	}
	// Wait until all eight wait in flock on X's directory, then hold them
	// there while X goes away and a new X is made.
	waitFor(t, func() bool {
		w := flockWaiters()
		for _, q := range queued {
			if !w[q.pid()] {
				return false
			}
		}
		return true
	})
	for _, q := range queued {
		_ = syscall.Kill(q.pid(), syscall.SIGSTOP)
		waitStopped(t, q)
	}
	_ = syscall.Kill(first.pid(), syscall.SIGCONT)
	if code, errs := first.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("first delete: exit %d, %s", code, errs)
	}
	if _, errs, code := e.rtIn(fresh, nil, "run", "-d", id); code != 0 {
		t.Fatalf("run -d of the new container: %s", errs)
	}
	st := e.state(id)
	newPid, created := int(st["pid"].(float64)), st["created"]
	for _, q := range queued {
		_ = syscall.Kill(q.pid(), syscall.SIGCONT)
	}
	for i, q := range queued {
		if code, errs := q.wait(t, 30*time.Second); code != 0 {
			t.Errorf("queued delete --force #%d: exit %d, %q (want 0: its container is gone)", i, code, errs)
		}
	}
	st = e.state(id)
	if st["status"] != "running" || int(st["pid"].(float64)) != newPid || st["created"] != created {
		t.Fatalf("the new container was touched by the queued deletes: %v (want running, pid %d, created %v)", st, newPid, created)
	}
	if procState(newPid) == "" {
		t.Fatalf("the new container's init %d is gone", newPid)
	}
}

// Case 3: the cleanup of a foreground `rt run X` deletes only the container
// that run created, not a newer X.
func TestRunCleanupSparesNewContainer(t *testing.T) {
	e := newEnv(t)
	id := tid("race3")
	b := e.bundle("b", nil, "sleep", "600")
	run := e.startRT(b, nil, "run", id)
	waitStatus(t, e, id, "running")
	// rt run holds the container's lock until its start returns, a little
	// after the status turns running: an exec takes the lock, so once it
	// is done, rt run is waiting without it (a slow host, such as the
	// cgroup v2 guest, stopped it with the lock held otherwise).
	e.mustRT("exec", id, "true")
	_ = syscall.Kill(run.pid(), syscall.SIGSTOP)
	waitStopped(t, run)
	e.mustRT("kill", id, "KILL")
	waitStatus(t, e, id, "stopped")
	e.mustRT("delete", id)
	if _, errs, code := e.rtIn(b, nil, "run", "-d", id); code != 0 {
		t.Fatalf("run -d of the new container: %s", errs)
	}
	newPid := statePid(t, e, id)
	_ = syscall.Kill(run.pid(), syscall.SIGCONT)
	if code, errs := run.wait(t, 30*time.Second); code != 137 {
		t.Fatalf("first rt run: exit %d, %q (want 137: its container was killed)", code, errs)
	}
	st := e.state(id)
	if st["status"] != "running" || int(st["pid"].(float64)) != newPid || procState(newPid) == "" {
		t.Fatalf("the first run's cleanup touched the new container: %v (want running, pid %d)", st, newPid)
	}
}

// Case 4: `rt start` killed after the user process was exec'd but before
// it removed exec.fifo. The status comes from the process: running; a second
// start fails at once; a plain delete refuses.
func TestStartKilledAfterExec(t *testing.T) {
	e := newEnv(t)
	id := tid("race4")
	b := e.bundle("b", nil, "sleep", "600")
	if _, errs, code := e.rtIn(b, nil, "create", id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	pid := statePid(t, e, id)
	start := e.startRT("", []string{"RT_TEST_STOP=start-unlink"}, "start", id)
	waitStopped(t, start)
	_ = syscall.Kill(start.pid(), syscall.SIGKILL)
	start.wait(t, 30*time.Second)
	if _, err := os.Stat(filepath.Join(e.root, id, "exec.fifo")); err != nil {
		t.Fatalf("the fault was not injected: exec.fifo: %v", err)
	}
	if st := e.state(id); st["status"] != "running" || int(st["pid"].(float64)) != pid {
		t.Fatalf("after a start killed past the exec: %v (want running, pid %d)", st, pid)
	}
	checkList(t, e, id, "running")
	second := e.startRT("", nil, "start", id)
	if code, errs := second.wait(t, 30*time.Second); code == 0 || !strings.Contains(errs, "already running") {
		t.Fatalf("second start: exit %d, %q (want an error: already running)", code, errs)
	}
	if _, errs, code := e.rt("delete", id); code == 0 || !strings.Contains(errs, "not stopped") {
		t.Fatalf("plain delete of the running container: exit %d, %q (want: not stopped)", code, errs)
	}
	if procState(pid) == "" || procState(pid) == "Z" {
		t.Fatalf("the container's process %d was killed", pid)
	}
	e.mustRT("delete", "--force", id)
}

// Case 5a: a delete killed between removing state.json and removing the
// directory leaves a container that is stopped, not "creating", and a plain
// delete removes it.
func TestDeleteKilledHalfway(t *testing.T) {
	e := newEnv(t)
	id := tid("race5a")
	b := e.bundle("b", nil, "sleep", "600")
	if _, errs, code := e.rtIn(b, nil, "run", "-d", id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	del := e.startRT("", []string{"RT_TEST_STOP=delete-rmdir"}, "delete", "--force", id)
	waitStopped(t, del)
	_ = syscall.Kill(del.pid(), syscall.SIGKILL)
	del.wait(t, 30*time.Second)
	if _, err := os.Stat(filepath.Join(e.root, id)); err != nil {
		errs, _ := os.ReadFile(del.errf)
		t.Fatalf("the fault was not injected: %v (delete: exit %d, %s)", err, del.code, errs)
	}
	if st := e.state(id); st["status"] != "stopped" || st["pid"].(float64) != 0 {
		t.Fatalf("half-deleted container: %v (want stopped, pid 0)", st)
	}
	checkList(t, e, id, "stopped")
	e.mustRT("delete", id)
	if _, errs, code := e.rt("state", id); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("state after delete: exit %d, %q", code, errs)
	}
}

// Case 5b: a create killed before the container is ready leaves a stopped
// container (its creator is gone), which delete removes with its cgroup.
func TestCreateKilledBeforeReady(t *testing.T) {
	e := newEnv(t)
	id := tid("race5b")
	b := e.bundle("b", addHook("createRuntime", hookStopParent), "sleep", "600")
	create := e.startRT(b, nil, "create", id)
	waitStopped(t, create)
	if st := e.state(id); st["status"] != "creating" {
		t.Fatalf("while its creator runs: %v (want creating)", st)
	}
	_ = syscall.Kill(create.pid(), syscall.SIGKILL)
	create.wait(t, 30*time.Second)
	if st := e.state(id); st["status"] != "stopped" || st["pid"].(float64) != 0 {
		t.Fatalf("container whose creator was killed: %v (want stopped, pid 0)", st)
	}
	checkList(t, e, id, "stopped")
	e.mustRT("delete", id)
	if left, _ := filepath.Glob("/sys/fs/cgroup/*/rt/" + id); len(left) > 0 {
		t.Fatalf("cgroup left behind: %v", left)
	}
}

// Case 7: a plain directory under /sys/fs/cgroup that is not a cgroup
// mount is no controller. The test runs rt in a private mount namespace
// whose /sys/fs/cgroup is a fresh tmpfs holding bind mounts of the host's
// hierarchies plus plain net_cls and perf_event directories: nothing of it
// is visible to (or left on) the host.
func TestCgroupPlainDirsIgnored(t *testing.T) {
	e := newEnv(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	var fs unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("a cgroup v1 case (plain directories beside v1 hierarchies); /sys/fs/cgroup is cgroup v2 here")
	}
	id := tid("fakecg")
	b := e.bundle("b", nil, "sleep", "600")
	script := `
set -e
real=$T/real
mkdir -p $real
mount --rbind /sys/fs/cgroup $real
mount -t tmpfs -o mode=755 rt-test-cgroup /sys/fs/cgroup
for d in $(ls $real); do
	[ -d $real/$d ] || continue
	mkdir /sys/fs/cgroup/$d
	mount --bind $real/$d /sys/fs/cgroup/$d
done
umount -R $real
for d in net_cls perf_event net_prio; do
	[ -e /sys/fs/cgroup/$d ] || mkdir /sys/fs/cgroup/$d
done
trap '$RT --root $ROOT delete --force $ID >/dev/null 2>&1 || true' EXIT
$RT --root $ROOT create -b $B $ID
for d in net_cls perf_event net_prio; do
	if ! grep -q " /sys/fs/cgroup/$d " /proc/self/mountinfo; then
		find /sys/fs/cgroup/$d -mindepth 1 | sed 's/^/LEAK /'
	fi
done
$RT --root $ROOT delete --force $ID
echo DONE
`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "T="+e.dir, "RT="+rtBin(t), "ROOT="+e.root, "B="+b, "ID="+id)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "DONE") {
		t.Fatalf("script: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "LEAK ") {
		t.Fatalf("rt used plain directories as cgroup controllers:\n%s", out)
	}
}

// Case 4, no command waits forever: a created container that is paused
// (its init frozen before it could reach the exec fifo) is "paused", and
// start refuses it at once instead of waiting for the init; resumed, it is
// created again and starts.
func TestStartOfPausedCreatedContainer(t *testing.T) {
	e := newEnv(t)
	id := tid("pausedcreated")
	b := e.bundle("b", nil, "sleep", "600")
	if _, errs, code := e.rtIn(b, nil, "create", id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	e.mustRT("pause", id)
	if st := e.state(id); st["status"] != "paused" {
		t.Fatalf("paused created container: %v (want paused)", st)
	}
	start := e.startRT("", nil, "start", id)
	if code, errs := start.wait(t, 30*time.Second); code == 0 || !strings.Contains(errs, "paused") {
		t.Fatalf("start of a paused container: exit %d, %q (want an error naming paused)", code, errs)
	}
	e.mustRT("resume", id)
	if st := e.state(id); st["status"] != "created" {
		t.Fatalf("resumed: %v (want created)", st)
	}
	e.mustRT("start", id)
	if st := e.state(id); st["status"] != "running" {
		t.Fatalf("started: %v (want running)", st)
	}
	e.mustRT("delete", "--force", id)
}

// Case 1 as the fault-injection run saw it: many parallel `delete --force`
// of one container all exit 0, and nothing is left. Whether a run hits the
// race is chance (the old code failed 6 of 100); TestForceDeleteLosingTheRace
// is the deterministic reproduction.
func TestParallelForceDeletes(t *testing.T) {
	e := newEnv(t)
	id := tid("par")
	b := e.bundle("b", nil, "sleep", "600")
	if _, errs, code := e.rtIn(b, nil, "run", "-d", id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	var dels []*bgRT
	for i := 0; i < 20; i++ {
		dels = append(dels, e.startRT("", nil, "delete", "--force", id))
	}
	for i, d := range dels {
		if code, errs := d.wait(t, 60*time.Second); code != 0 {
			t.Errorf("delete --force #%d: exit %d, %q", i, code, errs)
		}
	}
	if entries, _ := os.ReadDir(e.root); len(entries) > 0 {
		t.Fatalf("state left: %v", entries)
	}
	if left, _ := filepath.Glob("/sys/fs/cgroup/*/rt/" + id); len(left) > 0 {
		t.Fatalf("cgroup left behind: %v", left)
	}
}
