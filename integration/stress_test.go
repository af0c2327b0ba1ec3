package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStress runs random mixes of create/start/kill/delete/delete --force/
// exec/run on a few IDs from many rt processes at once, and checks after
// each round that every command exited with a documented status and one
// error line, that `rt list` matches the processes that exist, and, once
// everything is deleted, that no state dir, cgroup, mount or process is
// left. Short by default (CI); `make stress` sets RT_STRESS_ROUNDS and
// RT_STRESS_SECONDS (per round) for a long run.
func TestStress(t *testing.T) {
	rounds, seconds := envInt("RT_STRESS_ROUNDS", 2), envInt("RT_STRESS_SECONDS", 2)
	workers := envInt("RT_STRESS_WORKERS", 6)
	e := newEnv(t)
	// A short-lived process, so containers also stop on their own.
	b := e.bundle("b", nil, "sleep", "2")
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, tid(fmt.Sprintf("s%d", i)))
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d, %d rounds of %ds, %d workers", seed, rounds, seconds, workers)
	stats := map[string]int{}
	for round := 0; round < rounds; round++ {
		var (
			mu      sync.Mutex
			wg      sync.WaitGroup
			results []stressResult
		)
		deadline := time.Now().Add(time.Duration(seconds) * time.Second)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(rng *rand.Rand) {
				defer wg.Done()
				for time.Now().Before(deadline) {
					op := stressOps[rng.Intn(len(stressOps))]
					id := ids[rng.Intn(len(ids))]
					r := e.stressRun(b, op, id)
					mu.Lock()
					results = append(results, r)
					mu.Unlock()
				}
			}(rand.New(rand.NewSource(seed + int64(round*100+w))))
		}
		wg.Wait()
		for _, r := range results {
			stats[r.op.name+" "+strconv.Itoa(r.code)]++
			if msg := r.check(); msg != "" {
				t.Errorf("round %d: rt %s: %s", round, strings.Join(r.args, " "), msg)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		checkListMatchesProcesses(t, e, ids)
		for _, id := range ids {
			if _, errs, code := e.rt("delete", "--force", id); code != 0 {
				t.Fatalf("round %d: delete --force %s: exit %d, %s", round, id, code, errs)
			}
		}
		checkNothingLeft(t, e, ids)
	}
	var keys []string
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s: %d; ", k, stats[k])
	}
	t.Logf("commands by exit status: %s", sb.String())
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// stressOp is one command and the exit statuses documented for it. A
// killed op is SIGKILLed a random moment (0-50ms) after it started, as a
// crash would: its own status is not checked, only what it leaves behind.
type stressOp struct {
	name   string
	args   func(id string) []string
	codes  []int
	killed bool
}

var stressOps = []stressOp{
	{"create", func(id string) []string { return []string{"create", id} }, []int{0, 1}, false},
	{"start", func(id string) []string { return []string{"start", id} }, []int{0, 1}, false},
	{"kill", func(id string) []string { return []string{"kill", id, "KILL"} }, []int{0, 1}, false},
	{"kill-term", func(id string) []string { return []string{"kill", id} }, []int{0, 1}, false},
	{"delete", func(id string) []string { return []string{"delete", id} }, []int{0, 1}, false},
	// runc: --force always succeeds, the container gone or not.
	{"delete-force", func(id string) []string { return []string{"delete", "--force", id} }, []int{0}, false},
	{"state", func(id string) []string { return []string{"state", id} }, []int{0, 1}, false},
	// The process's status (0, or 137 when a delete --force or the
	// init's end kills it), or 255 when exec itself fails.
	{"exec", func(id string) []string { return []string{"exec", id, "true"} }, []int{0, 137, 255}, false},
	{"run-d", func(id string) []string { return []string{"run", "-d", id} }, []int{0, 1}, false},
	// The container's status: 0, 137 (KILL), 143 (TERM), or 1 when run fails.
	{"run", func(id string) []string { return []string{"run", id} }, []int{0, 1, 137, 143}, false},
	{"create-killed", func(id string) []string { return []string{"create", id} }, nil, true},
	{"start-killed", func(id string) []string { return []string{"start", id} }, nil, true},
	{"delete-force-killed", func(id string) []string { return []string{"delete", "--force", id} }, nil, true},
	{"run-d-killed", func(id string) []string { return []string{"run", "-d", id} }, nil, true},
}

type stressResult struct {
	op     stressOp
	args   []string
	code   int
	stderr string
	hang   bool
}

// stressRun runs one command in the bundle directory with a generous bound
// (a hang is a failure, not a timing assertion).
func (e *env) stressRun(bundle string, op stressOp, id string) stressResult {
	args := op.args(id)
	r := stressResult{op: op, args: args}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rtBin(e.t), append([]string{"--root", e.root}, args...)...)
	cmd.Dir = bundle
	// Files, not pipes: a detached container inherits rt's stdio.
	errf, err := os.CreateTemp(e.dir, "stress-err-")
	if err != nil {
		r.code, r.stderr = -1, err.Error()
		return r
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cmd.Stderr = errf
	if err = cmd.Start(); err == nil {
		if op.killed {
			time.Sleep(time.Duration(rand.Intn(50)) * time.Millisecond)
			_ = cmd.Process.Kill()
		}
		err = cmd.Wait()
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		r.code = -1
	}
	r.hang = ctx.Err() != nil
	data, _ := os.ReadFile(errf.Name())
	r.stderr = string(data)
	return r
}

