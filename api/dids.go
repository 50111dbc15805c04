package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// DID files: how an HR or SSO system's list of agents and their numbers
// reaches didrouter in one go (didrouter-specific, not TaskRouter):
//
//	POST …/Workspaces/{WS}/DIDs/Import   body: the CSV file (Content-Type text/csv); ?DryRun=true
//	GET  …/Workspaces/{WS}/DIDs/Export   answers the same CSV format
//
// An import is one transaction: every row is checked first, and the first
// bad row fails it all (400 or 409 naming the row); nothing is written.

// didImporter is what DID files need from the engine (*engine.Engine).
type didImporter interface {
	ImportWorkers(ctx context.Context, workspaceSID string, rows []engine.WorkerImport, dryRun bool) ([]engine.ImportedWorker, error)
}

// normalizerOwner is an engine that shares its phone normalizer.
type normalizerOwner interface {
	Normalizer() *routing.Normalizer
}

// normalizer is the engine's (its default region), else a US one.
func (h *Handler) normalizer() *routing.Normalizer {
	if o, ok := h.eng.(normalizerOwner); ok && o.Normalizer() != nil {
		return o.Normalizer()
	}
	n, _ := routing.NewNormalizer("US") // a constant, supported region
	return n
}

// importedJSON is one row of an import's answer.
type importedJSON struct {
	Row                 int      `json:"row"`
	Action              string   `json:"action"` // created, updated, unchanged
	WorkerSID           *string  `json:"worker_sid"`
	FriendlyName        string   `json:"friendly_name"`
	PhoneNumber         *string  `json:"phone_number"`
	PreviousPhoneNumber *string  `json:"previous_phone_number"`
	Changed             []string `json:"changed"`
}

type importJSON struct {
	DryRun    bool           `json:"dry_run"`
	Created   int            `json:"created"`
	Updated   int            `json:"updated"`
	Unchanged int            `json:"unchanged"`
	Workers   []importedJSON `json:"workers"`
}

// csvBody reports whether a body type is taken as a CSV file. A
// form-encoded body is refused: curl -d strips the file's line breaks.
func csvBody(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "text/csv", "application/csv", "text/plain", "application/octet-stream", "text/comma-separated-values":
		return true
	}
	return false
}

func (h *Handler) importDIDs(w http.ResponseWriter, r *http.Request) error {
	imp, ok := h.eng.(didImporter)
	if !ok {
		return didrouter.Errorf(didrouter.EINVALID, "DID import is not supported by this engine")
	}
	dryRun := false
	if s := r.URL.Query().Get("DryRun"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return didrouter.Errorf(didrouter.EINVALID, "DryRun must be true or false, not %q", s)
		}
		dryRun = b
	}
	if !csvBody(r.Header.Get("Content-Type")) {
		return didrouter.Errorf(didrouter.EINVALID,
			"send the CSV file itself as the body with Content-Type: text/csv (curl --data-binary @file.csv -H 'Content-Type: text/csv'), not %s",
			r.Header.Get("Content-Type"))
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return didrouter.Errorf(didrouter.EINVALID, "the file is larger than the %d bytes one request may carry", tooLarge.Limit)
		}
		return didrouter.Errorf(didrouter.EINVALID, "reading the file: %v", err)
	}
	norm := h.normalizer()
	rows, err := parseDIDFile(data, norm)
	if err != nil {
		return err
	}
	out, err := imp.ImportWorkers(r.Context(), workspaceOf(r).SID, rows, dryRun)
	if err != nil && out == nil {
		return err
	}
	if err != nil {
		// Committed; only serving waiting tasks afterwards failed (they
		// wait for the next trigger).
		h.log.WarnContext(r.Context(), "serving waiting tasks after a did import failed", "err", err)
	}
	ans := importJSON{DryRun: dryRun, Workers: make([]importedJSON, 0, len(out))}
	for _, res := range out {
		j := importedJSON{
			Row: res.Row, Action: res.Action, WorkerSID: nullable(res.Worker.SID), FriendlyName: res.Worker.FriendlyName,
			PhoneNumber: nullable(res.Worker.PhoneNumber), PreviousPhoneNumber: nullable(res.Before.PhoneNumber),
			Changed: res.Change,
		}
		if j.Changed == nil {
			j.Changed = []string{}
		}
		switch res.Action {
		case engine.ImportCreated:
			ans.Created++
		case engine.ImportUpdated:
			ans.Updated++
		default:
			ans.Unchanged++
		}
		ans.Workers = append(ans.Workers, j)
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// exportDIDs writes every worker of the workspace in the import format.
func (h *Handler) exportDIDs(w http.ResponseWriter, r *http.Request) error {
	ws := workspaceOf(r)
	workers, err := h.allWorkers(r.Context(), ws.SID)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := writeDIDFile(&buf, workers); err != nil {
		return fmt.Errorf("write DID file: %w", err)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="dids-`+strings.ToLower(ws.SID)+`.csv"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}
