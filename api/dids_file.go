package api

import (
	"io"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
	"github.com/didrouter/didrouter/routing"
)

// The DID file format for other callers (the admin console), so that its
// import and export are exactly the API's.

// ParseDIDFile reads a DID file into import rows for engine.ImportWorkers,
// as POST …/DIDs/Import does; a bad row is a *engine.RowError naming it.
func ParseDIDFile(data []byte, norm *routing.Normalizer) ([]engine.WorkerImport, error) {
	return parseDIDFile(data, norm)
}

// WriteDIDFile writes workers as GET …/DIDs/Export does.
func WriteDIDFile(w io.Writer, workers []didrouter.Worker) error { return writeDIDFile(w, workers) }
