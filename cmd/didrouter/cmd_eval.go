package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/didrouter/didrouter/routing"
)

// runEval evaluates one TaskRouter expression:
//
//	didrouter eval 'EXPR' --task '{…}' [--worker '{…}']
//
// Without --worker the expression is a filter expression over the task
// (unprefixed keys are task attributes); with --worker it is a target
// expression (keys start with task. or worker.). It prints true or false.
func runEval(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	taskJSON := fs.String("task", "{}", "task attributes (JSON object)")
	workerJSON := fs.String("worker", "", "worker attributes (JSON object); makes EXPR a target expression")
	queue := fs.Bool("queue", false, "EXPR is a TaskQueue target_workers expression over --worker (unprefixed keys are worker attributes)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: didrouter eval 'EXPR' --task '{...}' [--worker '{...}'] [--queue]")
		fs.PrintDefaults()
	}
	// Accept the expression before or after the flags.
	var expr []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return flagExit(err)
		}
		if fs.NArg() == 0 {
			break
		}
		expr = append(expr, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(expr) != 1 {
		fs.Usage()
		return 2
	}
	src := expr[0]
	task, err := routing.ParseAttributes([]byte(*taskJSON))
	if err != nil {
		fmt.Fprintf(stderr, "eval: --task: %v\n", err)
		return 2
	}
	scope := routing.ScopeTask
	var worker routing.Attributes
	if *workerJSON != "" || *queue {
		if worker, err = routing.ParseAttributes([]byte(*workerJSON)); err != nil {
			fmt.Fprintf(stderr, "eval: --worker: %v\n", err)
			return 2
		}
		scope = routing.ScopeTarget
		if *queue {
			scope = routing.ScopeWorker
		}
	}
	e, err := routing.Compile(src, scope)
	if err != nil {
		fmt.Fprintf(stderr, "eval: %s expression: %v\n", scope, err)
		var se *routing.SyntaxError
		if errors.As(err, &se) {
			writeCaret(stderr, src, se.Col)
		}
		return 2
	}
	fmt.Fprintln(stdout, e.Eval(task, worker))
	return 0
}

// writeCaret shows the source with a caret under column col (1-based,
// in characters). Tabs are kept so that the caret lines up.
func writeCaret(w io.Writer, src string, col int) {
	if strings.ContainsAny(src, "\n\r") || utf8.RuneCountInString(src) > 200 {
		return
	}
	var pad strings.Builder
	i := 1
	for _, r := range src {
		if i >= col {
			break
		}
		if r == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
		i++
	}
	fmt.Fprintf(w, "  %s\n  %s^\n", src, pad.String())
}
