package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
)

var rmiCommand = &cli.Command{
	Name:      "rmi",
	Usage:     "remove image names from the store",
	ArgsUsage: "IMAGE [IMAGE...]",
	Description: `Removes a name; the image goes with its last name (an ID removes the image
and all its names). Layers stay on disk until 'rt gc', and containers
running from the image keep running.

EXAMPLE:
   rt rmi busybox && rt gc`,
	Action: func(c *cli.Context) error {
		if c.NArg() == 0 {
			return errors.New("rmi: want at least one IMAGE")
		}
		s, err := openStore(c)
		if err != nil {
			return err
		}
		var errs []error
		for _, ref := range c.Args().Slice() {
			done, err := s.Remove(ref)
			for _, d := range done {
				fmt.Println(d)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("rmi: %w", err))
			}
		}
		return errors.Join(errs...)
	},
}
