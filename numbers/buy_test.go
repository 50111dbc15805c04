package numbers_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/numbers"
	"github.com/didrouter/didrouter/numbers/numberstest"
)

var austinQuery = numbers.Query{Country: "us", Kind: numbers.Local, AreaCode: 512}

var hooks = numbers.Webhooks{
	VoiceURL:       "https://calls.example.com/webhooks/voice/incoming",
	StatusCallback: "https://calls.example.com/webhooks/voice/status",
}

// buy plans and carries out an order with the journal at jpath.
func buy(t *testing.T, a *numbers.Account, jpath string, count, concurrency int) (numbers.Plan, numbers.BuyResult) {
	t.Helper()
	ctx := context.Background()
	j, entries, err := numbers.OpenJournal(jpath)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	plan, err := a.PlanPurchase(ctx, numbers.BuyRequest{Query: austinQuery, Count: count, Hooks: hooks, Concurrency: concurrency}, entries)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return plan, a.Buy(ctx, j, didrouter.SystemClock{}, plan, nil)
}

// Search pages through Twilio's answers and keeps only voice-capable
// numbers of the area code.
func TestSearchPaging(t *testing.T) {
	f, a := setup(t)
	f.SetMaxPageSize(20)
	f.AddAvailable("US", "Local", austin(45)...)
	f.AddAvailable("US", "Local", numberstest.Available{PhoneNumber: "+17375550100"},
		numberstest.Available{PhoneNumber: "+15125559999", NoVoice: true})
	got, err := a.Search(context.Background(), austinQuery, 60)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 45 {
		t.Fatalf("found %d numbers, want the 45 voice numbers of 512", len(got))
	}
	for _, n := range got {
		if !strings.HasPrefix(n.PhoneNumber, "+1512555") || n.Locality != "Austin" {
			t.Errorf("unexpected %+v", n)
		}
	}
	pages := map[string]bool{}
	for _, r := range f.Requests() {
		if r.Method != http.MethodGet || r.Path != path("AvailablePhoneNumbers/US/Local.json") {
			t.Errorf("unexpected request %s %s", r.Method, r.Path)
			continue
		}
		if r.Form.Get("AreaCode") != "512" || r.Form.Get("VoiceEnabled") != "true" {
			t.Errorf("search filters: %v", r.Form)
		}
		pages[r.Form.Get("Page")] = true
	}
	if !pages["1"] || !pages["2"] {
		t.Errorf("pages asked: %v, want the next pages followed", pages)
	}
	checkAuth(t, f)
}

// Other countries and kinds use their own resource.
func TestSearchKinds(t *testing.T) {
	f, a := setup(t)
	f.AddAvailable("GB", "Mobile", numberstest.Available{PhoneNumber: "+447700900123"})
	f.AddAvailable("US", "TollFree", numberstest.Available{PhoneNumber: "+18885550100"})
	got, err := a.Search(context.Background(), numbers.Query{Country: "gb", Kind: numbers.Mobile}, 5)
	if err != nil || len(got) != 1 || got[0].PhoneNumber != "+447700900123" {
		t.Fatalf("mobile GB: %v %+v", err, got)
	}
	got, err = a.Search(context.Background(), numbers.Query{Country: "US", Kind: numbers.TollFree, AreaCode: 888}, 5)
	if err != nil || len(got) != 1 || got[0].PhoneNumber != "+18885550100" {
		t.Fatalf("toll-free: %v %+v", err, got)
	}
	reqs := f.Requests()
	if reqs[0].Path != path("AvailablePhoneNumbers/GB/Mobile.json") || reqs[len(reqs)-1].Path != path("AvailablePhoneNumbers/US/TollFree.json") {
		t.Errorf("paths: %s, %s", reqs[0].Path, reqs[len(reqs)-1].Path)
	}
	if _, err := a.Search(context.Background(), numbers.Query{Country: "USA", Kind: numbers.Local}, 5); err == nil {
		t.Error("country USA accepted")
	}
}

