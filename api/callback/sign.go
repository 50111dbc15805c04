package callback

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signer signs a callback request.
type Signer interface {
	// SignRequest sets the signature headers of a POST of body (params,
	// form-encoded) to u, sent at now.
	SignRequest(h http.Header, u string, params url.Values, body []byte, now time.Time)
}

// Headers of a callback signed with a KeySigner.
const (
	HeaderSignature = "X-Didrouter-Signature"
	HeaderTimestamp = "X-Didrouter-Timestamp"
)

// KeySigner signs with didrouter's own callback key. X-Didrouter-Timestamp
// is the time of sending in Unix seconds. X-Didrouter-Signature is "v1="
// followed by KeySignature of that timestamp, the URL and the body. The key
// signs nothing else, so a receiver that holds it can forge nothing but
// didrouter's callbacks.
type KeySigner struct{ Key []byte }

// SignRequest implements Signer.
func (s KeySigner) SignRequest(h http.Header, u string, _ url.Values, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, "v1="+KeySignature(s.Key, ts, u, body))
}

// KeySignature is the base64 (standard, padded) HMAC-SHA256, keyed with
// key, of timestamp, a newline, the URL, a newline and the body. The
// timestamp bounds replays; the URL keeps a callback meant for one
// receiver from being replayed to another that shares the key.
func KeySignature(key []byte, timestamp, u string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(timestamp + "\n" + u + "\n"))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// TwilioSigner signs with X-Twilio-Signature, keyed with the account's
// auth token (DIDROUTER_CALLBACK_SIGNING=twilio), for receivers that check
// Twilio's signature. Whoever sets a callback URL then holds a signer for
// any URL of the account's applications: choose it knowingly.
type TwilioSigner struct{ AuthToken string }

// SignRequest implements Signer.
func (s TwilioSigner) SignRequest(h http.Header, u string, params url.Values, _ []byte, _ time.Time) {
	h.Set("X-Twilio-Signature", Sign(s.AuthToken, u, params))
}

// Sign computes X-Twilio-Signature for a form POST to u: the base64
// HMAC-SHA1, keyed with the auth token, of u followed by each parameter's
// name and value in name order.
func Sign(authToken, u string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(u)
	for _, k := range keys {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
