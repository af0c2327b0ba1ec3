package libcontainer

import (
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"
)

// Warn reports a warning through the caller's logger. The rt CLI sets it
// to its own (text or JSON, stderr or --log); the default prints one line
// on stderr.
var Warn = func(msg string) { fmt.Fprintf(os.Stderr, "rt: warning: %s\n", msg) }

// Note records something rt adjusted the way runc and crun do, silently for
// them (say the ambient capabilities of runc 1.1's `runc spec`): worth a
// line in the log, not one on the stderr of every run of a common config.
// The rt CLI writes it to the --log file at warning level (to stderr only
// with --debug); the default drops it.
var Note = func(msg string) {}

// DebugEnabled (rt --debug) turns on Debug lines, the init's and
// nsenter.c's included: the parent sets envDebug for them, so a run
// without --debug sends none over the socket.
var DebugEnabled bool

// Debug receives the debug lines of the parent, the init and nsenter.c
// (rt's logger prints them at level debug).
var Debug = func(msg string) {}

// envDebug tells the init and nsenter.c to send their debug lines.
const envDebug = "_RT_DEBUG"

// initDebug: the init was told to send its debug lines (envDebug).
var initDebug bool

// initLogrus sends the init's logrus lines (those of runc's seccomp
// package, say "seccomp filter flags: N" at debug level) to the parent
// while the sync socket is open, as warnings or, with debug, debug lines;
// later they are dropped: fd 2 is the container's by then.
func initLogrus(debug bool) {
	initDebug = debug
	logrus.SetOutput(io.Discard)
	if debug {
		logrus.SetLevel(logrus.DebugLevel)
	}
	logrus.AddHook(initLogrusHook{})
}

type initLogrusHook struct{}

func (initLogrusHook) Levels() []logrus.Level { return logrus.AllLevels }

func (initLogrusHook) Fire(e *logrus.Entry) error {
	typ := msgDebug
	if e.Level <= logrus.WarnLevel {
		typ = msgWarning
	}
	if initSock != nil {
		_ = initSock.send(typ, []byte(e.Message))
	}
	return nil
}

// initSock is the init's end of the sync socket while set-up runs: the
// init's warnings and notes travel there ("warning", "note" in sync.go) and
// the parent hands them to Warn and Note, so they reach rt's log and never
// the container's stderr or pty.
var initSock *syncSocket

// logHooks maps the sync messages that carry log lines to their hook.
var logHooks = map[string]*func(string){msgWarning: &Warn, msgNote: &Note, msgDebug: &Debug}

func warnf(format string, args ...any) { initLog(msgWarning, fmt.Sprintf(format, args...)) }

func notef(format string, args ...any) { initLog(msgNote, fmt.Sprintf(format, args...)) }

// debugf logs a step with --debug: in the parent to Debug, in the init to
// the parent while the sync socket is open (dropped after: the init's
// stderr is the container's then).
func debugf(format string, args ...any) {
	if initSock != nil {
		if initDebug {
			_ = initSock.send(msgDebug, []byte(fmt.Sprintf(format, args...)))
		}
		return
	}
	if DebugEnabled {
		Debug(fmt.Sprintf(format, args...))
	}
}

// initLog sends a log line to the parent while the sync socket is open, and
// hands it to the local hook otherwise.
func initLog(typ, msg string) {
	if initSock != nil && initSock.send(typ, []byte(msg)) == nil {
		return
	}
	(*logHooks[typ])(msg)
}
