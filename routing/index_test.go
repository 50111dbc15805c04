package routing

import (
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func didTarget(t testing.TB) *Target {
	t.Helper()
	w, err := ParseWorkflow([]byte(didConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &w.Filters[0].Targets[0]
}

func sids(ws []WorkerInfo) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.SID)
	}
	return out
}

func TestIndexDID(t *testing.T) {
	ix := NewIndex()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ix.UpsertWorker(WorkerInfo{SID: "WKalice", FriendlyName: "Alice", Attributes: Attributes{"phone_number": "+15127640580"}, Available: true, Capacity: 1, IdleSince: base.Add(time.Minute), Version: 1})
	ix.UpsertWorker(WorkerInfo{SID: "WKbob", FriendlyName: "Bob", Attributes: Attributes{"phone_number": "+15127640581"}, Available: true, Capacity: 1, IdleSince: base, Version: 1})
	ix.UpsertWorker(WorkerInfo{SID: "WKcarol", Attributes: Attributes{"phone_number": ""}, Available: true, Capacity: 1, Version: 1})
	ix.UpsertWorker(WorkerInfo{SID: "WKdan", Attributes: Attributes{}, Available: true, Capacity: 1, Version: 1})
	ix.SetQueue("Q", MustCompile("1==1", ScopeWorker))
	tg := didTarget(t)
	call := Attributes{"phone_number": "+15127640580"}

	if got := sids(ix.Eligible(tg, call, nil, 0)); !reflect.DeepEqual(got, []string{"WKalice"}) {
		t.Errorf("Eligible = %v", got)
	}
	// Busy owner: no one eligible, but still a match.
	ix.SetBusy("WKalice", 1, base)
	if got := ix.Eligible(tg, call, nil, 0); len(got) != 0 {
		t.Errorf("busy owner eligible: %v", sids(got))
	}
	if got := sids(ix.Matches(tg, call)); !reflect.DeepEqual(got, []string{"WKalice"}) {
		t.Errorf("Matches = %v", got)
	}
	ix.SetBusy("WKalice", 0, base.Add(time.Hour))
	// Skipped (rejected) owner.
	if got := ix.Eligible(tg, call, func(s string) bool { return s == "WKalice" }, 0); len(got) != 0 {
		t.Errorf("skipped owner eligible: %v", sids(got))
	}
	// Second target: everyone free, longest idle first (zero IdleSince first).
	all := &Target{Queue: "Q"}
	if got := sids(ix.Eligible(all, call, nil, 0)); !reflect.DeepEqual(got, []string{"WKcarol", "WKdan", "WKbob", "WKalice"}) {
		t.Errorf("everyone = %v", got)
	}
	if got := sids(ix.Eligible(all, call, nil, 2)); !reflect.DeepEqual(got, []string{"WKcarol", "WKdan"}) {
		t.Errorf("max 2 = %v", got)
	}
	// Number change re-indexes; a stale version is ignored.
	ix.UpsertWorker(WorkerInfo{SID: "WKalice", Attributes: Attributes{"phone_number": "+15550001111"}, Available: true, Capacity: 1, Version: 3})
	ix.UpsertWorker(WorkerInfo{SID: "WKalice", Attributes: Attributes{"phone_number": "+15127640580"}, Available: true, Capacity: 1, Version: 2})
	if got := ix.Eligible(tg, call, nil, 0); len(got) != 0 {
		t.Errorf("old number still routes: %v", sids(got))
	}
	if w, _ := ix.Worker("WKalice"); w.Version != 3 {
		t.Errorf("version %d", w.Version)
	}
	if got := sids(ix.Eligible(tg, Attributes{"phone_number": "+15550001111"}, nil, 0)); !reflect.DeepEqual(got, []string{"WKalice"}) {
		t.Errorf("new number: %v", got)
	}
	// A number written without +1 is still found (the reason for CONTAINS).
	ix.UpsertWorker(WorkerInfo{SID: "WKeve", Attributes: Attributes{"phone_number": "5127640599"}, Available: true, Capacity: 1, Version: 1})
	if got := sids(ix.Eligible(tg, Attributes{"phone_number": "+15127640599"}, nil, 0)); !reflect.DeepEqual(got, []string{"WKeve"}) {
		t.Errorf("national-format number: %v", got)
	}
	ix.RemoveWorker("WKeve")
	if got := ix.Eligible(tg, Attributes{"phone_number": "+15127640599"}, nil, 0); len(got) != 0 || ix.Len() != 4 {
		t.Errorf("removed worker: %v, len %d", sids(got), ix.Len())
	}
	// Unknown queue: nobody.
	if got := ix.Eligible(&Target{Queue: "nope"}, call, nil, 0); len(got) != 0 {
		t.Errorf("unknown queue: %v", sids(got))
	}
	st, ok := ix.QueueStats("Q")
	if !ok || st.Available != 4 || st.Unavailable != 0 {
		t.Errorf("stats %+v", st)
	}
	ix.RemoveQueue("Q")
	if ix.HasQueue("Q") || ix.Members("Q") != nil {
		t.Error("queue not removed")
	}
}

