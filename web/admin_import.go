package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api"
	"github.com/didrouter/didrouter/engine"
)

// DID files in the console: the API's format, parser and writer
// (api.ParseDIDFile, api.WriteDIDFile) and the engine's import, so that a
// preview here is exactly POST …/DIDs/Import?DryRun=true.

// maxImport bounds an import's request: a file as large as the API takes,
// and the form around it.
const maxImport = api.DefaultMaxBody + maxForm

// previewRows bounds the rows a preview table shows.
const previewRows = 500

// importRow is one row of a preview or a result.
type importRow struct {
	Row                  int
	Action               string // created, updated, unchanged
	SID, Name            string
	Number, NumberBefore string // display format
	Changed              string
}

type importData struct {
	CSV       string // the file, posted back by Apply
	FileName  string
	Applied   bool
	Rows      []importRow
	More      int // rows not shown
	Created   int
	Updated   int
	Unchanged int
	Error     string
	ErrorRow  int
}

// adminImportPage is the import form.
func (h *Handler) adminImportPage(w http.ResponseWriter, r *http.Request) {
	h.renderAdmin(w, r, http.StatusOK, "admin_import", "Import agents", "agents", view{}, &importData{})
}

// adminImport previews a DID file (a dry run: nothing is written) or,
// with apply, imports it. The preview posts the file back with its Apply
// button, so what is applied is what was previewed (checked again in the
// import's transaction).
func (h *Handler) adminImport(w http.ResponseWriter, r *http.Request) {
	d := &importData{}
	data, name, err := importFile(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			d.Error = fmt.Sprintf("The file is larger than the %d bytes an import may be: split it.", api.DefaultMaxBody)
			h.renderAdmin(w, r, http.StatusRequestEntityTooLarge, "admin_import", "Import agents", "agents", view{}, d)
			return
		}
		d.Error = err.Error()
		h.renderAdmin(w, r, http.StatusBadRequest, "admin_import", "Import agents", "agents", view{}, d)
		return
	}
	d.CSV, d.FileName = string(data), name
	apply := r.PostFormValue("apply") == "1"
	rows, err := api.ParseDIDFile(data, h.eng.Normalizer())
	var out []engine.ImportedWorker
	if err == nil {
		out, err = h.adminEngine().ImportWorkers(r.Context(), adminFrom(r.Context()).Workspace.SID, rows, !apply)
		if err != nil && out != nil {
			// Written; only serving waiting tasks afterwards failed.
			h.logError(r, "import committed; serving waiting tasks failed", err)
			err = nil
		}
	}
	if err != nil {
		status, known := adminStatus(err)
		if !known {
			h.failed(w, r, AdminAssets, "import the file", err)
			return
		}
		d.Error = didrouter.ErrorMessage(err)
		var re *engine.RowError
		if errors.As(err, &re) {
			d.ErrorRow = re.Row
			d.Error = fmt.Sprintf("Row %d: %s", re.Row, didrouter.ErrorMessage(err))
		}
		h.renderAdmin(w, r, status, "admin_import", "Import agents", "agents", view{}, d)
		return
	}
	d.Applied = apply
	norm := h.eng.Normalizer()
	for _, res := range out {
		switch res.Action {
		case engine.ImportCreated:
			d.Created++
		case engine.ImportUpdated:
			d.Updated++
		default:
			d.Unchanged++
		}
		if len(d.Rows) == previewRows {
			d.More++
			continue
		}
		d.Rows = append(d.Rows, importRow{Row: res.Row, Action: res.Action, SID: res.Worker.SID, Name: res.Worker.FriendlyName,
			Number: display(norm, res.Worker.PhoneNumber), NumberBefore: display(norm, res.Before.PhoneNumber),
			Changed: strings.Join(res.Change, ", ")})
	}
	if apply {
		h.log.InfoContext(r.Context(), "console did file imported", "created", d.Created, "updated", d.Updated,
			"unchanged", d.Unchanged, "client", clientIP(r))
		d.CSV = ""
	}
	h.renderAdmin(w, r, http.StatusOK, "admin_import", "Import agents", "agents", view{}, d)
}

// importFile reads the file of an import form: the uploaded file, else the
// text posted back by a preview's Apply button.
func importFile(r *http.Request) ([]byte, string, error) {
	if err := r.ParseMultipartForm(maxImport); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return nil, "", err
	}
	if f, hdr, err := r.FormFile("file"); err == nil {
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, api.DefaultMaxBody+1))
		if err != nil {
			return nil, "", fmt.Errorf("read the file: %w", err)
		}
		if len(data) > api.DefaultMaxBody {
			return nil, "", &http.MaxBytesError{Limit: api.DefaultMaxBody}
		}
		if len(bytes.TrimSpace(data)) > 0 {
			return data, hdr.Filename, nil
		}
	}
	if s := r.PostFormValue("csv"); strings.TrimSpace(s) != "" {
		if len(s) > api.DefaultMaxBody {
			return nil, "", &http.MaxBytesError{Limit: api.DefaultMaxBody}
		}
		return []byte(s), r.PostFormValue("name"), nil
	}
	return nil, "", errors.New("Choose a CSV file to import (or paste its text).")
}

// adminExport downloads every worker as a DID file, exactly as GET
// …/DIDs/Export writes it.
func (h *Handler) adminExport(w http.ResponseWriter, r *http.Request) {
	ws := adminFrom(r.Context()).Workspace
	var workers []didrouter.Worker
	if err := h.store.EachWorker(r.Context(), ws.SID, func(wk didrouter.Worker) error {
		workers = append(workers, wk)
		return nil
	}); err != nil {
		h.failed(w, r, AdminAssets, "read the agents", err)
		return
	}
	var buf bytes.Buffer
	if err := api.WriteDIDFile(&buf, workers); err != nil {
		h.failed(w, r, AdminAssets, "write the file", err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="dids-`+strings.ToLower(ws.SID)+`.csv"`)
	_, _ = w.Write(buf.Bytes())
}
