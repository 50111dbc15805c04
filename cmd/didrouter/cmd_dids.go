package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/didrouter/didrouter/agenttoken"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/api/apiclient"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/web"
)

// runDids moves agents' DIDs in and out of a running didrouter in bulk. It
// imports a CSV file, such as an HR or SSO export, in one transaction, and
// exports the same format. It also mints agent tokens and sign-in links,
// and revokes them.
func runDids(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return didsCommand{getenv: os.Getenv, now: time.Now}.run(ctx, args, stdin, stdout, stderr)
}

// didsCommand holds what the subcommands take from outside (tests give their own).
type didsCommand struct {
	getenv func(string) string
	now    func() time.Time
	client *http.Client // nil: a client with a 2-minute timeout
}

// defaultDidrouterURL is where the CLI looks for the server without
// --url or DIDROUTER_URL.
const defaultDidrouterURL = apiclient.DefaultBaseURL

func (c didsCommand) run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, "dids", didsUsage, map[string]command{
		"import": c.importFile, "export": c.export, "token": c.token, "revoke": c.revoke,
	}, args, stdin, stdout, stderr)
}

func didsUsage(w io.Writer) {
	fmt.Fprint(w, `usage: didrouter dids <subcommand> [options]

Agents' direct numbers in bulk, through a running didrouter's admin API
(--url or DIDROUTER_URL, default `+defaultDidrouterURL+`; credentials
DIDROUTER_API_KEY and DIDROUTER_API_SECRET).

subcommands:
  import FILE.csv   create or update workers and their numbers, all or nothing
                    (--dry-run shows what would change; FILE "-" reads stdin)
  export            write every worker in the import format (-o FILE, else stdout)
  token IDENTITY    print an agent token for GET /agent/number (--ttl, default 12h),
                    or with --link a sign-in link for the agent desktop (default 15m);
                    needs DIDROUTER_AGENT_TOKEN_SECRET, no running server
  revoke IDENTITY   refuse the agent's tokens and links issued until now and end
                    their agent desktop sessions

Columns (header row, any order, case-insensitive): friendly_name (or name,
worker, agent), email, phone_number (or phone, number, did), contact_uri
(or contact). A friendly_name or an email column is required.
`)
}

// didsFlags is a flag set that also takes flags after the positional
// arguments ("import dids.csv --dry-run").
type didsFlags struct {
	*flag.FlagSet
}

// parseIdentity parses args, which name the one softphone identity the
// command takes, alice or client:alice. When there is not exactly one it
// prints why and the usage. code is -1 to go on, else the exit code.
func (f didsFlags) parseIdentity(args []string, stderr io.Writer) (identity string, code int) {
	pos, code := f.parse(args)
	if code >= 0 {
		return "", code
	}
	if len(pos) == 1 {
		if id := strings.TrimSpace(strings.TrimPrefix(pos[0], "client:")); id != "" {
			return id, -1
		}
	}
	fmt.Fprintf(stderr, "%s: name one softphone identity (alice, or client:alice)\n", f.Name())
	f.Usage()
	return "", 2
}

func newDidsFlags(name, synopsis string, stderr io.Writer) didsFlags {
	return didsFlags{newFlagSet("dids", name, synopsis, stderr)}
}

