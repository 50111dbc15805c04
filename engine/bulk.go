package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
)

// WorkerImport is one row of a bulk import of workers (an HR or SSO export).
type WorkerImport struct {
	Row          int    // the caller's number for this row, named in errors
	FriendlyName string // the key: an existing worker with exactly this name is updated, else one is created
	// Attributes are string attributes to set; "" removes the attribute.
	// Attributes not named are left as they are. "phone_number" is the DID:
	// normalized to E.164, unique within the workspace.
	Attributes map[string]string
}

// Import actions.
const (
	ImportCreated   = "created"
	ImportUpdated   = "updated"
	ImportUnchanged = "unchanged"
)

// ImportedWorker is the outcome of one row.
type ImportedWorker struct {
	Row    int
	Action string           // ImportCreated, ImportUpdated or ImportUnchanged
	Worker didrouter.Worker // as written (dry run: as it would be written; a new worker then has no SID)
	Before didrouter.Worker // the worker before the import (zero when created)
	Change []string         // attribute names whose value changes, sorted
}

// RowError is an import error that belongs to one row. It wraps an *Error,
// so ErrorCode and ErrorMessage see the code and the message.
type RowError struct {
	Row int
	Err error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Row, e.Err) }
func (e *RowError) Unwrap() error { return e.Err }

func rowErrorf(row int, code, format string, args ...any) error {
	return &RowError{Row: row, Err: didrouter.Errorf(code, format, args...)}
}

// MaxImportRows bounds one import (one transaction).
const MaxImportRows = 100_000

// plannedRow is a validated row and what the import does with it.
type plannedRow struct {
	in      WorkerImport
	name    string
	did     string // the row's phone_number in E.164 ("" = none or not set)
	before  *didrouter.Worker
	attrs   string // final attributes JSON
	finalPN string // final DID
	change  []string
}