func TestIndexKnownWorkerAndOrder(t *testing.T) {
	ix := NewIndex()
	for i, lv := range []any{3.0, 7.0, nil, 7.0, "9"} {
		ix.UpsertWorker(WorkerInfo{SID: fmt.Sprintf("WK%d", i), FriendlyName: fmt.Sprintf("w%d", i%3),
			Attributes: Attributes{"level": lv}, Available: true, Capacity: 2, Busy: 1, ActivityName: "Ready", ActivitySID: "WA1"})
	}
	ix.SetQueue("Q", MustCompile("1==1", ScopeWorker))
	ord := &Target{Queue: "Q", OrderBy: []OrderKey{{Path: "worker.level", Desc: true}}}
	if got := sids(ix.Eligible(ord, nil, nil, 0)); !reflect.DeepEqual(got, []string{"WK1", "WK3", "WK0", "WK2", "WK4"}) {
		t.Errorf("order_by DESC = %v", got)
	}
	ord.OrderBy[0].Desc = false
	if got := sids(ix.Eligible(ord, nil, nil, 0)); !reflect.DeepEqual(got, []string{"WK0", "WK1", "WK3", "WK2", "WK4"}) {
		t.Errorf("order_by ASC = %v", got)
	}
	kw := &Target{Queue: "Q", KnownWorkerSID: "task.agent"}
	if got := sids(ix.Eligible(kw, Attributes{"agent": "WK3"}, nil, 0)); !reflect.DeepEqual(got, []string{"WK3"}) {
		t.Errorf("known sid = %v", got)
	}
	if got := ix.Eligible(kw, Attributes{}, nil, 0); len(got) != 0 {
		t.Errorf("known sid missing = %v", sids(got))
	}
	kn := &Target{Queue: "Q", KnownWorkerFriendlyName: "task.agent", Expr: MustCompile("worker.level == 7", ScopeTarget)}
	if got := sids(ix.Eligible(kn, Attributes{"agent": "w1"}, nil, 0)); !reflect.DeepEqual(got, []string{"WK1"}) {
		t.Errorf("known name + expr = %v", got)
	}
	st, _ := ix.QueueStats("Q")
	if st.ByActivity["Ready"] != 5 || st.ByActivity["WA1"] != 5 {
		t.Errorf("by activity %+v", st)
	}
	sk := &Target{SkipIf: MustCompile("workers.WA1 == 5 AND workers.available > 4", ScopeSkip)}
	if !sk.ShouldSkip(nil, st) {
		t.Error("skip_if with activity counts")
	}
}

// ---- exactness: the index against evaluating every worker ----

var (
	propStrings = []any{"", "+15127640580", "5127640580", "+1512", "0580", "512", "a", "A", "ab", "+15127640581", "WK1", "x y"}
	propNums    = []any{0.0, 1.0, 5127640580.0, 15127640580.0, 1.5, -1.0}
)

func randScalar(r *rand.Rand) any {
	switch r.Intn(10) {
	case 0, 1, 2, 3, 4:
		return propStrings[r.Intn(len(propStrings))]
	case 5, 6:
		return propNums[r.Intn(len(propNums))]
	case 7:
		return r.Intn(2) == 0
	default:
		return nil
	}
}

