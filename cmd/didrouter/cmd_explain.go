package main

import (
	"context"
	"fmt"
	"io"
)

// runExplain is replaced in the next commit.
func runExplain(_ context.Context, _ []string, _ io.Reader, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "explain: not yet available")
	return 2
}
