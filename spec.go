package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer/specconv"
)

var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "write an example config.json into the bundle",
	Description: `Writes config.json into the bundle (--bundle, default the current directory),
runc's example: a busybox-style 'sh' with terminal: true, in new pid, network,
ipc, uts, mount and cgroup namespaces, a read-only rootfs at "rootfs", and
hostname "rt". Edit it before 'rt run': process.args is the command line run in
the container, process.terminal must be false where rt has no terminal
(scripts, pipes, CI), root.path is the root filesystem. --rootless adds a user
namespace mapping your uid to root, for running without root. An existing
config.json is never overwritten.

EXAMPLE:
   mkdir -p bundle/rootfs && docker export $(docker create busybox) | tar -xC bundle/rootfs
   rt spec -b bundle
   jq '.process.args = ["echo", "hello world"] | .process.terminal = false' bundle/config.json >c && mv c bundle/config.json
   rt run -b bundle hello`,
	ArgsUsage: " ",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "bundle `DIR` to write config.json into"},
		&cli.BoolFlag{Name: "rootless", Usage: "generate a spec for a rootless container"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() != 0 {
			return fmt.Errorf("spec: takes no arguments")
		}
		path := filepath.Join(c.String("bundle"), "config.json")
		b, err := json.MarshalIndent(specconv.Default(c.Bool("rootless")), "", "\t")
		if err != nil {
			return err
		}
		// O_EXCL: never overwrite a config the user may have edited.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("spec: %s already exists; remove it first", path)
		}
		if err != nil {
			return fmt.Errorf("spec: %w", err)
		}
		if _, err := f.Write(append(b, '\n')); err != nil {
			f.Close()
			return fmt.Errorf("spec: write %s: %w", path, err)
		}
		return f.Close()
	},
}