// parse returns the positional arguments; code is -1 to go on, else the
// exit code (0 after -h).
func (f didsFlags) parse(args []string) (positional []string, code int) {
	for {
		if err := f.Parse(args); err != nil {
			return nil, flagExit(err)
		}
		rest := f.Args()
		if len(rest) == 0 {
			return positional, -1
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// adminClient talks to the admin API of a running didrouter.
type adminClient struct {
	*apiclient.Client
}

// admin builds the client from --url / DIDROUTER_URL and the credentials.
func (c didsCommand) admin(rawURL string) (adminClient, error) {
	if rawURL == "" {
		rawURL = strings.TrimSpace(c.getenv("DIDROUTER_URL"))
	}
	if rawURL == "" {
		rawURL = defaultDidrouterURL
	}
	base, err := apiclient.ParseBaseURL(rawURL)
	if err != nil {
		return adminClient{}, fmt.Errorf("--url / DIDROUTER_URL %q: %w", rawURL, err)
	}
	key, secret := strings.TrimSpace(c.getenv("DIDROUTER_API_KEY")), strings.TrimSpace(c.getenv("DIDROUTER_API_SECRET"))
	if key == "" || secret == "" {
		return adminClient{}, errors.New("DIDROUTER_API_KEY and DIDROUTER_API_SECRET (the admin API's credentials) must be set in the environment")
	}
	hc := c.client
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	return adminClient{apiclient.New(hc, key, secret, base)}, nil
}

// adminOf builds the client and finds the workspace for command. When it
// cannot, it says why on stderr and returns the exit code, else -1.
func (c didsCommand) adminOf(ctx context.Context, command, rawURL, wsSID string, stderr io.Writer) (adminClient, string, int) {
	admin, err := c.admin(rawURL)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", command, err)
		return adminClient{}, "", 2
	}
	ws, err := admin.workspace(ctx, wsSID)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", command, err)
		return adminClient{}, "", 1
	}
	return admin, ws, -1
}

// workspace returns the sid given, else the only workspace's.
func (a adminClient) workspace(ctx context.Context, sid string) (string, error) {
	if sid != "" {
		return sid, nil
	}
	var list struct {
		Workspaces []struct {
			SID          string `json:"sid"`
			FriendlyName string `json:"friendly_name"`
		} `json:"workspaces"`
	}
	if err := a.JSON(ctx, http.MethodGet, "/v1/Workspaces?PageSize=50", nil, &list); err != nil {
		return "", err
	}
	switch len(list.Workspaces) {
	case 0:
		return "", errors.New("didrouter has no workspace")
	case 1:
		return list.Workspaces[0].SID, nil
	}
	var names []string
	for _, ws := range list.Workspaces {
		names = append(names, ws.SID+" ("+ws.FriendlyName+")")
	}
	return "", fmt.Errorf("didrouter has %d workspaces: choose one with --workspace: %s", len(names), strings.Join(names, ", "))
}

// importAnswer is the JSON answer of POST …/DIDs/Import.
type importAnswer struct {
	DryRun    bool `json:"dry_run"`
	Created   int  `json:"created"`
	Updated   int  `json:"updated"`
	Unchanged int  `json:"unchanged"`
	Workers   []struct {
		Row                 int      `json:"row"`
		Action              string   `json:"action"`
		FriendlyName        string   `json:"friendly_name"`
		PhoneNumber         *string  `json:"phone_number"`
		PreviousPhoneNumber *string  `json:"previous_phone_number"`
		Changed             []string `json:"changed"`
	} `json:"workers"`
}

func (c didsCommand) importFile(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f := newDidsFlags("import", "import [--dry-run] [--url URL] [--workspace WS…] FILE.csv", stderr)
	dryRun := f.Bool("dry-run", false, "show what would change, write nothing")
	rawURL := f.String("url", "", "didrouter's base URL (DIDROUTER_URL; default "+defaultDidrouterURL+")")
	wsSID := f.String("workspace", "", "workspace sid (default: the only one)")
	pos, code := f.parse(args)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "dids import: name one CSV file (or - for standard input)")
		f.Usage()
		return 2
	}
	name := pos[0]
	var data []byte
	var err error
	if name == "-" {
		name = "standard input"
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dids import: %v\n", err)
		return 1
	}
	admin, ws, code := c.adminOf(ctx, "dids import", *rawURL, *wsSID, stderr)
	if code >= 0 {
		return code
	}
	path := "/v1/Workspaces/" + url.PathEscape(ws) + "/DIDs/Import"
	if *dryRun {
		path += "?DryRun=true"
	}
	body, err := admin.Do(ctx, http.MethodPost, path, "text/csv", data)
	if err != nil {
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.Row > 0 {
			// The server's message starts with "row N: ".
			fmt.Fprintf(stderr, "dids import: %s %s\nnothing was changed\n", name, ae.Message)
			return 1
		}
		fmt.Fprintf(stderr, "dids import: %s: %v\n", name, err)
		if !errors.As(err, &ae) && !*dryRun {
			// No answer: the transaction committed or rolled back as a
			// whole, and a dry run tells which.
			fmt.Fprintln(stderr, "the import was applied entirely or not at all: run it again with --dry-run to see which")
		}
		return 1
	}
	var ans importAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		fmt.Fprintf(stderr, "dids import: reading didrouter's answer: %v\n", err)
		return 1
	}
	printImport(stdout, name, ans)
	return 0
}

