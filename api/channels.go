package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/engine"
)

// TaskRouter keeps a capacity per worker and task channel, and didrouter
// keeps two. "voice" is shared by every task channel but one, so a chat task
// takes the unit a call does. "messages" is the channel of the voicemail and
// call-back tasks. The Worker Channels resource shows them as the worker's
// two channels. Each one's capacity is the worker's capacity on it, and its
// assigned tasks are what holds it.
const (
	voiceChannel = engine.DefaultTaskChannel
)

// workerChannels are the channels every worker has, in the order listed.
var workerChannels = []string{voiceChannel, didrouter.MessageChannel}

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

func workerChannelSID(worker, channel string) string { return derivedSID("WC", worker, channel) }

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

// channelLoad is a worker's capacity on a channel and what holds it.
func channelLoad(w didrouter.Worker, channel string) (capacity, busy int) {
	if channel == didrouter.MessageChannel {
		return w.MessageCapacity, w.MessageBusy
	}
	return w.Capacity, w.Busy
}

func (h *Handler) workerChannelJSON(r *http.Request, w didrouter.Worker, channel string) workerChannelJSON {
	sid := workerChannelSID(w.SID, channel)
	capacity, busy := channelLoad(w, channel)
	free := 0
	if capacity > 0 {
		free = max(capacity-busy, 0) * 100 / capacity
	}
	return workerChannelJSON{
		AccountSID:                  nullable(h.account),
		AssignedTasks:               busy,
		Available:                   true,
		AvailableCapacityPercentage: free,
		ConfiguredCapacity:          capacity,
		DateCreated:                 isoTime(w.DateCreated),
		DateUpdated:                 isoTime(w.DateUpdated),
		SID:                         sid,
		TaskChannelSID:              taskChannelSID(w.WorkspaceSID, channel),
		TaskChannelUniqueName:       channel,
		WorkerSID:                   w.SID,
		WorkspaceSID:                w.WorkspaceSID,
		URL:                         h.workspaceURL(r, w.WorkspaceSID) + "/Workers/" + w.SID + "/Channels/" + sid,
	}
}

// pathWorker reads the {worker} of a channel or reservation path.
func (h *Handler) pathWorker(r *http.Request) (didrouter.Worker, error) {
	return h.store.GetWorker(r.Context(), workspaceOf(r).SID, chi.URLParam(r, "worker"))
}

func (h *Handler) listWorkerChannels(w http.ResponseWriter, r *http.Request, p pageRequest) error {
	wk, err := h.pathWorker(r)
	if err != nil {
		return err
	}
	all := make([]workerChannelJSON, 0, len(workerChannels))
	for _, ch := range workerChannels {
		all = append(all, h.workerChannelJSON(r, wk, ch))
	}
	page, next := pageOf(all, p, func(c workerChannelJSON) string { return c.SID })
	return h.writePage(w, r, "channels", p, next, page)
}

// channelWorker reads the worker and the channel of a channel path; the
// channel is named by its sid or its unique name.
func (h *Handler) channelWorker(r *http.Request) (didrouter.Worker, string, error) {
	wk, err := h.pathWorker(r)
	if err != nil {
		return didrouter.Worker{}, "", err
	}
	sid := chi.URLParam(r, "sid")
	for _, ch := range workerChannels {
		if sid == ch || sid == workerChannelSID(wk.SID, ch) {
			return wk, ch, nil
		}
	}
	return didrouter.Worker{}, "", didrouter.Errorf(didrouter.ENOTFOUND,
		"worker channel %s not found: didrouter keeps two capacities per worker, the channel %q (shared by every task channel but %q) and %q",
		sid, voiceChannel, didrouter.MessageChannel, didrouter.MessageChannel)
}

func (h *Handler) getWorkerChannel(w http.ResponseWriter, r *http.Request) error {
	wk, ch, err := h.channelWorker(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.workerChannelJSON(r, wk, ch))
	return nil
}

// updateWorkerChannel sets the Capacity of one channel, from 0 to 50.
// Available=false, which switches one channel off in TaskRouter, has no
// counterpart. Move the worker to an unavailable activity instead, or set
// the channel's capacity to 0.
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
	wk, ch, err := h.channelWorker(r)
	if err == nil && capacity != nil {
		u := engine.WorkerUpdate{Capacity: capacity}
		if ch == didrouter.MessageChannel {
			u = engine.WorkerUpdate{MessageCapacity: capacity}
		}
		wk, err = h.eng.UpdateWorker(r.Context(), wk.WorkspaceSID, wk.SID, u)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.workerChannelJSON(r, wk, ch))
	return nil
}
