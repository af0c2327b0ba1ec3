package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The first acceptance: stdio on the right streams, exit status passes through.
func TestRunStdioAndExitCode(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sh", "-c", "echo out; echo err >&2; exit 3")
	out, errs, code := e.rtIn(b, nil, "run", "stdio")
	if out != "out\n" || errs != "err\n" || code != 3 {
		t.Fatalf("got stdout %q stderr %q exit %d; want out, err, 3", out, errs, code)
	}
	if ids := e.mustRT("list", "-q"); ids != "" {
		t.Fatalf("container left after run: %q", ids)
	}
}

func TestRunKilledExits137(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sleep", "60")
	cmd := exec.Command(rtBin(t), "--root", e.root, "run", "-b", b, "victim")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e, "victim", "running")
	e.mustRT("kill", "victim", "KILL")
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 137 {
		t.Fatalf("rt run after kill KILL: %v, want exit 137", err)
	}
}

func TestRunForwardsSIGINT(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sh", "-c", `trap 'echo trapped; exit 42' INT; echo ready; while :; do sleep 0.05; done`)
	cmd := exec.Command(rtBin(t), "--root", e.root, "run", "-b", b, "sigint")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "ready") })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 || !strings.Contains(out.String(), "trapped") {
		t.Fatalf("SIGINT not forwarded: err %v, output %q", err, out.String())
	}
}

// A signal to the caller's whole process group (timeout(1) sends one, ^C on
// a terminal does) reaches the container's process once, forwarded by rt:
// the process is in a session of its own, as runc's, for run and exec.
func TestProcessGroupSignalArrivesOnce(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sh", "-c", `trap 'echo trapped; sleep 0.5; exit 42' INT; echo ready; while :; do sleep 0.05; done`)
	cmd := exec.Command(rtBin(t), "--root", e.root, "run", "-b", b, "pgrp")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "ready") })
	// Session and process group of the init (pid 1) and of an exec.
	for _, args := range [][]string{{"cat", "/proc/1/stat"}, {"sh", "-c", "cat /proc/$$/stat"}} {
		stat := strings.Fields(e.mustRT(append([]string{"exec", "pgrp"}, args...)...))
		if len(stat) < 6 || stat[4] != stat[0] || stat[5] != stat[0] {
			t.Errorf("%v: pid %s, process group %s, session %s; want its own session", args, stat[0], stat[4], stat[5])
		}
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 || strings.Count(out.String(), "trapped") != 1 {
		t.Fatalf("err %v, output %q: want one trapped and exit 42", err, out.String())
	}
}

// create -> created -> start -> running -> exits -> stopped -> delete -> gone,
// with `list` showing each step.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sh", "-c", "read line; echo got $line")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, errs, code := e.rtIn(b, r, "create", "life"); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	r.Close()
	st := e.state("life")
	if st["status"] != "created" || st["pid"].(float64) <= 0 || st["bundle"] != b {
		t.Fatalf("after create: %v", st)
	}
	// The user process has not started: the init is still rt, not sh.
	pid := int(st["pid"].(float64))
	if comm := readFile(t, filepath.Join("/proc", itoa(pid), "cmdline")); strings.Contains(comm, "read line") {
		t.Fatalf("process started before start: %q", comm)
	}
	checkList(t, e, "life", "created")
	e.mustRT("start", "life")
	if st := e.state("life"); st["status"] != "running" {
		t.Fatalf("after start: %v", st)
	}
	checkList(t, e, "life", "running")
	if _, errs, code := e.rt("start", "life"); code == 0 || !strings.Contains(errs, "already running") {
		t.Fatalf("second start: exit %d, %q", code, errs)
	}
	if _, errs, code := e.rt("delete", "life"); code == 0 || !strings.Contains(errs, "not stopped") {
		t.Fatalf("delete of a running container: exit %d, %q", code, errs)
	}
	w.Write([]byte("x\n"))
	w.Close()
	waitStatus(t, e, "life", "stopped")
	if st := e.state("life"); st["pid"].(float64) != 0 {
		t.Fatalf("stopped container has pid: %v", st)
	}
	checkList(t, e, "life", "stopped")
	if _, errs, code := e.rt("start", "life"); code == 0 || !strings.Contains(errs, "stopped") {
		t.Fatalf("start of a stopped container: exit %d, %q", code, errs)
	}
	e.mustRT("delete", "life")
	if _, errs, code := e.rt("state", "life"); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("state after delete: exit %d, %q", code, errs)
	}
	if ids := e.mustRT("list", "-q"); ids != "" {
		t.Fatalf("list after delete: %q", ids)
	}
}

func TestDuplicateAndInvalidID(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "sleep", "60")
	e.rtIn(b, nil, "create", "dup")
	_, errs, code := e.rtIn(b, nil, "create", "dup")
	if code == 0 || !strings.Contains(errs, "already exists") {
		t.Fatalf("duplicate create: exit %d, %q", code, errs)
	}
	if st := e.state("dup"); st["status"] != "created" {
		t.Fatalf("the first container was disturbed: %v", st)
	}
	for _, id := range []string{"../x", "a/b", "..", ""} {
		if _, errs, code := e.rtIn(b, nil, "create", id); code == 0 || errs == "" {
			t.Fatalf("create %q: exit %d, %q", id, code, errs)
		}
	}
	if _, errs, code := e.rt("state", "nope"); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("state of unknown id: %d %q", code, errs)
	}
	if _, _, code := e.rt("delete", "--force", "nope"); code != 0 {
		t.Fatal("delete --force of a missing container must succeed")
	}
}

func checkList(t *testing.T, e *env, id, status string) {
	t.Helper()
	out := e.mustRT("list")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == id {
			if f[2] != status {
				t.Fatalf("list shows %s %s, want %s:\n%s", id, f[2], status, out)
			}
			return
		}
	}
	t.Fatalf("list does not show %s:\n%s", id, out)
}

func waitStatus(t *testing.T, e *env, id, status string) {
	t.Helper()
	waitFor(t, func() bool {
		out, _, code := e.rt("state", id)
		return code == 0 && strings.Contains(out, `"status": "`+status+`"`)
	})
}

// waitFor polls cond for up to 10s (a bound on a hang, not a timing
// assertion); past it the test fails, saying what each explain function
// returns (what a failure in CI needs to be understood).
func waitFor(t *testing.T, cond func() bool, explain ...func() string) {
	t.Helper()
	limit := 10 * time.Second * time.Duration(timeScale())
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			var why []string
			for _, f := range explain {
				why = append(why, f())
			}
			t.Fatalf("condition not reached in %s %s", limit, strings.Join(why, "; "))
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itoa(i int) string { return strconv.Itoa(i) }