// ImportWorkers creates or updates many workers in one transaction. Every
// row is checked first, and one bad row fails the whole import with a
// *RowError naming the row, so nothing is written. A row is bad when its
// number is invalid, when two rows name one worker or one number, or when
// its number belongs to a worker the import does not free. Numbers may
// move between workers of the same import, and two workers may swap them.
// Workers not named keep everything, including their numbers. With dryRun
// the outcome is computed and nothing is written.
//
// Every written worker goes through the store's worker writes, which
// announce the change to every instance's index as single updates do.
// This instance's index is updated at once, and the workers then serve
// waiting tasks.
func (e *Engine) ImportWorkers(ctx context.Context, workspaceSID string, rows []WorkerImport, dryRun bool) ([]ImportedWorker, error) {
	if len(rows) > MaxImportRows {
		return nil, didrouter.Errorf(didrouter.EINVALID, "%d rows is more than the %d one import may hold", len(rows), MaxImportRows)
	}
	planned, err := e.checkImportRows(rows)
	if err != nil {
		return nil, err
	}
	// Read outside the transaction (lock order; as CreateWorker does).
	ws, err := e.store.GetWorkspace(ctx, workspaceSID)
	if err != nil {
		return nil, fmt.Errorf("import workers: read workspace %s: %w", workspaceSID, err)
	}
	var out []ImportedWorker
	_, err = e.tx(ctx, func(tx didrouter.Tx, fx *effects) error {
		var err error
		out, err = e.importInTx(ctx, tx, fx, ws, clonePlan(planned), dryRun)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("import workers: %w", err)
	}
	written := !dryRun && slices.ContainsFunc(out, func(r ImportedWorker) bool { return r.Action != ImportUnchanged })
	if written {
		// One pass over the waiting tasks rather than one per written
		// worker: a new owner may take a call waiting for their number.
		if err := e.serveWaiting(ctx, workspaceSID); err != nil {
			return out, fmt.Errorf("import workers: serve waiting tasks: %w", err)
		}
	}
	return out, nil
}

// clonePlan copies the plan: the transaction may run more than once.
func clonePlan(p []plannedRow) []plannedRow {
	out := make([]plannedRow, len(p))
	for i, r := range p {
		r.before = nil
		r.change = nil
		out[i] = r
	}
	return out
}

// checkImportRows validates the rows on their own: names, attribute
// values, numbers, and duplicates within the import.
func (e *Engine) checkImportRows(rows []WorkerImport) ([]plannedRow, error) {
	byName := make(map[string]int, len(rows))
	byDID := make(map[string]int, len(rows))
	out := make([]plannedRow, 0, len(rows))
	for _, r := range rows {
		p := plannedRow{in: r, name: strings.TrimSpace(r.FriendlyName)}
		if p.name == "" {
			return nil, rowErrorf(r.Row, didrouter.EINVALID, "the worker's friendly name is empty")
		}
		if prev, dup := byName[p.name]; dup {
			return nil, rowErrorf(r.Row, didrouter.EINVALID, "worker %q is also on row %d: one row per worker", p.name, prev)
		}
		byName[p.name] = r.Row
		for k := range r.Attributes {
			if strings.TrimSpace(k) == "" {
				return nil, rowErrorf(r.Row, didrouter.EINVALID, "an attribute name is empty")
			}
		}
		if raw, ok := r.Attributes["phone_number"]; ok {
			if strings.TrimSpace(raw) != "" {
				num, err := e.norm.Normalize(raw)
				if err != nil {
					return nil, rowErrorf(r.Row, didrouter.EINVALID, "phone_number %q of %s is not a valid phone number", raw, p.name)
				}
				p.did = num.E164
				if prev, dup := byDID[p.did]; dup {
					return nil, rowErrorf(r.Row, didrouter.ECONFLICT, "phone_number %s of %s is also on row %d: a number has one owner", p.did, p.name, prev)
				}
				byDID[p.did] = r.Row
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// importInTx plans the import against the stored workers and, unless
// dryRun, writes it.
func (e *Engine) importInTx(ctx context.Context, tx didrouter.Tx, fx *effects, ws didrouter.Workspace, plan []plannedRow, dryRun bool) ([]ImportedWorker, error) {
	byName := map[string][]didrouter.Worker{}
	byDID := map[string]didrouter.Worker{}
	err := tx.EachWorker(ctx, ws.SID, func(w didrouter.Worker) error {
		byName[w.FriendlyName] = append(byName[w.FriendlyName], w)
		if w.PhoneNumber != "" {
			byDID[w.PhoneNumber] = w
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read workers: %w", err)
	}
	// Which stored workers the import names, and the DID each ends with.
	named := map[string]*plannedRow{} // worker sid -> its row
	for i := range plan {
		p := &plan[i]
		switch same := byName[p.name]; len(same) {
		case 0:
		case 1:
			p.before = &same[0]
			named[same[0].SID] = p
		default:
			sids := make([]string, 0, len(same))
			for _, w := range same {
				sids = append(sids, w.SID)
			}
			return nil, rowErrorf(p.in.Row, didrouter.ECONFLICT, "%d workers are named %q (%s): rename all but one first",
				len(same), p.name, strings.Join(sids, ", "))
		}
		if err := p.merge(e); err != nil {
			return nil, err
		}
	}
	for i := range plan {
		p := &plan[i]
		if p.finalPN == "" {
			continue
		}
		owner, owned := byDID[p.finalPN]
		if !owned || (p.before != nil && owner.SID == p.before.SID) {
			continue
		}
		ownerRow, inFile := named[owner.SID]
		switch {
		case !inFile:
			return nil, rowErrorf(p.in.Row, didrouter.ECONFLICT, "phone_number %s belongs to worker %s (%s), who is not in this import: "+
				"add a row for %s with another number (or none) to move it", p.finalPN, owner.SID, owner.FriendlyName, owner.FriendlyName)
		case ownerRow.finalPN == p.finalPN:
			// Only reachable without a phone_number on the owner's row
			// (duplicates within the import were refused before).
			return nil, rowErrorf(p.in.Row, didrouter.ECONFLICT, "phone_number %s belongs to %s (row %d), who keeps it", p.finalPN, owner.FriendlyName, ownerRow.in.Row)
		}
	}

	out := make([]ImportedWorker, 0, len(plan))
	now := e.clock.Now()
	// A number may move to a worker written before its old owner gives it
	// up: first clear every number that another row of the import takes.
	if !dryRun {
		taken := make(map[string]bool, len(plan))
		for i := range plan {
			if plan[i].finalPN != "" {
				taken[plan[i].finalPN] = true
			}
		}
		for i := range plan {
			p := &plan[i]
			if p.before == nil || p.before.PhoneNumber == "" || p.before.PhoneNumber == p.finalPN || !taken[p.before.PhoneNumber] {
				continue
			}
			w, err := tx.GetWorker(ctx, ws.SID, p.before.SID)
			if err != nil {
				return nil, fmt.Errorf("read worker %s: %w", p.before.SID, err)
			}
			w.PhoneNumber, w.DateUpdated = "", now
			if err := tx.UpdateWorker(ctx, w); err != nil {
				return nil, fmt.Errorf("release phone_number of worker %s: %w", w.SID, err)
			}
		}
	}
	var act *didrouter.Activity // new workers' activity, read once
	for i := range plan {
		p := &plan[i]
		res := ImportedWorker{Row: p.in.Row, Change: p.change}
		switch {
		case p.before == nil:
			res.Action = ImportCreated
			if act == nil {
				a, err := tx.GetActivity(ctx, ws.SID, ws.DefaultActivitySID)
				if err != nil {
					return nil, fmt.Errorf("read default activity %s: %w", ws.DefaultActivitySID, err)
				}
				act = &a
			}
			w, err := e.importCreate(ctx, tx, fx, *act, p, now, dryRun)
			if err != nil {
				return nil, err
			}
			res.Worker = w
		case len(p.change) == 0:
			res.Action, res.Worker, res.Before = ImportUnchanged, *p.before, *p.before
		default:
			res.Action, res.Before = ImportUpdated, *p.before
			w, err := e.importUpdate(ctx, tx, fx, ws, p, now, dryRun)
			if err != nil {
				return nil, err
			}
			res.Worker = w
		}
		out = append(out, res)
	}
	return out, nil
}

// merge computes the row's final attributes and DID and which attributes
// change, from the stored worker (if any).
func (p *plannedRow) merge(e *Engine) error {
	fields := map[string]json.RawMessage{}
	if p.before != nil && strings.TrimSpace(p.before.Attributes) != "" {
		if err := json.Unmarshal([]byte(p.before.Attributes), &fields); err != nil || fields == nil {
			// A stored row the engine wrote is always an object; be safe.
			return rowErrorf(p.in.Row, didrouter.EINVALID, "worker %s has attributes that are not a JSON object", p.before.SID)
		}
	}
	changed := []string{}
	for _, k := range slices.Sorted(maps.Keys(p.in.Attributes)) {
		v := strings.TrimSpace(p.in.Attributes[k])
		if k == "phone_number" && v != "" {
			v = p.did
		}
		old, had := fields[k]
		var oldStr string
		oldIsStr := had && json.Unmarshal(old, &oldStr) == nil
		switch {
		case v == "" && !had:
			continue
		case v == "":
			delete(fields, k)
		case oldIsStr && oldStr == v:
			continue
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("encode attribute %s: %w", k, err)
			}
			fields[k] = b
		}
		changed = append(changed, k)
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("encode attributes: %w", err)
	}
	attrs, did, err := e.normalizeAttributes(string(b))
	if err != nil {
		return &RowError{Row: p.in.Row, Err: err}
	}
	p.attrs, p.finalPN, p.change = attrs, did, changed
	if p.before != nil && len(changed) == 0 {
		p.attrs, p.finalPN = p.before.Attributes, p.before.PhoneNumber
	}
	return nil
}

func (e *Engine) importCreate(ctx context.Context, tx didrouter.Tx, fx *effects, act didrouter.Activity, p *plannedRow, now time.Time, dryRun bool) (didrouter.Worker, error) {
	w := didrouter.Worker{
		WorkspaceSID: act.WorkspaceSID, FriendlyName: p.name, Attributes: p.attrs,
		ActivitySID: act.SID, ActivityName: act.FriendlyName, Available: act.Available, Capacity: 1,
		MessageCapacity: DefaultMessageCapacity,
		PhoneNumber:     p.finalPN, DateStatusChanged: now, DateCreated: now, DateUpdated: now,
	}
	if dryRun {
		return w, nil
	}
	w.SID, w.Version = didrouter.NewSID(didrouter.PrefixWorker), 1
	if err := tx.InsertWorker(ctx, w); err != nil {
		return didrouter.Worker{}, &RowError{Row: p.in.Row, Err: didConflict(fmt.Errorf("insert worker %s: %w", p.name, err), w.PhoneNumber)}
	}
	// The row is what was written (a store read per row would double an
	// import's round trips).
	out := w
	fx.noteWorker(out)
	return out, e.event(ctx, tx, workerEvent(out, didrouter.EventWorkerCreated, fmt.Sprintf("Worker %s created (import)", out.FriendlyName)),
		map[string]any{"worker_activity_sid": act.SID, "worker_activity_name": act.FriendlyName})
}

func (e *Engine) importUpdate(ctx context.Context, tx didrouter.Tx, fx *effects, ws didrouter.Workspace, p *plannedRow, now time.Time, dryRun bool) (didrouter.Worker, error) {
	if dryRun {
		w := *p.before
		w.Attributes, w.PhoneNumber, w.DateUpdated = p.attrs, p.finalPN, now
		return w, nil
	}
	w, err := tx.GetWorker(ctx, ws.SID, p.before.SID)
	if err != nil {
		return didrouter.Worker{}, fmt.Errorf("read worker %s: %w", p.before.SID, err)
	}
	w.Attributes, w.PhoneNumber, w.DateUpdated = p.attrs, p.finalPN, now
	if err := tx.UpdateWorker(ctx, w); err != nil {
		return didrouter.Worker{}, &RowError{Row: p.in.Row, Err: didConflict(fmt.Errorf("update worker %s: %w", w.SID, err), w.PhoneNumber)}
	}
	// The locked row as written: UpdateWorker bumps the version by one
	// and writes nothing else.
	out := w
	out.Version++
	fx.noteWorker(out)
	return out, e.event(ctx, tx, workerEvent(out, didrouter.EventWorkerAttributesUpdate,
		fmt.Sprintf("Worker %s attributes updated (import)", out.FriendlyName)), map[string]any{"changed": p.change})
}
