package main

import (
	"os"

	"github.com/urfave/cli/v2"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container, in the foreground unless --detach",
	ArgsUsage: "<container-id>",
	Flags: append([]cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container has started"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "accepted for runc compatibility"},
	}, createFlags...),
	Action: func(c *cli.Context) error {
		id, err := idArg(c)
		if err != nil {
			return err
		}
		detach := c.Bool("detach")
		ct, err := createContainer(c, id, detach)
		if err != nil {
			return err
		}
		if detach {
			if err := ct.Start(); err != nil {
				_ = ct.Delete(true)
				return err
			}
			return nil
		}
		status, err := runForeground(ct)
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
