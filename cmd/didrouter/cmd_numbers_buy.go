package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/didrouter/didrouter/numbers"
)

// defaultJournal is where purchases are journaled unless --journal says.
const defaultJournal = "./didrouter-numbers-journal.jsonl"

// Confirmation failures.
var (
	errNotInteractive = errors.New("standard input is not a terminal, so no one can confirm the purchase: nothing bought; pass --yes to buy without asking")
	errNoAnswer       = errors.New("no answer (end of input): nothing bought; pass --yes to buy without asking")
)

func (c numbersCommand) buy(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("numbers", "buy", "buy --count N [--country US] [--type local] [--area-code 512] [--dry-run] [--yes]", stderr)
	country := fs.String("country", "US", "ISO 3166 country code of the numbers")
	kind := fs.String("type", "local", "number type: local, mobile or toll-free")
	areaCode := fs.String("area-code", "", "area code (US and Canada), e.g. 512")
	contains := fs.String("contains", "", "Twilio number pattern, * for any digit, e.g. 51255501**")
	count := fs.Int("count", 0, "how many numbers the order has in all; numbers the journal records as bought for the same search (country, type, area code, pattern) count toward it")
	def := c.defaultHooks()
	voiceURL := fs.String("voice-url", def.VoiceURL, "voice URL of the new numbers (default from DIDROUTER_PUBLIC_URL)")
	status := fs.String("status-callback", def.StatusCallback, "status callback URL of the new numbers (default from DIDROUTER_PUBLIC_URL)")
	journal := fs.String("journal", defaultJournal, "purchase journal: a rerun skips what it records as bought and never buys twice")
	concurrency := fs.Int("concurrency", 4, "purchases in flight at once (1-16)")
	dryRun := fs.Bool("dry-run", false, "search and show what would be bought; buy nothing")
	yes := fs.Bool("yes", false, "buy without asking for confirmation")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}

	k, err := numbers.ParseKind(*kind)
	if err != nil {
		return usageError(stderr, "buy", err)
	}
	req := numbers.BuyRequest{
		Query:       numbers.Query{Country: *country, Kind: k, Contains: strings.TrimSpace(*contains)},
		Count:       *count,
		Hooks:       numbers.Webhooks{VoiceURL: strings.TrimSpace(*voiceURL), StatusCallback: strings.TrimSpace(*status)},
		Concurrency: *concurrency,
	}
	if *count == 0 {
		return usageError(stderr, "buy", errors.New("--count is required: how many numbers to buy"))
	}
	if s := strings.TrimSpace(*areaCode); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || len(s) > 4 {
			return usageError(stderr, "buy", fmt.Errorf("--area-code %q: want digits, e.g. 512", s))
		}
		req.Query.AreaCode = n
	}
	if err := req.Validate(); err != nil {
		return usageError(stderr, "buy", err)
	}
	for _, h := range []struct{ flag, url string }{{"--voice-url", req.Hooks.VoiceURL}, {"--status-callback", req.Hooks.StatusCallback}} {
		if h.url != "" {
			if err := numbers.ValidateWebhookURL(h.flag, h.url); err != nil {
				return usageError(stderr, "buy", err)
			}
		}
	}
	acct, err := c.account(stderr)
	if err != nil {
		return fail(stderr, "buy", err)
	}
	fmt.Fprintln(stderr, "warning: "+costWarning)

	// The journal is read in a dry run, but not created or written.
	var (
		j       *numbers.Journal
		entries []numbers.Entry
	)
	if *dryRun {
		entries, err = numbers.ReadJournal(*journal)
	} else {
		j, entries, err = numbers.OpenJournal(*journal)
	}
	if err != nil {
		return fail(stderr, "buy", err)
	}
	if j != nil {
		defer j.Close()
	}

	what := describeQuery(req.Query)
	fmt.Fprintf(stdout, "order: %d %s (journal %s)\n", req.Count, what, *journal)
	plan, err := acct.PlanPurchase(ctx, req, entries)
	if err != nil {
		return fail(stderr, "buy", err)
	}
	printPlan(stdout, plan)
	if plan.Need == 0 {
		fmt.Fprintf(stdout, "the order is complete: the account has %d of %d; nothing to buy (raise --count or use another --journal for a new order)\n",
			plan.Have(), req.Count)
		if !*dryRun && (len(plan.Recovered) > 0 || len(plan.Absent) > 0) {
			if res := acct.Buy(ctx, j, c.clock, plan, nil); res.JournalErr != nil {
				return fail(stderr, "buy", res.JournalErr)
			}
		}
		return 0
	}
	if len(plan.Candidates) == 0 {
		fmt.Fprintf(stdout, "Twilio has no %s for sale right now: nothing bought\n", what)
		return 1
	}
	if plan.Short() {
		fmt.Fprintf(stdout, "only %d of the %d numbers needed are for sale: %d will be missing from the order\n",
			len(plan.Candidates), plan.Need, plan.Need-len(plan.Candidates))
	}
	if req.Hooks.VoiceURL != "" {
		fmt.Fprintf(stdout, "new numbers will send calls to %s\n", req.Hooks.VoiceURL)
	} else {
		fmt.Fprintln(stdout, "new numbers will not send calls to didrouter yet (no --voice-url): run \"didrouter numbers point\" afterwards")
	}
	if *dryRun {
		fmt.Fprintf(stdout, "dry run: would buy %d numbers:\n", len(plan.Candidates))
		for _, n := range plan.Candidates {
			fmt.Fprintf(stdout, "  %s\n", describeAvailable(n))
		}
		fmt.Fprintln(stdout, "dry run: nothing bought")
		return 0
	}
	if !*yes {
		q := fmt.Sprintf("Buy %d numbers (%s)? Each adds a monthly fee to the Twilio account. [y/N] ", len(plan.Candidates), what)
		ok, err := confirm(ctx, stdin, stderr, q)
		if err != nil {
			return fail(stderr, "buy", err)
		}
		if !ok {
			fmt.Fprintln(stdout, "not confirmed: nothing bought")
			return 1
		}
	}

	res := acct.Buy(ctx, j, c.clock, plan, func(done, total int, o numbers.Outcome) {
		switch o.Status {
		case numbers.StatusBought:
			fmt.Fprintf(stderr, "bought %d/%d %s\n", done, total, o.PhoneNumber)
		default:
			fmt.Fprintf(stderr, "%s %d/%d %s: %s\n", o.Status, done, total, o.PhoneNumber, numbers.Describe(o.Err))
		}
	})
	printBuyResult(stdout, plan, res, *journal)
	if !res.Complete() || res.JournalErr != nil {
		return 1
	}
	return 0
}

