package engine

import (
	"crypto/rand"
	"encoding/hex"
)

// NewSID returns a TaskRouter-style sid: a two-letter prefix and 32 lower-case
// hex digits (34 characters).
func NewSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + hex.EncodeToString(b[:])
}
