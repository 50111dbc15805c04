package api

import (
	"context"
	"net/http"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/callback"
	"github.com/didrouter/didrouter/engine"
)

type workflowJSON struct {
	AccountSID                    *string           `json:"account_sid"`
	AssignmentCallbackURL         *string           `json:"assignment_callback_url"`
	Configuration                 string            `json:"configuration"`
	DateCreated                   *string           `json:"date_created"`
	DateUpdated                   *string           `json:"date_updated"`
	DocumentContentType           string            `json:"document_content_type"`
	FallbackAssignmentCallbackURL *string           `json:"fallback_assignment_callback_url"`
	FriendlyName                  string            `json:"friendly_name"`
	SID                           string            `json:"sid"`
	TaskReservationTimeout        int               `json:"task_reservation_timeout"`
	WorkspaceSID                  string            `json:"workspace_sid"`
	URL                           string            `json:"url"`
	Links                         map[string]string `json:"links"`
}

func (h *Handler) workflowJSON(r *http.Request, wf didrouter.Workflow) workflowJSON {
	ws := h.workspaceURL(r, wf.WorkspaceSID)
	return workflowJSON{
		AccountSID:                    nullable(h.account),
		AssignmentCallbackURL:         nullable(callback.HidePassword(wf.AssignmentCallbackURL)),
		Configuration:                 wf.Configuration,
		DateCreated:                   isoTime(wf.DateCreated),
		DateUpdated:                   isoTime(wf.DateUpdated),
		DocumentContentType:           "application/json",
		FallbackAssignmentCallbackURL: nullable(callback.HidePassword(wf.FallbackAssignmentCallbackURL)),
		FriendlyName:                  wf.FriendlyName,
		SID:                           wf.SID,
		TaskReservationTimeout:        wf.TaskReservationTimeout,
		WorkspaceSID:                  wf.WorkspaceSID,
		URL:                           ws + "/Workflows/" + wf.SID,
		Links:                         map[string]string{"workspace": ws},
	}
}

func (h *Handler) listWorkflows(w http.ResponseWriter, r *http.Request, p pageRequest) error {
	q := r.URL.Query()
	all, err := h.store.ListWorkflows(r.Context(), workspaceOf(r).SID)
	if err != nil {
		return err
	}
	name := q.Get("FriendlyName")
	kept := keep(all, func(wf didrouter.Workflow) bool { return name == "" || wf.FriendlyName == name })
	page, next := pageOf(kept, p, func(wf didrouter.Workflow) string { return wf.SID })
	return h.writePage(w, r, "workflows", p, next, render(r, page, h.workflowJSON))
}

// workflowForm reads TaskReservationTimeout and the callback URLs of a
// workflow's creation or update. stored reads the workflow being updated
// (nil for a new one): its callback URLs are needed when one is sent back
// with its password hidden, as the API shows it.
func (h *Handler) workflowForm(f form, stored func() (didrouter.Workflow, error)) (*int, workflowCallbacks, error) {
	timeout, err := f.intPtr("TaskReservationTimeout")
	if err != nil {
		return nil, workflowCallbacks{}, err
	}
	var cur didrouter.Workflow
	if stored != nil {
		if cur, err = stored(); err != nil {
			return nil, workflowCallbacks{}, err
		}
	}
	callbacks, err := h.callbackURLs(f, cur)
	return timeout, callbacks, err
}

// createWorkflow validates the configuration in the engine; a bad one is a
// 400 whose message names the JSON path of the fault.
func (h *Handler) createWorkflow(ctx context.Context, ws string, f form) (didrouter.Workflow, error) {
	timeout, callbacks, err := h.workflowForm(f, nil)
	if err != nil {
		return didrouter.Workflow{}, err
	}
	n := engine.WorkflowInsert{
		FriendlyName:                  f.get("FriendlyName"),
		Configuration:                 f.get("Configuration"),
		AssignmentCallbackURL:         callbacks.primary(),
		FallbackAssignmentCallbackURL: callbacks.fallback(),
	}
	if timeout != nil {
		n.TaskReservationTimeout = *timeout
	}
	return h.eng.CreateWorkflow(ctx, ws, n)
}

func (h *Handler) updateWorkflow(ctx context.Context, ws, sid string, f form) (didrouter.Workflow, error) {
	timeout, callbacks, err := h.workflowForm(f, func() (didrouter.Workflow, error) {
		return h.store.GetWorkflow(ctx, ws, sid)
	})
	if err != nil {
		return didrouter.Workflow{}, err
	}
	return h.eng.UpdateWorkflow(ctx, ws, sid, engine.WorkflowUpdate{
		FriendlyName:                  f.ptr("FriendlyName"),
		Configuration:                 f.ptr("Configuration"),
		TaskReservationTimeout:        timeout,
		AssignmentCallbackURL:         callbacks[0],
		FallbackAssignmentCallbackURL: callbacks[1],
	})
}

// workflowCallbacks are the AssignmentCallbackUrl and
// FallbackAssignmentCallbackUrl of a request; nil = not sent.
type workflowCallbacks [2]*string

func (c workflowCallbacks) primary() string  { return derefString(c[0]) }
func (c workflowCallbacks) fallback() string { return derefString(c[1]) }

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// callbackURLs reads the callback URLs of a request that replace those of
// stored (the zero Workflow on create); see Handler.callbackURL.
func (h *Handler) callbackURLs(f form, stored didrouter.Workflow) (workflowCallbacks, error) {
	var out workflowCallbacks
	for i, p := range []struct{ param, stored string }{
		{"AssignmentCallbackUrl", stored.AssignmentCallbackURL},
		{"FallbackAssignmentCallbackUrl", stored.FallbackAssignmentCallbackURL},
	} {
		v := f.ptr(p.param)
		if v == nil {
			continue
		}
		u, err := h.callbackURL(p.param, *v, p.stored)
		if err != nil {
			return workflowCallbacks{}, err
		}
		out[i] = &u
	}
	return out, nil
}
