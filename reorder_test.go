package main

import (
	"slices"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	app := newApp()
	for _, tc := range []struct{ in, want []string }{
		// runc's urfave/cli v1 order: flags after the ID move before it.
		{[]string{"rt", "update", "c1", "--cpu-period", "900000", "--memory=1m"}, []string{"rt", "update", "--cpu-period", "900000", "--memory=1m", "c1"}},
		{[]string{"rt", "--root", "/r", "--debug", "update", "c1", "--pids-limit", "-1"}, []string{"rt", "--root", "/r", "--debug", "update", "--pids-limit", "-1", "c1"}},
		{[]string{"rt", "--log-format=json", "kill", "c1", "KILL", "--all"}, []string{"rt", "--log-format=json", "kill", "--all", "c1", "KILL"}},
		// A boolean flag takes no value: the ID after it stays an argument.
		{[]string{"rt", "delete", "c1", "-f"}, []string{"rt", "delete", "-f", "c1"}},
		// Nothing moves after --, and an unknown flag stays (idArg refuses it).
		{[]string{"rt", "run", "c1", "-d", "--", "ls", "--bundle", "x"}, []string{"rt", "run", "-d", "c1", "--", "ls", "--bundle", "x"}},
		{[]string{"rt", "update", "c1", "--bogus", "1"}, []string{"rt", "update", "c1", "--bogus", "1"}},
		// exec and ps pass what follows the ID to a program (runc's SkipArgReorder).
		{[]string{"rt", "exec", "c1", "ls", "-l"}, []string{"rt", "exec", "c1", "ls", "-l"}},
		{[]string{"rt", "ps", "c1", "-f", "x"}, []string{"rt", "ps", "c1", "-f", "x"}},
		{[]string{"rt", "--version"}, []string{"rt", "--version"}},
	} {
		if got := reorderArgs(app, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("reorderArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
