package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runCmd(t *testing.T, cmd command, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cmd(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestEval(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"type == 'ticket'", "--task", `{"type":"ticket"}`}, 0, "true\n", ""},
		{[]string{"--task", `{"type":"lead"}`, "type == 'ticket'"}, 0, "false\n", ""},
		{[]string{"task.phone_number CONTAINS worker.phone_number", "--task", `{"phone_number":"+15127640580"}`, "--worker", `{"phone_number":"5127640580"}`}, 0, "true\n", ""},
		{[]string{"task.phone_number CONTAINS worker.phone_number", "--task", `{"phone_number":"+15127640580"}`, "--worker", `{}`}, 0, "false\n", ""},
		{[]string{"skills HAS 'support'", "--queue", "--worker", `{"skills":["support"]}`}, 0, "true\n", ""},
		{[]string{"1==1"}, 0, "true\n", ""},
		{[]string{"task.phone_number CONTAINS", "--task", "{}"}, 2, "",
			"eval: task expression: column 27: expected a value after CONTAINS\n  task.phone_number CONTAINS\n                            ^\n"},
		{[]string{"a == 1 AND b", "--task", "{}"}, 2, "", "column 13: expected a comparison operator after b\n  a == 1 AND b\n              ^\n"},
		{[]string{"phone CONTAINS worker.x", "--worker", "{}"}, 2, "", "eval: target expression: column 1: key phone must start with task. or worker."},
		{[]string{"a == 1", "--task", "[1]"}, 2, "", "eval: --task: attributes must be a JSON object"},
		{[]string{"a == 1", "--worker", "{"}, 2, "", "eval: --worker: attributes are not valid JSON"},
		{[]string{}, 2, "", "usage: didrouter eval"},
		{[]string{"a == 1", "b == 2"}, 2, "", "usage: didrouter eval"},
		{[]string{"--nope"}, 2, "", "flag provided but not defined"},
	}
	for _, tc := range tests {
		code, out, errs := runCmd(t, runEval, tc.args...)
		if code != tc.code || out != tc.out || !strings.Contains(errs, tc.err) {
			t.Errorf("eval %q = %d, %q, %q; want %d, %q, %q", tc.args, code, out, errs, tc.code, tc.out, tc.err)
		}
	}
}

func TestWriteCaretUnicodeAndTabs(t *testing.T) {
	var b bytes.Buffer
	writeCaret(&b, "'é'\t== é", 8)
	if want := "  'é'\t== é\n     \t   ^\n"; b.String() != want {
		t.Errorf("caret %q, want %q", b.String(), want)
	}
}
