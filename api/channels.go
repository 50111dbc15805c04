package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// didrouter keeps one capacity per worker, shared by every task channel (a
// chat task takes the same unit a call does). The Worker Channels resource
// shows it as the worker's one channel, "voice"; its capacity is the
// worker's capacity and its assigned tasks the worker's busy count.
const (
	voiceChannel = "voice"
)

// derivedSID returns a stable sid for something didrouter does not store as
// a row of its own (a worker's channel, a task channel).
func derivedSID(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + hex.EncodeToString(h.Sum(nil)[:16])
}

// taskChannelSID is the sid shown for a task channel unique name.
func taskChannelSID(ws, name string) string { return derivedSID("TC", ws, name) }

func workerChannelSID(worker string) string { return derivedSID("WC", worker, voiceChannel) }

func (h *Handler) workerChannelRoutes(r chi.Router) {
	r.Get("/Workers/{worker}/Channels", h.handle(h.listWorkerChannels))
	r.Get("/Workers/{worker}/Channels/{sid}", h.handle(h.getWorkerChannel))
	r.Post("/Workers/{worker}/Channels/{sid}", h.handle(h.updateWorkerChannel))
}

type workerChannelJSON struct {
	AccountSID                  *string `json:"account_sid"`
	AssignedTasks               int     `json:"assigned_tasks"`
	Available                   bool    `json:"available"`
	AvailableCapacityPercentage int     `json:"available_capacity_percentage"`
	ConfiguredCapacity          int     `json:"configured_capacity"`
	DateCreated                 *string `json:"date_created"`
	DateUpdated                 *string `json:"date_updated"`
	SID                         string  `json:"sid"`
	TaskChannelSID              string  `json:"task_channel_sid"`
	TaskChannelUniqueName       string  `json:"task_channel_unique_name"`
	WorkerSID                   string  `json:"worker_sid"`
	WorkspaceSID                string  `json:"workspace_sid"`
	URL                         string  `json:"url"`
}

func (h *Handler) workerChannelJSON(r *http.Request, w didrouter.Worker) workerChannelJSON {
	sid := workerChannelSID(w.SID)
	free := 0
	if w.Capacity > 0 {
		free = max(w.Capacity-w.Busy, 0) * 100 / w.Capacity
	}
	return workerChannelJSON{
		AccountSID:                  nullable(h.account),
		AssignedTasks:               w.Busy,
		Available:                   true,
		AvailableCapacityPercentage: free,
		ConfiguredCapacity:          w.Capacity,
		DateCreated:                 isoTime(w.DateCreated),
		DateUpdated:                 isoTime(w.DateUpdated),
		SID:                         sid,
		TaskChannelSID:              taskChannelSID(w.WorkspaceSID, voiceChannel),
		TaskChannelUniqueName:       voiceChannel,
		WorkerSID:                   w.SID,
		WorkspaceSID:                w.WorkspaceSID,
		URL:                         h.workspaceURL(r, w.WorkspaceSID) + "/Workers/" + w.SID + "/Channels/" + sid,
	}
}

func (h *Handler) listWorkerChannels(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r.URL.Query())
	if err != nil {
		return err
	}
	wk, err := h.store.GetWorker(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "worker"))
	if err != nil {
		return err
	}
	page, next := pageOf([]workerChannelJSON{h.workerChannelJSON(r, wk)}, p, func(c workerChannelJSON) string { return c.SID })
	writeJSON(w, http.StatusOK, map[string]any{"channels": page, "meta": h.listMeta(r, "channels", p, next)})
	return nil
}

// channelWorker reads the worker of a channel path; the channel is named by
// its sid or its unique name.
func (h *Handler) channelWorker(r *http.Request) (didrouter.Worker, error) {
	wk, err := h.store.GetWorker(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "worker"))
	if err != nil {
		return didrouter.Worker{}, err
	}
	if sid := chi.URLParam(r, "sid"); sid != voiceChannel && sid != workerChannelSID(wk.SID) {
		return didrouter.Worker{}, didrouter.Errorf(didrouter.ENOTFOUND,
			"worker channel %s not found: didrouter keeps one capacity per worker, shared by all task channels, as the channel %q",
			sid, voiceChannel)
	}
	return wk, nil
}

func (h *Handler) getWorkerChannel(w http.ResponseWriter, r *http.Request) error {
	wk, err := h.channelWorker(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.workerChannelJSON(r, wk))
	return nil
}

// updateWorkerChannel sets Capacity (0–50). Available=false (switching one
// channel off) has no counterpart: move the worker to an unavailable
// activity instead.
func (h *Handler) updateWorkerChannel(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(r)
	var capacity *int
	if err == nil {
		err = f.onlyValues("Available", "true", "True")
	}
	if err == nil {
		capacity, err = f.intPtr("Capacity")
	}
	if err != nil {
		return err
	}
	wk, err := h.channelWorker(r)
	if err == nil && capacity != nil {
		wk, err = h.eng.UpdateWorker(r.Context(), wk.WorkspaceSID, wk.SID, engine.WorkerUpdate{Capacity: capacity})
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.workerChannelJSON(r, wk))
	return nil
}
