package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/numbers"
	"github.com/didrouter/didrouter/webhooks"
)

// costWarning is shown before anything is bought.
const costWarning = "Phone numbers cost money: every number bought adds a monthly fee to the Twilio account " +
	"until it is released (see https://www.twilio.com/en-us/voice/pricing)."

// runNumbers manages the Twilio account's phone numbers: buy, point, list.
func runNumbers(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return numbersCommand{getenv: os.Getenv, clock: didrouter.SystemClock{}}.run(ctx, args, stdin, stdout, stderr)
}

// numbersCommand holds what the subcommands take from outside, so tests
// can give their own.
type numbersCommand struct {
	getenv func(string) string
	clock  didrouter.Clock
	// twilio is the base of the Twilio client's options (tests shorten
	// the waits).
	twilio numbers.Options
}

func (c numbersCommand) run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, "numbers", numbersUsage, map[string]command{"buy": c.buy, "point": c.point, "list": c.list},
		args, stdin, stdout, stderr)
}

func numbersUsage(w io.Writer) {
	fmt.Fprint(w, `usage: didrouter numbers <subcommand> [options]

The Twilio account's phone numbers (credentials: TWILIO_ACCOUNT_SID with
TWILIO_AUTH_TOKEN, or with TWILIO_API_KEY and TWILIO_API_SECRET).

subcommands:
  buy    search voice-capable numbers for sale and buy them (asks first)
  point  point every number's voice URL and status callback at didrouter
  list   the account's numbers, where calls go, and which worker owns each

Run "didrouter numbers <subcommand> -h" for its options.
`)
}

// account builds the Twilio client from the environment.
func (c numbersCommand) account(stderr io.Writer) (*numbers.Account, error) {
	cred, err := numbers.CredentialsFromEnv(c.getenv)
	if err != nil {
		return nil, err
	}
	opts := c.twilio
	if raw := strings.TrimSpace(c.getenv(numbers.EnvBaseURL)); raw != "" {
		u, err := numbers.ParseBaseURL(raw)
		if err != nil {
			return nil, err
		}
		opts.BaseURL = u
		fmt.Fprintf(stderr, "warning: %s is set: Twilio requests (and credentials) go to %s instead of Twilio (a testing aid)\n",
			numbers.EnvBaseURL, u)
	}
	return numbers.NewAccount(cred, opts)
}

// defaultHooks returns didrouter's webhook URLs under DIDROUTER_PUBLIC_URL,
// or empty strings when it is not set.
func (c numbersCommand) defaultHooks() numbers.Webhooks {
	public := strings.TrimRight(strings.TrimSpace(c.getenv("DIDROUTER_PUBLIC_URL")), "/")
	if public == "" {
		return numbers.Webhooks{}
	}
	return numbers.Webhooks{
		VoiceURL:       public + webhooks.PathPrefix + "/incoming",
		StatusCallback: public + webhooks.PathPrefix + "/status",
	}
}

// parseFlags parses args and refuses positional arguments; it returns an
// exit code, or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) int {
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q (options go before them, e.g. --count 5)\n", fs.Name(), fs.Args())
		return 2
	}
	return -1
}

// fail prints err for command and returns exit code 1.
func fail(stderr io.Writer, command string, err error) int {
	fmt.Fprintf(stderr, "numbers %s: %v\n", command, err)
	return 1
}
