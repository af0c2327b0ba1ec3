package libcontainer

import (
	"fmt"
	"os"
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

// initSock is the init's end of the sync socket while set-up runs: the
// init's warnings and notes travel there ("warning", "note" in sync.go) and
// the parent hands them to Warn and Note, so they reach rt's log and never
// the container's stderr or pty.
var initSock *syncSocket

// logHooks maps the sync messages that carry log lines to their hook.
var logHooks = map[string]*func(string){msgWarning: &Warn, msgNote: &Note}

func warnf(format string, args ...any) { initLog(msgWarning, fmt.Sprintf(format, args...)) }

func notef(format string, args ...any) { initLog(msgNote, fmt.Sprintf(format, args...)) }

// initLog sends a log line to the parent while the sync socket is open, and
// hands it to the local hook otherwise.
func initLog(typ, msg string) {
	if initSock != nil && initSock.send(typ, []byte(msg)) == nil {
		return
	}
	(*logHooks[typ])(msg)
}
