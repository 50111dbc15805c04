package provision_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/provision"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/storetest"
)

type world struct {
	t     *testing.T
	ctx   context.Context
	st    didrouter.Store
	eng   *engine.Engine
	p     *provision.Provisioner
	ws    didrouter.Workspace
	acts  map[string]string
	calls int
}

func stores(t *testing.T, fn func(t *testing.T, w *world)) {
	storetest.Each(t, func(t *testing.T, st didrouter.Store) { fn(t, newWorld(t, st)) })
}

func newWorld(t *testing.T, st didrouter.Store) *world {
	ctx := t.Context()
	clock := didrouter.NewFakeClock(time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC))
	ws, err := engine.Seed(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := routing.NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: st, Clock: clock, Normalizer: norm})
	if err != nil {
		t.Fatal(err)
	}
	p, err := provision.New(eng, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	acts, err := st.ListActivities(ctx, ws.SID)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, st: st, eng: eng, p: p, ws: ws, acts: map[string]string{}}
	for _, a := range acts {
		w.acts[a.FriendlyName] = a.SID
	}
	return w
}

func ptr[T any](v T) *T { return &v }

func (w *world) must(wk didrouter.Worker, err error) didrouter.Worker {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
	return wk
}

func (w *world) available(sid string) {
	w.t.Helper()
	w.must(w.eng.UpdateWorker(w.ctx, w.ws.SID, sid, engine.WorkerUpdate{ActivitySID: ptr(w.acts["Available"])}))
}

// call places a call to did and returns who it rings ("" = nobody).
func (w *world) call(did string) (engine.TaskResult, string) {
	w.t.Helper()
	w.calls++
	res, err := w.eng.CreateTask(w.ctx, engine.TaskInsert{WorkspaceSID: w.ws.SID,
		Attributes: fmt.Sprintf(`{"phone_number":%q,"type":"inbound"}`, did), CallSID: fmt.Sprintf("CA%032d", w.calls)})
	if err != nil {
		w.t.Fatal(err)
	}
	if res.Worker == nil {
		return res, ""
	}
	return res, res.Worker.SID
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if didrouter.ErrorCode(err) != code {
		t.Fatalf("error %v (code %q), want code %q", err, didrouter.ErrorCode(err), code)
	}
}