// The whole order: every number bought once, pointed at didrouter,
// journaled before and after.
func TestBuy(t *testing.T) {
	f, a := setup(t)
	f.AddAvailable("US", "Local", austin(30)...)
	jpath := journalPath(t)
	plan, res := buy(t, a, jpath, 12, 4)
	if plan.Need != 12 || len(plan.Candidates) != 12 || plan.Short() {
		t.Fatalf("plan: need %d, %d candidates", plan.Need, len(plan.Candidates))
	}
	if !res.Complete() || res.Count(numbers.StatusBought) != 12 {
		t.Fatalf("result: %+v", res)
	}
	if n := checkNoDuplicates(t, f); n != 12 {
		t.Fatalf("account has %d numbers, want 12", n)
	}
	for _, r := range f.Purchases() {
		want := map[string]string{"VoiceUrl": hooks.VoiceURL, "VoiceMethod": "POST",
			"StatusCallback": hooks.StatusCallback, "StatusCallbackMethod": "POST"}
		for k, v := range want {
			if r.Form.Get(k) != v {
				t.Errorf("purchase %s: %s=%q, want %q", r.Form.Get("PhoneNumber"), k, r.Form.Get(k), v)
			}
		}
		if r.Path != path("IncomingPhoneNumbers.json") || !strings.HasPrefix(r.Form.Get("PhoneNumber"), "+1512") {
			t.Errorf("purchase %s %v", r.Path, r.Form)
		}
	}
	for _, n := range f.Incoming() {
		if n.VoiceURL != hooks.VoiceURL || n.StatusCallback != hooks.StatusCallback {
			t.Errorf("%s points at %q / %q", n.PhoneNumber, n.VoiceURL, n.StatusCallback)
		}
	}
	entries, err := numbers.ReadJournal(jpath)
	if err != nil {
		t.Fatal(err)
	}
	state := numbers.StateOf(entries, austinQuery.Key())
	if len(entries) != 24 || len(state.Bought) != 12 || len(state.Pending) != 0 {
		t.Errorf("journal: %d entries, %d bought, %d pending", len(entries), len(state.Bought), len(state.Pending))
	}
	checkAuth(t, f)

	// Running the same order again buys nothing.
	plan, res = buy(t, a, jpath, 12, 4)
	if plan.Need != 0 || plan.Have() != 12 || len(res.Outcomes) != 0 {
		t.Errorf("rerun: need %d, have %d, %d outcomes", plan.Need, plan.Have(), len(res.Outcomes))
	}
	if len(f.Purchases()) != 12 {
		t.Errorf("%d purchases sent, want 12", len(f.Purchases()))
	}
}

// Fewer for sale than asked: the plan says so and only those are bought.
func TestBuyShortSupply(t *testing.T) {
	f, a := setup(t)
	f.AddAvailable("US", "Local", austin(4)...)
	plan, res := buy(t, a, journalPath(t), 10, 4)
	if !plan.Short() || plan.Need != 10 || len(plan.Candidates) != 4 {
		t.Fatalf("plan: short %v need %d candidates %d", plan.Short(), plan.Need, len(plan.Candidates))
	}
	if res.Count(numbers.StatusBought) != 4 || checkNoDuplicates(t, f) != 4 {
		t.Fatalf("bought %d", res.Count(numbers.StatusBought))
	}
}

