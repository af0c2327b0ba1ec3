package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/rt-project/rt/rootfs"
)

var importCommand = &cli.Command{
	Name:      "import",
	Usage:     "unpack a docker save (or OCI layout) archive into a bundle",
	ArgsUsage: "ARCHIVE|- BUNDLE [-- COMMAND [ARG...]]",
	Description: `Writes BUNDLE/rootfs and BUNDLE/config.json from an image archive made by
'docker save' (any Docker version) or an OCI image layout tar. ARCHIVE "-" reads
stdin. A COMMAND after -- replaces the image's Cmd, as 'docker run IMAGE COMMAND'
does. Flags go before ARCHIVE. The bundle's process runs as the image says
(Entrypoint + Cmd, Env, WorkingDir, User), without a terminal, in a network
namespace of its own with only lo (--net host shares the host's), and with
Docker's default capabilities. Its config.json names no hostname, so each
container is called by its ID.

EXAMPLE:
   docker save busybox >busybox.tar
   rt import busybox.tar ./bb && cd bb && rt run demo
   rt import --entrypoint /bin/sh busybox.tar ./bb2 -- -c 'echo hi'`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "image", Usage: "take the image with this tag or ID from an archive holding several"},
		&cli.BoolFlag{Name: "force", Usage: "replace BUNDLE if it exists and is not empty"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "set process.terminal (off by default, for scripting)"},
		&cli.StringFlag{Name: "net", Value: "none", Usage: "network: none (a new namespace with only lo) or host"},
		&cli.StringFlag{Name: "max-size", Usage: "refuse an image whose files add up to more than this (bytes, or with a K, M, G or T suffix)"},
		&cli.StringFlag{Name: "entrypoint", Usage: "replace the image's Entrypoint (and drop its Cmd)"},
	},
	Action: func(c *cli.Context) error {
		args := c.Args().Slice()
		var cmd []string
		for i, a := range args {
			if a == "--" {
				args, cmd = args[:i], args[i+1:]
				break
			}
		}
		if len(args) != 2 {
			return fmt.Errorf("import: want ARCHIVE and BUNDLE, got %q (flags go before ARCHIVE, the command after --)", args)
		}
		for _, a := range args {
			if strings.HasPrefix(a, "-") && a != "-" {
				return fmt.Errorf("import: flag %s must come before ARCHIVE", a)
			}
		}
		opts := rootfs.Options{
			Image: c.String("image"),
			Force: c.Bool("force"),
			Spec:  rootfs.SpecOptions{Args: cmd, Terminal: c.Bool("tty")},
			Warn:  func(msg string) { warn("import: " + msg) },
		}
		switch n := c.String("net"); n {
		case "none":
		case "host":
			opts.Spec.HostNetwork = true
		default:
			return fmt.Errorf("import: --net %q: want none or host", n)
		}
		if s := c.String("max-size"); s != "" {
			n, err := parseSize(s)
			if err != nil {
				return fmt.Errorf("import: --max-size %q: %w", s, err)
			}
			opts.MaxSize = n
		}
		if c.IsSet("entrypoint") {
			ep := []string{}
			if e := c.String("entrypoint"); e != "" {
				ep = []string{e}
			}
			opts.Spec.Entrypoint = &ep
		}

		// An ordinary user's import (import_userns.go).
		if err := rootlessImport(&opts); err != nil {
			return err
		}
		src, name, err := openArchive("import", args[0])
		if err != nil {
			return err
		}
		if src != os.Stdin {
			defer src.Close()
		}
		// An interrupted import removes its temporary bundle.
		ctx, stop := interruptible(c.Context)
		defer stop()
		_, err = rootfs.Import(ctx, src, name, args[1], opts)
		return err
	},
}

// parseSize reads a byte count with an optional binary K/M/G/T suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	if i := strings.IndexAny(s, "kKmMgGtT"); i >= 0 && i == len(s)-1 {
		mult = int64(1) << (10 * (1 + strings.IndexByte("kmgt", byte(unicode.ToLower(rune(s[i]))))))
		s = s[:i]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, errors.New("want a positive number of bytes, e.g. 512M")
	}
	return n * mult, nil
}
