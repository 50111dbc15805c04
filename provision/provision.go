// Package provision keeps workers in step with a company's identity
// provider. SCIM provisioning and OpenID Connect sign-in both use it, so a
// person provisioned by SCIM and the same person signing in are one worker.
//
// A person is found by email: the worker's "email" attribute, else a
// worker whose friendly name is the email. Every change is one of the
// engine's worker writes (CreateWorker, UpdateWorker, DeleteWorker), so it
// reaches every instance's index through the store's change feed and is
// recorded as a worker event. The DID goes in as the "phone_number"
// attribute: the engine normalizes it to E.164 and refuses a number another
// worker owns, exactly as for the admin API.
//
// Attributes this package writes:
//
//	email         the person's email (lower case)
//	phone_number  the DID
//	groups        the identity provider's groups, sorted (routing: worker.groups HAS "spanish")
//	active        false while the person is deactivated (absent when active)
//	display_name  the person's display name, when the provider sends one
//	external_id   the provider's own id for the person, when it sends one
//
// A deactivated worker is moved to Offline and given capacity 0: its
// pending reservations are given up at once and nothing routes to it, even
// if someone sets it Available again. Reactivating gives it capacity 1; it
// stays Offline until the agent goes Available. A worker deleted while on
// a call is deactivated and marked "delete_after_call"; Run removes it
// when the call ends.
package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// Attribute names.
const (
	AttrEmail       = "email"
	AttrPhone       = "phone_number"
	AttrGroups      = "groups"
	AttrActive      = "active"
	AttrDisplayName = "display_name"
	AttrExternalID  = "external_id"
	// AttrDeleteAfterCall marks a worker deleted while on a call: Run
	// removes it once the call has ended.
	AttrDeleteAfterCall = "delete_after_call"
)

// Engine is the part of *engine.Engine that provisioning writes through.
type Engine interface {
	CreateWorker(ctx context.Context, workspaceSID string, n engine.WorkerInsert) (didrouter.Worker, error)
	UpdateWorker(ctx context.Context, workspaceSID, sid string, u engine.WorkerUpdate) (didrouter.Worker, error)
	DeleteWorker(ctx context.Context, workspaceSID, sid string) error
}

// Store is what provisioning reads.
type Store interface {
	GetWorker(ctx context.Context, workspaceSID, sid string) (didrouter.Worker, error)
	EachWorker(ctx context.Context, workspaceSID string, fn func(didrouter.Worker) error) error
	ListActivities(ctx context.Context, workspaceSID string) ([]didrouter.Activity, error)
	ListWorkspaces(ctx context.Context) ([]didrouter.Workspace, error)
	Subscribe(ctx context.Context) (<-chan didrouter.Change, error)
}

// Revoker ends a worker's agent desktop sessions and refuses its tokens
// and sign-in links issued until now (*agenttoken.Agents).
type Revoker interface {
	Revoke(ctx context.Context, workspaceSID, workerSID string) (notBefore time.Time, ended int, err error)
}

// Provisioner applies an identity provider's view of people to workers.
type Provisioner struct {
	eng     Engine
	store   Store
	revoker Revoker // nil: sessions are not ended on deactivation
	// creating serializes the look-up and the create of a new person on
	// this instance, so a retried POST or two sign-in tabs make one
	// worker. (Two instances at once could still make two; a provider
	// sends one person's requests one after another.)
	creating sync.Mutex

	// marked holds the workers known to wait for their call to end before
	// removal (sid → workspace), so that Run reads only those on the
	// change feed's many worker and reservation changes, not every one.
	markedMu sync.Mutex
	marked   map[string]string
	clock    didrouter.Clock // times the sweep for marks made on other instances
}

// SweepEvery is how often Run looks for workers another instance marked
// for removal: that instance removes them itself when their call ends,
// so this only matters when it stopped meanwhile.
const SweepEvery = 5 * time.Minute

