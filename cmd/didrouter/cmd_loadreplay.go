package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/didrouter/didrouter/replay"
)

// runLoadReplay is `didrouter replay`, the load tool. It plays Twilio's part
// against a running didrouter, from a JSONL call script or a generated
// burst, and prints latency, error and routing figures at the end. It exits
// 0 when all checks passed, 1 when a check failed or webhooks errored, and 2
// on bad usage or when the run could not start. It has nothing to do with
// journal replay, which is `didrouter journal replay`.
func runLoadReplay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return loadReplayCommand{getenv: os.Getenv}.run(ctx, args, stdin, stdout, stderr)
}

// loadReplayCommand holds what the load replay takes from outside, so tests can give
// their own environment.
type loadReplayCommand struct {
	getenv func(string) string
}

func (c loadReplayCommand) run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: didrouter replay [flags]

Plays Twilio's part against a running didrouter: signed webhooks over
keep-alive connections, following the TwiML it answers, with the scripted
outcome of each call. Reports throughput, latency per webhook (p50 … max),
errors, and routing correctness (owner first, else Everyone; no worker
offered two calls at once; one task record per call, read through the API).

Input: --script FILE (JSONL; - = stdin), or a generated script (--calls,
--rate, --dids, --workers, --owner-available, --seed, outcome shares).
A script has one JSON object a line, workers first (optional):
  {"worker":"alice","did":"+15125550101","available":true}
  {"offset_ms":0,"from":"+13125550100","to":"+15125550101","outcome":"answered","after_s":2,"talk_s":30}
outcome: answered / no-answer / busy (the first worker rung; the next one
answers) or hangup (the caller hangs up after_s seconds in). --speed 5
compresses offsets, ringing, talking and pauses; the server keeps real time,
so fast no-answer replays need short after_s (ringing never outlasts the
<Dial timeout>).
Several instances of one deployment: --target A --target B (or A,B) with
--public-url (their shared DIDROUTER_PUBLIC_URL). Webhooks are spread
round-robin, no call sticky; a delivery refused, timed out or answered 5xx
is sent to the next target (--retries), as Twilio retries, and counted in
the report; the webhook is judged on its last attempt. --duplicate-rate
delivers a share of webhooks twice, to two targets, the second answer
followed (Twilio re-delivers): the server must stay idempotent.
Secrets from the environment: TWILIO_AUTH_TOKEN (signs webhooks),
DIDROUTER_API_KEY / DIDROUTER_API_SECRET (seeding workers, task check).

