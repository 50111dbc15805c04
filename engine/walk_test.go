package engine_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// walkEvent is an event as both walks should write it: sids replaced by
// names, the degraded mark left out.
type walkEvent struct {
	Type, Desc string
	Data       map[string]any
}

func normalizeEvents(t *testing.T, evs []didrouter.Event, names map[string]string) []walkEvent {
	t.Helper()
	var out []walkEvent
	for _, ev := range evs {
		data := map[string]any{}
		if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
			t.Fatalf("event %s data %q: %v", ev.EventType, ev.Data, err)
		}
		delete(data, "degraded")
		delete(data, "call_sid")
		desc := strings.ReplaceAll(ev.Description, " (store unreachable)", "")
		for sid, name := range names {
			desc = strings.ReplaceAll(desc, sid, name)
		}
		out = append(out, walkEvent{Type: ev.EventType, Desc: desc, Data: data})
	}
	return out
}

// A call that skips the offline owner and goes to Everyone writes the same
// events whether it is routed with the store (CreateTask) or from memory
// (Degraded.Route), but for the degraded mark. The copies of the walk once
// drifted: the degraded workflow.target-matched lacked the filter's name.
func TestDegradedWalkWritesTheStoredWalksEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		other := h.worker("other", "", "Available")
		h.worker("owner", ownerDID, "Offline")

		stored := h.call(ownerDID, 0)
		h.wantReserved(stored, other)
		evs, err := h.store.ListEvents(h.ctx, h.ws.SID, didrouter.EventFilter{Page: didrouter.Page{Size: 1000}, TaskSID: stored.Task.SID})
		if err != nil {
			t.Fatal(err)
		}
		want := normalizeEvents(t, evs, map[string]string{stored.Task.SID: "TASK", stored.Reservation.SID: "RES"})

		// Free the worker again, and route the same call from memory.
		if _, err := h.eng.CancelTask(h.ctx, h.ws.SID, stored.Task.SID, "test"); err != nil {
			t.Fatal(err)
		}
		h.warm()
		dc := h.degradedCall(ownerDID, nil)
		if dc.Reservation == nil || dc.Reservation.WorkerSID != other.SID {
			t.Fatalf("degraded call reserved %+v, want the other worker", dc.Reservation)
		}
		got := normalizeEvents(t, dc.Events, map[string]string{dc.Task.SID: "TASK", dc.Reservation.SID: "RES"})

		// The stored task has events the walk does not write (its
		// cancellation); compare the walk's part.
		var walked []walkEvent
		for _, ev := range want {
			if ev.Type != didrouter.EventTaskCanceled && !strings.HasPrefix(ev.Type, "reservation.") || ev.Type == didrouter.EventReservationCreated {
				walked = append(walked, ev)
			}
		}
		if len(got) != len(walked) {
			t.Fatalf("degraded events:\n%v\nwant those of the stored walk:\n%v", got, walked)
		}
		for i := range got {
			if got[i].Type != walked[i].Type || got[i].Desc != walked[i].Desc || fmt.Sprint(got[i].Data) != fmt.Sprint(walked[i].Data) {
				t.Errorf("event %d: degraded %+v, stored %+v", i, got[i], walked[i])
			}
		}
		for _, ev := range got {
			if ev.Type == didrouter.EventWorkflowTargetMatched && ev.Data["filter_friendly_name"] == nil {
				t.Errorf("degraded %s without the filter's name: %+v", ev.Type, ev)
			}
		}
	})
}

// Degraded.Route refuses what CreateTask refuses, with the same message: a
// degraded call once took any timeout and a negative priority.
func TestDegradedRefusesWhatCreateTaskRefuses(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.worker("owner", ownerDID, "Available")
		h.warm()
		wf, err := h.store.GetWorkflow(h.ctx, h.ws.SID, h.ws.DefaultWorkflowSID)
		if err != nil {
			t.Fatal(err)
		}
		attrs := fmt.Sprintf(`{"phone_number":%q}`, ownerDID)
		for i, n := range []engine.TaskInsert{
			{Attributes: attrs, Timeout: -1},
			{Attributes: attrs, Timeout: engine.MaxTaskTimeout + 1},
			{Attributes: attrs, Priority: -1},
			{Attributes: `["not an object"]`},
		} {
			n.WorkspaceSID, n.WorkflowSID = h.ws.SID, h.ws.DefaultWorkflowSID
			n.CallSID = fmt.Sprintf("CAbad%030d", i)
			_, cerr := h.eng.CreateTask(h.ctx, n)
			_, derr := h.eng.Degraded().Route(h.ctx, h.ws, wf, n, nil)
			if didrouter.ErrorCode(cerr) != didrouter.EINVALID || didrouter.ErrorCode(derr) != didrouter.EINVALID ||
				didrouter.ErrorMessage(cerr) != didrouter.ErrorMessage(derr) {
				t.Errorf("%+v: CreateTask %v, Degraded.Route %v, want the same EINVALID", n, cerr, derr)
			}
		}
		// Nothing was counted busy by the refused degraded calls.
		ws, err := h.eng.IndexedWorkers(h.ctx, h.ws.SID)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if w.Busy != 0 {
				t.Errorf("worker %s busy %d in the index after refused calls", w.FriendlyName, w.Busy)
			}
		}
	})
}
