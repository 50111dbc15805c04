package engine

import (
	"testing"

	"github.com/didrouter/didrouter"
)

// FuzzCheckPageID: any input gets an answer, never a panic, and an accepted
// id is plain (safe to store and log).
func FuzzCheckPageID(f *testing.F) {
	for _, s := range []string{"tab-1", "", "a b", "<script>", "é", "\x00", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := checkPageID(id)
		if err != nil {
			if didrouter.ErrorCode(err) != didrouter.EINVALID {
				t.Fatalf("%q: %v, want EINVALID", id, err)
			}
			return
		}
		if id == "" || len(id) > maxPageID {
			t.Fatalf("%q accepted: length %d", id, len(id))
		}
		for _, r := range id {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				t.Fatalf("%q accepted with %q", id, r)
			}
		}
	})
}
