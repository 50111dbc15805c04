package engine

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// NewSID returns a TaskRouter-style sid: a two-letter prefix and 32 lower-case
// hex digits (34 characters).
func NewSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + hex.EncodeToString(b[:])
}

// IsSID reports whether s looks like a sid: two letters and 32 letters or
// digits, beginning with prefix when it is not "". It bounds input before
// it reaches the store (a NUL or a megabyte is no sid).
func IsSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0
}
