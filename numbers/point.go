package numbers

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// PointRequest points the account's numbers at didrouter.
type PointRequest struct {
	Hooks       Webhooks        // VoiceURL required; StatusCallback "" leaves callbacks as they are
	Except      map[string]bool // E.164 numbers left untouched (a main line)
	DryRun      bool            // report the changes, make none
	Concurrency int             // updates in flight at once; 0 is 4
}

// Statuses of a number in a Point run.
const (
	PointUpdated      = "updated"
	PointWouldUpdate  = "would update" // dry run
	PointUnchanged    = "unchanged"    // already points there
	PointExcepted     = "excepted"     // --except
	PointFailed       = "failed"
	PointNotAttempted = "not attempted" // the run was cancelled first
)

// Change is one number's part in a Point run.
type Change struct {
	Before Incoming `json:"before"`
	After  Incoming `json:"after"` // as wanted (or as Twilio answered the update)
	Status string   `json:"status"`
	Err    error    `json:"-"`
}

// Diff describes the change from Before to After for people.
func (c Change) Diff() string {
	var parts []string
	b, a := c.Before, c.After
	if b.VoiceURL != a.VoiceURL || !strings.EqualFold(b.VoiceMethod, a.VoiceMethod) {
		parts = append(parts, fmt.Sprintf("voice %s -> %s", hook(b.VoiceMethod, b.VoiceURL), hook(a.VoiceMethod, a.VoiceURL)))
	}
	if b.StatusCallback != a.StatusCallback || !strings.EqualFold(b.StatusCallbackMethod, a.StatusCallbackMethod) {
		parts = append(parts, fmt.Sprintf("status callback %s -> %s",
			hook(b.StatusCallbackMethod, b.StatusCallback), hook(a.StatusCallbackMethod, a.StatusCallback)))
	}
	if b.VoiceApplicationSID != "" && a.VoiceApplicationSID == "" {
		parts = append(parts, fmt.Sprintf("TwiML app %s removed (it overrides the voice URL)", b.VoiceApplicationSID))
	}
	return strings.Join(parts, "; ")
}

func hook(method, u string) string {
	if u == "" {
		return "(none)"
	}
	if method == "" {
		return u
	}
	return strings.ToUpper(method) + " " + u
}

// PointResult is a Point run: every number of the account, sorted.
type PointResult struct {
	Changes []Change
	// UnknownExcept lists --except numbers the account does not have
	// (a typo would otherwise go unnoticed).
	UnknownExcept []string
	Canceled      bool
}

// Count returns how many numbers ended with status.
func (r PointResult) Count(status string) int {
	return countStatus(r.Changes, func(c Change) string { return c.Status }, status)
}

// ValidateWebhookURL checks a voice or status callback URL Twilio will call.
func ValidateWebhookURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s %q: want an absolute http(s) URL such as https://calls.example.com/webhooks/voice/incoming", flag, raw)
	}
	return nil
}

// Point pages through every number of the account and points it at
// req.Hooks with method POST. Numbers already pointing there are left
// alone, as are excepted ones; a failure on one number does not stop the
// others. progress (may be nil) sees each number as it is settled.
func (a *Account) Point(ctx context.Context, req PointRequest, progress func(Change)) (PointResult, error) {
	if err := ValidateWebhookURL("voice URL", req.Hooks.VoiceURL); err != nil {
		return PointResult{}, err
	}
	if req.Hooks.StatusCallback != "" {
		if err := ValidateWebhookURL("status callback", req.Hooks.StatusCallback); err != nil {
			return PointResult{}, err
		}
	}
	if req.Concurrency <= 0 {
		req.Concurrency = 4
	}
	all, err := a.Incoming(ctx)
	if err != nil {
		return PointResult{}, err
	}
	res := PointResult{Changes: make([]Change, len(all))}
	seen := map[string]bool{}
	var todo []int
	for i, n := range all {
		seen[n.PhoneNumber] = true
		c := plan(n, req)
		res.Changes[i] = c
		if c.Status == PointNotAttempted {
			todo = append(todo, i)
		} else if progress != nil {
			progress(c)
		}
	}
	for p := range req.Except {
		if !seen[p] {
			res.UnknownExcept = append(res.UnknownExcept, p)
		}
	}

	var mu sync.Mutex // serializes progress calls
	jobs := make(chan int)
	var wg sync.WaitGroup
	detached := context.WithoutCancel(ctx)
	for w := 0; w < req.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c := &res.Changes[i]
				// Once sent, an update finishes even if ctx ends.
				clearApp := c.Before.VoiceApplicationSID != ""
				got, err := a.update(detached, c.Before.SID, req.Hooks, clearApp)
				if err != nil {
					c.Status, c.Err = PointFailed, err
				} else {
					c.Status, c.After = PointUpdated, got
				}
				if progress != nil {
					mu.Lock()
					progress(*c)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for _, i := range todo {
		if req.DryRun {
			res.Changes[i].Status = PointWouldUpdate
			if progress != nil {
				progress(res.Changes[i])
			}
			continue
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.Canceled = res.Count(PointNotAttempted) > 0
	return res, nil
}

// plan decides one number's change; PointNotAttempted means an update is
// due.
func plan(n Incoming, req PointRequest) Change {
	c := Change{Before: n, After: n}
	if req.Except[n.PhoneNumber] {
		c.Status = PointExcepted
		return c
	}
	if n.TrunkSID != "" {
		c.Status = PointFailed
		c.Err = fmt.Errorf("calls to it go to SIP trunk %s, which overrides any voice URL: remove it from the trunk, or leave it with --except %s",
			n.TrunkSID, n.PhoneNumber)
		return c
	}
	c.After.VoiceURL, c.After.VoiceMethod = req.Hooks.VoiceURL, "POST"
	c.After.VoiceApplicationSID = ""
	if req.Hooks.StatusCallback != "" {
		c.After.StatusCallback, c.After.StatusCallbackMethod = req.Hooks.StatusCallback, "POST"
	}
	if c.Diff() == "" {
		c.Status = PointUnchanged
		return c
	}
	c.Status = PointNotAttempted
	return c
}
