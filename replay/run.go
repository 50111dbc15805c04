package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/didrouter/didrouter/api/apiclient"
)

// Config configures a run.
type Config struct {
	Target string // base URL requests go to, e.g. http://127.0.0.1:8080
	// Targets are several instances of one deployment: webhooks are spread
	// over them round-robin (no call is sticky). When set, Target is only
	// used if Targets is empty.
	Targets     []string
	PublicURL   string // base URL the server checks signatures against; "" = Target (required with several targets)
	AuthToken   string // the server's TWILIO_AUTH_TOKEN
	AllowRemote bool   // allow a Target that is not a loopback address

	// Retries is how many times a delivery that fails in transport, times
	// out or is answered 5xx is sent again, each time to the next target
	// (Twilio's retry, a balancer's next upstream); 0 = never.
	Retries int
	// DuplicateRate is the share of webhooks delivered twice, the second
	// time to another target once the first is answered (Twilio
	// re-delivers what it did not see answered in time); the second answer
	// is followed. 0 = none.
	DuplicateRate float64
	// SyncLag is how long an instance may take to hear through the change
	// feed that another freed a worker. The routing check counts an owner
	// freed within it before a call as undecidable. 0 means 1 s with several
	// targets and none with one.
	SyncLag time.Duration

	APIKey, APISecret string // admin API credentials: seeding and the task check need them
	SeedWorkers       bool   // create/update the script's workers through the API first
	SkipTaskCheck     bool   // do not check task records through the API afterwards

	Speed    float64       // 5 = five times faster than scripted; 0 = 1
	Duration time.Duration // stop after this long (calls still up hang up); 0 = at the end of the script
	// Drain bounds the wait for calls still up after the last one started
	// (a caller nobody can serve waits for ever); they then hang up. 0 = 2 min.
	Drain time.Duration

	FallbackAnswerAfter time.Duration // ringing before a worker rung after the first answers (scripted time)
	MaxConns            int           // idle keep-alive connections kept; 0 = 1024
	SeedParallel        int           // API requests in flight while seeding; 0 = 8

	Progress      io.Writer     // progress lines (nil = none)
	ProgressEvery time.Duration // 0 = 1 s
	Client        *http.Client  // nil = a client on a shared keep-alive transport
}

// runner is one run in progress.
type runner struct {
	cfg     Config
	tw      *twilio
	api     apiClient
	public  string
	account string
	runID   string // in every CallSid of the run: tells its tasks from others

	playCtx context.Context // ends at --duration: calls still up hang up
	reqCtx  context.Context // bounds every request, a little after playCtx

	started, finished atomic.Int64
}

// callSID is the CallSid of call i: "CA", the run id, the index.
func (r *runner) callSID(i int) string { return fmt.Sprintf("CA%s%024x", r.runID, i) }

// legSID names the agent's leg n of call i.
func (r *runner) legSID(i, n int) string {
	return fmt.Sprintf("CA%s%024x", r.runID, uint64(n)<<56|uint64(i))
}

// targets returns the targets of cfg, checked, without trailing slashes.
func (cfg Config) targets() ([]string, error) {
	raw := cfg.Targets
	if len(raw) == 0 {
		raw = []string{cfg.Target}
	}
	out := make([]string, 0, len(raw))
	seen := map[string]bool{}
	for _, t := range raw {
		c, err := checkTarget(t, cfg.AllowRemote)
		if err != nil {
			return nil, err
		}
		if seen[c] {
			return nil, fmt.Errorf("--target %s is given twice", c)
		}
		seen[c] = true
		out = append(out, c)
	}
	return out, nil
}

// checkTarget refuses anything but a loopback target unless allowed.
func checkTarget(raw string, allowRemote bool) (string, error) {
	base, err := apiclient.ParseBaseURL(raw)
	if err != nil {
		return "", fmt.Errorf("--target %q: %w", raw, err)
	}
	if !allowRemote {
		u, _ := url.Parse(base) // ParseBaseURL parsed it
		host := u.Hostname()
		ip := net.ParseIP(host)
		if !(host == "localhost" || (ip != nil && ip.IsLoopback())) {
			return "", fmt.Errorf("--target %s is not a loopback address: replay only loads servers on this machine unless --allow-remote is given", host)
		}
	}
	return base, nil
}