// check returns what is wrong with a result ("" if nothing).
func (r stressResult) check() string {
	if r.hang {
		return "did not return in 90s"
	}
	if r.op.killed && r.code == -1 {
		return "" // killed as planned
	}
	ok := r.op.killed
	for _, c := range r.op.codes {
		ok = ok || c == r.code
	}
	if !ok {
		return fmt.Sprintf("exit %d, want one of %v; stderr %q", r.code, r.op.codes, r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		return fmt.Sprintf("stack trace: %s", r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.stderr != "" && len(lines) > 1 {
		return fmt.Sprintf("more than one error line: %q", r.stderr)
	}
	if r.code == 1 || r.code == 255 {
		if !strings.HasPrefix(r.stderr, "rt: ") {
			return fmt.Sprintf("exit %d without an error line: %q", r.code, r.stderr)
		}
		known := false
		for _, k := range stressErrors {
			known = known || strings.Contains(r.stderr, k)
		}
		if !known {
			return fmt.Sprintf("undocumented error: %q", r.stderr)
		}
	}
	return ""
}

// stressErrors are the errors a command may meet when others act on the
// same container at once.
var stressErrors = []string{
	"container does not exist",
	"container with given ID already exists",
	"container not running",
	"cannot start a container that has stopped",
	"cannot start an already running container",
	"cannot start a container in state",
	"container init exited before start",
	"container init exited during set-up",
	"cannot delete container",
	"cannot exec in a stopped container",
	"cannot exec in a container in state",
	// No op pauses, but a kill --all or delete --force killed while it
	// froze the cgroup to signal it leaves the container frozen (paused).
	"cannot exec in a paused container",
}

type listed struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
}

// cgroupProcs lists the processes whose cgroup is /rt/<id> (or below) in
// any hierarchy, from /proc/*/cgroup.
func cgroupProcs(id string) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cgroup"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			// "N:controllers:/path"
			f := strings.SplitN(line, ":", 3)
			if len(f) == 3 && (f[2] == "/rt/"+id || strings.HasPrefix(f[2], "/rt/"+id+"/")) {
				if st := procState(pid); st != "Z" && st != "" {
					out = append(out, pid)
				}
				break
			}
		}
	}
	return out
}

// checkListMatchesProcesses: every listed container that is not stopped has
// its init alive, and every process in one of the IDs' cgroups belongs to a
// listed container that is not stopped. Processes killed a moment ago may
// still be dying, so the check is retried (bounded) until it holds.
func checkListMatchesProcesses(t *testing.T, e *env, ids []string) {
	t.Helper()
	var problem string
	for try := 0; try < 100; try++ {
		problem = ""
		out, errs, code := e.rt("list", "--format", "json")
		if code != 0 {
			t.Fatalf("list: exit %d, %s", code, errs)
		}
		var cts []listed
		if err := json.Unmarshal([]byte(out), &cts); err != nil {
			t.Fatalf("list output %q: %v", out, err)
		}
		live := map[string]bool{}
		for _, c := range cts {
			switch c.Status {
			case "created", "running", "paused":
				if c.Pid <= 0 || procState(c.Pid) == "" || procState(c.Pid) == "Z" {
					problem = fmt.Sprintf("list says %s %s with pid %d, which does not run", c.ID, c.Status, c.Pid)
				}
				live[c.ID] = true
			case "stopped":
				if c.Pid != 0 {
					problem = fmt.Sprintf("list says %s stopped with pid %d", c.ID, c.Pid)
				}
			case "creating":
				problem = fmt.Sprintf("list says %s creating, with no rt running", c.ID)
			default:
				problem = fmt.Sprintf("list says %s is %q", c.ID, c.Status)
			}
		}
		for _, id := range ids {
			if pids := cgroupProcs(id); len(pids) > 0 && !live[id] {
				problem = fmt.Sprintf("processes %v run in the cgroup of %s, which list does not show as live (%s)", pids, id, out)
			}
		}
		if problem == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(problem)
}

// checkNothingLeft: after delete --force of every ID, no state dir, cgroup,
// process or mount of them is left.
func checkNothingLeft(t *testing.T, e *env, ids []string) {
	t.Helper()
	if entries, _ := os.ReadDir(e.root); len(entries) > 0 {
		var names []string
		for _, en := range entries {
			names = append(names, en.Name())
		}
		t.Fatalf("state dirs left: %v", names)
	}
	for _, id := range ids {
		if left, _ := filepath.Glob("/sys/fs/cgroup/*/rt/" + id); len(left) > 0 {
			t.Fatalf("cgroups left: %v", left)
		}
		if pids := cgroupProcs(id); len(pids) > 0 {
			t.Fatalf("processes of %s left: %v", id, pids)
		}
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mi), e.dir) {
		t.Fatalf("mounts under %s left:\n%s", e.dir, mi)
	}
}
