package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

// brokenEngine fails the way bugs and outages do.
type brokenEngine struct {
	*engine.Engine
}

func (brokenEngine) CreateWorker(context.Context, string, engine.WorkerInsert) (didrouter.Worker, error) {
	panic("nil map somewhere")
}

func (brokenEngine) DeleteWorker(context.Context, string, string) error {
	return errors.New("pq: connection to 10.0.0.7 refused, password=hunter2")
}

// Internal errors and panics answer Twilio's 500 body with a generic
// message: no stack, no internal detail.
func TestInternalErrorsStayInternal(t *testing.T) {
	st := storetest.SQLite(t)
	s := newServer(t, st) // seeds
	eng, err := engine.New(engine.Config{Store: st, Clock: didrouter.SystemClock{}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(api.Config{Engine: brokenEngine{eng}, Store: st, APIKey: apiKey, APISecret: apiSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.srv = srv

	for _, r := range []response{
		s.post(s.wsPath("/Workers"), url.Values{"FriendlyName": {"x"}}),
		s.request(http.MethodDelete, s.wsPath("/Workers/WK00000000000000000000000000000000"), nil, true),
	} {
		msg := twilioError(t, r, http.StatusInternalServerError, 20500)
		if msg != "Internal server error" || strings.Contains(r.raw, "hunter2") || strings.Contains(r.raw, "goroutine") {
			t.Errorf("500 body leaks details: %s", r.raw)
		}
	}
}
