package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// Shared by `rt import` and `rt load`: where the archive comes from, and
// how an interrupt stops them.

// openArchive opens the ARCHIVE argument: a file, or stdin for "-" (refused
// when it is a terminal). The caller closes f unless it is os.Stdin.
func openArchive(cmd, arg string) (f *os.File, name string, err error) {
	if arg == "-" {
		if isTerminal(os.Stdin) {
			return nil, "", fmt.Errorf("%s: stdin is a terminal; pipe or redirect the archive into it", cmd)
		}
		return os.Stdin, "stdin", nil
	}
	f, err = os.Open(arg)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", cmd, err)
	}
	return f, arg, nil
}

// interruptible returns a context that the first SIGINT or SIGTERM cancels
// (the command then removes what it half wrote); a second one kills rt as
// usual. stop undoes the signal handling.
func interruptible(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, unix.SIGTERM)
	go func() {
		if _, ok := <-sigs; ok {
			signal.Reset(os.Interrupt, unix.SIGTERM)
			cancel()
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(sigs)
		cancel()
	}
}
