// cli: the floor plus urfave/cli/v2 parsing a run-like command line.
package main

import (
	"os"

	"github.com/rt-project/rt/bench/rss/internal/floor"
	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Flags: []cli.Flag{&cli.StringFlag{Name: "root"}, &cli.BoolFlag{Name: "debug"}, &cli.StringFlag{Name: "log"}},
		Commands: []*cli.Command{{
			Name:  "run",
			Flags: []cli.Flag{&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}}, &cli.BoolFlag{Name: "detach", Aliases: []string{"d"}}},
			Action: func(c *cli.Context) error {
				floor.Run(c.String("bundle") + "/config.json")
				return nil
			},
		}},
	}
	_ = app.Run(os.Args)
}
