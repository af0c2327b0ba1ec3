package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/imagestore"
)

var loadCommand = &cli.Command{
	Name:      "load",
	Usage:     "put the images of a docker save (or OCI layout) archive into the image store",
	ArgsUsage: "ARCHIVE|-",
	Description: `Stores every image of the archive (for a multi-platform index, the one for
this machine) in the image store (--store, before the command; default
/var/lib/rt) and prints their names. Each layer is unpacked once, verified
against its digests, and shared by every image and container that uses it:
a layer already in the store is not read again. Then 'rt run --image NAME'
starts containers from it. ARCHIVE "-" reads stdin. On a terminal, progress
(layers and bytes) goes to stderr.

EXAMPLE:
   docker save busybox >busybox.tar
   rt load busybox.tar
   rt run --image busybox c1 -- sh -c 'echo $HOSTNAME'`,
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "sync", Usage: "flush each layer to disk before it becomes visible (survives a power loss; slower)"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() != 1 {
			return fmt.Errorf("load: want one ARCHIVE (or - for stdin), got %d arguments", c.NArg())
		}
		arg := c.Args().First()
		s, err := openStore(c)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		src, name, err := openArchive("load", arg)
		if err != nil {
			return err
		}
		if src != os.Stdin {
			defer src.Close()
		}
		// An interrupted load removes its partial layer.
		ctx, stop := interruptible(c.Context)
		defer stop()
		opts := imagestore.LoadOptions{Warn: func(msg string) { warn("load: " + msg) }, Sync: c.Bool("sync")}
		clear := func() {}
		if isTerminal(os.Stderr) {
			opts.Progress, clear = progressLine()
		}
		loaded, err := s.Load(ctx, src, name, opts)
		clear() // before the names and any error line
		for _, l := range loaded {
			// Names were checked at load: reference characters only.
			for _, n := range l.Names {
				fmt.Printf("Loaded image: %s\n", n)
			}
			if len(l.Names) == 0 {
				fmt.Printf("Loaded image ID: %s\n", l.ID)
			}
		}
		return err
	},
}

// progressLine draws one line on stderr, at most 10 times a second; clear
// erases it.
func progressLine() (draw func(imagestore.Progress), clear func()) {
	var last time.Time
	return func(p imagestore.Progress) {
		if !p.Done && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		total := ""
		if p.Total > 0 {
			total = " of " + humanSize(p.Total)
		}
		fmt.Fprintf(os.Stderr, "\r\x1b[K%s: layer %d/%d: %s%s", p.Image, p.Layer, p.Layers, humanSize(p.Bytes), total)
	}, func() { fmt.Fprint(os.Stderr, "\r\x1b[K") }
}

func humanSize(n int64) string {
	const unit = 1000 // as docker images
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%cB", float64(n)/float64(div), "kMGTPE"[exp])
}
