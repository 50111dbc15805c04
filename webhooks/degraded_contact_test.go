package webhooks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/degraded"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
	"github.com/didrouter/didrouter/webhooks"
)

// While the store is down, a worker whose contact_uri is a phone number is
// rung on it, as the ordinary path does, unless the number routes back
// into didrouter (another worker's DID): that worker is not rung and the
// caller waits.
func TestDegradedRingsPhoneContacts(t *testing.T) {
	stores(t, func(t *testing.T, st didrouter.Store) {
		const (
			bobDID, bobMobile = "+15125550111", "+15125550222"
			carolDID          = "+15125550333"
		)
		ds := &downStore{Store: st}
		admin := newInstance(t, st, newClock())
		worker := func(name string, attrs map[string]string) {
			b, _ := json.Marshal(attrs)
			status, w := admin.api(http.MethodPost, "/v1/Workspaces/"+admin.ws.SID+"/Workers", url.Values{
				"FriendlyName": {name}, "Attributes": {string(b)}, "ActivitySid": {admin.activity("Available")},
			})
			if status != http.StatusCreated {
				t.Fatalf("create worker %s: %d %v", name, status, w)
			}
		}
		worker("bob", map[string]string{"phone_number": bobDID, "contact_uri": bobMobile})
		worker("carol", map[string]string{"phone_number": carolDID, "contact_uri": bobDID}) // a loop

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		clock := didrouter.SystemClock{}
		norm, _ := routing.NewNormalizer("US")
		eng, err := engine.New(engine.Config{Store: ds, Clock: clock, InstanceID: "degraded"})
		if err != nil {
			t.Fatal(err)
		}
		j, err := degraded.OpenJournal(filepath.Join(t.TempDir(), "journal.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		mode, err := degraded.New(degraded.Config{Engine: eng, Store: ds, Down: ds.since, Journal: j,
			WorkspaceSID: admin.ws.SID, SettleAfter: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		runDone := make(chan struct{})
		go func() { mode.Run(ctx); close(runDone) }()
		defer func() { cancel(); <-runDone }()
		var handler http.Handler
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
		defer srv.Close()
		wh, err := webhooks.NewHandler(webhooks.Config{
			Engine: eng, Store: ds, Normalizer: norm, Clock: clock, Logger: testLogger(t),
			PublicURL: srv.URL, AuthToken: authToken, WorkspaceSID: admin.ws.SID, Degraded: mode,
		})
		if err != nil {
			t.Fatal(err)
		}
		r := chi.NewRouter()
		wh.Mount(r)
		handler = r
		in := &instance{t: t, store: ds, eng: eng, ws: admin.ws, srv: srv, client: srv.Client()}
		for deadline := time.Now().Add(10 * time.Second); !mode.Ready(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("degraded mode never warmed up")
			}
		}
		ds.down.Store(true)

		d := in.incoming(newCall(bobDID)).only(t, "Dial")
		if len(d.Children) != 1 || d.Children[0].name() != "Number" || strings.TrimSpace(d.Children[0].Text) != bobMobile {
			t.Fatalf("call to bob while the store is down rings %v, want <Number>%s", d.verbs(), bobMobile)
		}
		if doc := in.incoming(newCall(carolDID)); doc.has("Dial") || !doc.has("Enqueue") {
			t.Fatalf("call to carol, whose contact is bob's DID: %v, want the caller queued, nobody rung", doc.verbs())
		}
	})
}
