package didrouter

import (
	"errors"
	"fmt"
)

// Error codes. One coded error type crosses every layer; the HTTP layers map
// a code to a status in one place.
const (
	ECONFLICT    = "conflict"    // a unique value is taken, or the resource changed meanwhile
	EINTERNAL    = "internal"    // a bug or an unreachable dependency
	EINVALID     = "invalid"     // bad input; Message says which field and why
	ENOTFOUND    = "not_found"   // no such resource
	EUNAVAILABLE = "unavailable" // a worker or task is not in a state that allows the operation
)

// Error is didrouter's coded error. Message is safe to show to an API client.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("didrouter: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the client-safe message of err: the *Error's message,
// or a generic text for internal errors (whose details go to the log only).
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}
