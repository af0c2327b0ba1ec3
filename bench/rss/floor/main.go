// floor: what a start path needs at the least — runtime-spec types, x/sys,
// securejoin, libseccomp (cgo) — decoding a config.json. Its peak RSS is
// the floor for rt's, were nothing else linked (bench/rss/run.sh).
package main

import (
	"encoding/json"
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func main() {
	var s specs.Spec
	if len(os.Args) > 1 {
		b, err := os.ReadFile(os.Args[1])
		if err == nil {
			_ = json.Unmarshal(b, &s)
		}
	}
	_, _ = securejoin.SecureJoin("/", "x")
	_, _, _ = seccomp.GetLibraryVersion()
	_ = unix.Getpid()
}
