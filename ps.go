package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

var psCommand = &cli.Command{
	Name:  "ps",
	Usage: "list the processes of a container",
	Description: `Lists the processes in the container's cgroup: as 'ps -ef' rows (or with the
ps options given after the ID) or, with --format json, as a JSON array of host
pids.

EXAMPLE:
   rt ps c1
   rt ps --format json c1
   rt ps c1 -- -o pid,comm`,
	ArgsUsage: "<container-id> [-- ps-args]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
	},
	Action: func(c *cli.Context) error {
		ct, err := loadContainer(c)
		if err != nil {
			return err
		}
		pids, err := ct.Processes()
		if err != nil {
			return err
		}
		switch f := c.String("format"); f {
		case "json":
			// runc prints the host pids as a JSON array.
			if pids == nil {
				pids = []int{}
			}
			return json.NewEncoder(os.Stdout).Encode(pids)
		case "table":
			args := c.Args().Tail()
			if len(args) > 0 && args[0] == "--" {
				args = args[1:]
			}
			return psTable(pids, args)
		default:
			return fmt.Errorf("--format: unknown format %q (want table or json)", f)
		}
	},
}

// psTable runs the host's ps (default -ef) and keeps the header and the
// lines whose PID column is one of the container's.
func psTable(pids []int, psArgs []string) error {
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	pidCol := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			pidCol = i
		}
	}
	if pidCol < 0 {
		return fmt.Errorf("ps %s: no PID column in its output", strings.Join(psArgs, " "))
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	fmt.Println(lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > pidCol {
			if p, err := strconv.Atoi(f[pidCol]); err == nil && in[p] {
				fmt.Println(l)
			}
		}
	}
	return nil
}
