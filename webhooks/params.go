package webhooks

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/didrouter/didrouter"
)

// Prefixes of the Twilio sids the webhooks read.
const (
	prefixCall          = "CA"
	prefixAccount       = "AC"
	prefixRecording     = "RE"
	prefixTranscription = "TR"
)

// twilioParams are the parameters Twilio sent about the call. A POST's
// come from its body only: the query string belongs to whoever wrote the
// URL, and a callback signed with the auth token can point at any URL, so
// a query carrying CallSid, From or To would forge a call. A
// GET has no body: Twilio then puts them in the query (checkParams refuses
// one that names a parameter twice).
func twilioParams(r *http.Request) url.Values {
	if r.Method == http.MethodGet {
		return r.URL.Query()
	}
	return r.PostForm
}

// sidParam is a Twilio parameter that must be a sid when present.
type sidParam struct{ name, prefix string }

// twilioSIDs are the sid parameters Twilio sends that the webhooks use
// (RecordingSid: checked so that a future use finds it checked).
var twilioSIDs = [...]sidParam{
	{"CallSid", prefixCall},
	{"ParentCallSid", prefixCall},
	{"DialCallSid", prefixCall},
	{"AccountSid", prefixAccount},
	{"RecordingSid", prefixRecording},
	{"TranscriptionSid", prefixTranscription},
}

// twilioOnce are the other Twilio parameters the webhooks read: each may
// come once, so that a URL cannot add a second value of its own.
var twilioOnce = [...]string{"From", "To", "CallStatus", "DialCallStatus", "QueueResult", "QueueTime", "Direction",
	"Digits", "RecordingUrl", "RecordingDuration", "RecordingStatus", "TranscriptionStatus", "TranscriptionText"}

// ownParams are the query parameters didrouter writes into its own URLs
// (see Handler.url), each with its check.
var ownParams = [...]struct {
	name  string
	valid func(string) bool
}{
	{"ws", func(s string) bool { return didrouter.IsSID(s, didrouter.PrefixWorkspace) }},
	{"task", func(s string) bool { return didrouter.IsSID(s, didrouter.PrefixTask) }},
	{"reservation", func(s string) bool { return didrouter.IsSID(s, didrouter.PrefixReservation) }},
	{"ended", func(s string) bool { return didrouter.IsSID(s, didrouter.PrefixReservation) }},
	{"greeted", func(s string) bool { return s == "1" }},
	{"attempt", smallCount},
	{"retry", smallCount},
	{"held", smallCount},
	{"busy", smallCount},
	{"dial_status", knownDialStatus},
}

// smallCount is a counter didrouter writes: 0–99 (each is bounded far
// below that).
func smallCount(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 99 && strconv.Itoa(n) == s
}

// knownDialStatus reports whether s is one of Twilio's DialCallStatus values.
func knownDialStatus(s string) bool {
	switch s {
	case "completed", "answered", "busy", "no-answer", "failed", "canceled":
		return true
	}
	return false
}

// badParam is why checkParams refuses a request: what is wrong (said in
// the 400 answer) and the value at fault (logged, clipped, never echoed).
type badParam struct {
	why, value string
}

// checkParams checks a webhook's parameters before any handler reads them.
// Twilio's sids must have their shape, "CA" and 32 hex digits. A CallSid
// that swallowed the next key, such as "CA…cdefCallStatusringing", still
// carries a captured request's signature, so the shape is what refuses it.
// Every call must have a CallSid, no parameter the webhooks read may come
// twice, and didrouter's own query parameters must be what it writes. A
// request that fails is refused with a 400 before anything is created or
// rung.
func checkParams(r *http.Request) *badParam {
	params := twilioParams(r)
	for _, p := range twilioSIDs {
		switch vals := params[p.name]; {
		case len(vals) > 1:
			return &badParam{p.name + " is given more than once", vals[1]}
		case len(vals) == 1 && !didrouter.IsSID(vals[0], p.prefix):
			return &badParam{p.name + " is not a Twilio sid (" + p.prefix + " and 32 hex digits)", vals[0]}
		}
	}
	if params.Get("CallSid") == "" {
		return &badParam{"CallSid is missing", ""}
	}
	for _, name := range twilioOnce {
		if vals := params[name]; len(vals) > 1 {
			return &badParam{name + " is given more than once", vals[1]}
		}
	}
	query := r.URL.Query()
	for _, p := range ownParams {
		switch vals := query[p.name]; {
		case len(vals) > 1:
			return &badParam{"query parameter " + p.name + " is given more than once", vals[1]}
		case len(vals) == 1 && !p.valid(vals[0]):
			return &badParam{"query parameter " + p.name + " is not one didrouter writes", vals[0]}
		}
	}
	return nil
}