func randValue(r *rand.Rand, depth int) any {
	switch r.Intn(8) {
	case 0:
		if depth > 0 {
			n := r.Intn(4)
			arr := make([]any, n)
			for i := range arr {
				arr[i] = randValue(r, depth-1)
			}
			return arr
		}
	case 1:
		if depth > 0 {
			return map[string]any{"x": randValue(r, depth-1)}
		}
	}
	return randScalar(r)
}

var propKeys = []string{"phone_number", "id", "langs", "level", "sid"}

func randAttrs(r *rand.Rand) Attributes {
	a := Attributes{}
	for _, k := range propKeys {
		if r.Intn(4) != 0 {
			a[k] = randValue(r, 2)
		}
	}
	return a
}

func randLiteral(r *rand.Rand) string {
	v := randScalar(r)
	switch x := v.(type) {
	case string:
		return "'" + x + "'"
	case float64:
		return fmt.Sprint(x)
	case bool:
		return fmt.Sprint(x)
	}
	return "'WK1'"
}

func randOperand(r *rand.Rand, side string) string {
	switch r.Intn(7) {
	case 0:
		return randLiteral(r)
	case 1:
		return "['+15127640580', 'a', 1, 'WK2']"
	case 2:
		return side + "." + propKeys[r.Intn(len(propKeys))] + "[0]"
	case 3:
		return side + "." + propKeys[r.Intn(len(propKeys))] + ".x"
	}
	return side + "." + propKeys[r.Intn(len(propKeys))]
}

var propOps = []string{"==", "!=", "<", ">=", "CONTAINS", "HAS", "IN", "NOT IN"}

func randCmp(r *rand.Rand) string {
	l, rt := "task", "worker"
	if r.Intn(2) == 0 {
		l, rt = rt, l
	}
	if r.Intn(8) == 0 {
		rt = l
	}
	return randOperand(r, l) + " " + propOps[r.Intn(len(propOps))] + " " + randOperand(r, rt)
}

func randExpr(r *rand.Rand, depth int) string {
	if depth == 0 || r.Intn(3) == 0 {
		return randCmp(r)
	}
	op := " AND "
	if r.Intn(3) == 0 {
		op = " OR "
	}
	return "(" + randExpr(r, depth-1) + op + randExpr(r, depth-1) + ")"
}

// bruteForce answers Eligible/Matches by evaluating every worker.
func bruteForce(workers map[string]WorkerInfo, queue *Expr, t *Target, task Attributes, needFree bool, skip func(string) bool, max int) []string {
	known, bySID, hasKnown := t.KnownWorker(task)
	var hits []WorkerInfo
	for _, w := range workers {
		w := w
		if queue == nil || !queue.EvalWorker(nil, &w) {
			continue
		}
		if hasKnown && (bySID && w.SID != known || !bySID && w.FriendlyName != known) {
			continue
		}
		if !t.Expr.EvalWorker(task, &w) {
			continue
		}
		if needFree && !(w.Available && w.Busy < w.Capacity) {
			continue
		}
		if skip != nil && skip(w.SID) {
			continue
		}
		hits = append(hits, w)
	}
	num := func(w WorkerInfo, path string) (float64, bool) {
		p, _ := orderPath(path)
		return asNum(resolve(w.Attributes, p))
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		for _, k := range t.OrderBy {
			x, okx := num(a, k.Path)
			y, oky := num(b, k.Path)
			if okx != oky {
				return okx
			}
			if okx && x != y {
				return (x < y) != k.Desc
			}
		}
		if !a.IdleSince.Equal(b.IdleSince) {
			return a.IdleSince.Before(b.IdleSince)
		}
		return a.SID < b.SID
	})
	if max > 0 && len(hits) > max {
		hits = hits[:max]
	}
	return sids(hits)
}

