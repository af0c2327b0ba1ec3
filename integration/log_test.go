package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rt --debug logs the steps of a run and of an exec at level debug, the
// init's included (they come over the sync socket): on stderr, or in the
// --log file (then none on stderr), as logrus text or JSON lines, as runc
// does (runc's debug.bats and exec.bats "runc --debug exec" look for these
// steps). Without --debug there are none.
func TestDebugLog(t *testing.T) {
	e := newEnv(t)
	b := e.bundle("b", nil, "echo", "hello")
	runSteps := []string{"nsexec container setup", "child process in init()", "init: closing the pipe to signal completion", "created container"}
	has := func(t *testing.T, what, text string, steps []string) {
		t.Helper()
		for _, s := range steps {
			if !strings.Contains(text, s) {
				t.Fatalf("%s: no %q in\n%s", what, s, text)
			}
		}
	}
	out, errs, code := e.rtIn(b, nil, "--debug", "run", tid("dbg"))
	if code != 0 || out != "hello\n" {
		t.Fatalf("--debug run: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	has(t, "stderr", errs, runSteps)
	for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
		if !strings.HasPrefix(line, `time="`) || !strings.Contains(line, " level=debug msg=") {
			t.Fatalf("stderr line %q is not a logrus text line", line)
		}
	}
	for _, format := range []string{"text", "json"} {
		log := filepath.Join(e.dir, "log."+format)
		out, errs, code := e.rtIn(b, nil, "--debug", "--log", log, "--log-format", format, "run", tid("dbg-"+format))
		if code != 0 || out != "hello\n" || errs != "" {
			t.Fatalf("--log %s: exit %d, stdout %q, stderr %q (want nothing on stderr)", format, code, out, errs)
		}
		data := readFile(t, log)
		has(t, "log "+format, data, runSteps)
		if format == "json" {
			for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
				var m map[string]string
				if err := json.Unmarshal([]byte(line), &m); err != nil || m["level"] != "debug" || m["msg"] == "" || m["time"] == "" {
					t.Fatalf("json log line %q: %v", line, err)
				}
			}
		}
	}
	// exec: the setns init's steps.
	b2 := e.bundle("b2", nil, "sleep", "60")
	e.mustRT("run", "-d", "-b", b2, tid("dbg-exec"))
	_, errs, code = e.rt("--debug", "exec", tid("dbg-exec"), "true")
	if code != 0 {
		t.Fatalf("--debug exec: exit %d, stderr %q", code, errs)
	}
	has(t, "exec stderr", errs, []string{"level=debug", "nsexec container setup", "child process in init(): setns", "setns_init: about to exec"})
	// No --debug: no debug line, and no log file entry either.
	log := filepath.Join(e.dir, "quiet.log")
	if _, errs, code = e.rtIn(b, nil, "--log", log, "run", tid("quiet")); code != 0 || errs != "" {
		t.Fatalf("run: exit %d, stderr %q", code, errs)
	}
	if data, _ := os.ReadFile(log); len(data) != 0 {
		t.Fatalf("log without --debug: %q", data)
	}
}
