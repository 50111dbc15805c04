package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// credentials holds digests of the expected key and secret, so the check
// compares fixed-length values in constant time and leaks neither content
// nor length.
type credentials struct {
	key, secret [sha256.Size]byte
}

func newCredentials(key, secret string) credentials {
	return credentials{key: sha256.Sum256([]byte(key)), secret: sha256.Sum256([]byte(secret))}
}

func (c credentials) match(key, secret string) bool {
	k := sha256.Sum256([]byte(key))
	s := sha256.Sum256([]byte(secret))
	// Both comparisons always run: no early exit on a wrong key.
	okKey := subtle.ConstantTimeCompare(k[:], c.key[:])
	okSecret := subtle.ConstantTimeCompare(s[:], c.secret[:])
	return okKey&okSecret == 1
}

// authenticate requires HTTP Basic auth with the API key and secret, as
// Twilio's clients send their account or API key credentials.
func (h *Handler) authenticate(r *http.Request) error {
	if key, secret, ok := r.BasicAuth(); !ok || !h.auth.match(key, secret) {
		return &statusError{status: http.StatusUnauthorized, code: 20003,
			msg: "Authentication Error - invalid username", challenge: `Basic realm="didrouter"`}
	}
	return nil
}

// CheckCredentials reports whether key and secret are the admin API's, in
// constant time (the admin console's sign-in form uses it).
func (h *Handler) CheckCredentials(key, secret string) bool { return h.auth.match(key, secret) }