// New returns a Provisioner writing through eng and reading from st. A
// deactivation also signs the agent out everywhere through revoker. With a
// nil revoker, a deactivated agent keeps an open desktop until its session
// ends, though nothing routes to it.
func New(eng Engine, st Store, revoker Revoker) (*Provisioner, error) {
	if eng == nil || st == nil {
		return nil, errors.New("provision: an engine and a store are required")
	}
	return &Provisioner{eng: eng, store: st, revoker: revoker, marked: map[string]string{}, clock: didrouter.SystemClock{}}, nil
}

// Person is what the identity provider says of someone. Nil fields are
// left as they are; Email is the key and is always set.
type Person struct {
	Email       string
	Name        string    // the worker's friendly name ("" = the email for a new worker; an existing one keeps its own)
	Phone       *string   // any format; "" = no DID
	Groups      *[]string // the full list of the person's groups
	Active      *bool
	DisplayName *string // "" = remove
	ExternalID  *string // "" = remove

	deleteAfterCall bool // mark the worker for removal once its call ends
}

// NormalizeEmail is the form emails are compared and stored in.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Email returns the worker's email: the attribute, else its friendly name
// when that is an email.
func Email(w didrouter.Worker) string {
	a := attrs(w)
	if s, ok := a[AttrEmail].(string); ok && strings.TrimSpace(s) != "" {
		return NormalizeEmail(s)
	}
	if strings.Contains(w.FriendlyName, "@") {
		return NormalizeEmail(w.FriendlyName)
	}
	return ""
}

// Active reports whether the worker is not deactivated.
func Active(w didrouter.Worker) bool {
	b, ok := attrs(w)[AttrActive].(bool)
	return !ok || b
}

// Groups returns the worker's groups, sorted.
func Groups(w didrouter.Worker) []string {
	return stringList(attrs(w)[AttrGroups])
}

// String returns a string attribute of the worker ("" when absent).
func String(w didrouter.Worker, name string) string {
	s, _ := attrs(w)[name].(string)
	return s
}

func attrs(w didrouter.Worker) map[string]any {
	m := map[string]any{}
	if strings.TrimSpace(w.Attributes) != "" {
		// The engine only stores JSON objects; anything else reads as empty.
		_ = json.Unmarshal([]byte(w.Attributes), &m)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return cleanGroups(out)
}

// cleanGroups trims, drops empty names and duplicates, and sorts.
func cleanGroups(in []string) []string {
	out := make([]string, 0, len(in))
	for _, g := range in {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// FindByEmail returns the worker with this email: ENOTFOUND when there is
// none, ECONFLICT when several workers claim it.
func (p *Provisioner) FindByEmail(ctx context.Context, workspaceSID, email string) (didrouter.Worker, error) {
	email = NormalizeEmail(email)
	if email == "" {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.EINVALID, "an email is required")
	}
	var found []didrouter.Worker
	err := p.store.EachWorker(ctx, workspaceSID, func(w didrouter.Worker) error {
		if Email(w) == email {
			found = append(found, w)
		}
		return nil
	})
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("find worker by email: %w", err)
	}
	switch len(found) {
	case 0:
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ENOTFOUND, "no worker has the email %s", email)
	case 1:
		return found[0], nil
	}
	sids := make([]string, 0, len(found))
	for _, w := range found {
		sids = append(sids, w.SID)
	}
	return didrouter.Worker{}, didrouter.Errorf(didrouter.ECONFLICT, "%d workers have the email %s (%s): give all but one another email first",
		len(found), email, strings.Join(sids, ", "))
}

