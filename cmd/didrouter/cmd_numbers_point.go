package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/didrouter/didrouter/numbers"
	"github.com/didrouter/didrouter/routing"
)

// stringList is a repeatable flag; commas separate values too.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func (c numbersCommand) point(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("numbers", "point", "point --voice-url URL [--status-callback URL] [--except +1…]… [--dry-run]", stderr)
	def := c.defaultHooks()
	voiceURL := fs.String("voice-url", def.VoiceURL, "didrouter's voice URL, …/webhooks/voice/incoming (default from DIDROUTER_PUBLIC_URL)")
	status := fs.String("status-callback", def.StatusCallback, "didrouter's status callback, …/webhooks/voice/status (default from DIDROUTER_PUBLIC_URL); empty leaves callbacks as they are")
	var except stringList
	fs.Var(&except, "except", "a number to leave untouched, e.g. the main line (repeatable)")
	region := fs.String("region", envOrGet(c.getenv, "DIDROUTER_DEFAULT_REGION", "US"), "region of --except numbers written without a country code (DIDROUTER_DEFAULT_REGION)")
	concurrency := fs.Int("concurrency", 4, "updates in flight at once (1-16)")
	dryRun := fs.Bool("dry-run", false, "show the changes (from -> to); change nothing")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	req := numbers.PointRequest{
		Hooks:       numbers.Webhooks{VoiceURL: strings.TrimSpace(*voiceURL), StatusCallback: strings.TrimSpace(*status)},
		Except:      map[string]bool{},
		DryRun:      *dryRun,
		Concurrency: *concurrency,
	}
	if req.Hooks.VoiceURL == "" {
		return usageError(stderr, "point", errors.New("--voice-url is required (or set DIDROUTER_PUBLIC_URL): didrouter's …/webhooks/voice/incoming"))
	}
	if err := numbers.ValidateWebhookURL("--voice-url", req.Hooks.VoiceURL); err != nil {
		return usageError(stderr, "point", err)
	}
	if req.Hooks.StatusCallback != "" {
		if err := numbers.ValidateWebhookURL("--status-callback", req.Hooks.StatusCallback); err != nil {
			return usageError(stderr, "point", err)
		}
	}
	if *concurrency < 1 || *concurrency > 16 {
		return usageError(stderr, "point", fmt.Errorf("--concurrency %d: want 1 to 16", *concurrency))
	}
	norm, err := routing.NewNormalizer(*region)
	if err != nil {
		return usageError(stderr, "point", fmt.Errorf("--region: %w", err))
	}
	for _, raw := range except {
		n, err := norm.Normalize(raw)
		if err != nil {
			return usageError(stderr, "point", fmt.Errorf("--except: %w", err))
		}
		req.Except[n.E164] = true
	}
	acct, err := c.account(stderr)
	if err != nil {
		return fail(stderr, "point", err)
	}

	res, err := acct.Point(ctx, req, func(ch numbers.Change) {
		switch ch.Status {
		case numbers.PointUpdated:
			fmt.Fprintf(stderr, "updated %s\n", ch.Before.PhoneNumber)
		case numbers.PointFailed:
			fmt.Fprintf(stderr, "failed %s: %s\n", ch.Before.PhoneNumber, numbers.Describe(ch.Err))
		}
	})
	if err != nil {
		return fail(stderr, "point", err)
	}
	printPointResult(stdout, res, req)
	if res.Count(numbers.PointFailed) > 0 || res.Canceled {
		return 1
	}
	return 0
}

func printPointResult(w io.Writer, res numbers.PointResult, req numbers.PointRequest) {
	for _, ch := range res.Changes {
		n := ch.Before.PhoneNumber
		switch ch.Status {
		case numbers.PointWouldUpdate, numbers.PointUpdated:
			fmt.Fprintf(w, "%-13s %s  %s\n", ch.Status, n, changeOf(ch))
		case numbers.PointUnchanged:
			fmt.Fprintf(w, "%-13s %s  already points at %s\n", ch.Status, n, req.Hooks.VoiceURL)
		case numbers.PointExcepted:
			fmt.Fprintf(w, "%-13s %s  left as is (%s)\n", ch.Status, n, voiceTarget(ch.Before))
		case numbers.PointFailed:
			fmt.Fprintf(w, "%-13s %s  %s\n", ch.Status, n, numbers.Describe(ch.Err))
		default:
			fmt.Fprintf(w, "%-13s %s\n", ch.Status, n)
		}
	}
	for _, p := range res.UnknownExcept {
		fmt.Fprintf(w, "note: --except %s is not a number of this account\n", p)
	}
	var parts []string
	for _, s := range []string{numbers.PointUpdated, numbers.PointWouldUpdate, numbers.PointUnchanged, numbers.PointExcepted,
		numbers.PointFailed, numbers.PointNotAttempted} {
		if n := res.Count(s); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "the account has no numbers")
	}
	fmt.Fprintf(w, "%d numbers: %s\n", len(res.Changes), strings.Join(parts, ", "))
	if req.DryRun {
		fmt.Fprintln(w, "dry run: nothing changed")
	}
	if res.Canceled {
		fmt.Fprintln(w, "stopped: interrupted (updates already sent were finished); run again to do the rest")
	} else if res.Count(numbers.PointFailed) > 0 {
		fmt.Fprintln(w, "some numbers were not pointed at didrouter: see above; run again after fixing (numbers already pointed are left alone)")
	}
}

// changeOf renders a change; an update Twilio answered shows what it
// stored.
func changeOf(ch numbers.Change) string {
	if d := ch.Diff(); d != "" {
		return d
	}
	return "-> " + voiceTarget(ch.After)
}

// voiceTarget says where a number's calls go.
func voiceTarget(n numbers.Incoming) string {
	switch {
	case n.TrunkSID != "":
		return "SIP trunk " + n.TrunkSID
	case n.VoiceApplicationSID != "":
		return "TwiML app " + n.VoiceApplicationSID
	case n.VoiceURL == "":
		return "no voice URL"
	}
	return strings.TrimSpace(strings.ToUpper(n.VoiceMethod) + " " + n.VoiceURL)
}

// envOrGet returns getenv(name), or def when it is empty.
func envOrGet(getenv func(string) string, name, def string) string {
	if v := strings.TrimSpace(getenv(name)); v != "" {
		return v
	}
	return def
}
