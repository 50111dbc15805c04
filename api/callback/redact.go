package callback

import (
	"errors"
	"net/url"
	"strings"
)

// Redacted stands in for a secret of a callback URL: in logs for its
// password and its secret-looking query values, in API answers for its
// password.
const Redacted = "redacted"

// secretWords mark a query key whose value is a secret (matched in any
// case, anywhere in the key: access_token, X-Api-Key, sig, …).
var secretWords = []string{"token", "secret", "pass", "pwd", "key", "sig", "auth", "credential", "session", "jwt", "hmac"}

// Redact returns raw fit for a log: the userinfo password and the values
// of query keys that look secret are replaced with Redacted, the fragment
// too. A URL that does not parse is not shown at all.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Redacted)
		}
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, part := range parts {
			k, _, _ := strings.Cut(part, "=")
			key, err := url.QueryUnescape(k)
			if err != nil {
				key = k
			}
			if secretKey(key) {
				parts[i] = k + "=" + Redacted
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = Redacted, ""
	}
	return u.String()
}

func secretKey(key string) bool {
	key = strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(key, w) {
			return true
		}
	}
	return false
}

// HidePassword returns raw as the API shows it: its userinfo password, if
// any, replaced with Redacted (the API never gives a stored password back).
func HidePassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	u.User = url.UserPassword(u.User.Username(), Redacted)
	return u.String()
}

// ErrHiddenPassword refuses a URL whose password is Redacted but that is not
// the stored URL as the API showed it.
var ErrHiddenPassword = errors.New(`has the password "` + Redacted + `", which is how the API hides a stored password: ` +
	"send the real password, or the URL exactly as the API shows it to keep the stored one")

// KeepHiddenPassword returns the URL to store when next is sent to replace
// stored. When next is stored as the API shows it, the result is stored
// itself, so a client that reads a resource and writes it back keeps the
// password it was never shown. Otherwise it is next. A next whose password
// is Redacted but that differs in anything else is refused, because
// carrying the hidden password to another host or user would hand it to
// whoever chose them.
func KeepHiddenPassword(next, stored string) (string, error) {
	u, err := url.Parse(next)
	if err != nil || u.User == nil {
		return next, nil
	}
	if pw, ok := u.User.Password(); !ok || pw != Redacted {
		return next, nil
	}
	if stored != "" && next == HidePassword(stored) {
		return stored, nil
	}
	return "", ErrHiddenPassword
}
