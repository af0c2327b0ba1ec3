package libcontainer

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The init's stderr during set-up. Until it hands over ("ready-ack") the
// init's fd 2 is a pipe to rt, and the container's stderr waits at another
// fd (envStderrFd). So what the init writes while rt sets it up comes to
// rt, not to the container's stderr:
//
//   - warnings normally come over the sync socket (warnf, log.go); a
//     "rt: warning: ..." line here goes the same way, through Warn;
//   - a crash of the Go runtime in the init (a fatal error, a signal: its
//     traceback is off, GOTRACEBACK=none, but the runtime still prints a
//     few lines) becomes part of rt's one error line:
//     `container init exited during set-up (killed by SIGABRT): runtime/cgo: pthread_create failed: ...`;
//   - anything else is passed on as it came.
//
// After the ack the init puts the container's stderr back on fd 2 (with a
// terminal the pty is there already), before the user process can run.

const envStderrFd = "_RT_STDERR_FD"

// savedStderr is, in the init, the container's stderr until handover; -1
// when there is none (a terminal, or restored already).
var savedStderr = -1

// restoreStderr puts the container's stderr back on fd 2, unless dup is
// false (the pty is on fd 2 already).
func restoreStderr(dup bool) error {
	if savedStderr < 0 {
		return nil
	}
	fd := savedStderr
	savedStderr = -1
	defer unix.Close(fd)
	if dup {
		if err := unix.Dup3(fd, 2, 0); err != nil {
			return fmt.Errorf("restore stderr: %w", err)
		}
	}
	return nil
}

// stderrRelay is rt's end of the pipe.
type stderrRelay struct {
	r    *os.File
	done chan struct{}
	mu   sync.Mutex
	rest []string // lines that are not warnings, in order
}

const maxRelayLines = 64

func newStderrRelay(r *os.File) *stderrRelay {
	s := &stderrRelay{r: r, done: make(chan struct{})}
	go s.run()
	return s
}

func (s *stderrRelay) run() {
	defer close(s.done)
	defer s.r.Close()
	sc := bufio.NewScanner(s.r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	for sc.Scan() {
		line := sc.Text()
		if msg, ok := strings.CutPrefix(line, "rt: warning: "); ok {
			Warn(msg) // a warning written before the sync socket existed
			continue
		}
		s.mu.Lock()
		if len(s.rest) < maxRelayLines {
			s.rest = append(s.rest, line)
		}
		s.mu.Unlock()
	}
}

// wait returns once every writer is gone: the init handed over or died,
// and the intermediate process exited.
func (s *stderrRelay) wait() { <-s.done }

// crashLine is the first line a dead init left, e.g. "fatal error: ..." or
// "runtime/cgo: pthread_create failed: ..." (the rest is registers).
func (s *stderrRelay) crashLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.rest {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// flush passes on what a live init wrote that was not a warning.
func (s *stderrRelay) flush(w *os.File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.rest {
		fmt.Fprintln(w, l)
	}
	s.rest = nil
}
