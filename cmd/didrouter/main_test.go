package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	var called []string
	fake := func(name string, code int) command {
		return func(_ context.Context, args []string, _ io.Reader, stdout, _ io.Writer) int {
			called = append(called, name+":"+strings.Join(args, ","))
			return code
		}
	}
	cmds := map[string]command{"serve": fake("serve", 0), "eval": fake("eval", 3)}
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), cmds, []string{"eval", "x", "y"}, nil, &out, &errb); code != 3 {
		t.Errorf("eval exit %d", code)
	}
	if code := dispatch(context.Background(), cmds, nil, nil, &out, &errb); code != 0 {
		t.Errorf("no arguments exit %d", code)
	}
	if strings.Join(called, " ") != "eval:x,y serve:" {
		t.Errorf("called %v", called)
	}
	errb.Reset()
	if code := dispatch(context.Background(), cmds, []string{"bogus"}, nil, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), `unknown command "bogus"`) || !strings.Contains(errb.String(), "  eval\n  serve\n") {
		t.Errorf("unknown command: %d %q", code, errb.String())
	}
	delete(cmds, "serve")
	errb.Reset()
	if code := dispatch(context.Background(), cmds, nil, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage:") {
		t.Errorf("no serve, no arguments: %d %q", code, errb.String())
	}
	out.Reset()
	if code := dispatch(context.Background(), cmds, []string{"help"}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "usage:") {
		t.Errorf("help: %d %q", code, out.String())
	}
}
