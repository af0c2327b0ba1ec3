package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

var gcCommand = &cli.Command{
	Name:  "gc",
	Usage: "remove the layers of the store that no image and no container uses",
	Description: `Removes layers no image and no container (running or not, until it is
deleted) uses, the configs of removed images, leftovers of killed loads, and
the directories of containers whose state is gone (a reboot cleared --root).
It waits for loads and creates in progress, and they for it.

EXAMPLE:
   rt rmi busybox; rt gc`,
	Action: func(c *cli.Context) error {
		if err := noArgs(c); err != nil {
			return err
		}
		s, err := openStore(c)
		if err != nil {
			return err
		}
		r, err := s.GC()
		if err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		fmt.Printf("removed %d layers (%s), %d configs, %d container directories\n", r.Layers, humanSize(r.Bytes), r.Blobs, r.Containers)
		return nil
	},
}
