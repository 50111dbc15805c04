package numbers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/didrouter/didrouter"
)

// Environment variables read by CredentialsFromEnv and BaseURLFromEnv.
const (
	EnvAccountSID = "TWILIO_ACCOUNT_SID"
	EnvAuthToken  = "TWILIO_AUTH_TOKEN"
	EnvAPIKey     = "TWILIO_API_KEY"
	EnvAPISecret  = "TWILIO_API_SECRET"
	// EnvBaseURL sends every Twilio request to another host. It is for a
	// local fake of Twilio and for the load replay tool. Never set it in
	// production, because the Twilio credentials go to that host.
	EnvBaseURL = "DIDROUTER_TWILIO_BASE_URL"
)

// Credentials authenticate to Twilio's REST API: the account SID with its
// auth token, or an API key SID and secret acting for the account.
type Credentials struct {
	AccountSID string
	Username   string // the account SID or an API key SID
	Password   string // the auth token or the API key secret
}

// CredentialsFromEnv reads TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or
// TWILIO_API_KEY and TWILIO_API_SECRET with TWILIO_ACCOUNT_SID (an API
// key wins when both are set). The error names the variable missing.
func CredentialsFromEnv(getenv func(string) string) (Credentials, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	sid := get(EnvAccountSID)
	if sid == "" {
		return Credentials{}, fmt.Errorf("%s is not set: set it to your Twilio account SID (AC…), with %s, or with %s and %s",
			EnvAccountSID, EnvAuthToken, EnvAPIKey, EnvAPISecret)
	}
	if !strings.HasPrefix(sid, "AC") {
		return Credentials{}, fmt.Errorf("%s=%q is not an account SID: it starts with AC", EnvAccountSID, sid)
	}
	key, secret, token := get(EnvAPIKey), get(EnvAPISecret), get(EnvAuthToken)
	switch {
	case key != "" && secret == "":
		return Credentials{}, fmt.Errorf("%s is set but %s is not: set the API key's secret", EnvAPIKey, EnvAPISecret)
	case key == "" && secret != "":
		return Credentials{}, fmt.Errorf("%s is set but %s is not: set the API key's SID (SK…)", EnvAPISecret, EnvAPIKey)
	case key != "":
		return Credentials{AccountSID: sid, Username: key, Password: secret}, nil
	case token != "":
		return Credentials{AccountSID: sid, Username: sid, Password: token}, nil
	}
	return Credentials{}, fmt.Errorf("%s is not set: set the account's auth token, or %s and %s", EnvAuthToken, EnvAPIKey, EnvAPISecret)
}

// ParseBaseURL checks a DIDROUTER_TWILIO_BASE_URL value: scheme and host
// only, since the client keeps Twilio's paths.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvBaseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("%s=%q: want scheme and host only, e.g. http://127.0.0.1:8089", EnvBaseURL, raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// Options tune an Account; the zero value is Twilio itself.
type Options struct {
	// BaseURL, when set, replaces scheme and host of every request (see
	// EnvBaseURL).
	BaseURL *url.URL
	// Transport sends the requests; nil is http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds one request, reading the answer included; 0 is 30 s.
	Timeout time.Duration
	// Retries is how often a request answered 429 (too many requests) is
	// sent again; 0 is 3, negative is none. A 429 means Twilio did not act
	// on the request, so resending a purchase cannot buy twice.
	Retries int
	// RetryDelay is the first wait after a 429 without Retry-After; it
	// doubles each time. 0 is 1 s.
	RetryDelay time.Duration
	// Clock times the waits; nil is the system clock.
	Clock didrouter.Clock
}

// Account is one Twilio account's phone numbers.
type Account struct {
	cred Credentials
	opts Options
}

// NewAccount returns the account reached with cred.
func NewAccount(cred Credentials, opts Options) (*Account, error) {
	if cred.AccountSID == "" || cred.Username == "" || cred.Password == "" {
		return nil, errors.New("numbers: incomplete Twilio credentials")
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Retries == 0 {
		opts.Retries = 3
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	if opts.Clock == nil {
		opts.Clock = didrouter.SystemClock{}
	}
	return &Account{cred: cred, opts: opts}, nil
}

// SID returns the account SID.
func (a *Account) SID() string { return a.cred.AccountSID }

// api returns Twilio's API service for one operation under ctx: the
// client's requests carry ctx through the transport, since twilio-go's
// methods take no context.
func (a *Account) api(ctx context.Context) *twapi.ApiService {
	c := &client.Client{
		Credentials: client.NewCredentials(a.cred.Username, a.cred.Password),
		HTTPClient: &http.Client{
			Transport: &transport{ctx: ctx, target: a.opts.BaseURL, next: a.opts.Transport,
				retries: a.opts.Retries, delay: a.opts.RetryDelay, clock: a.opts.Clock},
			Timeout: a.opts.Timeout,
			// As twilio-go's own client: a redirect is an answer, not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(a.cred.AccountSID)
	svc := twapi.NewApiServiceWithClient(c)
	if a.opts.BaseURL != nil {
		// TWILIO_EDGE/TWILIO_REGION would only rename the host the
		// transport replaces anyway.
		svc.RequestHandler().Edge, svc.RequestHandler().Region = "", ""
	}
	return svc
}

// RESTError returns Twilio's error answer inside err, if any.
func RESTError(err error) (*client.TwilioRestError, bool) {
	var e *client.TwilioRestError
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Describe renders an error from Twilio for people: status, code and
// message when Twilio answered, the cause otherwise.
func Describe(err error) string {
	if err == nil {
		return "no error"
	}
	if e, ok := RESTError(err); ok {
		return fmt.Sprintf("Twilio answered %d, error %d: %s", e.Status, e.Code, e.Message)
	}
	return err.Error()
}