// Twilio refuses the 3rd purchase: buying stops, every number is accounted
// for, and a rerun with the journal buys only the rest.
func TestBuyFailurePartWay(t *testing.T) {
	f, a := setup(t)
	f.AddAvailable("US", "Local", austin(40)...)
	var n atomic.Int32
	f.SetFault(func(r numberstest.Request) *numberstest.Fault {
		if numberstest.IsPurchase(r) && n.Add(1) == 3 {
			return &numberstest.Fault{Status: 400, Code: 21404, Message: "Trial accounts are allowed only one number"}
		}
		return nil
	})
	jpath := journalPath(t)
	_, res := buy(t, a, jpath, 20, 4)
	bought, failed, left := res.Count(numbers.StatusBought), res.Count(numbers.StatusFailed), res.Count(numbers.StatusNotAttempted)
	if failed != 1 || bought < 2 || bought+failed+left != 20 || left == 0 {
		t.Fatalf("bought %d failed %d not attempted %d", bought, failed, left)
	}
	if got := checkNoDuplicates(t, f); got != bought {
		t.Fatalf("account has %d, result says %d bought", got, bought)
	}
	for _, o := range res.Outcomes {
		if o.Status == numbers.StatusFailed {
			if e, ok := numbers.RESTError(o.Err); !ok || e.Code != 21404 {
				t.Errorf("failure: %v", o.Err)
			}
		}
	}

	f.SetFault(nil)
	plan, res2 := buy(t, a, jpath, 20, 4)
	if plan.Have() != bought || plan.Need != 20-bought || plan.Short() {
		t.Fatalf("rerun plan: have %d need %d", plan.Have(), plan.Need)
	}
	if !res2.Complete() {
		t.Fatalf("rerun: %+v", res2)
	}
	if got := checkNoDuplicates(t, f); got != 20 {
		t.Fatalf("account has %d numbers, want 20", got)
	}
}

// The nasty case: the 3rd purchase goes through but its answer is lost (a
// proxy's 502), and the account cannot be asked either. The number stays
// pending in the journal; the rerun finds it on the account and does not
// buy a replacement.
func TestBuyLostAnswer(t *testing.T) {
	f, a := setup(t)
	f.AddAvailable("US", "Local", austin(40)...)
	var purchases atomic.Int32
	var lost atomic.Value
	f.SetFault(func(r numberstest.Request) *numberstest.Fault {
		if numberstest.IsPurchase(r) {
			if purchases.Add(1) == 3 {
				lost.Store(r.Form.Get("PhoneNumber"))
				return &numberstest.Fault{Status: 502, Raw: "<html>Bad Gateway</html>", Apply: true}
			}
			return nil
		}
		if r.Method == http.MethodGet && r.Form.Get("PhoneNumber") != "" {
			return &numberstest.Fault{Status: 503, Code: 20503, Message: "Service Unavailable"}
		}
		return nil
	})
	jpath := journalPath(t)
	_, res := buy(t, a, jpath, 10, 1)
	if res.Count(numbers.StatusUnknown) != 1 || res.Count(numbers.StatusBought) != 2 || res.Count(numbers.StatusNotAttempted) != 7 {
		t.Fatalf("first run: %d bought, %d unknown, %d not attempted",
			res.Count(numbers.StatusBought), res.Count(numbers.StatusUnknown), res.Count(numbers.StatusNotAttempted))
	}
	entries, _ := numbers.ReadJournal(jpath)
	st := numbers.StateOf(entries, austinQuery.Key())
	if len(st.Pending) != 1 || st.Pending[0].PhoneNumber != lost.Load() {
		t.Fatalf("pending: %+v", st.Pending)
	}

	f.SetFault(nil)
	plan, res2 := buy(t, a, jpath, 10, 4)
	if len(plan.Recovered) != 1 || plan.Have() != 3 || plan.Need != 7 {
		t.Fatalf("rerun plan: recovered %d have %d need %d", len(plan.Recovered), plan.Have(), plan.Need)
	}
	if !res2.Complete() || checkNoDuplicates(t, f) != 10 {
		t.Fatalf("rerun: %+v; account has %d", res2, len(f.Incoming()))
	}
	entries, _ = numbers.ReadJournal(jpath)
	if st := numbers.StateOf(entries, austinQuery.Key()); len(st.Bought) != 10 || len(st.Pending) != 0 {
		t.Errorf("journal: %d bought, %d pending", len(st.Bought), len(st.Pending))
	}
}

