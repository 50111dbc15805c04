package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/webhooks"
)

// newWrapUpInstance is newInstance with an engine that gives workers
// wrapUp after each call.
func newWrapUpInstance(t *testing.T, st didrouter.Store, clock *didrouter.FakeClock, wrapUp time.Duration) *instance {
	t.Helper()
	ws, err := engine.Seed(context.Background(), st, clock)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	logger := testLogger(t)
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Logger: logger, Normalizer: norm, WrapUp: wrapUp})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	wh, err := webhooks.NewHandler(webhooks.Config{
		Engine: eng, Store: st, Normalizer: norm, Clock: clock, Logger: logger,
		PublicURL: srv.URL, AuthToken: authToken, WorkspaceSID: ws.SID, WaitPause: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := api.NewHandler(api.Config{Engine: eng, Store: st, Clock: clock, Logger: logger, APIKey: apiKey, APISecret: apiSecret})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	wh.Mount(r)
	admin.Mount(r)
	handler = r
	return &instance{t: t, store: st, clock: clock, eng: eng, ws: ws, srv: srv, client: srv.Client()}
}

// A retried answer webhook (Twilio retries per the URL's connection
// overrides, or the first answer was lost on the way back) must not hang
// up the agent of a reservation that the first request accepted: that
// would drop a call that was just connected.
func TestReviewAnswerRetried(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		in.worker("alice", aliceDID, "Available")
		c := newCall(aliceDID)
		_, dial := dialed(t, in.incoming(c))
		answer := dial.Children[0].attr("url")
		agentLeg := url.Values{"CallSid": {"CA" + strings.Repeat("c", 32)}, "ParentCallSid": {c.sid}, "CallStatus": {"in-progress"}}
		if doc := in.twiml(answer, agentLeg); len(doc.Children) != 0 {
			t.Fatalf("first answer gave %v, want an empty <Response/>", doc.verbs())
		}
		if doc := in.twiml(answer, agentLeg); len(doc.Children) != 0 {
			t.Fatalf("retried answer gave %v, want an empty <Response/> (the call is connected)", doc.verbs())
		}
		if got := in.taskOf(c).AssignmentStatus; got != didrouter.TaskAssigned {
			t.Fatalf("task %s, want assigned", got)
		}
	})
}

// When the caller hangs up during the conversation, Twilio sends both the
// Dial action and the status callback, in either order or at once. Each
// reports the end of the same call: the agent must get the configured
// wrap-up once, not have it cut short by the second webhook.
func TestReviewCallerHangsUpKeepsWrapUp(t *testing.T) {
	for _, order := range []string{"status-first", "dial-first", "together"} {
		t.Run(order, func(t *testing.T) {
			stores(t, func(t *testing.T, st didrouter.Store) {
				in := newWrapUpInstance(t, st, newClock(), 30*time.Second)
				alice := in.worker("alice", aliceDID, "Available")
				c := newCall(aliceDID)
				_, dial := dialed(t, in.incoming(c))
				agentLeg := url.Values{"CallSid": {"CA" + strings.Repeat("d", 32)}, "ParentCallSid": {c.sid}, "CallStatus": {"in-progress"}}
				in.twiml(dial.Children[0].attr("url"), agentLeg)

				status := func() {
					resp, _ := in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed", "CallDuration", "40"))
					if resp.StatusCode/100 != 2 {
						t.Errorf("status: %s", resp.Status)
					}
				}
				action := func() {
					resp, _ := in.twilio(dial.attr("action"), c.form("CallStatus", "completed", "DialCallStatus", "completed"))
					if resp.StatusCode != http.StatusOK {
						t.Errorf("dial action: %s", resp.Status)
					}
				}
				switch order {
				case "status-first":
					status()
					action()
				case "dial-first":
					action()
					status()
				default:
					var wg sync.WaitGroup
					wg.Go(status)
					wg.Go(action)
					wg.Wait()
				}
				if got := in.taskOf(c).AssignmentStatus; got != didrouter.TaskWrapping {
					t.Fatalf("task %s right after the call, want wrapping (30 s wrap-up)", got)
				}
				if w := in.workerRow(alice); w.Busy != 1 {
					t.Fatalf("alice busy %d during wrap-up, want 1", w.Busy)
				}
				in.advance(30 * time.Second)
				if got := in.taskOf(c).AssignmentStatus; got != didrouter.TaskCompleted {
					t.Fatalf("task %s after the wrap-up, want completed", got)
				}
				if w := in.workerRow(alice); w.Busy != 0 {
					t.Fatalf("alice busy %d after the wrap-up, want 0", w.Busy)
				}
			})
		})
	}
}