// runProperty drives a random index through upserts, removals and queries,
// checking every answer against bruteForce. It returns how many queries
// were checked.
func runProperty(t testing.TB, r *rand.Rand, steps int) int {
	ix := NewIndex()
	ref := map[string]WorkerInfo{}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	queues := map[string]*Expr{
		"Qall":   MustCompile("1==1", ScopeWorker),
		"Qlevel": MustCompile("level >= 1 OR langs HAS 'a'", ScopeWorker),
	}
	for q, e := range queues {
		ix.SetQueue(q, e)
	}
	version := int64(0)
	nworkers := 3 + r.Intn(30)
	checked := 0
	for step := 0; step < steps; step++ {
		sid := fmt.Sprintf("WK%d", r.Intn(nworkers))
		switch op := r.Intn(10); {
		case op < 4:
			version++
			w := WorkerInfo{SID: sid, FriendlyName: fmt.Sprintf("n%d", r.Intn(4)), Attributes: randAttrs(r),
				Available: r.Intn(3) != 0, Capacity: r.Intn(3), Busy: r.Intn(2),
				IdleSince: base.Add(time.Duration(r.Intn(5)) * time.Minute), Version: version}
			if r.Intn(3) == 0 {
				w.ActivityName = "Ready"
			}
			ix.UpsertWorker(w)
			ref[sid] = w
		case op == 4:
			ix.RemoveWorker(sid)
			delete(ref, sid)
		case op == 5:
			if w, ok := ref[sid]; ok {
				w.Busy = r.Intn(3)
				w.IdleSince = base.Add(time.Duration(r.Intn(5)) * time.Minute)
				ref[sid] = w
				ix.SetBusy(sid, w.Busy, w.IdleSince)
			}
		default:
			src := randExpr(r, 2)
			e, err := Compile(src, ScopeTarget)
			if err != nil {
				continue
			}
			q := "Qall"
			if r.Intn(3) == 0 {
				q = "Qlevel"
			}
			tg := &Target{Queue: q, Expr: e}
			switch r.Intn(6) {
			case 0:
				tg.KnownWorkerSID = "task.sid"
			case 1:
				tg.KnownWorkerFriendlyName = "task.id"
			case 2:
				tg.OrderBy = []OrderKey{{Path: "worker.level", Desc: r.Intn(2) == 0}}
			}
			task := randAttrs(r)
			if r.Intn(3) == 0 {
				task["sid"] = sid
				task["id"] = fmt.Sprintf("n%d", r.Intn(4))
			}
			var skip func(string) bool
			if r.Intn(3) == 0 {
				banned := fmt.Sprintf("WK%d", r.Intn(nworkers))
				skip = func(s string) bool { return s == banned }
			}
			max := r.Intn(4)
			got := sids(ix.Eligible(tg, task, skip, max))
			want := bruteForce(ref, queues[q], tg, task, true, skip, max)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Eligible(%q, task %v) = %v, want %v", src, task, got, want)
			}
			got = sids(ix.Matches(tg, task))
			want = bruteForce(ref, queues[q], tg, task, false, nil, 0)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Matches(%q, task %v) = %v, want %v", src, task, got, want)
			}
			checked++
		}
	}
	// Queue membership and stats agree with the reference.
	for q, e := range queues {
		var want []string
		avail := 0
		for _, w := range ref {
			w := w
			if e.EvalWorker(nil, &w) {
				want = append(want, w.SID)
				if w.Available {
					avail++
				}
			}
		}
		sort.Strings(want)
		got := sids(ix.Members(q))
		if len(want) == 0 {
			want = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Members(%s) = %v, want %v", q, got, want)
		}
		if st, _ := ix.QueueStats(q); st.Available != avail || st.Available+st.Unavailable != len(want) {
			t.Fatalf("QueueStats(%s) = %+v, want %d available of %d", q, st, avail, len(want))
		}
	}
	return checked
}

func TestIndexMatchesBruteForce(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	total := 0
	for seed := 0; seed < seeds; seed++ {
		total += runProperty(t, rand.New(rand.NewSource(int64(seed))), 400)
	}
	if total < seeds*50 {
		t.Fatalf("only %d queries checked", total)
	}
}

