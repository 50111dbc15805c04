package outage

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/didrouter/didrouter"
)

// Unreachable reports whether err says the database could not be reached
// or went away. A refusal by the database or the engine is not an outage,
// such as a constraint, a coded engine error or a bad query. A context
// that ended is not an outage either, because the caller gave up.
func Unreachable(err error) bool {
	if errors.Is(err, errProbeTimeout) {
		return true
	}
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var coded *didrouter.Error
	if errors.As(err, &coded) && coded.Code != didrouter.EINTERNAL {
		return false
	}
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) || pgconn.SafeToRetry(err) || errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 holds the connection exceptions. 57P01 to 57P03 say
		// the server is shutting down, crashed or is starting up.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// retrySafe reports whether a failed call certainly changed nothing, so
// that running it again cannot apply it twice. That is so when the
// connection could not be made, or the failure came before anything was
// sent.
func retrySafe(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "57P03" { // cannot connect now, the server is starting up or shutting down
		return true
	}
	return pgconn.SafeToRetry(err) || errors.Is(err, syscall.ECONNREFUSED)
}
