package webhooks

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/store/storetest"
)

// countingSettings counts the reads that reach the real store beneath.
type countingSettings struct {
	didrouter.CallSettingsStore
	gets, lists atomic.Int64
}

func (c *countingSettings) GetCallSettings(ctx context.Context, ws, number string) (didrouter.CallSettings, error) {
	c.gets.Add(1)
	return c.CallSettingsStore.GetCallSettings(ctx, ws, number)
}

func (c *countingSettings) ListCallSettings(ctx context.Context, ws string) ([]didrouter.CallSettings, error) {
	c.lists.Add(1)
	return c.CallSettingsStore.ListCallSettings(ctx, ws)
}

// A workspace's settings are read once per answersTTL, in one list, however
// many numbers are called: a number without a row of its own costs no read.
// A workspace with more rows than the cache holds is read number by number.
func TestAnswerCacheReadsAWorkspaceOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st didrouter.Store) {
		ctx := context.Background()
		now := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
		ws, err := engine.Seed(ctx, st, didrouter.NewFakeClock(now))
		if err != nil {
			t.Fatal(err)
		}
		raw := st.(didrouter.CallSettingsStore)
		for _, r := range []didrouter.CallSettings{
			{WorkspaceSID: ws.SID, VoicemailAfter: "90s", DateUpdated: now},
			{WorkspaceSID: ws.SID, PhoneNumber: "+15125550100", VoicemailAfter: "off", DateUpdated: now},
		} {
			if err := raw.PutCallSettings(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name                string
			rowsMax             int
			wantLists, wantGets int64
		}{
			{"held", 0, 1, 0},
			{"too many rows", 1, 1, 4}, // two rows over a limit of one: two reads for each of the two numbers
		} {
			t.Run(tc.name, func(t *testing.T) {
				cs := &countingSettings{CallSettingsStore: raw}
				c := answerCache{rowsMax: tc.rowsMax}
				for i := 0; i < 3; i++ {
					for number, want := range map[string]time.Duration{"+15125550100": 0, "+15125550199": 90 * time.Second} {
						a, err := c.answering(ctx, cs, ws.SID, number, time.Minute, now.Add(time.Duration(i)*time.Second))
						if err != nil {
							t.Fatal(err)
						}
						if a.VoicemailAfter != want {
							t.Errorf("%s: voicemail after %v, want %v", number, a.VoicemailAfter, want)
						}
					}
				}
				if cs.lists.Load() != tc.wantLists || cs.gets.Load() != tc.wantGets {
					t.Errorf("reads: %d lists and %d gets, want %d and %d", cs.lists.Load(), cs.gets.Load(), tc.wantLists, tc.wantGets)
				}

				// A change is seen once the kept rows are answersTTL old.
				if err := raw.PutCallSettings(ctx, didrouter.CallSettings{WorkspaceSID: ws.SID, VoicemailAfter: "2m", DateUpdated: now}); err != nil {
					t.Fatal(err)
				}
				defer raw.PutCallSettings(ctx, didrouter.CallSettings{WorkspaceSID: ws.SID, VoicemailAfter: "90s", DateUpdated: now})
				if a, _ := c.answering(ctx, cs, ws.SID, "+15125550199", time.Minute, now.Add(answersTTL-time.Millisecond)); a.VoicemailAfter != 90*time.Second {
					t.Errorf("within the TTL: voicemail after %v, want the kept 90s", a.VoicemailAfter)
				}
				if a, _ := c.answering(ctx, cs, ws.SID, "+15125550199", time.Minute, now.Add(answersTTL)); a.VoicemailAfter != 2*time.Minute {
					t.Errorf("after the TTL: voicemail after %v, want the new 2m", a.VoicemailAfter)
				}
			})
		}
	})
}
