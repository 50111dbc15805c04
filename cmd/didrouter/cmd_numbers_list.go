package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/didrouter/didrouter/numbers"
)

func (c numbersCommand) list(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("numbers", "list", "list [--didrouter-url http://host:8080] [--json]", stderr)
	base := fs.String("didrouter-url", "", "didrouter's admin API base URL, to show which worker owns each number (uses DIDROUTER_API_KEY and DIDROUTER_API_SECRET)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	var dir *numbers.Directory
	if strings.TrimSpace(*base) != "" {
		key, secret := strings.TrimSpace(c.getenv("DIDROUTER_API_KEY")), strings.TrimSpace(c.getenv("DIDROUTER_API_SECRET"))
		switch {
		case key == "":
			return usageError(stderr, "list", fmt.Errorf("--didrouter-url needs DIDROUTER_API_KEY (the admin API's key) in the environment"))
		case secret == "":
			return usageError(stderr, "list", fmt.Errorf("--didrouter-url needs DIDROUTER_API_SECRET (the admin API's secret) in the environment"))
		}
		d, err := numbers.NewDirectory(*base, key, secret)
		if err != nil {
			return usageError(stderr, "list", err)
		}
		dir = d
	}
	acct, err := c.account(stderr)
	if err != nil {
		return fail(stderr, "list", err)
	}
	l, err := acct.List(ctx, dir)
	if err != nil {
		return fail(stderr, "list", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(l); err != nil {
			return fail(stderr, "list", err)
		}
		return 0
	}
	if dir == nil {
		fmt.Fprintln(stderr, "note: no owner column: pass --didrouter-url (with DIDROUTER_API_KEY and DIDROUTER_API_SECRET set) to see which worker owns each number")
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if dir != nil {
		fmt.Fprintln(tw, "NUMBER\tNAME\tCALLS GO TO\tOWNER")
	} else {
		fmt.Fprintln(tw, "NUMBER\tNAME\tCALLS GO TO")
	}
	for _, n := range l.Numbers {
		row := n.PhoneNumber + "\t" + n.FriendlyName + "\t" + voiceTarget(n.Incoming)
		if dir != nil {
			row += "\t" + ownersOf(n.Owners)
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return fail(stderr, "list", err)
	}
	fmt.Fprintf(stdout, "%d numbers\n", len(l.Numbers))
	for _, o := range l.Orphans {
		fmt.Fprintf(stdout, "note: worker %s (%s, workspace %s) has DID %s, which is not a number of this account\n",
			o.WorkerName, o.WorkerSID, o.WorkspaceName, o.PhoneNumber)
	}
	return 0
}

// ownersOf renders a number's owners; more than one is a conflict worth
// seeing.
func ownersOf(owners []numbers.Owner) string {
	if len(owners) == 0 {
		return "-"
	}
	names := make([]string, len(owners))
	for i, o := range owners {
		names[i] = o.WorkerName + " (" + o.WorkerSID + ")"
	}
	return strings.Join(names, ", ")
}
