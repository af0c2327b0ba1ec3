package libcontainer

import (
	"fmt"
	"os"
)

// Warn reports a warning through the caller's logger. The rt CLI sets it
// to its own (text or JSON, stderr or --log); the default prints one line
// on stderr.
var Warn = func(msg string) { fmt.Fprintf(os.Stderr, "rt: warning: %s\n", msg) }

// initSock is the init's end of the sync socket while set-up runs: the
// init's warnings travel there ("warning" in sync.go) and the parent
// writes them through Warn, so they reach rt's log and never the
// container's stderr or pty.
var initSock *syncSocket

func warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if initSock != nil && initSock.send(msgWarning, []byte(msg)) == nil {
		return
	}
	Warn(msg)
}
