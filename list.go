package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer"
)

var listCommand = &cli.Command{
	Name:    "list",
	Aliases: []string{"ps-all"},
	Usage:   "list containers",
	Description: `Lists the containers under --root with their init's pid, status (created,
running, paused, stopped), bundle, creation time and owner. --format json prints
runc's JSON array ("null" when there are none); -q prints the IDs only, one per
line, for scripts. A --root that does not exist yet is an empty list.

EXAMPLE:
   rt list
   rt list -q | xargs -r rt delete --force
   rt list --format json | jq -r '.[] | select(.status == "stopped") | .id'`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only IDs"},
	},
	Action: func(c *cli.Context) error {
		if err := noArgs(c); err != nil {
			return err
		}
		root, err := rootDir(c)
		if err != nil {
			return err
		}
		// A --root that does not exist yet holds no containers (runc).
		cts, err := libcontainer.List(root)
		if err != nil {
			return err
		}
		var states []*libcontainer.OCIState
		for _, ct := range cts {
			states = append(states, ct.OCIState())
		}
		if c.Bool("quiet") {
			for _, s := range states {
				fmt.Println(s.ID)
			}
			return nil
		}
		switch f := c.String("format"); f {
		case "json":
			// runc prints "null" for no containers; keep that.
			b, err := json.Marshal(states)
			if err != nil {
				return err
			}
			fmt.Println(string(b))
		case "table":
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			return w.Flush()
		default:
			return fmt.Errorf("--format: unknown format %q (want table or json)", f)
		}
		return nil
	},
}