func describeQuery(q numbers.Query) string {
	s := fmt.Sprintf("voice-capable %s numbers in %s", q.Kind, strings.ToUpper(q.Country))
	if q.AreaCode > 0 {
		s += fmt.Sprintf(", area code %d", q.AreaCode)
	}
	if q.Contains != "" {
		s += ", matching " + q.Contains
	}
	return s
}

func describeAvailable(n numbers.Available) string {
	s := n.PhoneNumber
	if place := strings.Trim(n.Locality+", "+n.Region, ", "); place != "" {
		s += "  " + place
	}
	if n.AddressRequirements != "" && n.AddressRequirements != "none" {
		s += "  (needs an address: " + n.AddressRequirements + ")"
	}
	return s
}

func printPlan(w io.Writer, p numbers.Plan) {
	if len(p.AlreadyBought) > 0 {
		fmt.Fprintf(w, "the journal records %d numbers of this order as bought already\n", len(p.AlreadyBought))
	}
	for _, e := range p.Recovered {
		fmt.Fprintf(w, "%s: an earlier run lost Twilio's answer; the account has it, so it counts as bought (%s)\n", e.PhoneNumber, e.SID)
	}
	for _, e := range p.Absent {
		fmt.Fprintf(w, "%s: an earlier run lost Twilio's answer; the account does not have it: not bought\n", e.PhoneNumber)
	}
}

func printBuyResult(w io.Writer, plan numbers.Plan, res numbers.BuyResult, journal string) {
	bought := res.Count(numbers.StatusBought)
	fmt.Fprintf(w, "\nbought %d of %d:\n", bought, len(res.Outcomes))
	for _, o := range res.Outcomes {
		if o.Status == numbers.StatusBought {
			fmt.Fprintf(w, "  %s  %s\n", o.PhoneNumber, o.SID)
		}
	}
	if n := len(res.Outcomes) - bought; n > 0 {
		fmt.Fprintf(w, "not bought %d:\n", n)
		for _, o := range res.Outcomes {
			switch o.Status {
			case numbers.StatusBought:
			case numbers.StatusNotAttempted:
				fmt.Fprintf(w, "  %s  not attempted\n", o.PhoneNumber)
			case numbers.StatusUnknown:
				fmt.Fprintf(w, "  %s  outcome unknown (%s); the next run asks the account before buying anything\n", o.PhoneNumber, numbers.Describe(o.Err))
			default:
				fmt.Fprintf(w, "  %s  %s: %s\n", o.PhoneNumber, o.Status, numbers.Describe(o.Err))
			}
		}
	}
	switch {
	case res.JournalErr != nil:
		fmt.Fprintf(w, "stopped: the journal could not be written (%v); buying without it could buy twice\n", res.JournalErr)
	case res.Canceled:
		fmt.Fprintln(w, "stopped: interrupted (purchases already sent were finished)")
	}
	total := plan.Have() + bought
	fmt.Fprintf(w, "the order now has %d of %d numbers\n", total, plan.Request.Count)
	switch {
	case total >= plan.Request.Count:
	case !res.Complete() || res.JournalErr != nil:
		fmt.Fprintf(w, "run the same command again (journal %s) to buy the rest: numbers already bought are skipped\n", journal)
	default:
		fmt.Fprintf(w, "%d short: Twilio had no more for sale; run the same command later (journal %s) to look again\n",
			plan.Request.Count-total, journal)
	}
}

// confirm asks question on stderr and reads the answer from stdin; only
// y or yes confirms. A stdin that is not a terminal cannot answer.
func confirm(ctx context.Context, stdin io.Reader, stderr io.Writer, question string) (bool, error) {
	if f, ok := stdin.(*os.File); ok {
		st, err := f.Stat()
		if err != nil || st.Mode()&os.ModeCharDevice == 0 {
			return false, errNotInteractive
		}
	}
	fmt.Fprint(stderr, question)
	answer := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			close(answer)
			return
		}
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr)
		return false, ctx.Err()
	case line, ok := <-answer:
		if !ok {
			fmt.Fprintln(stderr)
			return false, errNoAnswer
		}
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes", nil
	}
}

// usageError prints a bad-option error and returns exit code 2.
func usageError(stderr io.Writer, command string, err error) int {
	fmt.Fprintf(stderr, "numbers %s: %v\n", command, err)
	return 2
}
