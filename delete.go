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
		// Remains of creates killed before their directory had a name.
		libcontainer.RemoveStaleCreating(root)
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
	// runc: delete --force of a missing container succeeds. That includes
	// one deleted (and perhaps re-created under the same ID) by another rt
	// while this one waited for its lock: Lock then says the container
	// looked up does not exist any more.
	gone := func(err error) error {
		if force && errors.Is(err, libcontainer.ErrNotExist) {
			return nil
		}
		return err
	}
	ct, err := libcontainer.Load(root, id)
	if err != nil {
		return gone(err)
	}
	if err := ct.Lock(); err != nil {
		return gone(err)
	}
	defer ct.Unlock()
	return ct.Delete(force)
}
