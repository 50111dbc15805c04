package engine_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// importRow builds one import row; pairs are attribute name, value.
func importRow(row int, name string, pairs ...string) engine.WorkerImport {
	attrs := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		attrs[pairs[i]] = pairs[i+1]
	}
	return engine.WorkerImport{Row: row, FriendlyName: name, Attributes: attrs}
}

// workerSnapshot is every worker of the workspace, by sid, with its version:
// any write shows.
func workerSnapshot(t *testing.T, h *harness) map[string]didrouter.Worker {
	t.Helper()
	out := map[string]didrouter.Worker{}
	if err := h.store.EachWorker(h.ctx, h.ws.SID, func(w didrouter.Worker) error {
		out[w.SID] = w
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportWorkersCreatesUpdatesAndSwapsNumbers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		alice := h.worker("alice", "+15125550101", "Available")
		bob := h.worker("bob", "+15125550102", "Offline")
		carol := h.worker("carol", "+15125550103", "Offline") // not in the import: untouched

		out, err := h.eng.ImportWorkers(h.ctx, h.ws.SID, []engine.WorkerImport{
			// alice and bob swap numbers; the file writes them national.
			importRow(2, "alice", "phone_number", "(512) 555-0102", "contact_uri", "client:alice"),
			importRow(3, "bob", "phone_number", "512-555-0101", "contact_uri", "client:bob", "email", "bob@example.com"),
			importRow(4, "dave", "phone_number", "+1 512 555 0104", "contact_uri", "client:dave"),
			importRow(5, "erin", "phone_number", "", "contact_uri", "client:erin"),
		}, false)
		if err != nil {
			t.Fatalf("ImportWorkers: %v", err)
		}
		if len(out) != 4 {
			t.Fatalf("%d results, want 4", len(out))
		}
		want := []struct {
			action, did string
			change      []string
		}{
			{engine.ImportUpdated, "+15125550102", []string{"phone_number"}},
			{engine.ImportUpdated, "+15125550101", []string{"email", "phone_number"}},
			{engine.ImportCreated, "+15125550104", []string{"contact_uri", "phone_number"}},
			{engine.ImportCreated, "", []string{"contact_uri"}},
		}
		for i, w := range want {
			got := out[i]
			if got.Action != w.action || got.Worker.PhoneNumber != w.did || !slices.Equal(got.Change, w.change) {
				t.Errorf("row %d: %s %q %v, want %s %q %v", got.Row, got.Action, got.Worker.PhoneNumber, got.Change, w.action, w.did, w.change)
			}
			if got.Worker.SID == "" {
				t.Errorf("row %d: no sid", got.Row)
			}
		}
		if got := h.getWorker(alice.SID); got.PhoneNumber != "+15125550102" || !strings.Contains(got.Attributes, `"phone_number":"+15125550102"`) {
			t.Errorf("alice: %s %s", got.PhoneNumber, got.Attributes)
		}
		if got := h.getWorker(bob.SID); got.PhoneNumber != "+15125550101" || !strings.Contains(got.Attributes, `"email":"bob@example.com"`) {
			t.Errorf("bob: %s %s", got.PhoneNumber, got.Attributes)
		}
		if got := h.getWorker(carol.SID); got.Version != carol.Version {
			t.Errorf("carol was written (version %d -> %d)", carol.Version, got.Version)
		}
		// A new worker is in the workspace's default activity, and found by
		// its number and through the index by its contact.
		dave, err := h.store.WorkerByPhoneNumber(h.ctx, h.ws.SID, "+15125550104")
		if err != nil || dave.FriendlyName != "dave" {
			t.Fatalf("dave by number: %+v %v", dave, err)
		}
		if dave.ActivitySID != h.ws.DefaultActivitySID {
			t.Errorf("dave in activity %s, want the default %s", dave.ActivitySID, h.ws.DefaultActivitySID)
		}
		if w, err := h.eng.WorkerByContactURI(h.ctx, h.ws.SID, "client:dave"); err != nil || w.SID != dave.SID {
			t.Errorf("client:dave: %+v %v", w, err)
		}
		// The swapped number now rings its new owner.
		res := h.call("+15125550102", 0)
		h.wantReserved(res, alice)

		// Importing the same again changes nothing and writes nothing.
		before := workerSnapshot(t, h)
		again, err := h.eng.ImportWorkers(h.ctx, h.ws.SID, []engine.WorkerImport{
			importRow(2, "alice", "phone_number", "+15125550102", "contact_uri", "client:alice"),
			importRow(3, "bob", "phone_number", "+15125550101", "contact_uri", "client:bob", "email", "bob@example.com"),
		}, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range again {
			if r.Action != engine.ImportUnchanged {
				t.Errorf("row %d: %s %v, want unchanged", r.Row, r.Action, r.Change)
			}
		}
		after := workerSnapshot(t, h)
		for sid, w := range before {
			if after[sid].Version != w.Version {
				t.Errorf("worker %s written by a no-op import", w.FriendlyName)
			}
		}
		// An empty cell removes: bob gives up his number and his email.
		out, err = h.eng.ImportWorkers(h.ctx, h.ws.SID, []engine.WorkerImport{importRow(7, "bob", "phone_number", "", "email", "")}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.getWorker(bob.SID); got.PhoneNumber != "" || strings.Contains(got.Attributes, "phone_number") ||
			strings.Contains(got.Attributes, "email") || !strings.Contains(got.Attributes, "client:bob") {
			t.Errorf("bob after clearing: %q %s", got.PhoneNumber, got.Attributes)
		}
		if !slices.Equal(out[0].Change, []string{"email", "phone_number"}) {
			t.Errorf("change %v", out[0].Change)
		}
	})
}

// Every bad row fails the whole import, names its row, and leaves every
// worker as it was; a dry run writes nothing either.
func TestImportWorkersBadRowChangesNothing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		h.worker("alice", "+15125550101", "Available")
		h.worker("bob", "+15125550102", "Offline")
		good := importRow(2, "alice", "phone_number", "+15125550109")
		for _, tc := range []struct {
			name string
			rows []engine.WorkerImport
			row  int
			code string
			msg  string
		}{
			{"bad number", []engine.WorkerImport{good, importRow(3, "dave", "phone_number", "555-12")}, 3, didrouter.EINVALID, "not a valid phone number"},
			{"two rows for one worker", []engine.WorkerImport{good, importRow(3, "alice", "phone_number", "")}, 3, didrouter.EINVALID, "also on row 2"},
			{"one number twice", []engine.WorkerImport{good, importRow(3, "dave", "phone_number", "512 555 0109")}, 3, didrouter.ECONFLICT, "also on row 2"},
			{"number of a worker not in the file", []engine.WorkerImport{good, importRow(3, "dave", "phone_number", "+15125550102")}, 3, didrouter.ECONFLICT, "not in this import"},
			{"number kept by its owner", []engine.WorkerImport{good, importRow(3, "dave", "phone_number", "+15125550102"), importRow(4, "bob", "contact_uri", "client:bob")}, 3, didrouter.ECONFLICT, "keeps it"},
			{"empty name", []engine.WorkerImport{good, importRow(3, " ", "phone_number", "")}, 3, didrouter.EINVALID, "friendly name is empty"},
		} {
			before := workerSnapshot(t, h)
			for _, dry := range []bool{true, false} {
				_, err := h.eng.ImportWorkers(h.ctx, h.ws.SID, tc.rows, dry)
				var re *engine.RowError
				if !errors.As(err, &re) || re.Row != tc.row || didrouter.ErrorCode(err) != tc.code || !strings.Contains(didrouter.ErrorMessage(err), tc.msg) {
					t.Errorf("%s (dry run %v): %v; want row %d %s %q", tc.name, dry, err, tc.row, tc.code, tc.msg)
				}
			}
			after := workerSnapshot(t, h)
			if len(after) != len(before) {
				t.Errorf("%s: %d workers, want %d", tc.name, len(after), len(before))
			}
			for sid, w := range before {
				if a := after[sid]; a.Version != w.Version || a.PhoneNumber != w.PhoneNumber || a.Attributes != w.Attributes {
					t.Errorf("%s: worker %s changed: %+v -> %+v", tc.name, w.FriendlyName, w, a)
				}
			}
		}
		// Two stored workers with one name: the row is ambiguous.
		h.worker("bob", "", "Offline")
		_, err := h.eng.ImportWorkers(h.ctx, h.ws.SID, []engine.WorkerImport{importRow(9, "bob", "phone_number", "")}, false)
		var re *engine.RowError
		if !errors.As(err, &re) || re.Row != 9 || !strings.Contains(err.Error(), "2 workers are named") {
			t.Errorf("ambiguous name: %v", err)
		}
		// A dry run of a good import reports and writes nothing.
		before := workerSnapshot(t, h)
		out, err := h.eng.ImportWorkers(h.ctx, h.ws.SID, []engine.WorkerImport{good, importRow(3, "dave", "contact_uri", "client:dave")}, true)
		if err != nil || len(out) != 2 || out[0].Action != engine.ImportUpdated || out[1].Action != engine.ImportCreated ||
			out[0].Worker.PhoneNumber != "+15125550109" {
			t.Fatalf("dry run: %+v %v", out, err)
		}
		if after := workerSnapshot(t, h); len(after) != len(before) {
			t.Errorf("dry run created a worker")
		}
		if _, err := h.store.WorkerByPhoneNumber(h.ctx, h.ws.SID, "+15125550109"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
			t.Errorf("dry run wrote the number: %v", err)
		}
	})
}

