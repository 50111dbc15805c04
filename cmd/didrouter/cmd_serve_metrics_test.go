package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/didrouter/didrouter/webhooks"
)

// After a few calls, /metrics shows them: webhook latency by route pattern,
// calls by outcome, reservations by result, store latency, index size and
// queue depth.
func TestServeMetrics(t *testing.T) {
	cfg := testConfig(t)
	base, _ := runServer(t, cfg)
	waitReady(t, base)
	c := &metricsClient{t: t, base: base, cfg: cfg}

	before := c.scrape()
	if v := metricValue(before, `didrouter_calls_total{outcome="owner_answered"}`); v != 0 {
		t.Fatalf("owner_answered before any call = %v", v)
	}

	ws := c.apiList("/v1/Workspaces", "workspaces")[0]["sid"].(string)
	var available string
	for _, a := range c.apiList("/v1/Workspaces/"+ws+"/Activities", "activities") {
		if a["friendly_name"] == "Available" {
			available = a["sid"].(string)
		}
	}
	c.api(http.MethodPost, "/v1/Workspaces/"+ws+"/Workers", url.Values{
		"FriendlyName": {"alice"}, "ActivitySid": {available},
		"Attributes": {`{"phone_number":"+15125550101","contact_uri":"client:alice"}`},
	})

	// Call 1: the owner answers and hangs up.
	call1 := url.Values{"CallSid": {"CA10000000000000000000000000000001"}, "From": {"+17375550100"}, "To": {"+15125550101"}}
	doc := c.call(call1)
	if doc.Dial == nil || doc.Dial.Client.URL == "" {
		t.Fatalf("incoming did not ring the owner: %+v", doc)
	}
	c.webhookURL(doc.Dial.Client.URL, url.Values{"CallSid": {"CA20000000000000000000000000000001"}, "ParentCallSid": call1["CallSid"]})
	done := url.Values{"CallSid": call1["CallSid"], "DialCallStatus": {"completed"}, "CallStatus": {"in-progress"}}
	c.webhookURL(doc.Dial.Action, done)
	c.webhook("/status", url.Values{"CallSid": call1["CallSid"], "CallStatus": {"completed"}})

	// Call 2: alice is on no call, but call 1 is over; a second worker-less
	// number rings alice (Everyone). Call 3 waits in the queue while alice
	// rings, then hangs up: abandoned.
	call2 := url.Values{"CallSid": {"CA10000000000000000000000000000002"}, "From": {"+17375550100"}, "To": {"+15125550199"}}
	if doc := c.call(call2); doc.Dial == nil {
		t.Fatalf("call 2 did not ring alice: %+v", doc)
	}
	call3 := url.Values{"CallSid": {"CA10000000000000000000000000000003"}, "From": {"+17375550100"}, "To": {"+15125550199"}}
	if doc := c.call(call3); doc.Enqueue == nil {
		t.Fatalf("call 3 was not queued: %+v", doc)
	}
	mid := c.scrape()
	if v := metricValue(mid, `didrouter_queue_depth{workspace_sid="`+ws+`"}`); v != 1 {
		t.Errorf("queue depth with one caller waiting = %v, want 1", v)
	}
	c.webhook("/status", url.Values{"CallSid": call3["CallSid"], "CallStatus": {"completed"}})

	after := c.scrape()
	for _, want := range []struct {
		series string
		min    float64
	}{
		{`didrouter_calls_total{outcome="owner_answered"}`, 1},
		{`didrouter_calls_total{outcome="queued"}`, 1},
		{`didrouter_calls_total{outcome="abandoned"}`, 1},
		{`didrouter_reservations_total{result="created"}`, 2},
		{`didrouter_reservations_total{result="accepted"}`, 1},
		{`didrouter_call_decisions_total{decision="dial"}`, 2},
		{`didrouter_http_request_duration_seconds_count{route="/webhooks/voice/incoming",status="200"}`, 6}, // greeting + routing
		{`didrouter_http_request_duration_seconds_count{route="/webhooks/voice/status",status="204"}`, 2},
		{`didrouter_http_request_duration_seconds_count{route="/v1/Workspaces/{workspace}/Workers",status="201"}`, 1},
		{`didrouter_store_duration_seconds_count{op="tx"}`, 4},
		{`didrouter_index_workers`, 1},
		{`didrouter_task_wait_seconds_count`, 1},
	} {
		if got := metricValue(after, want.series); got < want.min {
			t.Errorf("%s = %v, want at least %v", want.series, got, want.min)
		}
	}
	if v := metricValue(after, `didrouter_calls_total{outcome="fallback"}`); v != 0 {
		t.Errorf("fallback = %v, want 0 (nobody answered call 2 yet)", v)
	}
	if strings.Contains(after, "CA1000") || strings.Contains(after, "WT") {
		t.Error("metrics carry call or task sids in labels")
	}
}

type metricsClient struct {
	t    *testing.T
	base string
	cfg  config
}

func (c *metricsClient) scrape() string {
	c.t.Helper()
	resp, err := http.Get(c.base + "/metrics")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("/metrics: %s", resp.Status)
	}
	return string(body)
}

// metricValue reads one sample ("name{labels}" exactly as exposed; -1 when absent).
func metricValue(exposition, series string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(exposition)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

func (c *metricsClient) api(method, path string, form url.Values) map[string]any {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.cfg.APIKey, c.cfg.APISecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 || json.Unmarshal(body, &out) != nil {
		c.t.Fatalf("%s %s: %s %s", method, path, resp.Status, body)
	}
	return out
}

func (c *metricsClient) apiList(path, key string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	for _, v := range c.api(http.MethodGet, path, nil)[key].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

type twimlDoc struct {
	Dial *struct {
		Action string `xml:"action,attr"`
		Client struct {
			URL string `xml:"url,attr"`
		} `xml:"Client"`
	} `xml:"Dial"`
	Enqueue  *struct{} `xml:"Enqueue"`
	Redirect string    `xml:"Redirect"`
}

// call places an inbound call: the greeting, then the redirect Twilio
// follows to route it; it returns the routing step's answer.
func (c *metricsClient) call(form url.Values) twimlDoc {
	c.t.Helper()
	greeting := c.webhook("/incoming", form)
	if greeting.Redirect == "" {
		c.t.Fatalf("incoming answered %+v, want the greeting and a redirect", greeting)
	}
	return c.webhookURL(strings.TrimSpace(greeting.Redirect), form)
}

func (c *metricsClient) webhook(route string, form url.Values) twimlDoc {
	return c.webhookURL(c.cfg.PublicURL+webhooks.PathPrefix+route, form)
}

// webhookURL posts a signed webhook to a public URL, sent to the listener.
func (c *metricsClient) webhookURL(public string, form url.Values) twimlDoc {
	c.t.Helper()
	target := c.base + strings.TrimPrefix(public, c.cfg.PublicURL)
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Sign(c.cfg.AuthToken, public, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		c.t.Fatalf("POST %s: %s %s", public, resp.Status, body)
	}
	var doc twimlDoc
	if len(body) > 0 {
		if err := xml.Unmarshal(body, &doc); err != nil {
			c.t.Fatalf("POST %s: %v in %s", public, err, body)
		}
	}
	return doc
}