func printImport(w io.Writer, name string, ans importAnswer) {
	for _, r := range ans.Workers {
		switch r.Action {
		case "created":
			fmt.Fprintf(w, "row %-5d create  %s  %s\n", r.Row, r.FriendlyName, orNone(r.PhoneNumber))
		case "updated":
			line := fmt.Sprintf("row %-5d update  %s  %s", r.Row, r.FriendlyName, strings.Join(r.Changed, ", "))
			if old, now := orNone(r.PreviousPhoneNumber), orNone(r.PhoneNumber); old != now {
				line += fmt.Sprintf("  (number %s -> %s)", old, now)
			}
			fmt.Fprintln(w, line)
		}
	}
	verb := "imported"
	if ans.DryRun {
		verb = "dry run, nothing written"
	}
	fmt.Fprintf(w, "%s (%s): %d created, %d updated, %d unchanged\n", name, verb, ans.Created, ans.Updated, ans.Unchanged)
}

func orNone(s *string) string {
	if s == nil || *s == "" {
		return "no number"
	}
	return *s
}

func (c didsCommand) export(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	f := newDidsFlags("export", "export [--url URL] [--workspace WS…] [-o FILE.csv]", stderr)
	rawURL := f.String("url", "", "didrouter's base URL (DIDROUTER_URL; default "+defaultDidrouterURL+")")
	wsSID := f.String("workspace", "", "workspace sid (default: the only one)")
	out := f.String("o", "", "write to this file instead of standard output")
	pos, code := f.parse(args)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "dids export: unexpected arguments %q (write to a file with -o FILE)\n", pos)
		return 2
	}
	admin, ws, code := c.adminOf(ctx, "dids export", *rawURL, *wsSID, stderr)
	if code >= 0 {
		return code
	}
	data, err := admin.Do(ctx, http.MethodGet, "/v1/Workspaces/"+url.PathEscape(ws)+"/DIDs/Export", "", nil)
	if err != nil {
		fmt.Fprintf(stderr, "dids export: %v\n", err)
		return 1
	}
	if *out == "" {
		if _, err := stdout.Write(data); err != nil {
			fmt.Fprintf(stderr, "dids export: %v\n", err)
			return 1
		}
		return 0
	}
	if err := writeFilePrivate(*out, data); err != nil {
		fmt.Fprintf(stderr, "dids export: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s\n", *out)
	return 0
}

// writeFilePrivate writes data to path readable by its owner only (0600):
// an export holds people's names, emails and numbers. It writes beside and
// renames, so an interrupted export never leaves half a file, and a file
// that was there before is replaced with the new mode, not rewritten in
// its old one.
func writeFilePrivate(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp") // created 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return werr
	}
	return nil
}

// token prints an agent token or a sign-in link (package agenttoken); it
// needs only DIDROUTER_AGENT_TOKEN_SECRET, not a running server.
func (c didsCommand) token(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	f := newDidsFlags("token", "token [--link] [--ttl 12h] IDENTITY", stderr)
	link := f.Bool("link", false, "print a sign-in link for the agent desktop (<public URL>/agent/signin?t=…) instead of a token")
	ttl := f.Duration("ttl", 0, "how long it is valid (default 12h for a token, 15m for a link)")
	rawURL := f.String("url", "", "base URL of the link (default DIDROUTER_PUBLIC_URL, else DIDROUTER_URL, else "+defaultDidrouterURL+")")
	identity, code := f.parseIdentity(args, stderr)
	if code >= 0 {
		return code
	}
	if *ttl < 0 {
		fmt.Fprintln(stderr, "dids token: --ttl must be positive")
		return 2
	}
	if *ttl == 0 {
		*ttl = 12 * time.Hour
		if *link {
			*ttl = agenttoken.DefaultLinkTTL
		}
	}
	signer, err := agentSigner(c.getenv)
	if err != nil {
		fmt.Fprintf(stderr, "dids token: %v\n", err)
		return 2
	}
	if signer == nil {
		fmt.Fprintln(stderr, "dids token: DIDROUTER_AGENT_TOKEN_SECRET (the key that signs agent tokens and sign-in links, the same as the server's) must be set in the environment")
		return 2
	}
	now := c.now()
	if !*link {
		tok, err := signer.Token(identity, now, now.Add(*ttl))
		if err != nil {
			fmt.Fprintf(stderr, "dids token: %v\n", err)
			return 2
		}
		fmt.Fprintln(stdout, tok)
		return 0
	}
	base, err := linkBase(*rawURL, c.getenv)
	if err != nil {
		fmt.Fprintf(stderr, "dids token: %v\n", err)
		return 2
	}
	tok, err := signer.Link(identity, now, now.Add(*ttl))
	if err != nil {
		fmt.Fprintf(stderr, "dids token: %v\n", err)
		return 2
	}
	fmt.Fprintln(stdout, base+web.SignInPath+"?t="+url.QueryEscape(tok))
	return 0
}