// A server error whose purchase did go through is recognized at once by
// asking the account.
func TestBuyServerErrorButBought(t *testing.T) {
	f, a := setup(t)
	f.AddAvailable("US", "Local", austin(10)...)
	var n atomic.Int32
	f.SetFault(func(r numberstest.Request) *numberstest.Fault {
		if numberstest.IsPurchase(r) && n.Add(1) == 2 {
			return &numberstest.Fault{Status: 500, Code: 20500, Message: "Internal Server Error", Apply: true}
		}
		return nil
	})
	_, res := buy(t, a, journalPath(t), 5, 2)
	if !res.Complete() || checkNoDuplicates(t, f) != 5 {
		t.Fatalf("%+v", res)
	}
}

// 429 answers are retried: Twilio did not act on them.
func TestBuyRetriesTooManyRequests(t *testing.T) {
	f, a := setup(t)
	f.AddAvailable("US", "Local", austin(5)...)
	var n atomic.Int32
	f.SetFault(func(r numberstest.Request) *numberstest.Fault {
		if numberstest.IsPurchase(r) && n.Add(1) <= 2 {
			return &numberstest.Fault{Status: 429, Code: 20429, Message: "Too Many Requests"}
		}
		return nil
	})
	_, res := buy(t, a, journalPath(t), 3, 1)
	if !res.Complete() || checkNoDuplicates(t, f) != 3 || len(f.Purchases()) != 5 {
		t.Fatalf("%+v; %d purchase requests", res, len(f.Purchases()))
	}
}

// Cancelling stops new purchases; those sent finish; all are accounted for.
func TestBuyCancel(t *testing.T) {
	f, a := setup(t)
	f.AddAvailable("US", "Local", austin(30)...)
	jpath := journalPath(t)
	j, entries, err := numbers.OpenJournal(jpath)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	plan, err := a.PlanPurchase(ctx, numbers.BuyRequest{Query: austinQuery, Count: 30, Concurrency: 2}, entries)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []int
	res := a.Buy(ctx, j, didrouter.SystemClock{}, plan, func(done, total int, o numbers.Outcome) {
		mu.Lock()
		lines = append(lines, done)
		mu.Unlock()
		if done == 3 {
			cancel()
		}
	})
	bought := res.Count(numbers.StatusBought)
	if !res.Canceled || bought < 3 || bought > 5 || bought+res.Count(numbers.StatusNotAttempted) != 30 {
		t.Fatalf("canceled %v, bought %d, not attempted %d", res.Canceled, bought, res.Count(numbers.StatusNotAttempted))
	}
	if checkNoDuplicates(t, f) != bought || len(lines) != bought {
		t.Errorf("account %d, progress lines %d, bought %d", len(f.Incoming()), len(lines), bought)
	}
	entries, _ = numbers.ReadJournal(jpath)
	if st := numbers.StateOf(entries, austinQuery.Key()); len(st.Bought) != bought || len(st.Pending) != 0 {
		t.Errorf("journal: %d bought, %d pending", len(st.Bought), len(st.Pending))
	}
}

// A pending purchase that cannot be checked blocks the plan: buying a
// replacement could buy too many.
func TestPlanRefusesUncheckedPending(t *testing.T) {
	f, a := setup(t)
	f.AddAvailable("US", "Local", austin(5)...)
	jpath := journalPath(t)
	j, _, err := numbers.OpenJournal(jpath)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(numbers.Entry{Order: austinQuery.Key(), Event: numbers.EventIntent, PhoneNumber: "+15125550999"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	f.SetFault(func(numberstest.Request) *numberstest.Fault {
		return &numberstest.Fault{Status: 500, Code: 20500, Message: "down"}
	})
	entries, _ := numbers.ReadJournal(jpath)
	if _, err := a.PlanPurchase(context.Background(), numbers.BuyRequest{Query: austinQuery, Count: 3}, entries); err == nil ||
		!strings.Contains(err.Error(), "+15125550999") {
		t.Fatalf("plan: %v", err)
	}
	if len(f.Purchases()) != 0 {
		t.Error("bought although the plan failed")
	}
}
