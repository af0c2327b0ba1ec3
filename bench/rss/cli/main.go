// cli: the floor plus urfave/cli/v2 parsing a run-like command line.
package main

import (
	"encoding/json"
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	seccomp "github.com/seccomp/libseccomp-golang"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

func main() {
	app := &cli.App{
		Flags: []cli.Flag{&cli.StringFlag{Name: "root"}, &cli.BoolFlag{Name: "debug"}, &cli.StringFlag{Name: "log"}},
		Commands: []*cli.Command{{
			Name:  "run",
			Flags: []cli.Flag{&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}}, &cli.BoolFlag{Name: "detach", Aliases: []string{"d"}}},
			Action: func(c *cli.Context) error {
				var s specs.Spec
				b, err := os.ReadFile(c.String("bundle") + "/config.json")
				if err == nil {
					_ = json.Unmarshal(b, &s)
				}
				return nil
			},
		}},
	}
	_ = app.Run(os.Args)
	_, _ = securejoin.SecureJoin("/", "x")
	_, _, _ = seccomp.GetLibraryVersion()
	_ = unix.Getpid()
}
