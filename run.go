package main

import (
	"os"

	"github.com/urfave/cli/v2"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container, in the foreground unless --detach",
	ArgsUsage: "<container-id> [-- COMMAND [ARG...]]",
	Description: `Runs a container from the bundle (--bundle, default the current directory):
config.json says what to run (process.args), in which root filesystem (root.path)
and with which namespaces, mounts and limits. In the foreground rt passes stdio
through, forwards signals, and exits with the process's status (128+N when
killed by signal N; 126 when the program cannot be executed, 127 when it is not
found; 1 when rt itself fails), then deletes the container (unless --keep).
The overrides below change this container only, never config.json: a COMMAND
after -- replaces process.args; --env, --cwd, --user and --hostname replace the
config's values. Without a hostname in config.json the container is called by
its ID. Flags go before the ID. Make a bundle with 'rt import' (from a docker
save archive) or 'rt spec' (an example config.json for a rootfs of your own).

EXAMPLE:
   rt import busybox.tar ./bb
   rt run -b ./bb hello -- echo hello world
   for i in 1 2 3; do rt run -b ./bb -e N=$i job$i -- sh -c 'echo $N $(hostname)'; done`,
	Flags: append([]cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container has started"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "accepted for runc compatibility"},
	}, createFlags...),
	Action: func(c *cli.Context) error {
		detach := c.Bool("detach")
		var sub *signalSub
		if !detach {
			sub = subscribeSignals() // while the container is created
		}
		// Created locked: start needs no second lock and state reload.
		ct, err := createContainer(c, detach, true)
		if err != nil {
			return err
		}
		if detach {
			if err := ct.Start(); err != nil {
				_ = ct.Delete(true)
				return err
			}
			ct.Unlock()
			return nil
		}
		status, err := runForeground(ct, sub)
		if !c.Bool("keep") {
			if ct.Lock() == nil {
				_ = ct.Delete(true)
				ct.Unlock()
			}
		}
		if err != nil {
			return err
		}
		os.Exit(status)
		return nil
	},
}
