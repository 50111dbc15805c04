// Package apiclient is the one client of didrouter's admin API that
// didrouter's own tools use: the dids and numbers commands and the load
// replay tool. It sends HTTP Basic credentials, follows next_page_url and
// reads the API's Twilio-shaped error answers. It does not import the
// server side, so a tool that links it links no server code.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// DefaultBaseURL is where a tool finds didrouter when it is told nothing else.
const DefaultBaseURL = "http://127.0.0.1:8080"

// maxBody bounds an answer read into memory. A DID export of a large
// fleet is the largest answer the tools read.
const maxBody = 256 << 20

// MaxPages bounds the pages Pages follows in one list, against a server
// that links a page to itself.
const MaxPages = 10000

// Client talks to one didrouter deployment. With several base URLs
// (instances of one deployment sharing its database) a request that fails
// in transport or is answered 5xx is sent to the next one.
type Client struct {
	http        *http.Client
	bases       []string
	key, secret string
}

// New returns a client of the servers at bases, each as ParseBaseURL
// returns it. hc nil uses http.DefaultClient.
func New(hc *http.Client, key, secret string, bases ...string) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{http: hc, bases: bases, key: key, secret: secret}
}

// ParseBaseURL checks that raw is an absolute http(s) URL without a query
// and returns it without its trailing slash. Callers name the setting in
// their own message around the error.
func ParseBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(raw), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("want didrouter's base URL, such as %s", DefaultBaseURL)
	}
	return u.String(), nil
}

// Error is an answer outside 2xx. Status is the HTTP status; Code,
// Message and Row come from the Twilio-shaped JSON body when there is one
// (Row is set by the DID import for the row it refused).
type Error struct {
	Status  int    `json:"-"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	Row     int    `json:"row"`
	// Body is the start of an answer that carried no message.
	Body string `json:"-"`
}

func (e *Error) Error() string {
	if e.Status == http.StatusUnauthorized {
		return "the admin API refused the credentials (401): check DIDROUTER_API_KEY and DIDROUTER_API_SECRET"
	}
	msg := e.Message
	if msg == "" {
		msg = e.Body
	}
	if msg == "" {
		return fmt.Sprintf("the admin API answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("the admin API answered %d: %s", e.Status, msg)
}

// Do sends one request and returns the body of a 2xx answer, else an
// *Error. path is a path under the base URL ("/v1/Workspaces") or a link
// the API gave (next_page_url). body nil sends no body.
func (c *Client) Do(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	rel, err := c.relative(path)
	if err != nil {
		return nil, err
	}
	if len(c.bases) == 0 {
		return nil, errors.New("apiclient: no base URL")
	}
	var data []byte
	for _, base := range c.bases {
		data, err = c.doOn(ctx, base, method, rel, contentType, body)
		var ae *Error
		if err == nil || ctx.Err() != nil || (errors.As(err, &ae) && ae.Status < 500) {
			return data, err
		}
	}
	return nil, err
}

// JSON sends form and decodes a 2xx answer into out. A nil form sends no
// body, and a nil out leaves the answer unread.
func (c *Client) JSON(ctx context.Context, method, path string, form url.Values, out any) error {
	var body []byte
	contentType := ""
	if form != nil {
		body = []byte(form.Encode())
		contentType = "application/x-www-form-urlencoded"
	}
	data, err := c.Do(ctx, method, path, contentType, body)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("reading didrouter's answer to %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Pages lists path page by page, following each page's next_page_url,
// and hands fn the raw items under key. fn returns false to stop.
func (c *Client) Pages(ctx context.Context, path, key string, fn func(items []json.RawMessage) (more bool, err error)) error {
	for n := 0; path != ""; n++ {
		if n == MaxPages {
			return fmt.Errorf("GET %s: more than %d pages", path, MaxPages)
		}
		var page map[string]json.RawMessage
		if err := c.JSON(ctx, http.MethodGet, path, nil, &page); err != nil {
			return fmt.Errorf("GET %s: %w", path, err)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(page[key], &items); err != nil {
			return fmt.Errorf("GET %s: no %q list in the answer: %w", path, key, err)
		}
		more, err := fn(items)
		if err != nil {
			return fmt.Errorf("GET %s: %w", path, err)
		}
		if !more {
			return nil
		}
		var meta struct {
			Next *string `json:"next_page_url"`
		}
		if err := json.Unmarshal(page["meta"], &meta); err != nil {
			return fmt.Errorf("GET %s: meta: %w", path, err)
		}
		path = ""
		if meta.Next != nil {
			path = *meta.Next
		}
	}
	return nil
}

// relative turns a link the API gave into a path under the base URLs.
// The server builds links from its public URL, which need not be how the
// tool reaches it. Either way only the link's path and query are used,
// sent to the base URLs: the credentials never go to the link's host.
func (c *Client) relative(path string) (string, error) {
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		return path, nil
	}
	for _, b := range c.bases {
		if rest, ok := strings.CutPrefix(path, b+"/"); ok {
			return "/" + rest, nil
		}
	}
	if u, err := url.Parse(path); err == nil {
		if ru := u.RequestURI(); strings.Contains(ru, "/v1/") {
			return ru[strings.Index(ru, "/v1/"):], nil
		}
	}
	return "", fmt.Errorf("the admin API's link %q is outside the targets %s", path, strings.Join(c.bases, ", "))
}

func (c *Client) doOn(ctx context.Context, base, method, path, contentType string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.key, c.secret)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach didrouter at %s: %w", base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading didrouter's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Body = clip(strings.TrimSpace(string(data)), 200)
		}
		e.Status = resp.StatusCode
		return nil, e
	}
	return data, nil
}

// clip keeps the first n bytes of s, cut at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
