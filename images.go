package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

var imagesCommand = &cli.Command{
	Name:  "images",
	Usage: "list the images of the store",
	Description: `One line per name: NAME, ID (12 digits of the config digest), SIZE (of the
files in its layers), CREATED. An image without names shows <none>.
--format json prints one array of {id, names, size, created, layers}.

EXAMPLE:
   rt images
   rt images --format json | jq -r '.[].names[]'`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Value: "table", Usage: "table or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only the IDs"},
	},
	Action: func(c *cli.Context) error {
		if err := noArgs(c); err != nil {
			return err
		}
		s, err := openStore(c)
		if err != nil {
			return err
		}
		recs, err := s.List()
		if err != nil {
			return err
		}
		switch f := c.String("format"); f {
		case "json":
			type out struct {
				ID      string     `json:"id"`
				Names   []string   `json:"names"`
				Size    int64      `json:"size"`
				Created *time.Time `json:"created,omitempty"`
				Layers  []string   `json:"layers"`
			}
			list := []out{}
			for _, r := range recs {
				o := out{ID: r.ID.String(), Names: r.Names, Size: r.Size, Created: r.Created, Layers: []string{}}
				if o.Names == nil {
					o.Names = []string{}
				}
				for _, l := range r.Layers {
					o.Layers = append(o.Layers, l.String())
				}
				list = append(list, o)
			}
			return json.NewEncoder(os.Stdout).Encode(list)
		case "table":
		default:
			return fmt.Errorf("images: --format %q: want table or json", f)
		}
		if c.Bool("quiet") {
			for _, r := range recs {
				fmt.Println(r.ID.Encoded()[:12])
			}
			return nil
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
		fmt.Fprintln(w, "NAME\tID\tSIZE\tCREATED")
		for _, r := range recs {
			created := "-"
			if r.Created != nil {
				created = r.Created.UTC().Format("2006-01-02 15:04:05")
			}
			names := r.Names
			if len(names) == 0 {
				names = []string{"<none>"}
			}
			for _, n := range names {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", n, r.ID.Encoded()[:12], humanSize(r.Size), created)
			}
		}
		return w.Flush()
	},
}
