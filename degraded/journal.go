package degraded

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/fileperm"
)

// Journal operations.
const (
	// OpCall is a new call routed without the store, held in Call.
	OpCall = "call"
	// OpAccept says the agent picked up, so Reservation is accepted.
	OpAccept = "accept"
	// OpReject says the agent did not answer, so Reservation is rejected
	// with Status.
	OpReject = "reject"
	// OpEndTask says the Dial action reported the answered call's end, so
	// Task ends.
	OpEndTask = "end-task"
	// OpEndCall says the caller hung up, as the status callback or the
	// queue reported, so the task of CallSID ends.
	OpEndCall = "end-call"
	// OpVoicemail is a recorded message, so NewTask is created. The task
	// is keyed by its recording's sid, so applying it twice makes one
	// voicemail.
	OpVoicemail = "voicemail"
)

// Entry is one journaled decision or report.
type Entry struct {
	Seq         int64                `json:"seq"`
	At          time.Time            `json:"at"`
	Op          string               `json:"op"`
	WS          string               `json:"ws,omitempty"`
	Task        string               `json:"task,omitempty"`
	Reservation string               `json:"reservation,omitempty"`
	CallSID     string               `json:"call,omitempty"`
	Status      string               `json:"status,omitempty"` // the reservation status of a reject, the reason of an end
	Call        *engine.DegradedCall `json:"dc,omitempty"`
	NewTask     *engine.TaskInsert   `json:"nt,omitempty"` // the task a voicemail creates
}

// line is one line of the file. It is an entry, or a marker that entry
// Done was applied.
type line struct {
	Entry
	Done int64 `json:"done,omitempty"`
}

// Journal is an append-only file of entries not yet applied to the store.
// Each append and each done marker is written and fsynced before it
// returns. When every entry is done the file is emptied.
type Journal struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	next    int64
	pending map[int64]Entry
}

// ErrJournalInUse says another process has the journal open. That is a
// running instance or a journal replay command.
var ErrJournalInUse = errors.New("the journal is in use by another process")

// OpenJournal opens or creates the journal at path and loads the entries
// not yet done. A crash in the middle of a write leaves a torn last line,
// which is dropped. Its append had not returned, so nothing was answered
// on it. The file stays locked until Close, and opening a journal another
// process holds fails with ErrJournalInUse.
func OpenJournal(path string) (*Journal, error) {
	return openJournal(path, os.O_RDWR|os.O_CREATE, nil)
}

// OpenExistingJournal is OpenJournal for a journal that must exist, such
// as the journal of another instance that an operator replays.
func OpenExistingJournal(path string) (*Journal, error) {
	return openJournal(path, os.O_RDWR, nil)
}

// openAdoptedJournal is OpenExistingJournal for the journal of another
// instance found in the directory. It opens no symbolic link, and the file
// opened must pass CheckAdoptable's rules, because it may have been
// swapped since they were checked by name.
func openAdoptedJournal(path string) (*Journal, error) {
	return openJournal(path, os.O_RDWR|fileperm.NoFollow, adoptable)
}

// openJournal opens the journal at path with flags. check, when set, vets
// the file opened before anything is read from it.
func openJournal(path string, flags int, check func(fs.FileInfo) error) (*Journal, error) {
	f, err := os.OpenFile(path, flags, fileperm.Private)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if check != nil {
		fi, err := f.Stat()
		if err == nil {
			err = check(fi)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("journal %s: %w", path, err)
		}
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	j := &Journal{path: path, f: f, next: 1, pending: map[int64]Entry{}}
	good, err := j.load(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: drop a torn line: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// ReadJournal returns the entries of the journal at path not yet done,
// oldest first, without changing or locking the file. A running instance
// may be writing it, so a torn last line is ignored.
func ReadJournal(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	j := &Journal{path: path, next: 1, pending: map[int64]Entry{}}
	if _, err := j.load(f); err != nil {
		return nil, err
	}
	return j.Pending(), nil
}

// load reads the file and returns the length of its complete lines.
func (j *Journal) load(f io.Reader) (int64, error) {
	r := bufio.NewReader(f)
	var good int64
	for {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return good, nil // bytes read without a newline are a torn line
		}
		if err != nil {
			return 0, fmt.Errorf("read journal %s: %w", j.path, err)
		}
		var l line
		if err := json.Unmarshal(bytes.TrimSpace(b), &l); err != nil {
			// Only the last line can be torn. A bad line in the middle
			// means the file is not ours or was edited, so refuse it.
			if _, peekErr := r.Peek(1); peekErr == nil {
				return 0, fmt.Errorf("journal %s: line at byte %d does not parse: %w", j.path, good, err)
			}
			return good, nil
		}
		good += int64(len(b))
		switch {
		case l.Done != 0:
			delete(j.pending, l.Done)
		case l.Seq != 0:
			j.pending[l.Seq] = l.Entry
		}
		if l.Seq >= j.next {
			j.next = l.Seq + 1
		}
	}
}

// Append writes e durably and returns it with its sequence number.
func (j *Journal) Append(e Entry) (Entry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.Seq = j.next
	if err := j.write(line{Entry: e}); err != nil {
		return Entry{}, err
	}
	j.next++
	j.pending[e.Seq] = e
	return e, nil
}

// Done marks an entry applied. When nothing is left the file is emptied.
func (j *Journal) Done(seq int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.pending[seq]; !ok {
		return nil
	}
	if err := j.write(line{Done: seq}); err != nil {
		return err
	}
	delete(j.pending, seq)
	if len(j.pending) == 0 {
		// Every line is done, and an empty file says the same.
		if err := j.f.Truncate(0); err != nil {
			return fmt.Errorf("empty journal: %w", err)
		}
		if _, err := j.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return j.f.Sync()
	}
	return nil
}

func (j *Journal) write(l line) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode journal entry: %w", err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	return nil
}

// Pending returns the entries not yet done, oldest first.
func (j *Journal) Pending() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, 0, len(j.pending))
	for _, e := range j.pending {
		out = append(out, e)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Seq < out[b].Seq })
	return out
}

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// Len returns how many entries are not yet done.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending)
}

// Close closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.f.Close()
}
