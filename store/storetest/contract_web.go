package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
)

// web returns the store's WebStore; every store must have one.
func (f *fixture) web() didrouter.WebStore {
	f.t.Helper()
	ws, ok := f.s.(didrouter.WebStore)
	if !ok {
		f.t.Fatalf("%T does not implement didrouter.WebStore", f.s)
	}
	return ws
}

func (c *contract) webSessions(t *testing.T, f *fixture) {
	web := f.web()
	alice := f.worker("alice", "")
	agent := didrouter.WebSession{ID: "a1", Kind: didrouter.WebSessionAgent, WorkspaceSID: f.ws.SID, WorkerSID: alice.SID,
		CSRF: "csrf-a1", Created: f.now, Expires: f.at(12 * time.Hour), LastSeen: f.now}
	admin := didrouter.WebSession{ID: "b2", Kind: didrouter.WebSessionAdmin, CSRF: "csrf-b2",
		Created: f.now, Expires: f.at(time.Hour), LastSeen: f.now}
	for _, s := range []didrouter.WebSession{agent, admin} {
		noErr(t, web.InsertWebSession(f.ctx, s))
	}
	wantCode(t, web.InsertWebSession(f.ctx, agent), didrouter.ECONFLICT)
	norm := func(s didrouter.WebSession) didrouter.WebSession {
		s.Created, s.Expires, s.LastSeen = utc(s.Created), utc(s.Expires), utc(s.LastSeen)
		return s
	}
	got, err := web.GetWebSession(f.ctx, "a1")
	noErr(t, err)
	equal(t, "agent session", got, norm(agent))
	got, err = web.GetWebSession(f.ctx, "b2")
	noErr(t, err)
	equal(t, "admin session", got, norm(admin))
	_, err = web.GetWebSession(f.ctx, "nope")
	wantCode(t, err, didrouter.ENOTFOUND)

	noErr(t, web.TouchWebSession(f.ctx, "a1", f.at(time.Minute)))
	got, err = web.GetWebSession(f.ctx, "a1")
	noErr(t, err)
	equal(t, "last seen", got.LastSeen, utc(f.at(time.Minute)))
	wantCode(t, web.TouchWebSession(f.ctx, "nope", f.now), didrouter.ENOTFOUND)

	// Purging drops what has expired (at its expiry, too), nothing else.
	noErr(t, web.PurgeWebSessions(f.ctx, f.at(time.Hour)))
	_, err = web.GetWebSession(f.ctx, "b2")
	wantCode(t, err, didrouter.ENOTFOUND)
	_, err = web.GetWebSession(f.ctx, "a1")
	noErr(t, err)

	noErr(t, web.DeleteWebSession(f.ctx, "a1"))
	_, err = web.GetWebSession(f.ctx, "a1")
	wantCode(t, err, didrouter.ENOTFOUND)
	noErr(t, web.DeleteWebSession(f.ctx, "a1")) // gone already: no error
}

func (c *contract) signInLinks(t *testing.T, f *fixture) {
	web := f.web()
	first, err := web.UseSignInLink(f.ctx, "L1", f.at(15*time.Minute))
	noErr(t, err)
	again, err := web.UseSignInLink(f.ctx, "L1", f.at(15*time.Minute))
	noErr(t, err)
	if !first || again {
		t.Fatalf("first use %v, second use %v; want true, false", first, again)
	}
	// Many instances using one link at once: exactly one wins.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range 8 {
		wg.Go(func() {
			ok, err := web.UseSignInLink(f.ctx, "L2", f.at(15*time.Minute))
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent uses of one link succeeded, want 1", wins)
	}
	// An expired record is purged (the link is refused for its age then).
	noErr(t, web.PurgeWebSessions(f.ctx, f.at(time.Hour)))
	first, err = web.UseSignInLink(f.ctx, "L1", f.at(2*time.Hour))
	noErr(t, err)
	if !first {
		t.Fatal("a purged link record is still there")
	}
}

func (c *contract) agentRevocation(t *testing.T, f *fixture) {
	web := f.web()
	alice, bob := f.worker("alice", ""), f.worker("bob", "")
	at, err := web.AgentTokensNotBefore(f.ctx, f.ws.SID, alice.SID)
	noErr(t, err)
	if !at.IsZero() {
		t.Fatalf("never revoked: %v, want zero", at)
	}
	for i, w := range []didrouter.Worker{alice, alice, bob} {
		noErr(t, web.InsertWebSession(f.ctx, didrouter.WebSession{ID: "s" + string(rune('0'+i)), Kind: didrouter.WebSessionAgent,
			WorkspaceSID: f.ws.SID, WorkerSID: w.SID, CSRF: "c", Created: f.now, Expires: f.at(time.Hour), LastSeen: f.now}))
	}
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	feed, err := f.s.Subscribe(ctx)
	noErr(t, err)
	ended, err := web.RevokeAgentTokens(f.ctx, f.ws.SID, alice.SID, f.at(time.Minute))
	noErr(t, err)
	if ended != 2 {
		t.Errorf("revoking alice ended %d sessions, want 2", ended)
	}
	// Her open pages hear of it (they re-check their sessions).
	expectChanges(t, feed, didrouter.Change{Kind: didrouter.ChangeWorker, WorkspaceSID: f.ws.SID, SID: alice.SID})
	for id, want := range map[string]string{"s0": didrouter.ENOTFOUND, "s1": didrouter.ENOTFOUND, "s2": ""} {
		_, err := web.GetWebSession(f.ctx, id)
		if didrouter.ErrorCode(err) != want {
			t.Errorf("session %s after revoking alice: %v, want code %q", id, err, want)
		}
	}
	at, err = web.AgentTokensNotBefore(f.ctx, f.ws.SID, alice.SID)
	noErr(t, err)
	equal(t, "not before", at, utc(f.at(time.Minute)))
	// Only forward: an earlier time keeps the stored one.
	_, err = web.RevokeAgentTokens(f.ctx, f.ws.SID, alice.SID, f.now)
	noErr(t, err)
	at, _ = web.AgentTokensNotBefore(f.ctx, f.ws.SID, alice.SID)
	equal(t, "not before after an earlier revocation", at, utc(f.at(time.Minute)))
	_, err = web.RevokeAgentTokens(f.ctx, f.ws.SID, alice.SID, f.at(time.Hour))
	noErr(t, err)
	at, _ = web.AgentTokensNotBefore(f.ctx, f.ws.SID, alice.SID)
	equal(t, "not before after a later revocation", at, utc(f.at(time.Hour)))
	// Another workspace's view, and a worker that does not exist.
	at, err = web.AgentTokensNotBefore(f.ctx, "WSother", alice.SID)
	noErr(t, err)
	if !at.IsZero() {
		t.Errorf("alice's revocation seen from another workspace: %v", at)
	}
	_, err = web.RevokeAgentTokens(f.ctx, f.ws.SID, "WKmissing", f.now)
	wantCode(t, err, didrouter.ENOTFOUND, "WKmissing")
	// Deleting the worker deletes its revocation.
	f.mustTx(func(tx didrouter.Tx) error { return tx.DeleteWorker(f.ctx, f.ws.SID, alice.SID) })
	at, err = web.AgentTokensNotBefore(f.ctx, f.ws.SID, alice.SID)
	noErr(t, err)
	if !at.IsZero() {
		t.Errorf("a deleted worker's revocation is still there: %v", at)
	}
}
