package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// urfave/cli v2 stops reading a command's flags at its first argument, so
// `rt update c1 --memory 64m` would see --memory as a second argument.
// runc (urfave/cli v1) moves a command's flags that follow its arguments in
// front of them, and callers and scripts rely on it (`runc update ID
// --pids-limit 10`, runc's own tests). reorderArgs does the same before
// urfave/cli parses: only flags the command defines move (with their value);
// an unknown flag stays where it is and is refused as before (idArg), so no
// argument is silently dropped; nothing after "--" moves.

// noReorder are the commands whose arguments after the ID are a program's
// own (runc's SkipArgReorder): `exec ID ls -l`, `ps ID -ef`.
var noReorder = map[string]bool{"exec": true, "ps": true}

// reorderArgs returns args (os.Args) with the flags of the command moved
// before its arguments.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	// Find the command: the first argument that is not a global flag or a
	// global flag's value.
	i := 1
	for i < len(args) {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		f := lookupFlag(app.Flags, a)
		i++
		if f != nil && takesValue(f) && !strings.Contains(a, "=") {
			i++
		}
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil || noReorder[cmd.Name] {
		return args
	}
	out := append([]string{}, args[:i+1]...)
	return append(out, reorderCommandArgs(cmd.Flags, args[i+1:])...)
}

// reorderCommandArgs moves the known flags of args (and the values of
// those that take one) before the other arguments, keeping both orders.
func reorderCommandArgs(flags []cli.Flag, args []string) []string {
	var moved, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		f := lookupFlag(flags, a)
		if f == nil {
			rest = append(rest, a)
			continue
		}
		moved = append(moved, a)
		if takesValue(f) && !strings.Contains(a, "=") && i+1 < len(args) {
			i++
			moved = append(moved, args[i])
		}
	}
	return append(moved, rest...)
}

// lookupFlag returns the flag of flags that arg (-x, --name, --name=v)
// names, the help flag included; nil when arg is not a defined flag.
func lookupFlag(flags []cli.Flag, arg string) cli.Flag {
	if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
		return nil
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	for _, f := range append(flags, cli.HelpFlag) {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// takesValue: every flag but a boolean one reads the next argument.
func takesValue(f cli.Flag) bool {
	_, isBool := f.(*cli.BoolFlag)
	return !isBool
}
