package numbers

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Journal events. A number's last event for an order is its state.
const (
	// EventIntent is written (and synced) before a purchase is sent: if
	// the answer is lost, the next run asks Twilio whether it went through.
	EventIntent = "intent"
	// EventBought: Twilio confirmed the purchase, or the number turned up
	// on the account later.
	EventBought = "bought"
	// EventFailed: Twilio refused the purchase (a 4xx answer): not bought.
	EventFailed = "failed"
	// EventAbsent: an intent whose answer was lost, and the account does
	// not have the number: not bought.
	EventAbsent = "absent"
)

// Entry is one line of the journal.
type Entry struct {
	Time        time.Time `json:"time"`
	Order       string    `json:"order"` // Query.Key
	Event       string    `json:"event"`
	PhoneNumber string    `json:"phone_number"`
	SID         string    `json:"sid,omitempty"`
	Error       string    `json:"error,omitempty"`
}

// Journal is an append-only JSON-lines file of purchases: it makes a
// retry skip what an earlier run bought, and never buy a number twice.
type Journal struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenJournal opens (or creates) the journal at path and reads its entries.
func OpenJournal(path string) (*Journal, []Entry, error) {
	entries, err := ReadJournal(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	// A crash mid-write leaves a line without its newline: end it, or the
	// next entry would be glued to it and lost.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return nil, nil, fmt.Errorf("repair journal %s: %w", path, err)
			}
		}
	}
	return &Journal{path: path, f: f}, entries, nil
}

// ReadJournal returns the entries of the journal at path; a missing file
// has none. A line cut short by a crash is skipped (its purchase was
// never sent: intents are synced before sending).
func ReadJournal(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.PhoneNumber == "" || e.Event == "" {
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read journal %s line %d: %w", path, line+1, err)
	}
	return out, nil
}

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// Append writes e and syncs it to disk before returning.
func (j *Journal) Append(e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal %s: %w", j.path, err)
	}
	return nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// OrderState is what the journal says about one order.
type OrderState struct {
	Bought  []Entry // last event bought, in journal order
	Pending []Entry // intent without an outcome: ask the account
}

// StateOf folds the entries of order into each number's last state.
func StateOf(entries []Entry, order string) OrderState {
	last := map[string]Entry{}
	var seq []string
	for _, e := range entries {
		if e.Order != order {
			continue
		}
		if _, ok := last[e.PhoneNumber]; !ok {
			seq = append(seq, e.PhoneNumber)
		}
		last[e.PhoneNumber] = e
	}
	var s OrderState
	for _, p := range seq {
		switch e := last[p]; e.Event {
		case EventBought:
			s.Bought = append(s.Bought, e)
		case EventIntent:
			s.Pending = append(s.Pending, e)
		}
	}
	return s
}
