package libcontainer

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// TestStop is a fault-injection hook for rt's own tests (documented in
// README.md, "Tests"): when the environment variable RT_TEST_STOP holds
// phase (a comma-separated list), rt stops itself with SIGSTOP there, so a
// test can act on the exact moment (SIGKILL rt, race another command) and
// then SIGCONT it. It only ever pauses rt; nothing else changes. Phases:
//
//	lock          Container.Lock, after the lookup and before the flock
//	start-unlink  Start, after the user process was exec'd, before exec.fifo is removed
//	delete-rmdir  delete, after state.json was removed, before the directory is
func TestStop(phase string) {
	v := os.Getenv("RT_TEST_STOP")
	if v == "" {
		return
	}
	for _, p := range strings.Split(v, ",") {
		if p == phase {
			_ = unix.Kill(os.Getpid(), unix.SIGSTOP)
			return
		}
	}
}
