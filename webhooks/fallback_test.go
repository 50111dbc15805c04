package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/webhooks"
)

// faultyEngine wraps the real engine and fails or panics in chosen methods,
// to see what Twilio gets when didrouter breaks.
type faultyEngine struct {
	*engine.Engine
	failCreate, panicCreate, failLive, failAccept, failReject bool
}

var errBroken = errors.New("database on fire")

func (f *faultyEngine) CreateTask(ctx context.Context, n engine.TaskInsert) (engine.TaskResult, error) {
	if f.panicCreate {
		panic("boom")
	}
	if f.failCreate {
		return engine.TaskResult{}, errBroken
	}
	return f.Engine.CreateTask(ctx, n)
}

func (f *faultyEngine) LiveReservation(ctx context.Context, ws, task string) (*didrouter.Reservation, *didrouter.Worker, error) {
	if f.failLive {
		return nil, nil, errBroken
	}
	return f.Engine.LiveReservation(ctx, ws, task)
}

func (f *faultyEngine) RejectReservation(ctx context.Context, ws, res, status string) (engine.TaskResult, error) {
	if f.failReject {
		return engine.TaskResult{}, errBroken
	}
	return f.Engine.RejectReservation(ctx, ws, res, status)
}

func (f *faultyEngine) AcceptReservation(ctx context.Context, ws, res string) (didrouter.Reservation, error) {
	if f.failAccept {
		return didrouter.Reservation{}, errBroken
	}
	return f.Engine.AcceptReservation(ctx, ws, res)
}

// faulty serves the webhooks over st with a faultyEngine.
func faulty(t *testing.T, st didrouter.Store) (*instance, *faultyEngine) {
	t.Helper()
	in := newInstance(t, st, newClock()) // seeds, and serves the admin API
	norm, _ := routing.NewNormalizer("US")
	fe := &faultyEngine{Engine: in.eng}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	wh, err := webhooks.NewHandler(webhooks.Config{
		Engine: fe, Store: st, Normalizer: norm, Clock: in.clock, Logger: testLogger(t),
		PublicURL: srv.URL, AuthToken: authToken, WorkspaceSID: in.ws.SID,
	})
	if err != nil {
		t.Fatal(err)
	}
	handler = wh
	return &instance{t: t, store: st, clock: in.clock, eng: in.eng, ws: in.ws, srv: srv, client: srv.Client()}, fe
}

// When routing fails, Twilio still gets TwiML that keeps the caller: a
// redirect back to /incoming (bounded), or the task's queue once a task
// exists; never a 500.
func TestFallbackKeepsTheCaller(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		admin := newInstance(t, st, newClock())
		admin.worker("alice", aliceDID, "Available")
		in, fe := faulty(t, st)
		c := newCall(aliceDID)

		for _, mode := range []string{"error", "panic"} {
			fe.failCreate, fe.panicCreate = mode == "error", mode == "panic"
			doc := in.incoming(c)
			// The greeting, then the fallback of the routing step.
			if got := doc.verbs(); len(got) != 4 || got[0] != "Say" || got[1] != "Say" || got[2] != "Pause" || got[3] != "Redirect" {
				t.Fatalf("%s: fallback %v, want [Say Say Pause Redirect]", mode, got)
			}
			retry := strings.TrimSpace(doc.only(t, "Redirect").Text)
			if !strings.HasPrefix(retry, in.webhookURL("/incoming")) || query(t, retry, "attempt") != "1" {
				t.Fatalf("%s: redirect to %q", mode, retry)
			}
		}
		// The redirects are bounded.
		doc := in.twiml(in.webhookURL("/incoming")+"?attempt=3", c.form())
		if !doc.has("Hangup") {
			t.Fatalf("after 3 attempts: %v, want Hangup", doc.verbs())
		}
		// The retry after recovery works and does not repeat the greeting.
		fe.failCreate, fe.panicCreate = false, false
		doc = in.twiml(in.webhookURL("/incoming")+"?attempt=1", c.form())
		if doc.has("Say") || !doc.has("Dial") {
			t.Fatalf("retry: %v, want Dial without the greeting", doc.verbs())
		}
		_, dial := dialed(t, doc)

		// An answer that fails hangs up the agent leg only.
		fe.failAccept = true
		if doc := in.twiml(dial.Children[0].attr("url"), c.form()); !doc.has("Hangup") {
			t.Fatalf("failed accept: %v", doc.verbs())
		}
		// A dial action that fails puts the caller back in their queue,
		// with an apology.
		fe.failReject, fe.failLive = true, true
		doc = in.twiml(dial.attr("action"), c.form("DialCallStatus", "no-answer", "CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 2 || got[0] != "Say" || got[1] != "Enqueue" {
			t.Fatalf("failed dial action: %v, want [Say Enqueue]", got)
		}
		// A failing wait poll keeps the caller waiting.
		enq := doc.only(t, "Enqueue")
		doc = in.twiml(enq.attr("waitUrl"), c.form("QueueTime", "30"))
		if got := doc.verbs(); len(got) != 1 || got[0] != "Pause" {
			t.Fatalf("failed wait: %v, want [Pause]", got)
		}
		// An incoming webhook for a call whose task exists, failing: the
		// caller goes to that task's queue.
		fe.failLive, fe.failReject = false, false
		fe.failCreate = true
		doc = in.incoming(c)
		if !doc.has("Enqueue") {
			t.Fatalf("failed incoming with a task: %v, want Enqueue", doc.verbs())
		}
	})
}
