package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete containers and everything they hold",
	ArgsUsage: "<container-id> [container-id...]",
	Description: `Removes each container: its processes (a created container is killed; a
running or paused one only with --force), its cgroup, its mounts and its state,
then runs its poststop hooks. With --force a container that does not exist is
not an error. With several IDs every one is tried; the exit status is 1 if any
failed, and each failure is one line.

EXAMPLE:
   rt delete c1
   rt delete --force $(rt list -q)`,
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill a running container first"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() == 0 {
			return fmt.Errorf("delete: missing container ID (usage: rt delete %s)", c.Command.ArgsUsage)
		}
		root, err := rootDir(c)
		if err != nil {
			return err
		}
		var errs []error
		for _, id := range c.Args().Slice() {
			if err := deleteOne(root, id, c.Bool("force")); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) <= 1 {
			return errors.Join(errs...)
		}
		// All but the last now, one line each; fatal prints the last.
		for _, err := range errs[:len(errs)-1] {
			reportError(err)
		}
		return errs[len(errs)-1]
	},
}

func deleteOne(root, id string, force bool) error {
	ct, err := libcontainer.Load(root, id)
	if err != nil {
		if force && errors.Is(err, libcontainer.ErrNotExist) {
			return nil // runc: delete --force of a missing container succeeds
		}
		return err
	}
	if err := ct.Lock(); err != nil {
		return err
	}
	defer ct.Unlock()
	return ct.Delete(force)
}