func TestIndexCandidatesAreNarrow(t *testing.T) {
	// The DID lookup must not scan: check the planner's candidate count.
	ix := NewIndex()
	for i := 0; i < 1000; i++ {
		ix.UpsertWorker(WorkerInfo{SID: fmt.Sprintf("WK%04d", i), Attributes: Attributes{"phone_number": fmt.Sprintf("+1512764%04d", i)}, Available: true, Capacity: 1})
	}
	ix.SetQueue("Q", MustCompile("1==1", ScopeWorker))
	tg := didTarget(t)
	task := Attributes{"phone_number": "+15127640042"}
	ix.ensurePaths(tg.Expr)
	for _, src := range []string{
		"task.phone_number CONTAINS worker.phone_number",
		"worker.phone_number == task.phone_number",
		"task.phone_number == worker.phone_number AND worker.x != 1",
		"worker.phone_number IN task.list OR worker.phone_number == task.phone_number",
	} {
		e := MustCompile(src, ScopeTarget)
		ix.ensurePaths(e)
		c := ix.plan(e, Attributes{"phone_number": "+15127640042", "list": []any{"+15127640001"}})
		if c.all || c.n > 2 {
			t.Errorf("%q: candidates all=%v n=%d", src, c.all, c.n)
		}
	}
	if got := sids(ix.Eligible(tg, task, nil, 0)); !reflect.DeepEqual(got, []string{"WK0042"}) {
		t.Errorf("Eligible = %v", got)
	}
	if strings.Contains(fmt.Sprint(ix.plan(MustCompile("worker.a != task.b", ScopeTarget), task).all), "false") {
		t.Error("!= cannot be narrowed")
	}
}

// TestLoadDefersFreeSets: changes made between BeginLoad and EndLoad leave
// the index answering exactly as one that kept its free sets all along.
func TestLoadDefersFreeSets(t *testing.T) {
	for seed := range 50 {
		r := rand.New(rand.NewSource(int64(seed)))
		plain, loaded := NewIndex(), NewIndex()
		everyone := MustCompile("1==1", ScopeWorker)
		plain.SetQueue("Q", everyone)
		loaded.SetQueue("Q", everyone)
		loaded.BeginLoad()
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		var p AttributeParser
		for step := 0; step < 300; step++ {
			sid := fmt.Sprintf("WK%d", r.Intn(40))
			both := func(fn func(ix *Index)) { fn(plain); fn(loaded) }
			switch op := r.Intn(8); {
			case op < 4:
				w := WorkerInfo{SID: sid, FriendlyName: sid, Available: r.Intn(3) != 0, Capacity: 1 + r.Intn(2),
					Busy: r.Intn(2), IdleSince: base.Add(time.Duration(r.Intn(4)) * time.Minute), Version: int64(step)}
				pw, err := p.Prepare(w, []byte(fmt.Sprintf(`{"level":%d}`, r.Intn(3))))
				if err != nil {
					t.Fatal(err)
				}
				plain.UpsertPrepared([]PreparedWorker{pw})
				loaded.UpsertPrepared([]PreparedWorker{pw})
			case op == 4:
				both(func(ix *Index) { ix.RemoveWorker(sid) })
			case op == 5:
				busy, idle := r.Intn(3), base.Add(time.Duration(r.Intn(4))*time.Minute)
				both(func(ix *Index) { ix.SetBusy(sid, busy, idle) })
			case op == 6 && step == 150:
				both(func(ix *Index) { ix.SetQueue("Q2", MustCompile("level >= 1", ScopeWorker)) })
			}
		}
		loaded.EndLoad()
		for _, q := range []string{"Q", "Q2"} {
			for _, max := range []int{0, 1, 3} {
				tg := &Target{Queue: q, Expr: MustCompile("1==1", ScopeTarget)}
				got, want := sids(loaded.Eligible(tg, nil, nil, max)), sids(plain.Eligible(tg, nil, nil, max))
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d, queue %s, max %d: loaded %v, plain %v", seed, q, max, got, want)
				}
			}
		}
	}
}

