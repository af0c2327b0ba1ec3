package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/libcontainer"
)

// event is one line of `rt events`, shaped as runc's types/events.go.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

var eventsCommand = &cli.Command{
	Name:  "events",
	Usage: "print the container's stats and OOM events as JSON lines",
	Description: `Prints one JSON line per event of a running container: its resource usage
(cgroup stats) every --interval, and "oom" when the kernel's OOM killer hits it;
with --stats, the stats once. The shapes are runc's, which containerd reads.

EXAMPLE:
   rt events --stats c1 | jq .data.memory.usage
   rt events --interval 1s c1`,
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "stats interval"},
		&cli.BoolFlag{Name: "stats", Usage: "print stats once and exit"},
	},
	Action: func(c *cli.Context) error {
		ct, err := loadContainer(c)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		stats := func() error {
			s, err := ct.Stats()
			if err != nil {
				return err
			}
			return enc.Encode(event{Type: "stats", ID: ct.ID(), Data: s})
		}
		if c.Bool("stats") {
			return stats()
		}
		interval := c.Duration("interval")
		if interval <= 0 {
			return fmt.Errorf("--interval: must be positive")
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ooms, err := ct.OOMEvents(ctx)
		if err != nil {
			return err
		}
		tick := time.NewTicker(interval)
		defer tick.Stop()
		if err := stats(); err != nil {
			return err
		}
		for {
			select {
			case _, ok := <-ooms:
				if !ok {
					ooms = nil // cgroup gone; stats will notice the stop
					continue
				}
				if err := enc.Encode(event{Type: "oom", ID: ct.ID()}); err != nil {
					return err
				}
			case <-tick.C:
				if ct.Status() == libcontainer.Stopped {
					// An OOM kill of the init stops the container: the
					// tick may see that before the watcher has delivered
					// the OOM. It closes the channel once it has seen the
					// cgroup empty, so wait for that (bounded).
					return drainOOMs(ooms, func() error { return enc.Encode(event{Type: "oom", ID: ct.ID()}) })
				}
				if err := stats(); err != nil {
					return err
				}
			}
		}
	},
}

// drainOOMs reports the OOM events left on ooms until it closes, for at most
// two seconds.
func drainOOMs(ooms <-chan struct{}, report func() error) error {
	timeout := time.After(2 * time.Second)
	for ooms != nil {
		select {
		case _, ok := <-ooms:
			if !ok {
				return nil
			}
			if err := report(); err != nil {
				return err
			}
		case <-timeout:
			return nil
		}
	}
	return nil
}
