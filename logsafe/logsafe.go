// Package logsafe bounds text that did not come from a trusted party
// (an unsigned webhook's CallSid, a URL anyone can request) before it
// reaches a log: a 64 KB value sent twenty times must not add a megabyte
// to the log.
package logsafe

import (
	"log/slog"
	"strconv"
)

// MaxRunes is how much of a value a log line keeps.
const MaxRunes = 64

// Clip returns s when it has at most MaxRunes runes, else its first
// MaxRunes runes and a marker with its full length: "CA00…(65536 bytes)".
// A byte that is not UTF-8 counts as one rune; the cut never splits a rune.
func Clip(s string) string {
	if len(s) <= MaxRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxRunes {
			return s[:i] + "…(" + strconv.Itoa(len(s)) + " bytes)"
		}
		n++
	}
	return s
}

// String is slog.String with the value clipped.
func String(key, value string) slog.Attr { return slog.String(key, Clip(value)) }
