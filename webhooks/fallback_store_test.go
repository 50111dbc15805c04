package webhooks_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

// downStore wraps a real store and, while down is set, fails the reads the
// webhooks make, as an unreachable database does.
type downStore struct {
	didrouter.Store
	down atomic.Bool
}

var errUnreachable = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (d *downStore) GetTask(ctx context.Context, ws, sid string) (didrouter.Task, error) {
	if d.down.Load() {
		return didrouter.Task{}, errUnreachable
	}
	return d.Store.GetTask(ctx, ws, sid)
}

func (d *downStore) GetReservation(ctx context.Context, ws, sid string) (didrouter.Reservation, error) {
	if d.down.Load() {
		return didrouter.Reservation{}, errUnreachable
	}
	return d.Store.GetReservation(ctx, ws, sid)
}

// A dial action that cannot read the task (the database is down) keeps the
// caller in the task's own queue instead of hanging up; the wait poll
// takes over once the database answers.
func TestDialActionWithoutTheStoreHoldsTheCaller(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		ds := &downStore{Store: st}
		in := newInstance(t, ds, newClock())
		in.worker("alice", aliceDID, "Available")
		c := newCall(aliceDID)
		_, dial := dialed(t, in.incoming(c))
		taskSID := query(t, dial.attr("action"), "task")

		ds.down.Store(true)
		doc := in.twiml(dial.attr("action"), c.form("DialCallStatus", "no-answer", "CallStatus", "in-progress"))
		if got := doc.verbs(); len(got) != 2 || got[0] != "Say" || got[1] != "Enqueue" {
			t.Fatalf("dial action without a store: %v, want [Say Enqueue]", got)
		}
		enq := doc.only(t, "Enqueue")
		if name := strings.TrimSpace(enq.Text); name != taskSID {
			t.Errorf("queued in %q, want the task's queue %s", name, taskSID)
		}
		if query(t, enq.attr("waitUrl"), "task") != taskSID {
			t.Errorf("waitUrl %q does not name the task", enq.attr("waitUrl"))
		}

		// Back up: the wait poll finds the reservation and leaves the queue.
		ds.down.Store(false)
		if doc := in.twiml(enq.attr("waitUrl"), c.form("QueueTime", "5")); !doc.has("Leave") {
			t.Fatalf("wait poll after the outage: %v, want Leave", doc.verbs())
		}
	})
}

func (d *downStore) GetWorkspace(ctx context.Context, sid string) (didrouter.Workspace, error) {
	if d.down.Load() {
		return didrouter.Workspace{}, errUnreachable
	}
	return d.Store.GetWorkspace(ctx, sid)
}

func (d *downStore) TaskByCallSID(ctx context.Context, ws, call string) (didrouter.Task, error) {
	if d.down.Load() {
		return didrouter.Task{}, errUnreachable
	}
	return d.Store.TaskByCallSID(ctx, ws, call)
}

func (d *downStore) GetBinding(ctx context.Context, e164 string) (didrouter.PhoneNumberBinding, error) {
	if d.down.Load() {
		return didrouter.PhoneNumberBinding{}, errUnreachable
	}
	return d.Store.GetBinding(ctx, e164)
}

func (d *downStore) ListReservations(ctx context.Context, ws string, f didrouter.ReservationFilter) ([]didrouter.Reservation, error) {
	if d.down.Load() {
		return nil, errUnreachable
	}
	return d.Store.ListReservations(ctx, ws, f)
}

func (d *downStore) Tx(ctx context.Context, fn func(didrouter.Tx) error) error {
	if d.down.Load() {
		return errUnreachable
	}
	return d.Store.Tx(ctx, fn)
}

// since is when the store went down (zero = up), as outage.Store.Down says.
func (d *downStore) since() time.Time {
	if d.down.Load() {
		return time.Unix(1, 0)
	}
	return time.Time{}
}