// The caller hangs up while the incoming webhook is still being answered
// (on this or another instance): Twilio's status callback can then arrive
// before the call has a task. The task the incoming webhook makes next
// must not hold a worker for a caller who is gone (120 s per worker, one
// worker after another).
func TestReviewStatusCallbackBeforeIncoming(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		in := newInstance(t, st, newClock())
		alice := in.worker("alice", aliceDID, "Available")
		c := newCall(aliceDID)
		resp, _ := in.twilio(in.webhookURL("/status"), c.form("CallStatus", "completed", "CallDuration", "0"))
		if resp.StatusCode/100 != 2 {
			t.Fatalf("status: %s", resp.Status)
		}
		doc := in.incoming(c)
		if doc.has("Dial") || doc.has("Enqueue") {
			t.Fatalf("incoming after the caller hung up gave %v, want no ringing and no queue", doc.verbs())
		}
		if got := in.taskOf(c).AssignmentStatus; got != didrouter.TaskCanceled {
			t.Fatalf("task of a call that had ended is %s, want canceled", got)
		}
		if w := in.workerRow(alice); w.Busy != 0 {
			t.Fatalf("alice busy %d for a caller who is gone", w.Busy)
		}
		// A status callback of a call that is not an inbound call to a
		// number (an agent's outbound leg) creates nothing.
		out := newCall(aliceDID)
		resp, _ = in.twilio(in.webhookURL("/status"), out.form("CallStatus", "completed", "Direction", "outbound-dial"))
		if resp.StatusCode/100 != 2 {
			t.Fatalf("status: %s", resp.Status)
		}
		if _, err := in.store.TaskByCallSID(context.Background(), in.ws.SID, out.sid); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("status callback of an outbound leg: task lookup %v, want ENOTFOUND", err)
		}
	})
}

// checkCounts asserts, on the committed state of st's workspace ws, that
// every worker's Busy equals its live reservations (pending, accepted,
// wrapping) and that each task has the live reservation its status implies.
func checkCounts(t *testing.T, st didrouter.Store, ws string) {
	t.Helper()
	ctx := context.Background()
	rs, err := st.ListReservations(ctx, ws, didrouter.ReservationFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		t.Fatalf("ListReservations: %v", err)
	}
	tasks, err := st.ListTasks(ctx, ws, didrouter.TaskFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	channel := map[string]string{}
	for _, task := range tasks {
		channel[task.SID] = task.TaskChannel
	}
	// Live reservations per worker, on voice and on the message channel.
	live, liveMsg := map[string]int{}, map[string]int{}
	byTask := map[string]map[string]int{}
	for _, r := range rs {
		switch r.Status {
		case didrouter.ReservationPending, didrouter.ReservationAccepted, didrouter.ReservationWrapping:
			if channel[r.TaskSID] == didrouter.MessageChannel {
				liveMsg[r.WorkerSID]++
			} else {
				live[r.WorkerSID]++
			}
		}
		if byTask[r.TaskSID] == nil {
			byTask[r.TaskSID] = map[string]int{}
		}
		byTask[r.TaskSID][r.Status]++
	}
	workers, err := st.ListWorkers(ctx, ws, didrouter.WorkerFilter{Page: didrouter.Page{Size: 1000}})
	if err != nil {
		t.Fatalf("ListWorkers: %v", err)
	}
	for _, w := range workers {
		if w.Busy != live[w.SID] {
			t.Errorf("worker %s busy %d, but it has %d live reservations", w.FriendlyName, w.Busy, live[w.SID])
		}
		if w.MessageBusy != liveMsg[w.SID] {
			t.Errorf("worker %s holds %d messages, but it has %d live message reservations", w.FriendlyName, w.MessageBusy, liveMsg[w.SID])
		}
	}
	for _, task := range tasks {
		want := map[string]string{didrouter.TaskReserved: didrouter.ReservationPending, didrouter.TaskAssigned: didrouter.ReservationAccepted,
			didrouter.TaskWrapping: didrouter.ReservationWrapping}[task.AssignmentStatus]
		for _, st := range []string{didrouter.ReservationPending, didrouter.ReservationAccepted, didrouter.ReservationWrapping} {
			n := byTask[task.SID][st]
			if (st == want && n != 1) || (st != want && n != 0) {
				t.Errorf("task %s is %s with %d %s reservations", task.SID, task.AssignmentStatus, n, st)
			}
		}
	}
}