func TestProvisionLifecycle(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		ws := w.ws.SID
		alice := w.must(w.p.Create(w.ctx, ws, provision.Person{Email: "Alice@Example.com", Phone: ptr("(512) 764-0580")}))
		if alice.PhoneNumber != "+15127640580" || alice.FriendlyName != "alice@example.com" || provision.Email(alice) != "alice@example.com" {
			t.Fatalf("created %+v", alice)
		}
		// Found by email, whatever its case.
		got := w.must(w.p.FindByEmail(w.ctx, ws, "ALICE@example.com"))
		if got.SID != alice.SID {
			t.Fatalf("found %s, want %s", got.SID, alice.SID)
		}
		// A second person with the same number: refused, nothing written.
		_, err := w.p.Create(w.ctx, ws, provision.Person{Email: "bob@example.com", Phone: ptr("+1 512 764 0580")})
		wantCode(t, err, didrouter.ECONFLICT)
		if _, err := w.p.FindByEmail(w.ctx, ws, "bob@example.com"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Fatalf("a refused worker was written: %v", err)
		}
		_, err = w.p.Create(w.ctx, ws, provision.Person{Email: "bob@example.com", Phone: ptr("not a number")})
		wantCode(t, err, didrouter.EINVALID)
		// Same email again: conflict.
		_, err = w.p.Create(w.ctx, ws, provision.Person{Email: "alice@example.com"})
		wantCode(t, err, didrouter.ECONFLICT)

		// The DID routes to Alice once she is available.
		w.available(alice.SID)
		res, rung := w.call("+15127640580")
		if rung != alice.SID {
			t.Fatalf("call rang %q, want alice", rung)
		}
		// Deactivate while it rings: the reservation is given up.
		alice = w.must(w.p.Apply(w.ctx, ws, alice.SID, provision.Person{Active: ptr(false)}))
		if provision.Active(alice) || alice.Available || alice.Capacity != 0 || alice.MessageCapacity != 0 || alice.ActivityName != "Offline" {
			t.Fatalf("deactivated: %+v", alice)
		}
		r, err := w.st.GetReservation(w.ctx, ws, res.Reservation.SID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == didrouter.ReservationPending {
			t.Fatalf("reservation still pending after deactivation")
		}
		// Available again by hand: still not rung (capacity 0).
		w.available(alice.SID)
		if _, rung := w.call("+15127640580"); rung == alice.SID {
			t.Fatal("a deactivated worker was rung")
		}
		// The same deactivation twice writes nothing.
		before := w.must(w.p.Get(w.ctx, ws, alice.SID))
		again := w.must(w.p.Apply(w.ctx, ws, alice.SID, provision.Person{Active: ptr(false)}))
		if again.Version != before.Version {
			t.Fatalf("an unchanged deactivation wrote (version %d -> %d)", before.Version, again.Version)
		}
		// Reactivate: capacity back, the waiting calls ring her.
		alice = w.must(w.p.Apply(w.ctx, ws, alice.SID, provision.Person{Active: ptr(true)}))
		if !provision.Active(alice) || alice.Capacity != 1 || alice.MessageCapacity != engine.DefaultMessageCapacity {
			t.Fatalf("reactivated: %+v", alice)
		}
		if alice.Busy != 1 {
			t.Fatalf("reactivated available worker serves a waiting call: busy %d", alice.Busy)
		}

		// A number change in another format; the same change twice is one write.
		alice = w.must(w.p.Apply(w.ctx, ws, alice.SID, provision.Person{Phone: ptr("512-555-0100")}))
		if alice.PhoneNumber != "+15125550100" {
			t.Fatalf("number %q", alice.PhoneNumber)
		}
		again = w.must(w.p.Apply(w.ctx, ws, alice.SID, provision.Person{Phone: ptr("+1 (512) 555-0100")}))
		if again.Version != alice.Version {
			t.Fatalf("the same number in another format wrote again")
		}

		// Groups land in the worker's attributes.
		if err := w.p.AddToGroup(w.ctx, ws, alice.SID, "spanish"); err != nil {
			t.Fatal(err)
		}
		if err := w.p.AddToGroup(w.ctx, ws, alice.SID, "spanish"); err != nil {
			t.Fatal(err)
		}
		alice = w.must(w.p.Get(w.ctx, ws, alice.SID))
		var a map[string]any
		if err := json.Unmarshal([]byte(alice.Attributes), &a); err != nil {
			t.Fatal(err)
		}
		if g, _ := a["groups"].([]any); len(g) != 1 || g[0] != "spanish" {
			t.Fatalf("groups %v", a["groups"])
		}
		wa, err := routing.ParseAttributes([]byte(alice.Attributes))
		if err != nil {
			t.Fatal(err)
		}
		if !routing.MustCompile(`worker.groups HAS "spanish"`, routing.ScopeWorker).Eval(nil, wa) {
			t.Fatalf("worker.groups HAS \"spanish\" is false for %s", alice.Attributes)
		}
		names, err := w.p.GroupNames(w.ctx, ws)
		if err != nil || !slices.Equal(names, []string{"spanish"}) {
			t.Fatalf("group names %v %v", names, err)
		}
		if err := w.p.SetGroupMembers(w.ctx, ws, "spanish", nil); err != nil {
			t.Fatal(err)
		}
		if provision.Groups(w.must(w.p.Get(w.ctx, ws, alice.SID))) == nil {
			t.Fatal("groups must read as a list")
		}
		if g := provision.Groups(w.must(w.p.Get(w.ctx, ws, alice.SID))); len(g) != 0 {
			t.Fatalf("groups after emptying %v", g)
		}

		// Every change was an event.
		evs, err := w.st.ListEvents(w.ctx, ws, didrouter.EventFilter{Page: didrouter.Page{Size: 1000}, WorkerSID: alice.SID})
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, e := range evs {
			kinds[e.EventType]++
		}
		if kinds[didrouter.EventWorkerCreated] != 1 || kinds[didrouter.EventWorkerCapacityUpdate] < 2 || kinds[didrouter.EventWorkerAttributesUpdate] < 4 {
			t.Fatalf("events %v", kinds)
		}
	})
}

func TestProvisionEnsureMatchesByName(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		ws := w.ws.SID
		// A worker made before SSO, named after the email (a CSV import).
		old := w.must(w.eng.CreateWorker(w.ctx, ws, engine.WorkerInsert{FriendlyName: "carol@example.com"}))
		got, created, err := w.p.Ensure(w.ctx, ws, provision.Person{Email: "carol@example.com", Phone: ptr("5127640581")})
		if err != nil || created || got.SID != old.SID || got.PhoneNumber != "+15127640581" {
			t.Fatalf("ensure: %+v created=%v err=%v", got, created, err)
		}
		if provision.String(got, provision.AttrEmail) != "carol@example.com" {
			t.Fatalf("email attribute not set: %s", got.Attributes)
		}
		// Unknown person: made just in time.
		dan, created, err := w.p.Ensure(w.ctx, ws, provision.Person{Email: "dan@example.com", Name: "Dan", Phone: ptr("5127640582")})
		if err != nil || !created || dan.FriendlyName != "Dan" {
			t.Fatalf("ensure new: %+v %v %v", dan, created, err)
		}
		// A number Carol owns: refused, Dan keeps his.
		_, _, err = w.p.Ensure(w.ctx, ws, provision.Person{Email: "dan@example.com", Phone: ptr("5127640581")})
		wantCode(t, err, didrouter.ECONFLICT)
		if d := w.must(w.p.Get(w.ctx, ws, dan.SID)); d.PhoneNumber != "+15127640582" {
			t.Fatalf("dan's number %q", d.PhoneNumber)
		}
	})
}

