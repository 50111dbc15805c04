package replay

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Scripted outcomes of a call.
const (
	// OutcomeAnswered: the first worker rung answers after AfterS seconds
	// of ringing and talks TalkS seconds; then the call ends.
	OutcomeAnswered = "answered"
	// OutcomeNoAnswer: the first worker rung lets it ring AfterS seconds
	// (at most the <Dial timeout>); the next one rung answers.
	OutcomeNoAnswer = "no-answer"
	// OutcomeBusy: the first worker rung is busy after AfterS seconds; the
	// next one rung answers.
	OutcomeBusy = "busy"
	// OutcomeHangup: the caller hangs up AfterS seconds after calling,
	// wherever the call is (ringing or waiting); nobody answers before.
	OutcomeHangup = "hangup"
)

// Call is one line of a call script.
type Call struct {
	OffsetMS int64   `json:"offset_ms"` // when the call arrives, from the start of the script
	From     string  `json:"from"`
	To       string  `json:"to"`
	Outcome  string  `json:"outcome"`
	AfterS   float64 `json:"after_s"` // ring time before the outcome, or time until the caller hangs up
	TalkS    float64 `json:"talk_s"`  // answered calls: how long they talk
	// Press is the key pressed when voicemail and a call-back are offered
	// while waiting: "1" voicemail, "2" call-back, "" = keep waiting.
	Press string `json:"press,omitempty"`
	// MessageS is how long a message the caller leaves when they reach
	// voicemail is (out of hours, nobody available, or pressing 1); 0 =
	// they hang up at the tone (an empty recording).
	MessageS float64 `json:"message_s,omitempty"`
}

// Worker is an agent a script needs: Name is the Voice SDK identity
// (contact_uri client:Name), DID the number they own ("" = none).
type Worker struct {
	Name      string `json:"worker"`
	DID       string `json:"did,omitempty"`
	Available bool   `json:"available"`
}

// Script is what replay plays: calls in offset order, and the workers
// the target must have (empty: whatever the target has).
type Script struct {
	Workers []Worker
	Calls   []Call
}

// scriptLine is either a worker ("worker" set) or a call.
type scriptLine struct {
	Call
	Worker    *string `json:"worker"`
	DID       string  `json:"did"`
	Available *bool   `json:"available"`
}

// maxScriptLine bounds one JSONL line.
const maxScriptLine = 64 << 10

// ReadScript reads a JSONL call script: one JSON object a line, either a
// call {"offset_ms":0,"from":"+1…","to":"+1…","outcome":"answered",
// "after_s":2,"talk_s":30} or a worker {"worker":"alice","did":"+1…",
// "available":true}. Blank lines and lines starting with # are skipped.
// Errors name the line.
func ReadScript(r io.Reader) (*Script, error) {
	s := &Script{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxScriptLine)
	names := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var l scriptLine
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("script line %d: %w", n, err)
		}
		if l.Worker != nil {
			w := Worker{Name: strings.TrimSpace(*l.Worker), DID: strings.TrimSpace(l.DID), Available: l.Available == nil || *l.Available}
			if err := w.check(); err != nil {
				return nil, fmt.Errorf("script line %d: %w", n, err)
			}
			if names[w.Name] {
				return nil, fmt.Errorf("script line %d: worker %q appears twice", n, w.Name)
			}
			names[w.Name] = true
			s.Workers = append(s.Workers, w)
			continue
		}
		if err := l.Call.check(); err != nil {
			return nil, fmt.Errorf("script line %d: %w", n, err)
		}
		s.Calls = append(s.Calls, l.Call)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	if len(s.Calls) == 0 {
		return nil, errors.New("script has no calls")
	}
	s.sortCalls()
	return s, s.checkDIDs()
}

// WriteScript writes s as JSONL (workers first), the format ReadScript reads.
func WriteScript(w io.Writer, s *Script) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, wk := range s.Workers {
		if err := enc.Encode(wk); err != nil {
			return err
		}
	}
	for _, c := range s.Calls {
		if err := enc.Encode(c); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func (s *Script) sortCalls() {
	sort.SliceStable(s.Calls, func(i, j int) bool { return s.Calls[i].OffsetMS < s.Calls[j].OffsetMS })
}

// checkDIDs refuses two workers owning one number.
func (s *Script) checkDIDs() error {
	owner := map[string]string{}
	for _, w := range s.Workers {
		if w.DID == "" {
			continue
		}
		if o, ok := owner[w.DID]; ok {
			return fmt.Errorf("workers %q and %q both own %s", o, w.Name, w.DID)
		}
		owner[w.DID] = w.Name
	}
	return nil
}

func (w Worker) check() error {
	if w.Name == "" {
		return errors.New(`worker name is empty`)
	}
	for _, r := range w.Name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("worker name %q: use letters, digits, - _ . only (it is a client identity)", w.Name)
		}
	}
	return nil
}

func (c Call) check() error {
	switch {
	case c.OffsetMS < 0:
		return fmt.Errorf("offset_ms %d is negative", c.OffsetMS)
	case strings.TrimSpace(c.To) == "":
		return errors.New(`"to" is missing`)
	case strings.TrimSpace(c.From) == "":
		return errors.New(`"from" is missing`)
	case bad(c.AfterS) || bad(c.TalkS) || bad(c.MessageS):
		return errors.New("after_s, talk_s and message_s must be numbers ≥ 0")
	case c.Press != "" && c.Press != "1" && c.Press != "2":
		return fmt.Errorf(`press %q: want "1" (voicemail), "2" (call-back) or nothing`, c.Press)
	}
	switch c.Outcome {
	case OutcomeAnswered, OutcomeNoAnswer, OutcomeBusy, OutcomeHangup:
	default:
		return fmt.Errorf("outcome %q: want answered, no-answer, busy or hangup", c.Outcome)
	}
	return nil
}

func bad(f float64) bool { return f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 86400 }