// Run plays the script against the target and reports what it saw.
func Run(ctx context.Context, cfg Config, s *Script) (*Report, error) {
	targets, err := cfg.targets()
	if err != nil {
		return nil, err
	}
	public := strings.TrimRight(cfg.PublicURL, "/")
	if public == "" {
		if len(targets) > 1 {
			return nil, errors.New("--public-url is required with several targets (the instances share one DIDROUTER_PUBLIC_URL, which signatures are computed for)")
		}
		public = targets[0]
	}
	if cfg.SyncLag <= 0 && len(targets) > 1 {
		cfg.SyncLag = time.Second
	}
	if cfg.Retries < 0 {
		return nil, errors.New("--retries must not be negative")
	}
	if cfg.DuplicateRate < 0 || cfg.DuplicateRate > 1 || math.IsNaN(cfg.DuplicateRate) {
		return nil, errors.New("--duplicate-rate must be between 0 and 1")
	}
	if u, err := url.Parse(public); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--public-url must be an absolute http(s) URL, not %q", cfg.PublicURL)
	}
	if cfg.AuthToken == "" {
		return nil, errors.New("the server's auth token is required to sign webhooks (TWILIO_AUTH_TOKEN)")
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.FallbackAnswerAfter <= 0 {
		cfg.FallbackAnswerAfter = time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 1024
	}
	if cfg.SeedParallel <= 0 {
		cfg.SeedParallel = 8
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 2 * time.Minute
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	haveAPI := cfg.APIKey != "" && cfg.APISecret != ""
	if cfg.SeedWorkers && !haveAPI {
		return nil, errors.New("seeding workers needs the admin API credentials (DIDROUTER_API_KEY, DIDROUTER_API_SECRET)")
	}
	client := cfg.Client
	if client == nil {
		tr := newTransport(cfg.MaxConns)
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr, Timeout: 15 * time.Second, // Twilio's own webhook timeout
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id) // crypto/rand.Read never fails on supported platforms
	r := &runner{
		cfg: cfg, public: public, runID: hex.EncodeToString(id),
		account: "AC" + strings.Repeat("0", 32),
		tw: &twilio{client: client, targets: targets, public: public, token: cfg.AuthToken, stats: newStats(),
			retries: cfg.Retries, duplicateRate: cfg.DuplicateRate},
		api: apiClient{apiclient.New(client, cfg.APIKey, cfg.APISecret, targets...)},
	}
	rep := &Report{Target: strings.Join(targets, ","), Targets: targets, Calls: len(s.Calls), Speed: cfg.Speed, RunID: r.runID}

	// The fleet: seeded from the script, then read back from the target.
	var (
		fl *fleet
		ws string
	)
	if haveAPI {
		if ws, err = r.api.workspace(ctx); err != nil {
			return nil, err
		}
		if cfg.SeedWorkers && len(s.Workers) > 0 {
			t0 := time.Now()
			r.progressf("seeding %d workers through the API", len(s.Workers))
			if err := r.api.seedWorkers(ctx, ws, s.Workers, cfg.SeedParallel, func(n int) { r.progressf("seeded %d workers", n) }); err != nil {
				return nil, err
			}
			rep.SeedSeconds = time.Since(t0).Seconds()
		}
		have, err := r.api.workers(ctx, ws)
		if err != nil {
			return nil, err
		}
		list := make([]fleetWorker, len(have))
		for i, w := range have {
			list[i] = w.fleet()
		}
		fl = newFleet(list)
		rep.Workers = len(list)
	} else {
		list := make([]fleetWorker, len(s.Workers))
		for i, w := range s.Workers {
			list[i] = fleetWorker{Name: w.Name, DID: w.DID, Contact: "client:" + w.Name, Available: w.Available}
		}
		fl = newFleet(list)
		rep.Workers = len(list)
	}

	// Play.
	var cancelPlay context.CancelFunc
	if cfg.Duration > 0 {
		r.playCtx, cancelPlay = context.WithTimeout(ctx, cfg.Duration)
	} else {
		r.playCtx, cancelPlay = context.WithCancel(ctx)
	}
	defer cancelPlay()
	var cancelReq context.CancelFunc
	r.reqCtx, cancelReq = context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReq()
	go func() {
		// Requests outlive the play by a grace period, so that calls cut
		// by --duration still tell the server they hung up.
		<-r.playCtx.Done()
		select {
		case <-time.After(20 * time.Second):
		case <-ctx.Done():
			// Interrupted: give the hang-ups a moment, then stop.
			time.Sleep(2 * time.Second)
		}
		cancelReq()
	}()

	records := make([]*callRecord, len(s.Calls))
	start := time.Now()
	stopProgress := r.progressLoop(start)
	var wg sync.WaitGroup
	var maxLag time.Duration
schedule:
	for i, c := range s.Calls {
		due := start.Add(time.Duration(float64(c.OffsetMS) / cfg.Speed * float64(time.Millisecond)))
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.playCtx.Done():
				t.Stop()
				break schedule
			}
		} else if r.playCtx.Err() != nil {
			break
		}
		if lag := time.Since(due); lag > maxLag {
			maxLag = lag
		}
		rec := &callRecord{Index: i, CallSID: r.callSID(i), From: c.From, To: c.To, Outcome: c.Outcome}
		records[i] = rec
		r.started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.finished.Add(1)
			(&player{r: r, rec: rec, c: c}).play()
		}()
	}
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(cfg.Drain):
		r.progressf("calls still up %s after the last one started: hanging them up", cfg.Drain)
		cancelPlay()
		<-drained
	}
	elapsed := time.Since(start)
	stopProgress()

	played := records[:0:0]
	for _, rec := range records {
		if rec != nil {
			played = append(played, rec)
		}
	}
	rep.fill(r, played, elapsed, maxLag)

	// Checks.
	rep.Checks = append(rep.Checks, checkRouting(played, fl, cfg.SyncLag), checkOneAtATime(played))
	skip := ""
	var tasks map[string][]taskRecord
	switch {
	case cfg.SkipTaskCheck:
		skip = "turned off"
	case !haveAPI:
		skip = "no admin API credentials"
	default:
		tasks, err = r.api.runTasks(context.WithoutCancel(ctx), ws, "CA"+r.runID, start)
		if err != nil {
			skip = "listing tasks failed: " + err.Error()
		}
	}
	rep.Checks = append(rep.Checks, checkUnanswered(played, tasks, skip), checkTasks(played, tasks, skip))
	rep.judge(cfg)
	return rep, nil
}