// Workers lists the workspace's workers that match keep (nil = all), in
// the store's order.
func (p *Provisioner) Workers(ctx context.Context, workspaceSID string, keep func(didrouter.Worker) bool) ([]didrouter.Worker, error) {
	var out []didrouter.Worker
	err := p.store.EachWorker(ctx, workspaceSID, func(w didrouter.Worker) error {
		if keep == nil || keep(w) {
			out = append(out, w)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	return out, nil
}

// Get reads one worker.
func (p *Provisioner) Get(ctx context.Context, workspaceSID, sid string) (didrouter.Worker, error) {
	w, err := p.store.GetWorker(ctx, workspaceSID, sid)
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("read worker: %w", err)
	}
	return w, nil
}

// Create makes a new worker for the person; an email another worker has is
// ECONFLICT. A number someone else owns or that cannot be read fails it
// with nothing written.
func (p *Provisioner) Create(ctx context.Context, workspaceSID string, in Person) (didrouter.Worker, error) {
	email := NormalizeEmail(in.Email)
	if email == "" {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.EINVALID, "an email is required")
	}
	p.creating.Lock()
	defer p.creating.Unlock()
	if w, err := p.FindByEmail(ctx, workspaceSID, email); err == nil {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ECONFLICT, "worker %s (%s) already has the email %s", w.SID, w.FriendlyName, email)
	} else if didrouter.ErrorCode(err) != didrouter.ENOTFOUND {
		return didrouter.Worker{}, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = email
	}
	a := map[string]any{}
	if _, err := apply(a, in); err != nil {
		return didrouter.Worker{}, err
	}
	a[AttrEmail] = email
	raw, err := json.Marshal(a)
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("encode attributes: %w", err)
	}
	n := engine.WorkerInsert{FriendlyName: name, Attributes: string(raw)}
	inactive := in.Active != nil && !*in.Active
	if inactive {
		off, err := p.offline(ctx, workspaceSID)
		if err != nil {
			return didrouter.Worker{}, err
		}
		n.ActivitySID = off
	}
	w, err := p.eng.CreateWorker(ctx, workspaceSID, n)
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("provision %s: %w", email, err)
	}
	if inactive {
		// Created Offline, so nothing routes to it before this write.
		zero := 0
		if w, err = p.eng.UpdateWorker(ctx, workspaceSID, w.SID, engine.WorkerUpdate{Capacity: &zero, MessageCapacity: &zero}); err != nil {
			return w, fmt.Errorf("provision %s: deactivate: %w", email, err)
		}
	}
	return w, nil
}

// Ensure returns the person's worker, created when there is none, with the
// person's details applied. It is what a sign-in does.
func (p *Provisioner) Ensure(ctx context.Context, workspaceSID string, in Person) (w didrouter.Worker, created bool, err error) {
	w, err = p.FindByEmail(ctx, workspaceSID, in.Email)
	switch {
	case didrouter.ErrorCode(err) == didrouter.ENOTFOUND:
		w, err = p.Create(ctx, workspaceSID, in)
		if err == nil {
			return w, true, nil
		}
		if didrouter.ErrorCode(err) != didrouter.ECONFLICT {
			return w, false, err
		}
		// Made meanwhile by a concurrent sign-in: update that one instead.
		if w, ferr := p.FindByEmail(ctx, workspaceSID, in.Email); ferr == nil {
			w, err = p.Apply(ctx, workspaceSID, w.SID, in)
			return w, false, err
		}
		return didrouter.Worker{}, false, err
	case err != nil:
		return didrouter.Worker{}, false, err
	}
	w, err = p.Apply(ctx, workspaceSID, w.SID, in)
	return w, false, err
}

