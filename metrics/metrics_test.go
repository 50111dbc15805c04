package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/metrics"
	"github.com/didrouter/didrouter/store/storetest"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

// Requests are labelled with the chi route pattern, never the raw path.
func TestMiddlewareLabelsRoutePattern(t *testing.T) {
	m := metrics.New()
	r := chi.NewRouter()
	r.Use(m.Middleware)
	r.Get("/v1/Workers/{sid}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, p := range []string{"/v1/Workers/WK1", "/v1/Workers/WK2", "/nowhere"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	out := scrape(t, m)
	for _, want := range []string{
		`didrouter_http_request_duration_seconds_count{route="/v1/Workers/{sid}",status="418"} 2`,
		`didrouter_http_request_duration_seconds_count{route="unmatched",status="404"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(out, "WK1") {
		t.Error("a raw path leaked into a label")
	}
}

// Only committed transactions count: a rolled-back reservation is not one.
func TestStoreCountsCommittedTransitionsOnly(t *testing.T) {
	m := metrics.New()
	st := m.Store(storetest.SQLite(t))
	ctx := context.Background()
	ws := didrouter.Workspace{SID: didrouter.NewSID(didrouter.PrefixWorkspace), FriendlyName: "m", DateCreated: time.Now(), DateUpdated: time.Now()}
	event := func(typ string) didrouter.Event {
		return didrouter.Event{SID: didrouter.NewSID(didrouter.PrefixEvent), WorkspaceSID: ws.SID, EventType: typ, Data: "{}", Date: time.Now()}
	}
	if err := st.Tx(ctx, func(tx didrouter.Tx) error {
		if err := tx.InsertWorkspace(ctx, ws); err != nil {
			return err
		}
		if err := tx.InsertEvent(ctx, event(didrouter.EventReservationCreated)); err != nil {
			return err
		}
		return tx.InsertEvent(ctx, event(didrouter.EventTaskCanceled))
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("roll back")
	if err := st.Tx(ctx, func(tx didrouter.Tx) error {
		if err := tx.InsertEvent(ctx, event(didrouter.EventReservationCreated)); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("rolled-back tx: %v", err)
	}
	if _, err := st.GetTask(ctx, ws.SID, "WTnope"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		t.Fatalf("missing task: %v", err)
	}
	out := scrape(t, m)
	for _, want := range []string{
		`didrouter_reservations_total{result="created"} 1`,
		`didrouter_calls_total{outcome="abandoned"} 1`,
		`didrouter_store_duration_seconds_count{op="tx"} 2`,
		`didrouter_store_duration_seconds_count{op="GetTask"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(out, `didrouter_store_errors_total{op="GetTask"}`) {
		t.Error("a missing row counted as a store error")
	}
	if strings.Contains(out, `didrouter_store_errors_total{op="tx"}`) {
		t.Error("a transaction its caller rolled back counted as a store error")
	}
}

// The webhooks' voicemail, call-back and after-hours decisions are counted
// by kind; other decisions are not.
func TestUnansweredCalls(t *testing.T) {
	m := metrics.New()
	if out := scrape(t, m); !strings.Contains(out, `didrouter_unanswered_calls_total{kind="voicemail"} 0`) {
		t.Fatalf("the series do not start at zero:\n%s", out)
	}
	for _, d := range []string{"voicemail-task", "voicemail-task", "callback", "after-hours", "voicemail", "dial"} {
		m.Decision(d)
	}
	out := scrape(t, m)
	for _, want := range []string{
		`didrouter_unanswered_calls_total{kind="voicemail"} 2`,
		`didrouter_unanswered_calls_total{kind="callback_request"} 1`,
		`didrouter_unanswered_calls_total{kind="after_hours"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
}

// The gate's waiting webhooks are read at each scrape, by class.
func TestWatchGate(t *testing.T) {
	m := metrics.New()
	in, nc := 0, 0
	m.WatchGate(func() (int, int) { return in, nc })
	in, nc = 3, 7
	out := scrape(t, m)
	for _, want := range []string{
		`didrouter_webhooks_waiting{class="in_progress"} 3`,
		`didrouter_webhooks_waiting{class="new_call"} 7`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in:\n%s", want, out)
		}
	}
}