`)
		fs.PrintDefaults()
	}
	gen := replay.DefaultGenerator()
	targets := &targetList{list: splitTargets(envOrGet(c.getenv, "DIDROUTER_REPLAY_TARGET", "http://127.0.0.1:8080"))}
	fs.Var(targets, "target", "base URL of the server to load (loopback only, unless --allow-remote); repeat it or separate with commas for several instances: webhooks are spread round-robin, no call sticky")
	public := fs.String("public-url", envOrGet(c.getenv, "DIDROUTER_PUBLIC_URL", ""), "the server's DIDROUTER_PUBLIC_URL, which signatures are computed for; empty = --target (required with several targets)")
	retries := fs.Int("retries", -1, "send a webhook that fails in transport, times out or is answered 5xx again, to the next target, up to this many times (-1 = 2 with several targets, 0 with one)")
	syncLag := fs.Duration("sync-lag", 0, "several targets: how long an instance may take to hear that another freed a worker; the routing check counts an owner freed within it before a call as undecidable (0 = 1s with several targets)")
	duplicateRate := fs.Float64("duplicate-rate", 0, "share of webhooks delivered twice, the second time to another target (Twilio re-delivers; exercises idempotency)")
	allowRemote := fs.Bool("allow-remote", false, "allow a --target that is not a loopback address")
	scriptPath := fs.String("script", "", "JSONL call script (- = stdin); empty = generate one")
	writeScript := fs.String("write-script", "", "write the script (generated or read) to this file and exit")
	fs.IntVar(&gen.Calls, "calls", gen.Calls, "generated: number of calls")
	fs.Float64Var(&gen.Rate, "rate", gen.Rate, "generated: calls per second (Poisson arrivals)")
	fs.IntVar(&gen.DIDs, "dids", gen.DIDs, "generated: distinct numbers called")
	fs.IntVar(&gen.Workers, "workers", gen.Workers, "generated: workers; the first min(dids, workers) own a number")
	fs.Float64Var(&gen.OwnerAvailable, "owner-available", gen.OwnerAvailable, "generated: share of workers available")
	fs.Uint64Var(&gen.Seed, "seed", gen.Seed, "generated: random seed (same seed, same script)")
	fs.Float64Var(&gen.Answered, "answered", gen.Answered, "generated: share of calls the first worker rung answers")
	fs.Float64Var(&gen.NoAnswer, "no-answer", gen.NoAnswer, "generated: share of calls the first worker rung does not answer")
	fs.Float64Var(&gen.Busy, "busy", gen.Busy, "generated: share of calls the first worker rung is busy for")
	fs.Float64Var(&gen.Hangup, "hangup", gen.Hangup, "generated: share of callers who hang up before anyone answers")
	fs.Float64Var(&gen.RingS, "ring", gen.RingS, "generated: seconds of ringing before the first worker answers or gives up")
	fs.Float64Var(&gen.TalkS, "talk", gen.TalkS, "generated: seconds an answered call lasts")
	fs.Float64Var(&gen.HangupAfterS, "hangup-after", gen.HangupAfterS, "generated: seconds until an abandoning caller hangs up")
	seedWorkers := fs.Bool("seed-workers", false, "create or update the script's workers through the admin API first")
	seedOnly := fs.Bool("seed-only", false, "create or update the script's workers through the admin API, then exit")
	speed := fs.Float64("speed", 1, "replay this many times faster than scripted (offsets, ringing, talking, pauses)")
	duration := fs.Duration("duration", 0, "stop after this long; calls still up hang up (0 = at the end of the script)")
	drain := fs.Duration("drain", 2*time.Minute, "after the last call started, wait at most this long for calls still up, then hang them up")
	fallbackAnswer := fs.Duration("fallback-answer-after", time.Second, "scripted ringing before a worker rung after the first answers")
	noTaskCheck := fs.Bool("no-task-check", false, "do not check task records through the admin API afterwards")
	maxConns := fs.Int("max-conns", 1024, "keep-alive connections kept open to the target")
	jsonOut := fs.Bool("json", false, "write the report as JSON")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	bench := fs.String("bench", "", "closed-loop benchmark instead of a replay: floor (constant TwiML, needs DIDROUTER_BENCH_FLOOR=true on the server), incoming (the full incoming-call path, each available owner called once), or ratio (both, one after the other)")
	concurrency := fs.Int("concurrency", 32, "--bench: requests in flight")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "didrouter replay: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *retries < 0 {
		*retries = 0
		if len(targets.list) > 1 {
			*retries = 2
		}
	}
	if len(targets.list) == 0 {
		fmt.Fprintln(stderr, "didrouter replay: --target is empty")
		return 2
	}
	target := &targets.list[0]
	// Secrets come from the environment only, so they do not show in the
	// process list.
	authToken := c.getenv("TWILIO_AUTH_TOKEN")
	apiKey, apiSecret := c.getenv("DIDROUTER_API_KEY"), c.getenv("DIDROUTER_API_SECRET")

	var (
		script *replay.Script
		err    error
	)
	switch *scriptPath {
	case "":
		script, err = gen.Script()
	case "-":
		script, err = replay.ReadScript(stdin)
	default:
		var f *os.File
		if f, err = os.Open(*scriptPath); err == nil {
			script, err = replay.ReadScript(f)
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "didrouter replay: %v\n", err)
		return 2
	}
	if *writeScript != "" {
		f, err := os.Create(*writeScript)
		if err == nil {
			err = replay.WriteScript(f, script)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "didrouter replay: --write-script: %v\n", err)
			return 2
		}
		fmt.Fprintf(stdout, "wrote %d workers and %d calls to %s\n", len(script.Workers), len(script.Calls), *writeScript)
		return 0
	}

	if *seedOnly {
		err := replay.SeedWorkers(ctx, replay.Config{Targets: targets.list, AllowRemote: *allowRemote,
			APIKey: apiKey, APISecret: apiSecret, Progress: stderr}, script.Workers)
		if err != nil {
			fmt.Fprintf(stderr, "didrouter replay: %v\n", err)
			return 2
		}
		return 0
	}
	if *bench != "" {
		if len(targets.list) > 1 {
			fmt.Fprintln(stderr, "didrouter replay: --bench loads one --target")
			return 2
		}
		return runBench(ctx, *bench, script, apiKey, apiSecret, replay.BenchConfig{
			Target: *target, PublicURL: *public, AuthToken: authToken, AllowRemote: *allowRemote,
			Concurrency: *concurrency, Duration: *duration,
		}, *seedWorkers, *jsonOut, stdout, stderr)
	}

	cfg := replay.Config{
		Targets: targets.list, Retries: *retries, DuplicateRate: *duplicateRate, SyncLag: *syncLag, PublicURL: *public, AuthToken: authToken, AllowRemote: *allowRemote,
		APIKey: apiKey, APISecret: apiSecret,
		SeedWorkers: *seedWorkers, SkipTaskCheck: *noTaskCheck,
		Speed: *speed, Duration: *duration, Drain: *drain, FallbackAnswerAfter: *fallbackAnswer, MaxConns: *maxConns,
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	rep, err := replay.Run(ctx, cfg, script)
	if err != nil {
		fmt.Fprintf(stderr, "didrouter replay: %v\n", err)
		return 2
	}
	if *jsonOut {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "didrouter replay: %v\n", err)
		return 2
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// runBench runs --bench: floor, incoming, or ratio (floor then incoming at
// the same concurrency, with the incoming path's share of the floor).
func runBench(ctx context.Context, mode string, script *replay.Script, apiKey, apiSecret string, cfg replay.BenchConfig, seed, jsonOut bool, stdout, stderr io.Writer) int {
	var routes []string
	switch mode {
	case "floor":
		routes = []string{replay.BenchFloor}
	case "incoming":
		routes = []string{replay.BenchIncoming}
	case "ratio":
		routes = []string{replay.BenchFloor, replay.BenchIncoming}
	default:
		fmt.Fprintf(stderr, "didrouter replay: --bench must be floor, incoming or ratio, not %q\n", mode)
		return 2
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	for _, w := range script.Workers {
		if w.DID != "" && w.Available {
			cfg.DIDs = append(cfg.DIDs, w.DID)
		}
	}
	if seed {
		if err := replay.SeedWorkers(ctx, replay.Config{Target: cfg.Target, AllowRemote: cfg.AllowRemote,
			APIKey: apiKey, APISecret: apiSecret, Progress: stderr}, script.Workers); err != nil {
			fmt.Fprintf(stderr, "didrouter replay: %v\n", err)
			return 2
		}
	}
	var results []replay.BenchResult
	for _, route := range routes {
		fmt.Fprintf(stderr, "replay: benchmark %s, %d in flight, %s\n", route, cfg.Concurrency, cfg.Duration)
		r, err := replay.Bench(ctx, cfg, route)
		if err != nil {
			fmt.Fprintf(stderr, "didrouter replay: %v\n", err)
			return 2
		}
		results = append(results, r)
	}
	ratio := 0.0
	if len(results) == 2 && results[0].PerSec > 0 {
		ratio = results[1].PerSec / results[0].PerSec
	}
	failed := false
	for _, r := range results {
		if len(r.Errors) > 0 {
			failed = true
		}
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"results": results, "incoming_to_floor": ratio})
	} else {
		fmt.Fprintf(stdout, "%-26s %5s %9s %10s %8s %8s %8s %9s %8s  %s\n", "route", "conc", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "answers / errors")
		for _, r := range results {
			fmt.Fprintf(stdout, "%-26s %5d %9d %10.1f %8.2f %8.2f %8.2f %9.2f %8.2f  dial %d, enqueue %d, errors %v\n",
				r.Route, r.Concurrency, r.Requests, r.PerSec, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999, r.Latency.Max,
				r.Dialed, r.Enqueued, r.Errors)
		}
		if ratio > 0 {
			fmt.Fprintf(stdout, "incoming / floor throughput: %.1f%%\n", ratio*100)
		}
	}
	if failed {
		return 1
	}
	return 0
}

// targetList is --target: repeated or comma-separated; the first use
// replaces the default.
type targetList struct {
	list []string
	set  bool
}

func (t *targetList) String() string {
	if t == nil {
		return ""
	}
	return strings.Join(t.list, ",")
}

func (t *targetList) Set(v string) error {
	if !t.set {
		t.list, t.set = nil, true
	}
	more := splitTargets(v)
	if len(more) == 0 {
		return fmt.Errorf("empty target")
	}
	t.list = append(t.list, more...)
	return nil
}

func splitTargets(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
