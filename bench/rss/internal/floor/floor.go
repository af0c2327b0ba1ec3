// Package floor is what every measurement program of bench/rss does: what a
// start path needs at the least (runtime-spec types, x/sys, securejoin,
// libseccomp through cgo), decoding the config.json named by the first
// argument. Each program adds the packages it measures on top.
package floor

import (
	"encoding/json"
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Run decodes the config at path ("" for none) and calls the floor's
// packages once, so that they are linked and initialised.
func Run(path string) {
	var s specs.Spec
	if path != "" {
		if b, err := os.ReadFile(path); err == nil {
			_ = json.Unmarshal(b, &s)
		}
	}
	_, _ = securejoin.SecureJoin("/", "x")
	_, _, _ = seccomp.GetLibraryVersion()
	_ = unix.Getpid()
}

// Arg is os.Args[i], or "".
func Arg(i int) string {
	if len(os.Args) > i {
		return os.Args[i]
	}
	return ""
}