// Apply changes the worker to match the person, in one engine write (none
// when nothing changes, so the same request twice writes once). Email, when
// set, replaces the worker's email; a worker named after its old email is
// renamed too, unless Name names it.
func (p *Provisioner) Apply(ctx context.Context, workspaceSID, sid string, in Person) (didrouter.Worker, error) {
	w, err := p.store.GetWorker(ctx, workspaceSID, sid)
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("read worker: %w", err)
	}
	var u engine.WorkerUpdate
	a := attrs(w)
	changed, err := apply(a, in)
	if err != nil {
		return didrouter.Worker{}, err
	}
	if email := NormalizeEmail(in.Email); email != "" && email != Email(w) {
		if other, err := p.FindByEmail(ctx, workspaceSID, email); err == nil && other.SID != sid {
			return didrouter.Worker{}, didrouter.Errorf(didrouter.ECONFLICT, "worker %s (%s) already has the email %s", other.SID, other.FriendlyName, email)
		}
		if strings.Contains(w.FriendlyName, "@") && NormalizeEmail(w.FriendlyName) == Email(w) {
			u.FriendlyName = &email
		}
		a[AttrEmail] = email
		changed = true
	} else if email != "" && String(w, AttrEmail) == "" {
		a[AttrEmail] = email // a worker matched by its name gets the attribute
		changed = true
	}
	if name := strings.TrimSpace(in.Name); name != "" && name != w.FriendlyName {
		u.FriendlyName = &name
	}
	if changed {
		raw, err := json.Marshal(a)
		if err != nil {
			return didrouter.Worker{}, fmt.Errorf("encode attributes: %w", err)
		}
		s := string(raw)
		u.Attributes = &s
	}
	if in.Active != nil && *in.Active != Active(w) {
		// Both channels: a deactivated worker gets neither calls nor
		// messages, whatever activity someone gives them.
		if *in.Active {
			one, msgs := 1, engine.DefaultMessageCapacity
			u.Capacity, u.MessageCapacity = &one, &msgs
		} else {
			zero := 0
			off, err := p.offline(ctx, workspaceSID)
			if err != nil {
				return didrouter.Worker{}, err
			}
			u.Capacity, u.MessageCapacity, u.ActivitySID = &zero, &zero, &off
		}
	}
	out := w
	if u.Attributes != nil || u.Capacity != nil || u.MessageCapacity != nil || u.ActivitySID != nil || u.FriendlyName != nil {
		if out, err = p.eng.UpdateWorker(ctx, workspaceSID, sid, u); err != nil {
			return out, fmt.Errorf("provision worker %s: %w", sid, err)
		}
	}
	if in.Active != nil && !*in.Active && p.revoker != nil {
		// Deactivated: signed out of every desktop, links refused. Done at
		// every deactivation, so a retried request finishes a failed one.
		if _, _, err := p.revoker.Revoke(ctx, workspaceSID, sid); err != nil {
			return out, fmt.Errorf("provision worker %s: end its sessions: %w", sid, err)
		}
	}
	return out, nil
}

// apply sets the person's fields in a worker's attributes and reports
// whether anything changed.
func apply(a map[string]any, in Person) (bool, error) {
	changed := false
	set := func(name string, v *string) {
		if v == nil {
			return
		}
		s := strings.TrimSpace(*v)
		old, had := a[name].(string)
		switch {
		case s == "" && had:
			delete(a, name)
			changed = true
		case s != "" && old != s:
			a[name] = s
			changed = true
		}
	}
	if in.Phone != nil {
		// The engine normalizes the number and checks its owner; a number
		// that differs only in format rewrites to the same E.164 and so
		// is compared after that write, not here.
		set(AttrPhone, in.Phone)
	}
	set(AttrDisplayName, in.DisplayName)
	set(AttrExternalID, in.ExternalID)
	if in.Groups != nil {
		g := cleanGroups(*in.Groups)
		if !slices.Equal(g, stringList(a[AttrGroups])) || (len(g) == 0 && a[AttrGroups] != nil) {
			if len(g) == 0 {
				delete(a, AttrGroups)
			} else {
				a[AttrGroups] = g
			}
			changed = true
		}
	}
	if in.deleteAfterCall && a[AttrDeleteAfterCall] != true {
		a[AttrDeleteAfterCall] = true
		changed = true
	}
	if in.Active != nil {
		_, had := a[AttrActive]
		switch {
		case *in.Active && had:
			delete(a, AttrActive)
			changed = true
		case !*in.Active && !had:
			a[AttrActive] = false
			changed = true
		}
	}
	return changed, nil
}

