package numbers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/didrouter/didrouter"
)

// MaxCount bounds one order, so that a typo cannot buy thousands.
const MaxCount = 1000

// BuyRequest is an order for numbers.
type BuyRequest struct {
	Query Query
	// Count is the order's total: numbers the journal records as bought
	// for the same query count toward it, so a rerun buys only the rest.
	Count       int
	Hooks       Webhooks // where new numbers send calls; empty: Twilio's default
	Concurrency int      // purchases in flight at once; 0 is 4
}

// Plan is what a purchase would do, for the user to confirm.
type Plan struct {
	Request BuyRequest
	// AlreadyBought: the journal records these as bought for this order.
	AlreadyBought []Entry
	// Recovered: an earlier run sent these purchases and lost the answer;
	// the account has them, so they are bought.
	Recovered []Entry
	// Absent: an earlier run sent these purchases and lost the answer;
	// the account does not have them.
	Absent []Entry
	// Need is how many more the order wants.
	Need int
	// Candidates are the numbers to buy, at most Need; fewer when Twilio
	// has no more to offer.
	Candidates []Available
}

// Have returns how many numbers of the order the account already has.
func (p Plan) Have() int { return len(p.AlreadyBought) + len(p.Recovered) }

// Short reports whether Twilio offers fewer numbers than the order needs.
func (p Plan) Short() bool { return len(p.Candidates) < p.Need }

// Validate checks the request and fills in defaults.
func (r *BuyRequest) Validate() error {
	if err := r.Query.Validate(); err != nil {
		return err
	}
	if r.Count < 1 || r.Count > MaxCount {
		return fmt.Errorf("count %d: want 1 to %d", r.Count, MaxCount)
	}
	if r.Concurrency == 0 {
		r.Concurrency = 4
	}
	if r.Concurrency < 1 || r.Concurrency > 16 {
		return fmt.Errorf("concurrency %d: want 1 to 16", r.Concurrency)
	}
	return nil
}

// PlanPurchase works out what to buy for req, given the journal's entries.
// It asks the account about every purchase an earlier run sent without
// learning the outcome, and refuses to plan when it cannot tell: buying a
// replacement for a number that was in fact bought would buy too many.
func (a *Account) PlanPurchase(ctx context.Context, req BuyRequest, entries []Entry) (Plan, error) {
	if err := req.Validate(); err != nil {
		return Plan{}, err
	}
	state := StateOf(entries, req.Query.Key())
	p := Plan{Request: req, AlreadyBought: state.Bought}
	for _, e := range state.Pending {
		n, err := a.Owned(ctx, e.PhoneNumber)
		if err != nil {
			return Plan{}, fmt.Errorf("an earlier run sent the purchase of %s without learning whether it went through, "+
				"and the account cannot be asked now (nothing bought): %w", e.PhoneNumber, err)
		}
		if n != nil {
			e.SID = n.SID
			p.Recovered = append(p.Recovered, e)
		} else {
			p.Absent = append(p.Absent, e)
		}
	}
	p.Need = max(req.Count-p.Have(), 0)
	if p.Need == 0 {
		return p, nil
	}
	// A number the account has cannot be for sale; this guards against a
	// stale search answer. Numbers refused earlier may be tried again.
	owned := map[string]bool{}
	for _, e := range append(p.AlreadyBought, p.Recovered...) {
		owned[e.PhoneNumber] = true
	}
	found, err := a.Search(ctx, req.Query, p.Need)
	if err != nil {
		return Plan{}, err
	}
	for _, n := range found {
		if !owned[n.PhoneNumber] {
			p.Candidates = append(p.Candidates, n)
		}
	}
	return p, nil
}

// Outcome of one purchase.
type Outcome struct {
	Available
	Status string `json:"status"` // bought, failed, unknown or not attempted
	SID    string `json:"sid,omitempty"`
	Err    error  `json:"-"`
}

// Outcome statuses.
const (
	StatusBought       = "bought"
	StatusFailed       = "failed"        // Twilio refused: not bought
	StatusUnknown      = "unknown"       // answer lost, account not reachable: the next run checks
	StatusNotAttempted = "not attempted" // stopped before (failure, cancel)
)

// BuyResult is what a purchase run did, every candidate accounted for.
type BuyResult struct {
	Outcomes []Outcome // in the plan's order
	Canceled bool      // the context ended the run
	// JournalErr is set when the journal could not be written; buying
	// stopped there.
	JournalErr error
}

// Count returns how many outcomes have status.
func (r BuyResult) Count(status string) int {
	return countStatus(r.Outcomes, func(o Outcome) string { return o.Status }, status)
}

// countStatus counts the rows whose status is want.
func countStatus[T any](rows []T, status func(T) string, want string) int {
	n := 0
	for _, r := range rows {
		if status(r) == want {
			n++
		}
	}
	return n
}