// TestAttributeMapsKept: a worker routed keeps the map of its attributes
// for the next time; listing a large queue does not leave one per worker.
func TestAttributeMapsKept(t *testing.T) {
	ix := NewIndex()
	ix.SetQueue("Q", MustCompile("1==1", ScopeWorker))
	for i := range 200 {
		ix.UpsertWorker(WorkerInfo{SID: fmt.Sprintf("WK%03d", i), Available: true, Capacity: 1,
			Attributes: Attributes{"phone_number": fmt.Sprintf("+1512555%04d", i)}})
	}
	kept := func() int {
		n := 0
		for _, r := range ix.slots {
			if r.asMap.Load() != nil {
				n++
			}
		}
		return n
	}
	if got := len(ix.Members("Q")); got != 200 || kept() != 0 {
		t.Fatalf("Members: %d workers, %d maps kept", got, kept())
	}
	tg := didTarget(t)
	got := ix.Eligible(tg, Attributes{"phone_number": "+15125550042"}, nil, 1)
	if len(got) != 1 || got[0].Attributes["phone_number"] != "+15125550042" || kept() != 1 {
		t.Fatalf("Eligible = %v, %d maps kept", got, kept())
	}
	again := ix.Eligible(tg, Attributes{"phone_number": "+15125550042"}, nil, 1)
	if reflect.ValueOf(again[0].Attributes).Pointer() != reflect.ValueOf(got[0].Attributes).Pointer() {
		t.Fatal("the kept map was not handed out again")
	}
	// A change drops it.
	ix.UpsertWorker(WorkerInfo{SID: "WK042", Available: true, Capacity: 1, Version: 1,
		Attributes: Attributes{"phone_number": "+15125550042", "x": 1.0}})
	if kept() != 0 {
		t.Fatal("a changed worker kept its old map")
	}
	if w, _ := ix.Worker("WK042"); w.Attributes["x"] != 1.0 {
		t.Fatalf("Worker = %v", w)
	}
}

// The message channel has a capacity of its own: a worker busy on voice is
// eligible for a message and the other way round, through the queue's
// message free set (built on first use, then kept current by upserts and
// SetBusy), in the same longest-idle order as voice.
func TestIndexMessageChannel(t *testing.T) {
	for _, scan := range []bool{false, true} {
		ix := NewIndex()
		ix.scanOnly = scan
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		w := func(sid string, busy, msgs int, idle time.Duration, version int64) WorkerInfo {
			return WorkerInfo{SID: sid, Attributes: Attributes{}, Available: true, Capacity: 1, Busy: busy,
				MessageCapacity: 2, MessageBusy: msgs, IdleSince: base.Add(idle), Version: version}
		}
		ix.SetQueue("Q", MustCompile("1==1", ScopeWorker))
		ix.UpsertWorker(w("WKalice", 1, 0, time.Minute, 1)) // on a call
		ix.UpsertWorker(w("WKbob", 0, 2, 0, 1))             // messages full
		ix.UpsertWorker(w("WKcarol", 0, 1, 2*time.Minute, 1))
		all := &Target{Queue: "Q"}
		if got := sids(ix.Eligible(all, nil, nil, 0)); !reflect.DeepEqual(got, []string{"WKbob", "WKcarol"}) {
			t.Errorf("scan %v: voice = %v", scan, got)
		}
		if got := sids(ix.EligibleOn(Messages, all, nil, nil, 0)); !reflect.DeepEqual(got, []string{"WKalice", "WKcarol"}) {
			t.Errorf("scan %v: messages = %v", scan, got)
		}
		// Kept current after it was built: carol's messages fill up, bob's
		// free up, alice's idle time moves.
		ix.UpsertWorker(w("WKcarol", 0, 2, 2*time.Minute, 2))
		ix.UpsertWorker(w("WKbob", 0, 1, 0, 2))
		ix.SetBusy("WKalice", 0, base.Add(-time.Minute))
		if got := sids(ix.EligibleOn(Messages, all, nil, nil, 1)); !reflect.DeepEqual(got, []string{"WKalice"}) {
			t.Errorf("scan %v: messages, max 1 = %v", scan, got)
		}
		if got := sids(ix.EligibleOn(Messages, all, nil, nil, 0)); !reflect.DeepEqual(got, []string{"WKalice", "WKbob"}) {
			t.Errorf("scan %v: messages after changes = %v", scan, got)
		}
		ix.RemoveWorker("WKalice")
		if got := sids(ix.EligibleOn(Messages, all, nil, nil, 0)); !reflect.DeepEqual(got, []string{"WKbob"}) {
			t.Errorf("scan %v: messages after a removal = %v", scan, got)
		}
		if got := sids(ix.EligibleOn(Voice, all, nil, nil, 0)); !reflect.DeepEqual(got, []string{"WKbob", "WKcarol"}) {
			t.Errorf("scan %v: voice after changes = %v", scan, got)
		}
	}
}
