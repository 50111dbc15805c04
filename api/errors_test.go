package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// The adapter is the one place where a handler's error becomes an answer:
// each kind of error gets its status, Twilio code and message, and an
// error it does not know is a logged 500 whose body says nothing of it.
func TestHandleAnswersErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		status    int
		code      int
		message   string
		row       int
		challenge string
		logged    bool
	}{
		{"unknown", errors.New("pq: connection to 10.0.0.7 refused, password=hunter2"), 500, 20500, "Internal server error", 0, "", true},
		{"wrapped unknown", fmt.Errorf("list workers: %w", errors.New("disk /var/lib/x full")), 500, 20500, "Internal server error", 0, "", true},
		{"not found", didrouter.Errorf(didrouter.ENOTFOUND, "Worker WK1 not found"), 404, 20404, "Worker WK1 not found", 0, "", false},
		{"wrapped invalid", fmt.Errorf("create task: %w", didrouter.Errorf(didrouter.EINVALID, "Timeout must be positive")), 400, 20001, "Timeout must be positive", 0, "", false},
		{"conflict", didrouter.Errorf(didrouter.ECONFLICT, "the number is taken"), 409, 20409, "the number is taken", 0, "", false},
		{"unavailable", didrouter.Errorf(didrouter.EUNAVAILABLE, "task WT1 is pending"), 409, 20409, "task WT1 is pending", 0, "", false},
		{"row", &engine.RowError{Row: 3, Err: didrouter.Errorf(didrouter.EINVALID, "bad number")}, 400, 20001, "row 3: bad number", 3, "", false},
		{"row of an internal error", &engine.RowError{Row: 3, Err: errors.New("tx aborted")}, 500, 20500, "Internal server error", 0, "", true},
		{"unauthorized", unauthorized("the agent token is refused: expired"), 401, 20003, "Authentication Error - the agent token is refused: expired", 0, `Basic realm="didrouter", Bearer`, false},
		{"forbidden", &statusError{status: 403, code: 20403, msg: "no"}, 403, 20403, "no", 0, "", false},
	} {
		var logs bytes.Buffer
		h := &Handler{log: slog.New(slog.NewTextHandler(&logs, nil))}
		rec := httptest.NewRecorder()
		h.handle(func(http.ResponseWriter, *http.Request) error { return tc.err })(rec, httptest.NewRequest(http.MethodGet, "/v1/Workspaces", nil))

		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: body %q: %v", tc.name, rec.Body, err)
		}
		want := map[string]any{"status": float64(tc.status), "code": float64(tc.code), "message": tc.message,
			"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", tc.code)}
		if tc.row != 0 {
			want["row"] = float64(tc.row)
		}
		if rec.Code != tc.status || fmt.Sprint(body) != fmt.Sprint(want) || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %v, want %d %v", tc.name, rec.Code, body, tc.status, want)
		}
		if got := rec.Header().Get("WWW-Authenticate"); got != tc.challenge {
			t.Errorf("%s: WWW-Authenticate %q, want %q", tc.name, got, tc.challenge)
		}
		if logged := strings.Contains(logs.String(), tc.err.Error()); logged != tc.logged {
			t.Errorf("%s: logged %v, want %v:\n%s", tc.name, logged, tc.logged, logs.String())
		}
	}
}

// A handler that returns no error keeps its own answer.
func TestHandleLeavesSuccess(t *testing.T) {
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	rec := httptest.NewRecorder()
	h.handle(func(w http.ResponseWriter, _ *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})(rec, httptest.NewRequest(http.MethodDelete, "/v1/Workspaces/WS1/Workers/WK1", nil))
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Errorf("answer %d %q", rec.Code, rec.Body)
	}
}
