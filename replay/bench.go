package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/didrouter/didrouter/webhooks"
)

// BenchConfig configures a closed-loop benchmark of one webhook: Concurrency
// callers each send the next request as soon as the previous is answered.
type BenchConfig struct {
	Target, PublicURL, AuthToken string
	AllowRemote                  bool
	Concurrency                  int
	Duration                     time.Duration
	// DIDs are the numbers called, each once, in turn: give numbers whose
	// owners are available so every incoming call takes the ring-the-owner
	// path. The incoming benchmark stops when they run out.
	DIDs   []string
	Client *http.Client
}

// BenchResult is one benchmark's outcome.
type BenchResult struct {
	Route       string           `json:"route"`
	Concurrency int              `json:"concurrency"`
	Requests    int64            `json:"requests"`
	DurationS   float64          `json:"duration_s"`
	PerSec      float64          `json:"requests_per_s"`
	Latency     Latency          `json:"latency"`
	Dialed      int64            `json:"answered_dial"`    // answers that rang someone
	Enqueued    int64            `json:"answered_enqueue"` // answers that held the caller
	Errors      map[string]int64 `json:"errors"`
}

// Bench routes.
const (
	BenchFloor = "/floor" // constant TwiML behind the same middleware (DIDROUTER_BENCH_FLOOR=true)
	// BenchIncoming is the full incoming-call path: the routing step Twilio
	// reaches after the greeting (the first step only says the greeting).
	BenchIncoming = "/incoming?greeted=1"
)

// Bench runs the closed loop against route (BenchFloor or BenchIncoming).
func Bench(ctx context.Context, cfg BenchConfig, route string) (BenchResult, error) {
	res := BenchResult{Route: webhooks.PathPrefix + route, Concurrency: cfg.Concurrency, Errors: map[string]int64{}}
	target, err := checkTarget(cfg.Target, cfg.AllowRemote)
	if err != nil {
		return res, err
	}
	public := strings.TrimRight(cfg.PublicURL, "/")
	if public == "" {
		public = target
	}
	switch {
	case cfg.AuthToken == "":
		return res, errors.New("the server's auth token is required to sign webhooks (TWILIO_AUTH_TOKEN)")
	case cfg.Concurrency < 1:
		return res, errors.New("--concurrency must be at least 1")
	case cfg.Duration <= 0:
		return res, errors.New("--duration must be positive for a benchmark")
	case len(cfg.DIDs) == 0:
		return res, errors.New("a benchmark needs numbers to call")
	}
	client := cfg.Client
	if client == nil {
		tr := newTransport(cfg.Concurrency * 2)
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr, Timeout: 15 * time.Second}
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id) // never fails on supported platforms
	runID := hex.EncodeToString(id)
	publicURL := public + webhooks.PathPrefix + route
	targetURL := target + webhooks.PathPrefix + route

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		next  atomic.Int64
		mu    sync.Mutex
		hist  = hdrhistogram.New(histMin, histMax, histDigits)
		wg    sync.WaitGroup
		count atomic.Int64
	)
	fail := func(reason string) {
		mu.Lock()
		res.Errors[reason]++
		mu.Unlock()
	}
	start := time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := hdrhistogram.New(histMin, histMax, histDigits)
			defer func() {
				mu.Lock()
				hist.Merge(local)
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if route == BenchIncoming && i >= int64(len(cfg.DIDs)) {
					return // every owner has been called once
				}
				form := url.Values{
					"AccountSid": {"AC" + strings.Repeat("0", 32)}, "ApiVersion": {"2010-04-01"},
					"CallSid": {fmt.Sprintf("CA%s%024x", runID, i)}, "CallStatus": {"ringing"}, "Direction": {"inbound"},
					"From": {callerNumber(int(i % 1_000_000))}, "To": {cfg.DIDs[i%int64(len(cfg.DIDs))]},
				}
				req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, targetURL, strings.NewReader(form.Encode()))
				if err != nil {
					fail("bad-request")
					return
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Twilio-Signature", webhooks.Sign(cfg.AuthToken, publicURL, form))
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					fail("transport")
					continue
				}
				var buf [4096]byte
				n, _ := readAll(resp, buf[:])
				resp.Body.Close()
				_ = local.RecordValue(min(max(time.Since(t0).Microseconds(), histMin), histMax))
				count.Add(1)
				if resp.StatusCode != http.StatusOK {
					fail(fmt.Sprintf("http-%d", resp.StatusCode))
					continue
				}
				verbs, err := parseTwiML(buf[:n])
				if err != nil {
					fail("bad-twiml")
					continue
				}
				if isFallback(verbs) {
					fail("fallback-twiml")
				}
				for _, v := range verbs {
					switch v.name() {
					case "Dial":
						atomic.AddInt64(&res.Dialed, 1)
					case "Enqueue":
						atomic.AddInt64(&res.Enqueued, 1)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Requests = count.Load()
	res.DurationS = elapsed.Seconds()
	res.PerSec = float64(res.Requests) / elapsed.Seconds()
	res.Latency = summarize(hist)
	return res, nil
}

// readAll reads a small answer into buf (larger answers are cut: the
// benchmark only looks at the first verbs).
func readAll(resp *http.Response, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := resp.Body.Read(buf[n:])
		n += m
		if err != nil {
			return n, nil
		}
	}
	return n, nil
}
