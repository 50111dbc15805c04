// Command didrouter is the didrouter binary: the routing server and its
// admin tools, as subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command runs one subcommand and returns the process exit code.
type command func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

func main() {
	// Every subcommand, by name. Add new subcommands here.
	commands := map[string]command{
		"serve":       runServe,
		"migrate":     runMigrate,
		"healthcheck": runHealthcheck,
		"eval":        runEval,
		"explain":     runExplain,
		"numbers":     runNumbers,
		"replay":      runLoadReplay,
		"dids":        runDids,
		"setup":       runSetup,
		"journal":     runJournal,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, commands, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// dispatch runs the subcommand named by args[0]; with no arguments it runs
// "serve" when there is one.
func dispatch(ctx context.Context, commands map[string]command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		if serve, ok := commands["serve"]; ok {
			return serve(ctx, nil, stdin, stdout, stderr)
		}
		usage(stderr, commands)
		return 2
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		usage(stdout, commands)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "didrouter: unknown command %q\n\n", name)
		usage(stderr, commands)
		return 2
	}
	return cmd(ctx, args[1:], stdin, stdout, stderr)
}

// runSubcommand runs the subcommand of group named by args[0]. Without one,
// or with an unknown one, it prints usage to stderr and returns 2, the exit
// status of bad usage.
func runSubcommand(ctx context.Context, group string, usage func(io.Writer), subs map[string]command,
	args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	sub, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown subcommand %q\n\n", group, args[0])
		usage(stderr)
		return 2
	}
	return sub(ctx, args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer, commands map[string]command) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: didrouter <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %s\n", n)
	}
	fmt.Fprintln(w, "\nRun \"didrouter <command> -h\" for a command's options.")
}

// newFlagSet returns the flag set of subcommand name of group ("numbers
// buy"), whose usage starts with synopsis.
func newFlagSet(group, name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(group+" "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: didrouter %s %s\n\n", group, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// flagExit is the exit code for an error from FlagSet.Parse. Asking for
// help succeeds; a bad flag is bad usage. The flag package has already
// printed the message and the usage.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