// agentSigner reads DIDROUTER_AGENT_TOKEN_SECRET and
// DIDROUTER_AGENT_TOKEN_MAX_TTL; nil without a secret (tokens are off).
func agentSigner(getenv func(string) string) (*agenttoken.Signer, error) {
	secret := strings.TrimSpace(getenv("DIDROUTER_AGENT_TOKEN_SECRET"))
	if secret == "" {
		return nil, nil
	}
	maxTTL, err := parseTokenMaxTTL(strings.TrimSpace(getenv("DIDROUTER_AGENT_TOKEN_MAX_TTL")))
	if err != nil {
		return nil, err
	}
	return agenttoken.NewSigner(secret, maxTTL)
}

// parseTokenMaxTTL reads DIDROUTER_AGENT_TOKEN_MAX_TTL ("" = the default).
func parseTokenMaxTTL(s string) (time.Duration, error) {
	if s == "" {
		return agenttoken.DefaultMaxTTL, nil
	}
	d, err := parseSeconds(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("DIDROUTER_AGENT_TOKEN_MAX_TTL must be a positive duration such as 168h (7 days), not %q", s)
	}
	return d, nil
}

// linkBase is the base URL of sign-in links: --url, else the server's
// public URL, else DIDROUTER_URL, else the default.
func linkBase(rawURL string, getenv func(string) string) (string, error) {
	for _, v := range []string{rawURL, getenv("DIDROUTER_PUBLIC_URL"), getenv("DIDROUTER_URL"), defaultDidrouterURL} {
		v = strings.TrimRight(strings.TrimSpace(v), "/")
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return "", fmt.Errorf("the link's base URL %q must be didrouter's public URL, such as https://calls.example.com", v)
		}
		return v, nil
	}
	return defaultDidrouterURL, nil
}

// revoke refuses every agent token and sign-in link of an agent issued
// until now, and signs the agent out of the agent desktop.
func (c didsCommand) revoke(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	f := newDidsFlags("revoke", "revoke [--url URL] [--workspace WS…] IDENTITY", stderr)
	rawURL := f.String("url", "", "didrouter's base URL (DIDROUTER_URL; default "+defaultDidrouterURL+")")
	wsSID := f.String("workspace", "", "workspace sid (default: the one where the identity is a worker)")
	identity, code := f.parseIdentity(args, stderr)
	if code >= 0 {
		return code
	}
	admin, err := c.admin(*rawURL)
	if err != nil {
		fmt.Fprintf(stderr, "dids revoke: %v\n", err)
		return 2
	}
	q := url.Values{"identity": {identity}}
	if *wsSID != "" {
		q.Set("workspace", *wsSID)
	}
	var agent struct {
		WorkerSID    string `json:"worker_sid"`
		WorkspaceSID string `json:"workspace_sid"`
		FriendlyName string `json:"friendly_name"`
	}
	if err := admin.JSON(ctx, http.MethodGet, api.AgentNumberPath+"?"+q.Encode(), nil, &agent); err != nil {
		fmt.Fprintf(stderr, "dids revoke: %v\n", err)
		return 1
	}
	var ans struct {
		After string `json:"tokens_valid_after"`
		Ended int    `json:"sessions_ended"`
	}
	if err := admin.JSON(ctx, http.MethodPost, "/v1/Workspaces/"+url.PathEscape(agent.WorkspaceSID)+"/Workers/"+
		url.PathEscape(agent.WorkerSID)+"/RevokeAgentTokens", url.Values{}, &ans); err != nil {
		fmt.Fprintf(stderr, "dids revoke: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "revoked the agent tokens and sign-in links of %s (%s, %s) issued before %s; %d agent desktop session(s) ended\n",
		identity, agent.FriendlyName, agent.WorkerSID, ans.After, ans.Ended)
	return 0
}

// normalizeCallerID reads DIDROUTER_DEFAULT_CALLER_ID in the configured region.
func normalizeCallerID(raw, region string) (string, error) {
	n, err := routing.NewNormalizer(region)
	if err != nil {
		return "", err
	}
	num, err := n.Normalize(raw)
	if err != nil {
		return "", err
	}
	return num.E164, nil
}
