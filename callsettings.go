package didrouter

import (
	"context"
	"time"
)

// CallSettings are what happens to a call nobody can answer. They set the
// business hours and when a waiting caller is offered voicemail. They
// belong to a workspace when PhoneNumber is "", else to one of its
// numbers, which overrides the workspace field by field. Empty fields
// inherit the workspace's value, else the server's default.
type CallSettings struct {
	WorkspaceSID string
	PhoneNumber  string // E.164, or "" for the workspace's own settings
	// Hours is the business hours document of package hours, "always" or
	// JSON. Empty means inherit.
	Hours string
	// VoicemailAfter is how long a caller waits before voicemail is
	// offered: a Go duration ("90s"), "off", or "" = inherit.
	VoicemailAfter string
	DateUpdated    time.Time
}

// CallSettingsStore keeps CallSettings, and finds a caller's call-back
// requests. It is separate from Store because routing never reads it (only
// the webhooks, the admin API and the console do); both stores implement it.
type CallSettingsStore interface {
	// GetCallSettings returns the settings of a workspace (phoneNumber "")
	// or of one of its numbers; ENOTFOUND when none are stored.
	GetCallSettings(ctx context.Context, workspaceSID, phoneNumber string) (CallSettings, error)
	// ListCallSettings lists a workspace's settings, the workspace's own
	// first, then by number.
	ListCallSettings(ctx context.Context, workspaceSID string) ([]CallSettings, error)
	// PutCallSettings creates or replaces one row.
	PutCallSettings(ctx context.Context, s CallSettings) error
	// DeleteCallSettings forgets one row; ENOTFOUND when there was none.
	DeleteCallSettings(ctx context.Context, workspaceSID, phoneNumber string) error
	// CallbackRequests returns the workspace's live (pending or reserved)
	// call-back requests whose CallbackNumber is number, oldest first: an
	// indexed lookup, whatever the number of waiting tasks.
	CallbackRequests(ctx context.Context, workspaceSID, number string) ([]Task, error)
}
