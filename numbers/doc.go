// Package numbers manages the phone numbers of the Twilio account that
// sends calls to didrouter. It buys voice-capable numbers, with a journal so
// that a retry never buys a number twice. It points every number's voice
// URL and status callback at didrouter, and lists the numbers with the
// worker that owns each one.
//
// It talks to Twilio through twilio-go's api/v2010 package only, because
// the root twilio package links every generated API. twilio-go's calls take
// no context, so each call gets a client whose transport carries the
// context, and cancelling it aborts the HTTP request.
package numbers
