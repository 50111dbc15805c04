package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A generated script written to a file reads back as the same calls.
func TestReplayWritesScript(t *testing.T) {
	path := filepath.Join(t.TempDir(), "burst.jsonl")
	var out, errs bytes.Buffer
	code := loadReplayCommand{getenv: envOf(nil)}.run(context.Background(), []string{"--calls", "20", "--rate", "10", "--dids", "5", "--workers", "4",
		"--seed", "3", "--write-script", path}, nil, &out, &errs)
	if code != 0 || !strings.Contains(out.String(), "4 workers and 20 calls") {
		t.Fatalf("exit %d: %s %s", code, out.String(), errs.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 24 {
		t.Fatalf("%d lines", len(lines))
	}
	var call map[string]any
	if err := json.Unmarshal([]byte(lines[4]), &call); err != nil || call["outcome"] == nil {
		t.Errorf("first call line %q: %v", lines[4], err)
	}
	// The file replays as a script (here only as far as the target check).
	code = loadReplayCommand{getenv: envOf(nil)}.run(context.Background(), []string{"--script", path, "--target", "http://192.0.2.1:8080"}, nil, &out, &errs)
	if code != 2 || !strings.Contains(errs.String(), "allow-remote") {
		t.Errorf("remote target: exit %d, %s", code, errs.String())
	}
}

// The target can come from the environment passed in instead of --target.
func TestReplayTargetFromEnvironment(t *testing.T) {
	var out, errs bytes.Buffer
	env := envOf(map[string]string{"DIDROUTER_REPLAY_TARGET": "http://192.0.2.1:8080"})
	code := loadReplayCommand{getenv: env}.run(context.Background(), []string{"--calls", "1"}, nil, &out, &errs)
	if code != 2 || !strings.Contains(errs.String(), "192.0.2.1") || !strings.Contains(errs.String(), "allow-remote") {
		t.Errorf("remote target from the environment: exit %d, %s", code, errs.String())
	}
}

func TestReplayUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--calls", "0"}, "--calls"},
		{[]string{"--bench", "nope", "--workers", "2", "--dids", "2"}, "--bench must be"},
		{[]string{"--script", "/does/not/exist"}, "no such file"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--target", "http://127.0.0.1:1", "--target", "http://127.0.0.1:2", "--calls", "1"}, "--public-url is required"},
		{[]string{"--target", "http://127.0.0.1:1,http://127.0.0.1:1", "--calls", "1", "--public-url", "https://x.test"}, "given twice"},
		{[]string{"--target", "http://127.0.0.1:1,http://127.0.0.1:2", "--bench", "floor"}, "--bench loads one"},
		{[]string{"--duplicate-rate", "2", "--calls", "1"}, "--duplicate-rate"},
	} {
		var out, errs bytes.Buffer
		cmd := loadReplayCommand{getenv: envOf(nil)}
		if code := cmd.run(context.Background(), tc.args, nil, &out, &errs); code != 2 || !strings.Contains(errs.String(), tc.want) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errs.String())
		}
	}
}

// --target may be repeated and comma-separated; the first use replaces
// the default.
func TestReplayTargetList(t *testing.T) {
	tl := &targetList{list: splitTargets("http://127.0.0.1:8080")}
	for _, v := range []string{"http://127.0.0.1:1, http://127.0.0.1:2", "http://127.0.0.1:3"} {
		if err := tl.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if got := tl.String(); got != "http://127.0.0.1:1,http://127.0.0.1:2,http://127.0.0.1:3" {
		t.Errorf("targets %q", got)
	}
	if err := tl.Set(" , "); err == nil {
		t.Error("an empty --target was accepted")
	}
}
