package webhooks

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/twilio/twilio-go/client"

	"github.com/didrouter/didrouter/logsafe"
)

// DefaultMaxBody caps a webhook body. Twilio's voice requests are a few
// kilobytes; anything near this size is not Twilio.
const DefaultMaxBody = 64 << 10

// verifier parses a webhook's form and checks its X-Twilio-Signature and
// its parameters (checkParams) before any handler runs, so that a forged
// or malformed request never creates a task.
type verifier struct {
	validator client.RequestValidator // Validate has a pointer receiver: keep it addressable
	publicURL string                  // the base URL Twilio calls, without a trailing slash
	skip      bool                    // DIDROUTER_INSECURE_SKIP_SIGNATURE: local trials only
	maxBody   int64
	logger    *slog.Logger
}

func (v *verifier) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, v.maxBody)
		if err := r.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			msg := "malformed form"
			if errors.As(err, &tooLarge) {
				msg = "request body too large"
			}
			// Nothing of an unverified request reaches the log unbounded.
			v.logger.WarnContext(r.Context(), "webhook rejected", logsafe.String("path", r.URL.Path), "reason", msg,
				logsafe.String("err", err.Error()))
			http.Error(w, msg, http.StatusBadRequest)
			return
		}
		if !v.skip && !v.valid(r) {
			v.logger.WarnContext(r.Context(), "webhook rejected", logsafe.String("path", r.URL.Path),
				"reason", "bad or missing X-Twilio-Signature", logsafe.String("call_sid", twilioParams(r).Get("CallSid")))
			http.Error(w, "invalid signature", http.StatusForbidden)
			return
		}
		if bad := checkParams(r); bad != nil {
			// A clean refusal: no TwiML, so no apology and no retry, and
			// nothing created or rung.
			v.logger.WarnContext(r.Context(), "webhook refused", logsafe.String("path", r.URL.Path),
				"reason", bad.why, logsafe.String("value", bad.value))
			http.Error(w, "bad request: "+bad.why, http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// valid checks the signature against the URL Twilio called, which is the
// configured public URL plus the path and query as received. r.Host is
// never trusted, because a proxy in front may have rewritten it and an
// attacker controls it.
func (v *verifier) valid(r *http.Request) bool {
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		return false
	}
	params := make(map[string]string, len(r.PostForm))
	for k, vals := range r.PostForm {
		if len(vals) > 0 {
			params[k] = vals[0]
		}
	}
	return v.validator.Validate(v.publicURL+r.URL.RequestURI(), params, sig)
}
