package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// handlerFunc is an API handler that returns its error instead of
// answering it. It must not have written anything when it returns one.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts fn to chi. Every error a handler returns is answered here,
// so the handlers share one mapping from errors to answers.
func (h *Handler) handle(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	}
}

// check is a middleware that runs fn before the handlers below it. Its
// error is answered as a handler's would be, and the request goes no
// further.
func (h *Handler) check(fn func(*http.Request) error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := fn(r); err != nil {
				h.writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// twilioError is the body of every error answer, as Twilio writes it.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
	// Row is the row of a DID import that was refused; 0 is left out.
	Row int `json:"row,omitempty"`
}

// statusError is an answer the engine's error codes do not describe. It is
// a refused credential (401) or identity (403), or a method the route does
// not take (405).
type statusError struct {
	status, code int
	msg          string
	challenge    string // the WWW-Authenticate header of a 401
}

func (e *statusError) Error() string { return e.msg }

// unauthorized is the 401 of an agent-facing endpoint. why ("" = no or
// wrong credentials) tells a token's holder what is wrong with it.
func unauthorized(why string) error {
	msg := "Authentication Error - admin credentials or an agent token are required"
	if why != "" {
		msg = "Authentication Error - " + why
	}
	return &statusError{status: http.StatusUnauthorized, code: 20003, msg: msg, challenge: `Basic realm="didrouter", Bearer`}
}

// errorStatus maps an engine error code to the HTTP status and Twilio error
// code of the answer.
func errorStatus(code string) (status, twilioCode int) {
	switch code {
	case didrouter.ENOTFOUND:
		return http.StatusNotFound, 20404
	case didrouter.EINVALID:
		return http.StatusBadRequest, 20001
	case didrouter.ECONFLICT, didrouter.EUNAVAILABLE:
		return http.StatusConflict, 20409
	default:
		return http.StatusInternalServerError, 20500
	}
}

// answerOf maps err to the body of its answer. This is the one place where
// that mapping lives. An error it does not know is a 500 whose body says
// nothing of the error: its details may name tables, files or hosts.
func answerOf(err error) twilioError {
	var se *statusError
	if errors.As(err, &se) {
		return twilioError{Status: se.status, Code: se.code, Message: se.msg}
	}
	status, code := errorStatus(didrouter.ErrorCode(err))
	if status == http.StatusInternalServerError {
		return twilioError{Status: status, Code: code, Message: "Internal server error"}
	}
	ans := twilioError{Status: status, Code: code, Message: didrouter.ErrorMessage(err)}
	// A refused row of a DID import is named in the message and its own field.
	var re *engine.RowError
	if errors.As(err, &re) {
		ans.Row = re.Row
		ans.Message = fmt.Sprintf("row %d: %s", re.Row, ans.Message)
	}
	return ans
}

// writeError answers err. Internal errors are logged with their details
// and answered with a generic message.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ans := answerOf(err)
	if ans.Status == http.StatusInternalServerError {
		h.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var se *statusError
	if errors.As(err, &se) && se.challenge != "" {
		w.Header().Set("WWW-Authenticate", se.challenge)
	}
	writeTwilioError(w, ans)
}

func writeTwilioError(w http.ResponseWriter, ans twilioError) {
	ans.MoreInfo = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", ans.Code)
	writeJSON(w, ans.Status, ans)
}

// reply answers v with 200, or returns err for handle to answer.
func reply(w http.ResponseWriter, v any, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a bug can get here (a value that cannot be encoded).
		status = http.StatusInternalServerError
		body = []byte(`{"code":20500,"message":"Internal server error","more_info":"https://www.twilio.com/docs/errors/20500","status":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
