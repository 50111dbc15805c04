package outage_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/postgres"
	"github.com/didrouter/didrouter/store/postgres/outage"
	"github.com/didrouter/didrouter/store/storetest"
)

// openBehindProxy opens a fresh migrated test database through a proxy
// the test can take down.
func openBehindProxy(t *testing.T) (*postgres.Store, *proxy) {
	t.Helper()
	dbURL := storetest.PostgresURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr()
	st, err := postgres.Open(context.Background(), u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, p
}

func seed(t *testing.T, s didrouter.Store) didrouter.Workspace {
	t.Helper()
	ws, err := engine.Seed(context.Background(), s, didrouter.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// A read and a transaction that start while the database is down wait for
// it and succeed once it is back.
func TestWaitsForTheDatabaseToComeBack(t *testing.T) {
	pg, p := openBehindProxy(t)
	st := outage.New(pg, outage.Config{MaxWait: 20 * time.Second})
	ws := seed(t, st)

	p.setDown(true)
	type result struct {
		ws  didrouter.Workspace
		err error
	}
	readDone := make(chan result, 1)
	go func() {
		got, err := st.GetWorkspace(context.Background(), ws.SID)
		readDone <- result{got, err}
	}()
	txRuns := 0
	txDone := make(chan error, 1)
	go func() {
		txDone <- st.Tx(context.Background(), func(tx didrouter.Tx) error {
			txRuns++
			w, err := tx.GetWorkspace(context.Background(), ws.SID)
			if err != nil {
				return err
			}
			w.FriendlyName = "renamed during an outage"
			return tx.UpdateWorkspace(context.Background(), w)
		})
	}()
	// Both are waiting, so the store knows it is down.
	deadline := time.Now().Add(10 * time.Second)
	for st.Down().IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the store never noticed the outage")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case r := <-readDone:
		t.Fatalf("the read returned during the outage: %+v", r)
	case err := <-txDone:
		t.Fatalf("the transaction returned during the outage: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	p.setDown(false)
	if r := <-readDone; r.err != nil || r.ws.SID != ws.SID {
		t.Fatalf("read after the outage: %+v", r)
	}
	if err := <-txDone; err != nil {
		t.Fatalf("transaction after the outage: %v", err)
	}
	if txRuns < 1 {
		t.Errorf("the transaction's function ran %d times", txRuns)
	}
	got, err := pg.GetWorkspace(context.Background(), ws.SID)
	if err != nil || got.FriendlyName != "renamed during an outage" {
		t.Fatalf("the transaction was not committed: %+v %v", got, err)
	}
	if !st.Down().IsZero() {
		t.Error("the store still says the database is down")
	}
	if outages, retries := st.Stats(); outages != 1 || retries == 0 {
		t.Errorf("stats: %d outages, %d retries; want 1 and some", outages, retries)
	}
}

// A call gives up after MaxWait, with an error that says the database is
// unreachable, and a caller's deadline shortens the wait.
func TestGivesUpAfterMaxWait(t *testing.T) {
	pg, p := openBehindProxy(t)
	st := outage.New(pg, outage.Config{MaxWait: 300 * time.Millisecond})
	ws := seed(t, st)
	p.setDown(true)
	err := st.Tx(context.Background(), func(tx didrouter.Tx) error {
		_, err := tx.GetWorkspace(context.Background(), ws.SID)
		return err
	})
	if err == nil || !outage.Unreachable(err) {
		t.Fatalf("Tx during an outage: %v, want an unreachable error", err)
	}
	long := outage.New(pg, outage.Config{MaxWait: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := long.GetWorkspace(ctx, ws.SID); err == nil {
		t.Fatal("a read succeeded without a database")
	}
}

// Refusals are not outages. They come back at once, and fn runs once.
func TestCodedErrorsAreNotRetried(t *testing.T) {
	pg, _ := openBehindProxy(t)
	st := outage.New(pg, outage.Config{})
	ran := 0
	want := didrouter.Errorf(didrouter.ECONFLICT, "no")
	err := st.Tx(context.Background(), func(didrouter.Tx) error { ran++; return want })
	if !errors.Is(err, want) || ran != 1 {
		t.Fatalf("Tx: %v after %d runs, want the coded error after 1", err, ran)
	}
	if _, err := st.GetTask(context.Background(), "WSnone", "WTnone"); didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		t.Fatalf("GetTask of a missing task: %v", err)
	}
	if !st.Down().IsZero() {
		t.Error("a refusal was taken for an outage")
	}
}

// The connection is cut in the middle of a transaction. The transaction
// is run again only when the failure certainly came before anything of it
// was sent, because the server then rolled it back with the connection.
// Otherwise the caller gets an unreachable error. Either way it commits at
// most once.
func TestCutMidTransaction(t *testing.T) {
	pg, p := openBehindProxy(t)
	st := outage.New(pg, outage.Config{MaxWait: 5 * time.Second})
	ws := seed(t, st)
	ran := 0
	err := st.Tx(context.Background(), func(tx didrouter.Tx) error {
		ran++
		w, err := tx.GetWorkspace(context.Background(), ws.SID)
		if err != nil {
			return err
		}
		if ran == 1 {
			p.setDown(true) // the server crashes under the open transaction
			go func() { time.Sleep(200 * time.Millisecond); p.setDown(false) }()
		}
		w.FriendlyName = fmt.Sprintf("run %d", ran)
		return tx.UpdateWorkspace(context.Background(), w)
	})
	got, gerr := pg.GetWorkspace(context.Background(), ws.SID)
	for gerr != nil && outage.Unreachable(gerr) {
		time.Sleep(50 * time.Millisecond)
		got, gerr = pg.GetWorkspace(context.Background(), ws.SID)
	}
	switch {
	case err == nil:
		if ran != 2 || got.FriendlyName != "run 2" {
			t.Fatalf("retried transaction: ran %d times, name %q; want 2 runs and the second committed", ran, got.FriendlyName)
		}
	case outage.Unreachable(err):
		if ran != 1 || got.FriendlyName == "run 1" {
			t.Fatalf("cut transaction: ran %d times, name %q; want 1 run, not committed", ran, got.FriendlyName)
		}
	default:
		t.Fatalf("cut transaction: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{didrouter.Errorf(didrouter.ENOTFOUND, "x"), false},
		{errors.New("some bug"), false},
	} {
		if got := outage.Unreachable(c.err); got != c.want {
			t.Errorf("Unreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	// A real refused connection.
	_, err := postgres.Open(context.Background(), "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", nil)
	if err == nil || !outage.Unreachable(err) {
		t.Errorf("Unreachable(%v) = false for a refused connection", err)
	}
}

// Once the database has been down for longer than one wait, a call makes
// a single attempt instead of waiting again. Degraded mode answers, and
// webhooks are not each held for MaxWait.
func TestLongOutageCallsTryOnce(t *testing.T) {
	pg, p := openBehindProxy(t)
	st := outage.New(pg, outage.Config{MaxWait: 500 * time.Millisecond})
	ws := seed(t, st)
	p.setDown(true)
	if _, err := st.GetWorkspace(context.Background(), ws.SID); err == nil {
		t.Fatal("read succeeded without a database")
	}
	if p.refusedCount() < 2 {
		t.Fatalf("%d attempts during the first wait, want retries", p.refusedCount())
	}
	time.Sleep(600 * time.Millisecond) // down for longer than MaxWait now
	before := p.refusedCount()
	start := time.Now()
	_, err := st.GetWorkspace(context.Background(), ws.SID)
	took := time.Since(start)
	if err == nil || !outage.Unreachable(err) {
		t.Fatalf("read during a long outage: %v", err)
	}
	// One attempt, not a wait, answers well within MaxWait. The pool may
	// dial once more in the background meanwhile, so the count allows one
	// stray attempt. A retry loop would show several and take the whole
	// wait.
	if n := p.refusedCount() - before; n < 1 || n > 2 || took >= 250*time.Millisecond {
		t.Fatalf("%d connection attempts in %v during a long outage, want one quick attempt", n, took)
	}
	p.setDown(false)
	if _, err := st.GetWorkspace(context.Background(), ws.SID); err != nil {
		t.Fatalf("read after the outage: %v", err)
	}
	if !st.Down().IsZero() {
		t.Fatal("still down after a successful read")
	}
}

// The outage is dated and judged long on the clock the store was given,
// so a fake clock moved past the wait turns calls into single attempts.
func TestOutageFollowsItsClock(t *testing.T) {
	pg, p := openBehindProxy(t)
	clock := didrouter.NewFakeClock(time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC))
	st := outage.New(pg, outage.Config{MaxWait: time.Hour, Clock: clock})
	ws := seed(t, st)
	p.setDown(true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := st.GetWorkspace(ctx, ws.SID); err == nil {
		t.Fatal("read succeeded without a database")
	}
	if got := st.Down(); !got.Equal(clock.Now()) {
		t.Fatalf("down since %v, want the fake clock's %v", got, clock.Now())
	}
	clock.Advance(2 * time.Hour)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := st.GetWorkspace(ctx, ws.SID); err == nil || !outage.Unreachable(err) {
		t.Fatalf("read during a long outage: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("read took %v after the fake clock passed the wait, want one quick attempt", took)
	}
}
