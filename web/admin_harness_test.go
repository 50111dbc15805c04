package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/storetest"
	"github.com/didrouter/didrouter/web"
)

// The admin console's test helpers.

// The engine is the console's engine.
var _ web.AdminEngine = (*engine.Engine)(nil)

// admin is a browser signed in to the admin console.
func (s *site) admin() *browser {
	s.t.Helper()
	b := s.browser()
	a := b.post(web.AdminSignInPath, url.Values{"key": {apiKey}, "secret": {apiSecret}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != web.AdminPath {
		s.t.Fatalf("admin sign-in: %d %s", a.status, a.body)
	}
	page := b.get(web.AdminPath)
	m := csrfRE.FindStringSubmatch(page.body)
	if page.status != 200 || m == nil {
		s.t.Fatalf("console after sign-in: %d %s", page.status, page.body)
	}
	b.csrf = m[1]
	return b
}

// form posts a console form with the session's CSRF token.
func (b *browser) form(path string, form url.Values) answer {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf)
	return b.post(path, form)
}

// upload posts a multipart form with a file (the import form).
func (b *browser) upload(path string, fields map[string]string, fileName, file string) answer {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if _, ok := fields["csrf"]; !ok {
		_ = mw.WriteField("csrf", b.csrf)
	}
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	if fileName != "" {
		fw, _ := mw.CreateFormFile("file", fileName)
		_, _ = io.WriteString(fw, file)
	}
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, b.s.url+path, &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.s.url)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// apiGet calls the admin API.
func (s *site) apiGet(path string) map[string]any {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	req.SetBasicAuth(apiKey, apiSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return out
}

// apiRaw calls the admin API and returns the body as it is.
func (s *site) apiRaw(path string) string {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	req.SetBasicAuth(apiKey, apiSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

var countRE = regexp.MustCompile(`data-count="([^"]+)"[^>]*>([^<]*)<`)

// counts reads the board's figures (data-count cells) from a page.
func counts(t *testing.T, page string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range countRE.FindAllStringSubmatch(page, -1) {
		out[m[1]] = strings.TrimSpace(m[2])
	}
	if len(out) == 0 {
		t.Fatalf("no board figures in:\n%s", page)
	}
	return out
}

var sinceRE = regexp.MustCompile(`data-since="([^"]+)"`)

// boardSince is the start of the board's "today".
func boardSince(t *testing.T, page string) string {
	t.Helper()
	m := sinceRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no data-since in:\n%s", page)
	}
	return m[1]
}

// num reads a JSON number.
func num(v any) string {
	f, _ := v.(float64)
	return strconv.Itoa(int(f))
}

// call makes the task an inbound call from caller to the number `to`
// makes (as the incoming webhook does); it rings someone if it can.
func (s *site) call(callSID, caller, to string) engine.TaskResult {
	s.t.Helper()
	res, err := s.eng.CreateTask(s.ctx, engine.TaskInsert{WorkspaceSID: s.ws.SID, WorkflowSID: s.ws.DefaultWorkflowSID,
		Attributes: fmt.Sprintf(`{"name":%q,"phone_number":%q,"type":"inbound","direction":"inbound"}`, caller, to),
		CallSID:    callSID})
	if err != nil {
		s.t.Fatal(err)
	}
	return res
}

// answer accepts a call's reservation and ends the call.
func (s *site) answer(res engine.TaskResult) {
	s.t.Helper()
	if res.Reservation == nil {
		s.t.Fatalf("task %s rings nobody", res.Task.SID)
	}
	if _, err := s.eng.AcceptReservation(s.ctx, s.ws.SID, res.Reservation.SID); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.eng.CompleteTask(s.ctx, s.ws.SID, res.Task.SID, "call completed"); err != nil {
		s.t.Fatal(err)
	}
}

// workerNamed finds a worker by name in the store ("" sid when none).
func (s *site) workerNamed(name string) didrouter.Worker {
	s.t.Helper()
	list, err := s.store.ListWorkers(s.ctx, s.ws.SID, didrouter.WorkerFilter{FriendlyName: name})
	if err != nil {
		s.t.Fatal(err)
	}
	if len(list) == 0 {
		return didrouter.Worker{}
	}
	return list[0]
}

// storeLike opens a fresh store of st's kind.
func storeLike(t *testing.T, st didrouter.Store) didrouter.Store {
	t.Helper()
	if _, ok := st.(*postgres.Store); ok {
		return storetest.Postgres(t)
	}
	return storetest.SQLite(t)
}