// offline is the sid of the workspace's unavailable Offline activity.
func (p *Provisioner) offline(ctx context.Context, workspaceSID string) (string, error) {
	acts, err := p.store.ListActivities(ctx, workspaceSID)
	if err != nil {
		return "", fmt.Errorf("list activities: %w", err)
	}
	for _, a := range acts {
		if a.FriendlyName == engine.OfflineActivityName && !a.Available {
			return a.SID, nil
		}
	}
	for _, a := range acts {
		if !a.Available {
			return a.SID, nil
		}
	}
	return "", didrouter.Errorf(didrouter.EUNAVAILABLE, "workspace %s has no unavailable activity (such as %s) to deactivate a worker into",
		workspaceSID, engine.OfflineActivityName)
}

// Delete removes the worker after giving up its pending reservations. A
// worker on a call is deactivated at once, so it is rung no more, and
// marked. Run removes it when the call ends, and deferred is then true.
func (p *Provisioner) Delete(ctx context.Context, workspaceSID, sid string) (deferred bool, err error) {
	err = p.eng.DeleteWorker(ctx, workspaceSID, sid)
	if didrouter.ErrorCode(err) != didrouter.EUNAVAILABLE {
		return false, err
	}
	f := false
	w, err := p.Apply(ctx, workspaceSID, sid, Person{Active: &f, deleteAfterCall: true})
	if err != nil {
		return false, fmt.Errorf("mark worker %s for deletion after its call: %w", sid, err)
	}
	p.mark(w)
	// The call may have ended before the mark was written, with no change
	// to come that would trigger Run.
	if err := p.finishDeletion(ctx, w); err != nil {
		return true, err
	}
	return true, nil
}

// DeletePending reports whether the worker waits for its call to end to be
// removed (SCIM no longer shows it).
func DeletePending(w didrouter.Worker) bool { return attrs(w)[AttrDeleteAfterCall] == true }

func (p *Provisioner) mark(w didrouter.Worker) {
	p.markedMu.Lock()
	defer p.markedMu.Unlock()
	p.marked[w.SID] = w.WorkspaceSID
}

func (p *Provisioner) unmark(sid string) {
	p.markedMu.Lock()
	defer p.markedMu.Unlock()
	delete(p.marked, sid)
}

func (p *Provisioner) isMarked(sid string) bool {
	p.markedMu.Lock()
	defer p.markedMu.Unlock()
	_, ok := p.marked[sid]
	return ok
}

// finishDeletion removes a marked worker that is no longer on a call.
func (p *Provisioner) finishDeletion(ctx context.Context, w didrouter.Worker) error {
	if !DeletePending(w) {
		p.unmark(w.SID)
		return nil
	}
	if engine.HoldsWork(w) {
		return nil
	}
	err := p.eng.DeleteWorker(ctx, w.WorkspaceSID, w.SID)
	switch didrouter.ErrorCode(err) {
	case "", didrouter.ENOTFOUND:
		p.unmark(w.SID)
		return nil
	case didrouter.EUNAVAILABLE: // on a new call: the next change retries
		return nil
	}
	return fmt.Errorf("delete worker %s after its call: %w", w.SID, err)
}

// Run removes workers marked for deletion once their call has ended: it
// checks the marked workers the change feed reports changed, and looks
// for marked workers at start, after a resync and every SweepEvery. It
// returns when ctx ends. Every instance may run it; a worker removed twice
// is removed once.
func (p *Provisioner) Run(ctx context.Context, log *slog.Logger) error {
	changes, err := p.store.Subscribe(ctx)
	if err != nil {
		return fmt.Errorf("provision: subscribe to changes: %w", err)
	}
	p.sweep(ctx, log)
	next := p.clock.After(SweepEvery)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-next:
			p.sweep(ctx, log)
			next = p.clock.After(SweepEvery)
		case c, ok := <-changes:
			if !ok {
				return ctx.Err()
			}
			switch c.Kind {
			case didrouter.ChangeResync:
				p.sweep(ctx, log)
			case didrouter.ChangeWorker, didrouter.ChangeReservation:
				if !p.isMarked(c.SID) {
					continue
				}
				w, err := p.store.GetWorker(ctx, c.WorkspaceSID, c.SID)
				if err != nil {
					continue // deleted, or a read that the next change retries
				}
				if err := p.finishDeletion(ctx, w); err != nil {
					log.WarnContext(ctx, "removing a worker after its call failed", "worker", w.SID, "err", err)
				}
			}
		}
	}
}