// The index of every instance sees imported workers: the bulk path goes
// through the store's worker writes, which feed every instance's index.
func TestImportWorkersReachesOtherInstances(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sa, sb, ws, clock := seededPair(t)
	ea := newEngine(t, sa, clock, "a")
	eb := newEngine(t, sb, clock, "b", engine.Config{TimerPoll: 50 * time.Millisecond})
	runEngine(t, eb)
	// b's index is loaded and does not know the worker yet.
	if _, err := eb.WorkerByContactURI(ctx, ws.SID, "client:zoe"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		t.Fatalf("before the import: %v", err)
	}
	if _, err := ea.ImportWorkers(ctx, ws.SID, []engine.WorkerImport{
		importRow(2, "zoe", "phone_number", "+15125550150", "contact_uri", "client:zoe"),
	}, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b's index sees the imported worker", func() bool {
		w, err := eb.WorkerByContactURI(ctx, ws.SID, "client:zoe")
		return err == nil && w.PhoneNumber == "+15125550150"
	})
	// And an update (a new contact) too.
	if _, err := ea.ImportWorkers(ctx, ws.SID, []engine.WorkerImport{importRow(2, "zoe", "contact_uri", "client:zoe2")}, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b's index sees the updated worker", func() bool {
		w, err := eb.WorkerByContactURI(ctx, ws.SID, "client:zoe2")
		return err == nil && w.FriendlyName == "zoe"
	})
}