func (r *runner) progressf(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "replay: "+format+"\n", args...)
	}
}

// progressLoop prints one line per interval until stopped.
func (r *runner) progressLoop(start time.Time) (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(r.cfg.ProgressEvery)
		defer tick.Stop()
		lastReq, lastAt := int64(0), start
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				req := r.tw.stats.requests.Load()
				rate := float64(req-lastReq) / now.Sub(lastAt).Seconds()
				lastReq, lastAt = req, now
				started, finished := r.started.Load(), r.finished.Load()
				r.progressf("%5.1fs calls %d started, %d done, %d up | %.0f req/s | p99 incoming %.1f ms | errors %d",
					now.Sub(start).Seconds(), started, finished, started-finished, rate,
					r.tw.stats.p99(kindIncoming), r.tw.stats.failures.Load())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// SeedWorkers creates or updates workers on the target through the admin
// API (cfg.Target or Targets, APIKey, APISecret; Progress for progress
// lines). Every instance of a deployment shares the database: the first
// target that answers is used.
func SeedWorkers(ctx context.Context, cfg Config, workers []Worker) error {
	targets, err := cfg.targets()
	if err != nil {
		return err
	}
	if cfg.APIKey == "" || cfg.APISecret == "" {
		return errors.New("seeding workers needs the admin API credentials (DIDROUTER_API_KEY, DIDROUTER_API_SECRET)")
	}
	if cfg.SeedParallel <= 0 {
		cfg.SeedParallel = 8
	}
	tr := newTransport(cfg.SeedParallel * 2)
	defer tr.CloseIdleConnections()
	r := &runner{cfg: cfg, api: apiClient{apiclient.New(&http.Client{Transport: tr, Timeout: time.Minute}, cfg.APIKey, cfg.APISecret, targets...)}}
	ws, err := r.api.workspace(ctx)
	if err != nil {
		return err
	}
	t0 := time.Now()
	r.progressf("seeding %d workers through the API", len(workers))
	if err := r.api.seedWorkers(ctx, ws, workers, cfg.SeedParallel, func(n int) { r.progressf("seeded %d workers", n) }); err != nil {
		return err
	}
	r.progressf("seeded %d workers in %.1f s", len(workers), time.Since(t0).Seconds())
	return nil
}
