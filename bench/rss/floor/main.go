// floor: what a start path needs at the least — runtime-spec types, x/sys,
// securejoin, libseccomp (cgo) — decoding a config.json. Its peak RSS is
// the floor for rt's, were nothing else linked (bench/rss/run.sh).
package main

import "github.com/rt-project/rt/bench/rss/internal/floor"

func main() { floor.Run(floor.Arg(1)) }