func TestProvisionDelete(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		ws := w.ws.SID
		eve := w.must(w.p.Create(w.ctx, ws, provision.Person{Email: "eve@example.com", Phone: ptr("5127640583")}))
		w.available(eve.SID)
		res, rung := w.call("+15127640583")
		if rung != eve.SID {
			t.Fatal("not rung")
		}
		if _, err := w.eng.AcceptReservation(w.ctx, ws, res.Reservation.SID); err != nil {
			t.Fatal(err)
		}
		// On a call: deactivated at once, removed when the call ends.
		go func() { _ = w.p.Run(w.ctx, slog.New(slog.DiscardHandler)) }()
		deferred, err := w.p.Delete(w.ctx, ws, eve.SID)
		if err != nil || !deferred {
			t.Fatalf("delete during a call: deferred=%v %v", deferred, err)
		}
		got := w.must(w.p.Get(w.ctx, ws, eve.SID))
		if provision.Active(got) || got.Capacity != 0 || !provision.DeletePending(got) {
			t.Fatalf("not deactivated and marked: %+v", got)
		}
		if _, err := w.eng.CompleteTask(w.ctx, ws, res.Task.SID, "done"); err != nil {
			t.Fatal(err)
		}
		waitGone(t, w, eve.SID)
		// A worker not on a call goes at once.
		fred := w.must(w.p.Create(w.ctx, ws, provision.Person{Email: "fred@example.com"}))
		if deferred, err := w.p.Delete(w.ctx, ws, fred.SID); err != nil || deferred {
			t.Fatalf("delete: %v %v", deferred, err)
		}
		_, err = w.p.Get(w.ctx, ws, fred.SID)
		wantCode(t, err, didrouter.ENOTFOUND)
	})
}

// A deactivation written on one instance holds at once on another whose
// index still says the worker is available: the store decides every claim
// (available and busy < capacity), so the other instance rings nobody.
func TestProvisionDeactivateOtherInstance(t *testing.T) {
	t.Parallel()
	st := storetest.Postgres(t)
	a := newWorld(t, st)
	peer, err := postgres.Open(t.Context(), st.ConnString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Close)
	b := &world{t: t, ctx: t.Context(), st: peer, ws: a.ws, acts: a.acts, calls: 100}
	norm, _ := routing.NewNormalizer("US")
	if b.eng, err = engine.New(engine.Config{Store: peer, Clock: didrouter.NewFakeClock(time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)), Normalizer: norm}); err != nil {
		t.Fatal(err)
	}
	jo := a.must(a.p.Create(a.ctx, a.ws.SID, provision.Person{Email: "jo@example.com", Phone: ptr("5127640590")}))
	a.available(jo.SID)
	// Instance b loads its index now: Jo is available there.
	if err := b.eng.Sync(b.ctx); err != nil {
		t.Fatal(err)
	}
	res, rung := b.call("+15127640590")
	if rung != jo.SID {
		t.Fatalf("instance b rang %q before the deactivation", rung)
	}
	if _, err := b.eng.CancelTask(b.ctx, b.ws.SID, res.Task.SID, "test"); err != nil {
		t.Fatal(err)
	}
	a.must(a.p.Apply(a.ctx, a.ws.SID, jo.SID, provision.Person{Active: ptr(false)}))
	if _, rung := b.call("+15127640590"); rung == jo.SID {
		t.Fatal("instance b rang a worker deactivated on instance a")
	}
}

// waitGone waits for Run, fed by the store's change feed, to remove a
// worker.
func waitGone(t *testing.T, w *world, sid string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := w.st.GetWorker(w.ctx, w.ws.SID, sid); didrouter.ErrorCode(err) == didrouter.ENOTFOUND {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("worker %s was not removed after its call", sid)
}

// The same person created twice at once (a retried request, two sign-in
// tabs) is one worker.
func TestProvisionCreateOnce(t *testing.T) {
	stores(t, func(t *testing.T, w *world) {
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				_, _, err := w.p.Ensure(w.ctx, w.ws.SID, provision.Person{Email: "lee@example.com"})
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		all, err := w.p.Workers(w.ctx, w.ws.SID, func(wk didrouter.Worker) bool { return provision.Email(wk) == "lee@example.com" })
		if err != nil || len(all) != 1 {
			t.Fatalf("%d workers for one person (%v)", len(all), err)
		}
	})
}
