package libcontainer

import (
	"os"
	"runtime"
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
			// To this thread, not the process: a process-directed
			// SIGSTOP may be taken by another thread while this one
			// runs on past the phase for a while.
			runtime.LockOSThread()
			_ = unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGSTOP)
			runtime.UnlockOSThread()
			return
		}
	}
}
