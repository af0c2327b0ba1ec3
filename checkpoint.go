package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// checkpoint and restore are runc's CRIU commands, which rt does not have
// (README: Not supported). They exist so that a caller that tries them
// (containerd, podman, a script) gets that answer in one clear line, with
// any of runc's flags, rather than "unknown command"; hidden from the
// command list, since they do nothing.
var checkpointCommand = notSupportedCommand("checkpoint", "checkpoint a running container (not supported: rt has no CRIU support)")

var restoreCommand = notSupportedCommand("restore", "restore a container from a checkpoint (not supported: rt has no CRIU support)")

func notSupportedCommand(name, usage string) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "<container-id>",
		Hidden:    true,
		Description: `rt has no checkpoint/restore (CRIU): this command always fails, whatever
its arguments, with a one-line "not supported" error and exit status 1.`,
		// runc's flags (--image-path, --leave-running, ...) are accepted
		// here only to be answered with the same error.
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			for _, a := range c.Args().Slice() {
				if a == "-h" || a == "--help" {
					return cli.ShowCommandHelp(c.Lineage()[1], name)
				}
			}
			return fmt.Errorf("%s: not supported: rt has no checkpoint/restore (CRIU)", name)
		},
	}
}