func (p *Provisioner) sweep(ctx context.Context, log *slog.Logger) {
	wss, err := p.store.ListWorkspaces(ctx)
	if err != nil {
		log.WarnContext(ctx, "listing workspaces failed", "err", err)
		return
	}
	for _, ws := range wss {
		marked, err := p.Workers(ctx, ws.SID, DeletePending)
		if err != nil {
			log.WarnContext(ctx, "listing workers marked for deletion failed", "err", err)
			continue
		}
		for _, w := range marked {
			p.mark(w)
			if err := p.finishDeletion(ctx, w); err != nil {
				log.WarnContext(ctx, "removing a worker after its call failed", "worker", w.SID, "err", err)
			}
		}
	}
}

// SetGroupMembers makes exactly the given workers members of group (others
// leave it), one engine write per worker that changes.
func (p *Provisioner) SetGroupMembers(ctx context.Context, workspaceSID, group string, members []string) error {
	want := map[string]bool{}
	for _, sid := range members {
		want[sid] = true
	}
	for sid := range want {
		if _, err := p.store.GetWorker(ctx, workspaceSID, sid); err != nil {
			return fmt.Errorf("group %s: member %s: %w", group, sid, err)
		}
	}
	all, err := p.Workers(ctx, workspaceSID, nil)
	if err != nil {
		return err
	}
	for _, w := range all {
		has := slices.Contains(Groups(w), group)
		if has == want[w.SID] {
			continue
		}
		if err := p.memberOf(ctx, workspaceSID, w.SID, group, want[w.SID]); err != nil {
			return err
		}
	}
	return nil
}

// AddToGroup and RemoveFromGroup change one worker's membership; doing it
// twice changes nothing the second time.
func (p *Provisioner) AddToGroup(ctx context.Context, workspaceSID, sid, group string) error {
	return p.memberOf(ctx, workspaceSID, sid, group, true)
}

// RemoveFromGroup takes the worker out of group.
func (p *Provisioner) RemoveFromGroup(ctx context.Context, workspaceSID, sid, group string) error {
	return p.memberOf(ctx, workspaceSID, sid, group, false)
}

func (p *Provisioner) memberOf(ctx context.Context, workspaceSID, sid, group string, in bool) error {
	w, err := p.store.GetWorker(ctx, workspaceSID, sid)
	if err != nil {
		return fmt.Errorf("group %s: member %s: %w", group, sid, err)
	}
	g := Groups(w)
	if slices.Contains(g, group) == in {
		return nil
	}
	if in {
		g = append(g, group)
	} else {
		g = slices.DeleteFunc(g, func(s string) bool { return s == group })
	}
	_, err = p.Apply(ctx, workspaceSID, sid, Person{Groups: &g})
	return err
}

// Members lists the workers in group.
func (p *Provisioner) Members(ctx context.Context, workspaceSID, group string) ([]didrouter.Worker, error) {
	return p.Workers(ctx, workspaceSID, func(w didrouter.Worker) bool { return slices.Contains(Groups(w), group) })
}

// GroupNames lists every group some worker is in, sorted.
func (p *Provisioner) GroupNames(ctx context.Context, workspaceSID string) ([]string, error) {
	var all []string
	err := p.store.EachWorker(ctx, workspaceSID, func(w didrouter.Worker) error {
		all = append(all, Groups(w)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return cleanGroups(all), nil
}
