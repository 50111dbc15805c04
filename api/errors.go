package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/didrouter/didrouter/engine"
)

// twilioError is the body of every error answer, as Twilio writes it.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// errorStatus maps an engine error code to the HTTP status and Twilio error
// code of the answer. This is the one place where that mapping lives.
func errorStatus(code string) (status, twilioCode int) {
	switch code {
	case engine.ENOTFOUND:
		return http.StatusNotFound, 20404
	case engine.EINVALID:
		return http.StatusBadRequest, 20001
	case engine.ECONFLICT, engine.EUNAVAILABLE:
		return http.StatusConflict, 20409
	default:
		return http.StatusInternalServerError, 20500
	}
}

// writeError answers err. Internal errors are logged with their details
// and answered with a generic message.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := engine.ErrorCode(err)
	status, twilioCode := errorStatus(code)
	msg := engine.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		h.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Internal server error"
	}
	writeTwilioError(w, status, twilioCode, msg)
}

func writeTwilioError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, twilioError{
		Code:     code,
		Message:  msg,
		MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		Status:   status,
	})
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
