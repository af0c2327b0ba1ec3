package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

// Per-container overrides of `rt run` and `rt create`, in the spirit of
// `docker run`: they change the spec this one container runs with (what
// `rt exec` and the saved state see), never config.json. The spellings are
// runc exec's (--env/-e, --cwd, --user/-u).

var overrideFlags = []cli.Flag{
	&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set NAME=value in the process's environment, replacing NAME (repeatable; NAME alone: rt's own value)"},
	&cli.StringFlag{Name: "cwd", Usage: "working directory `DIR` of the process (absolute)"},
	&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run the process as `UID[:GID]` (numeric; drops the config's additional gids)"},
	&cli.StringFlag{Name: "hostname", Usage: "hostname of the container (default: the config's, or the container ID when it names none)"},
}

// maxHostname is the kernel's limit (HOST_NAME_MAX).
const maxHostname = 64

// splitCommand splits `ID [-- COMMAND [ARG...]]`. Anything else after the
// ID is an error: urfave/cli stops parsing flags at the ID, so a flag there
// would otherwise be silently dropped.
func splitCommand(c *cli.Context) (id string, cmd []string, err error) {
	args := c.Args().Slice()
	name := c.Command.Name
	if len(args) == 0 {
		return "", nil, fmt.Errorf("%s: missing container ID (usage: rt %s %s)", name, name, c.Command.ArgsUsage)
	}
	id = args[0]
	if strings.HasPrefix(id, "-") && len(id) > 1 {
		return "", nil, fmt.Errorf("%s: %q is not a container ID (unknown flag?)", name, id)
	}
	rest := args[1:]
	if len(rest) == 0 {
		return id, nil, nil
	}
	if rest[0] != "--" {
		return "", nil, extraArgError(c, rest[0])
	}
	if len(rest) == 1 {
		return "", nil, fmt.Errorf("%s: nothing after -- (want a command: rt %s %s -- COMMAND [ARG...])", name, name, id)
	}
	return id, rest[1:], nil
}

// extraArgError explains an argument the command does not take.
func extraArgError(c *cli.Context, arg string) error {
	name := c.Command.Name
	if strings.HasPrefix(arg, "-") && arg != "-" && arg != "--" {
		return fmt.Errorf("%s: flag %s after the container ID: flags go before it (usage: rt %s [flags] %s)", name, arg, name, c.Command.ArgsUsage)
	}
	if name == "run" || name == "create" {
		return fmt.Errorf("%s: unexpected argument %q after the container ID (a command goes after --: rt %s ID -- COMMAND [ARG...])", name, arg, name)
	}
	return fmt.Errorf("%s: unexpected argument %q (usage: rt %s %s)", name, arg, name, c.Command.ArgsUsage)
}

// applyOverrides edits spec for this container: the command after --, the
// flags of overrideFlags, and the default hostname. Errors name the flag.
func applyOverrides(c *cli.Context, id string, spec *specs.Spec, cmd []string) error {
	p := spec.Process
	needProcess := func(what string) error {
		if p == nil {
			return fmt.Errorf("%s: config.json has no process to change", what)
		}
		return nil
	}
	if len(cmd) > 0 {
		if err := needProcess("--"); err != nil {
			return err
		}
		p.Args = cmd
	}
	if env := c.StringSlice("env"); len(env) > 0 {
		if err := needProcess("--env"); err != nil {
			return err
		}
		kvs, err := envFlag(env)
		if err != nil {
			return err
		}
		p.Env = mergeEnv(p.Env, kvs)
	}
	if c.IsSet("cwd") {
		if err := needProcess("--cwd"); err != nil {
			return err
		}
		cwd := c.String("cwd")
		if !filepath.IsAbs(cwd) {
			return fmt.Errorf("--cwd %q: not an absolute path", cwd)
		}
		p.Cwd = cwd
	}
	if c.IsSet("user") {
		if err := needProcess("--user"); err != nil {
			return err
		}
		u, err := parseUser(c.String("user"), p.User)
		if err != nil {
			return err
		}
		p.User = u
	}
	newUTS := false
	hasUTS := false
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.UTSNamespace {
				hasUTS, newUTS = true, ns.Path == ""
			}
		}
	}
	switch {
	case c.IsSet("hostname"):
		h := c.String("hostname")
		if !hasUTS {
			return errors.New("--hostname: config.json has no uts namespace to set it in")
		}
		if h == "" || len(h) > maxHostname {
			return fmt.Errorf("--hostname %q: must be 1 to %d bytes", h, maxHostname)
		}
		spec.Hostname = h
	case spec.Hostname == "" && newUTS:
		// As Docker: a container of its own is called by its ID.
		spec.Hostname = id
		if len(spec.Hostname) > maxHostname {
			spec.Hostname = spec.Hostname[:maxHostname]
		}
	}
	return nil
}

// envFlag checks NAME=value entries; NAME alone takes rt's own value.
func envFlag(env []string) ([]string, error) {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, hasValue := strings.Cut(kv, "=")
		if name == "" {
			return nil, fmt.Errorf("--env %q: want NAME=value", kv)
		}
		if !hasValue {
			v, ok := os.LookupEnv(name)
			if !ok {
				return nil, fmt.Errorf("--env %s: not set in rt's environment (want NAME=value)", name)
			}
			kv = name + "=" + v
		}
		out = append(out, kv)
	}
	return out, nil
}

// parseUser reads --user UID[:GID]; without GID the gid of base is kept
// (runc exec's rule). The additional gids of base are dropped: they were
// its user's.
func parseUser(s string, base specs.User) (specs.User, error) {
	uid, gid, hasGid := strings.Cut(s, ":")
	n, err := strconv.ParseUint(uid, 10, 32)
	if err != nil {
		return base, fmt.Errorf("--user %q: uid must be a number", s)
	}
	u := specs.User{UID: uint32(n), GID: base.GID, Umask: base.Umask}
	if hasGid {
		g, err := strconv.ParseUint(gid, 10, 32)
		if err != nil {
			return base, fmt.Errorf("--user %q: gid must be a number", s)
		}
		u.GID = uint32(g)
	}
	return u, nil
}

// mergeEnv adds or replaces NAME=value entries.
func mergeEnv(env, add []string) []string {
	out := append([]string{}, env...)
	for _, kv := range add {
		name, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, e := range out {
			if n, _, _ := strings.Cut(e, "="); n == name {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