// Complete reports whether every candidate was bought.
func (r BuyResult) Complete() bool { return r.Count(StatusBought) == len(r.Outcomes) && !r.Canceled }

// Progress is told each outcome as it happens, one call at a time.
type Progress func(done, total int, o Outcome)

// Buy carries out plan: it first records the plan's recovered and absent
// numbers, then buys the candidates, Concurrency at a time. Each purchase
// is journaled before it is sent and after it is answered. The first
// failure stops new purchases (the ones in flight finish), as does the
// end of ctx; a purchase already sent is allowed to finish so that its
// outcome is known. Every candidate ends up in the result.
func (a *Account) Buy(ctx context.Context, j *Journal, clock didrouter.Clock, plan Plan, progress Progress) BuyResult {
	if clock == nil {
		clock = didrouter.SystemClock{}
	}
	order := plan.Request.Query.Key()
	res := BuyResult{Outcomes: make([]Outcome, len(plan.Candidates))}
	for i, c := range plan.Candidates {
		res.Outcomes[i] = Outcome{Available: c, Status: StatusNotAttempted}
	}
	write := func(e Entry) error {
		e.Time, e.Order = clock.Now(), order
		return j.Append(e)
	}
	for _, e := range plan.Recovered {
		if err := write(Entry{Event: EventBought, PhoneNumber: e.PhoneNumber, SID: e.SID}); err != nil {
			res.JournalErr = err
			return res
		}
	}
	for _, e := range plan.Absent {
		if err := write(Entry{Event: EventAbsent, PhoneNumber: e.PhoneNumber}); err != nil {
			res.JournalErr = err
			return res
		}
	}

	var (
		stop     atomic.Bool
		mu       sync.Mutex // guards done, res.JournalErr and progress calls
		done     int
		jobs     = make(chan int)
		wg       sync.WaitGroup
		total    = len(plan.Candidates)
		detached = context.WithoutCancel(ctx)
	)
	report := func(i int) {
		mu.Lock()
		defer mu.Unlock()
		done++
		if progress != nil {
			progress(done, total, res.Outcomes[i])
		}
	}
	journalFailed := func(err error) {
		stop.Store(true)
		mu.Lock()
		if res.JournalErr == nil {
			res.JournalErr = err
		}
		mu.Unlock()
	}
	for w := 0; w < plan.Request.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if stop.Load() || ctx.Err() != nil {
					continue
				}
				o := &res.Outcomes[i]
				if err := write(Entry{Event: EventIntent, PhoneNumber: o.PhoneNumber}); err != nil {
					journalFailed(err)
					continue
				}
				// Once sent, a purchase finishes even if ctx ends: cutting
				// it off would leave its outcome unknown.
				a.buyOne(detached, o, plan.Request.Hooks)
				switch o.Status {
				case StatusBought:
					if err := write(Entry{Event: EventBought, PhoneNumber: o.PhoneNumber, SID: o.SID}); err != nil {
						journalFailed(err)
					}
				case StatusFailed:
					stop.Store(true)
					if err := write(Entry{Event: EventFailed, PhoneNumber: o.PhoneNumber, Error: Describe(o.Err)}); err != nil {
						journalFailed(err)
					}
				case StatusUnknown:
					stop.Store(true) // the intent stays: the next run asks the account
				}
				report(i)
			}
		}()
	}
	for i := range plan.Candidates {
		if stop.Load() || ctx.Err() != nil {
			break
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	res.Canceled = ctx.Err() != nil && res.Count(StatusNotAttempted) > 0
	return res
}

// buyOne sends one purchase and sets o's status. When the answer is lost
// or is a server error, it asks the account whether the number came.
func (a *Account) buyOne(ctx context.Context, o *Outcome, hooks Webhooks) {
	n, err := a.purchase(ctx, o.PhoneNumber, hooks)
	if err == nil {
		o.Status, o.SID = StatusBought, n.SID
		return
	}
	o.Err = err
	if refused(err) {
		o.Status = StatusFailed
		return
	}
	owned, lookErr := a.Owned(ctx, o.PhoneNumber)
	switch {
	case lookErr != nil:
		o.Status = StatusUnknown
		o.Err = fmt.Errorf("%s; asking the account whether it was bought failed too: %w", Describe(err), lookErr)
	case owned != nil:
		o.Status, o.SID, o.Err = StatusBought, owned.SID, nil
	default:
		o.Status = StatusFailed
	}
}

// refused reports an error that says Twilio did not act: a 4xx answer.
// Server errors and lost answers may hide a purchase that went through.
func refused(err error) bool {
	e, ok := RESTError(err)
	return ok && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests
}
