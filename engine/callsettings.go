package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/hours"
)

// Answering is what a call's settings resolve to: the business hours in
// force and when voicemail is offered.
type Answering struct {
	Hours *hours.Schedule // nil means always open
	// VoicemailAfter is how long a caller waits before voicemail is
	// offered. Zero means never, with voicemail off.
	VoicemailAfter time.Duration
}

// Open reports whether the line is open at now (the caller's clock).
func (a Answering) Open(now time.Time) bool { return a.Hours.Open(now) }

// ParseVoicemailAfter reads a VoicemailAfter value, a positive Go duration
// of at most a day, or "off" for 0. "" is EINVALID, because the caller
// decides what inheriting means.
func ParseVoicemailAfter(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > 24*time.Hour {
		return 0, didrouter.Errorf(didrouter.EINVALID, "voicemail after must be a duration between 1s and 24h (90s, 2m) or off, not %q", s)
	}
	return d, nil
}

// ResolveAnswering combines a number's settings with its workspace's and
// the server's default voicemail delay, field by field (see AnsweringOf),
// reading the two rows.
func ResolveAnswering(ctx context.Context, st didrouter.CallSettingsStore, workspaceSID, phoneNumber string, defaultVoicemailAfter time.Duration) (Answering, error) {
	if st == nil {
		return Answering{VoicemailAfter: defaultVoicemailAfter}, nil
	}
	keys := []string{""}
	if phoneNumber != "" {
		keys = append(keys, phoneNumber)
	}
	var rows []didrouter.CallSettings
	for _, n := range keys {
		s, err := st.GetCallSettings(ctx, workspaceSID, n)
		switch {
		case err == nil:
			rows = append(rows, s)
		case didrouter.ErrorCode(err) != didrouter.ENOTFOUND:
			return Answering{VoicemailAfter: defaultVoicemailAfter}, fmt.Errorf("read call settings of %s %s: %w", workspaceSID, n, err)
		}
	}
	return AnsweringOf(rows, defaultVoicemailAfter)
}

// AnsweringOf resolves stored settings rows, the workspace's first and the
// number's over it, field by field over the server's default voicemail
// delay. A stored field that does not parse is skipped and returned in err
// for the caller to log. A bad row must never stop a call, so the call is
// routed as if always open.
func AnsweringOf(rows []didrouter.CallSettings, defaultVoicemailAfter time.Duration) (Answering, error) {
	a := Answering{VoicemailAfter: defaultVoicemailAfter}
	var bad error
	for _, s := range rows {
		if s.Hours != "" {
			sch, err := hours.Parse(s.Hours)
			if err != nil {
				bad = fmt.Errorf("stored business hours of %s %q: %w", s.WorkspaceSID, s.PhoneNumber, err)
			} else {
				a.Hours = sch
			}
		}
		if s.VoicemailAfter != "" {
			d, err := ParseVoicemailAfter(s.VoicemailAfter)
			if err != nil {
				bad = fmt.Errorf("stored voicemail after of %s %q: %w", s.WorkspaceSID, s.PhoneNumber, err)
			} else {
				a.VoicemailAfter = d
			}
		}
	}
	return a, bad
}

// CheckCallSettings checks the fields of s that are set, as the admin API
// and the console take them: EINVALID names the field (by its API
// parameter) and says what is wrong.
func CheckCallSettings(s didrouter.CallSettings) error {
	if s.Hours != "" {
		if _, err := hours.Parse(s.Hours); err != nil {
			return didrouter.Errorf(didrouter.EINVALID, "BusinessHours: %s", strings.TrimPrefix(err.Error(), "business hours: "))
		}
	}
	if s.VoicemailAfter != "" {
		if _, err := ParseVoicemailAfter(s.VoicemailAfter); err != nil {
			return didrouter.Errorf(didrouter.EINVALID, "VoicemailAfter: %s", didrouter.ErrorMessage(err))
		}
	}
	return nil
}
