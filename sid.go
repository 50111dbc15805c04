package didrouter

import (
	"crypto/rand"
	"encoding/hex"
)

// sidLength is the length of a sid: a two-letter prefix and 32 hex digits.
const sidLength = 34

// NewSID returns a TaskRouter-style sid: a two-letter prefix and 32 lower-case
// hex digits (34 characters).
func NewSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + hex.EncodeToString(b[:])
}

// IsSID reports whether s has the shape of a sid with the given prefix.
// The prefix is two upper-case letters, and "" accepts any such prefix. A
// sid is the prefix and 32 hex digits, as NewSID writes them and as
// Twilio's own sids are, such as CA… for calls, AC… for accounts and RE…
// for recordings. Input that claims to be a sid is checked with it before
// it is used. Twilio's signature joins keys and values, so a value such as
// "CA…cdefCallStatusringing" could pass for a sid, and it must never name
// a call or a task. Nor must a value with a NUL byte.
func IsSID(s, prefix string) bool {
	if prefix == "" && len(s) >= 2 {
		prefix = s[:2]
	}
	if len(prefix) != 2 || !upper(prefix[0]) || !upper(prefix[1]) || len(s) != sidLength || s[:2] != prefix {
		return false
	}
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

func upper(c byte) bool { return 'A' <= c && c <= 'Z' }
