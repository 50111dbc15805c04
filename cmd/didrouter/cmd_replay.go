package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/didrouter/didrouter/replay"
)

// runReplay plays Twilio's part against a running didrouter: a JSONL call
// script or a generated burst, with latency, error and routing-correctness
// figures at the end. Exit status: 0 all checks passed, 1 a check failed or
// webhooks errored, 2 bad usage or the run could not start.
func runReplay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
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
Secrets from the environment: TWILIO_AUTH_TOKEN (signs webhooks),
DIDROUTER_API_KEY / DIDROUTER_API_SECRET (seeding workers, task check).

`)
		fs.PrintDefaults()
	}
	gen := replay.DefaultGenerator()
	target := fs.String("target", envOr("DIDROUTER_REPLAY_TARGET", "http://127.0.0.1:8080"), "base URL of the server to load (loopback only, unless --allow-remote)")
	public := fs.String("public-url", envOr("DIDROUTER_PUBLIC_URL", ""), "the server's DIDROUTER_PUBLIC_URL, which signatures are computed for; empty = --target")
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
	speed := fs.Float64("speed", 1, "replay this many times faster than scripted (offsets, ringing, talking, pauses)")
	duration := fs.Duration("duration", 0, "stop after this long; calls still up hang up (0 = at the end of the script)")
	fallbackAnswer := fs.Duration("fallback-answer-after", time.Second, "scripted ringing before a worker rung after the first answers")
	noTaskCheck := fs.Bool("no-task-check", false, "do not check task records through the admin API afterwards")
	maxConns := fs.Int("max-conns", 1024, "keep-alive connections kept open to the target")
	jsonOut := fs.Bool("json", false, "write the report as JSON")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "didrouter replay: unexpected arguments %q\n", fs.Args())
		return 2
	}

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

	cfg := replay.Config{
		Target: *target, PublicURL: *public, AuthToken: os.Getenv("TWILIO_AUTH_TOKEN"), AllowRemote: *allowRemote,
		APIKey: os.Getenv("DIDROUTER_API_KEY"), APISecret: os.Getenv("DIDROUTER_API_SECRET"),
		SeedWorkers: *seedWorkers, SkipTaskCheck: *noTaskCheck,
		Speed: *speed, Duration: *duration, FallbackAnswerAfter: *fallbackAnswer, MaxConns: *maxConns,
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
