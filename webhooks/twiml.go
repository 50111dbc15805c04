package webhooks

import (
	"net/http"
	"strconv"

	"github.com/twilio/twilio-go/twiml"
)

// writeTwiML renders a <Response> with the given verbs. Rendering can only
// fail on a bug in the element types; the caller then answers its fallback.
func writeTwiML(w http.ResponseWriter, verbs []twiml.Element) error {
	doc, err := twiml.Voice(verbs)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write([]byte(doc))
	return err
}

// say returns a <Say> for text, or nothing when text is empty (an empty
// <Say> is an error for Twilio).
func say(text string) []twiml.Element {
	if text == "" {
		return nil
	}
	return []twiml.Element{&twiml.VoiceSay{Message: text}}
}

func pause(seconds int) twiml.Element {
	return &twiml.VoicePause{Length: strconv.Itoa(seconds)}
}

func hangup() twiml.Element { return &twiml.VoiceHangup{} }

func leave() twiml.Element { return &twiml.VoiceLeave{} }

func redirect(url string) twiml.Element {
	return &twiml.VoiceRedirect{Url: url, Method: http.MethodPost}
}

// dial rings one noun for timeout seconds; Twilio then requests action with
// DialCallStatus.
func dial(noun twiml.Element, timeout int, action string) twiml.Element {
	return &twiml.VoiceDial{
		Timeout:       strconv.Itoa(timeout),
		Action:        action,
		Method:        http.MethodPost,
		InnerElements: []twiml.Element{noun},
	}
}

// enqueue puts the caller in a Twilio queue of their own (named after the
// task) where waitURL is polled until it answers <Leave/>; Twilio then
// requests action with QueueResult.
func enqueue(queue, waitURL, action string) twiml.Element {
	return &twiml.VoiceEnqueue{
		Name:          queue,
		WaitUrl:       waitURL,
		WaitUrlMethod: http.MethodPost,
		Action:        action,
		Method:        http.MethodPost,
	}
}
