package routing

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func didIndex(t *testing.T) *Index {
	t.Helper()
	ix := NewIndex()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ix.UpsertWorker(WorkerInfo{SID: "WKalice", FriendlyName: "Alice", Attributes: Attributes{"phone_number": "+15127640580"}, Available: false, ActivityName: "Offline", Capacity: 1})
	ix.UpsertWorker(WorkerInfo{SID: "WKbob", FriendlyName: "Bob", Attributes: Attributes{"phone_number": "+15127640581"}, Available: true, Capacity: 1, IdleSince: base})
	ix.UpsertWorker(WorkerInfo{SID: "WKcarol", FriendlyName: "Carol", Attributes: Attributes{}, Available: true, Capacity: 1, Busy: 1})
	ix.SetQueue("Q", MustCompile("1==1", ScopeWorker))
	return ix
}

func TestExplainOwnerOffline(t *testing.T) {
	w, err := ParseWorkflow([]byte(didConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	ix := didIndex(t)
	x := Explain(w, ix, Attributes{"phone_number": "+15127640580"}, ExplainOptions{QueueNames: map[string]string{"Q": "Everyone"}})
	if len(x.Filters) != 1 || !x.Filters[0].Matched {
		t.Fatalf("filters %+v", x.Filters)
	}
	if len(x.Steps) != 2 {
		t.Fatalf("%d steps: %+v", len(x.Steps), x.Steps)
	}
	s1, s2 := x.Steps[0], x.Steps[1]
	if s1.Matching != 1 || len(s1.Eligible) != 0 || s1.Skipped == nil || !*s1.Skipped || s1.Members != 3 {
		t.Errorf("step 1 %+v", s1)
	}
	if s2.Reserve != "WKbob" || len(s2.Eligible) != 1 || s2.Skipped != nil {
		t.Errorf("step 2 %+v", s2)
	}
	if !strings.Contains(x.Outcome, "offered to Bob (WKbob) (step 2)") {
		t.Errorf("outcome %q", x.Outcome)
	}
	text := x.Text()
	for _, want := range []string{
		"queue:       Everyone (Q), 3 members",
		"Alice (WKalice): matches, but is not available (Offline)",
		"Bob (WKbob): in the queue, but the step's expression is false for this worker",
		`task.phone_number CONTAINS worker.phone_number is false (task.phone_number is "+15127640580", worker.phone_number is "+15127640581")`,
		"skip_if:     1==1 -> true",
		"skip_if (1==1) is true, so the task moves on to step 2 at once",
		"Carol (WKcarol): in the queue, but the step's expression is false",
		"worker.phone_number is missing",
		"+ Bob (WKbob): matches and is free: offered the task first",
		"Carol (WKcarol): matches, but has no free capacity (1 of 1 in use)",
		"There is no timeout: the task stays in this step until someone accepts",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if _, err := json.Marshal(x); err != nil {
		t.Fatal(err)
	}
}

func TestExplainOwnerAvailable(t *testing.T) {
	w, _ := ParseWorkflow([]byte(didConfig), nil)
	ix := didIndex(t)
	ix.UpsertWorker(WorkerInfo{SID: "WKalice", FriendlyName: "Alice", Attributes: Attributes{"phone_number": "+15127640580"}, Available: true, Capacity: 1, Version: 1})
	x := Explain(w, ix, Attributes{"phone_number": "+15127640580"}, ExplainOptions{})
	if x.Steps[0].Reserve != "WKalice" || x.Steps[0].Skipped != nil {
		t.Fatalf("step 1 %+v", x.Steps[0])
	}
	if !strings.HasPrefix(x.Outcome, "the task is offered to Alice (WKalice) (step 1)") {
		t.Errorf("outcome %q", x.Outcome)
	}
	if !strings.Contains(x.Steps[0].Next, "If nobody accepts within 60 s, the task moves on to step 2") {
		t.Errorf("next %q", x.Steps[0].Next)
	}
}

func TestExplainFiltersAndCancel(t *testing.T) {
	cfg := `{"task_routing":{"filters":[
	  {"filter_friendly_name":"Sales","expression":"type == 'lead'","targets":[{"queue":"Q","timeout":10,"expression":"worker.skill == 'sales'"}]},
	  {"filter_friendly_name":"Any","expression":"1==1","targets":[{"queue":"Missing","timeout":5}]}],
	  "default_filter":{"queue":"Q"}}}`
	w, err := ParseWorkflow([]byte(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	ix := didIndex(t)
	x := Explain(w, ix, Attributes{"type": "ticket"}, ExplainOptions{})
	if len(x.Filters) != 2 || x.Filters[0].Matched || !x.Filters[1].Matched {
		t.Fatalf("filters %+v", x.Filters)
	}
	text := x.Text()
	for _, want := range []string{
		`[0] "Sales": type == 'lead' -> does not match`,
		`type == 'lead' is false (type is "ticket")`,
		"UNKNOWN QUEUE",
		"the last step times out and no later filter matches: the task is canceled",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	// A lead: filter 0, nobody with the skill, waits 10 s, then filter 1.
	x = Explain(w, ix, Attributes{"type": "lead"}, ExplainOptions{Focus: "carol", MaxWorkers: 1})
	if len(x.Steps) != 2 || x.Steps[1].Filter != 1 {
		t.Fatalf("steps %+v", x.Steps)
	}
	// One sampled member plus the focused worker; the sample (map order) may
	// be Carol herself, so the list has one or two workers and always Carol.
	listed := x.Steps[0].Workers
	if n := len(listed); n < 1 || n > 2 {
		t.Errorf("%d workers listed, want 1 or 2", n)
	}
	hasCarol := false
	for _, lw := range listed {
		hasCarol = hasCarol || lw.SID == "WKcarol"
	}
	if !hasCarol {
		t.Errorf("focused worker Carol not listed: %+v", listed)
	}
	if !strings.Contains(x.Steps[0].Next, "waits up to 10 s") {
		t.Errorf("next %q", x.Steps[0].Next)
	}
	// No filter matches and no default.
	w2, _ := ParseWorkflow([]byte(`{"task_routing":{"filters":[{"expression":"a == 1","targets":[{"queue":"Q"}]}]}}`), nil)
	x = Explain(w2, ix, Attributes{}, ExplainOptions{})
	if !strings.Contains(x.Outcome, "no filter matches and there is no default_filter") {
		t.Errorf("outcome %q", x.Outcome)
	}
}
