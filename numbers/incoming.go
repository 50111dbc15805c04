package numbers

import (
	"context"
	"fmt"
	"sort"

	twapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Incoming is a number the account owns, with where its calls go.
type Incoming struct {
	SID                  string `json:"sid"`
	PhoneNumber          string `json:"phone_number"`
	FriendlyName         string `json:"friendly_name"`
	VoiceURL             string `json:"voice_url"`
	VoiceMethod          string `json:"voice_method"`
	StatusCallback       string `json:"status_callback"`
	StatusCallbackMethod string `json:"status_callback_method"`
	// VoiceApplicationSID, when set, makes Twilio ignore the voice URL and
	// use the TwiML application's.
	VoiceApplicationSID string `json:"voice_application_sid,omitempty"`
	// TrunkSID, when set, sends calls to that Elastic SIP trunk instead.
	TrunkSID string `json:"trunk_sid,omitempty"`
}

func incomingOf(n *twapi.ApiV2010IncomingPhoneNumber) Incoming {
	return Incoming{
		SID:                  str(n.Sid),
		PhoneNumber:          str(n.PhoneNumber),
		FriendlyName:         str(n.FriendlyName),
		VoiceURL:             str(n.VoiceUrl),
		VoiceMethod:          str(n.VoiceMethod),
		StatusCallback:       str(n.StatusCallback),
		StatusCallbackMethod: str(n.StatusCallbackMethod),
		VoiceApplicationSID:  str(n.VoiceApplicationSid),
		TrunkSID:             str(n.TrunkSid),
	}
}

// incomingPageSize is the page size asked for when listing; Twilio allows
// up to 1000, smaller pages keep each answer quick.
const incomingPageSize = 200

// Incoming returns every number of the account, sorted by number;
// twilio-go follows next_page_uri through the pages.
func (a *Account) Incoming(ctx context.Context) ([]Incoming, error) {
	return a.incoming(ctx, (&twapi.ListIncomingPhoneNumberParams{}).SetPageSize(incomingPageSize))
}

// Owned returns the account's number phone (E.164) when the account has
// it, or nil. It tells whether a purchase whose answer was lost went
// through.
func (a *Account) Owned(ctx context.Context, phone string) (*Incoming, error) {
	list, err := a.incoming(ctx, (&twapi.ListIncomingPhoneNumberParams{}).SetPhoneNumber(phone).SetPageSize(20))
	if err != nil {
		return nil, err
	}
	// The filter also matches partial numbers: only an exact hit counts.
	for i := range list {
		if list[i].PhoneNumber == phone {
			return &list[i], nil
		}
	}
	return nil, nil
}

func (a *Account) incoming(ctx context.Context, p *twapi.ListIncomingPhoneNumberParams) ([]Incoming, error) {
	list, err := a.api(ctx).ListIncomingPhoneNumber(p)
	if err != nil {
		return nil, fmt.Errorf("list the account's phone numbers: %s: %w", Describe(err), err)
	}
	out := make([]Incoming, 0, len(list))
	for i := range list {
		out = append(out, incomingOf(&list[i]))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].PhoneNumber < out[j].PhoneNumber })
	return out, nil
}

// Webhooks is where a number sends its calls. Empty fields are left as
// they are.
type Webhooks struct {
	VoiceURL       string
	StatusCallback string
}

// purchase buys phone for the account, pointing it at hooks.
func (a *Account) purchase(ctx context.Context, phone string, hooks Webhooks) (Incoming, error) {
	p := (&twapi.CreateIncomingPhoneNumberParams{}).SetPhoneNumber(phone)
	if hooks.VoiceURL != "" {
		p.SetVoiceUrl(hooks.VoiceURL).SetVoiceMethod("POST")
	}
	if hooks.StatusCallback != "" {
		p.SetStatusCallback(hooks.StatusCallback).SetStatusCallbackMethod("POST")
	}
	n, err := a.api(ctx).CreateIncomingPhoneNumber(p)
	if err != nil {
		return Incoming{}, err
	}
	return incomingOf(n), nil
}

// update points the number with the given SID at hooks (method POST) and
// clears its TwiML application, which would otherwise override the URL.
func (a *Account) update(ctx context.Context, sid string, hooks Webhooks, clearApp bool) (Incoming, error) {
	p := &twapi.UpdateIncomingPhoneNumberParams{}
	if hooks.VoiceURL != "" {
		p.SetVoiceUrl(hooks.VoiceURL).SetVoiceMethod("POST")
	}
	if hooks.StatusCallback != "" {
		p.SetStatusCallback(hooks.StatusCallback).SetStatusCallbackMethod("POST")
	}
	if clearApp {
		p.SetVoiceApplicationSid("")
	}
	n, err := a.api(ctx).UpdateIncomingPhoneNumber(sid, p)
	if err != nil {
		return Incoming{}, err
	}
	return incomingOf(n), nil
}
