package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/didrouter/didrouter"
)

// Mount registers the API under /v1 on r. Every endpoint is listed here,
// so this is the one place to read what the API serves.
func (h *Handler) Mount(r chi.Router) {
	r.Route("/v1", func(r chi.Router) {
		r.Use(h.recoverer, h.check(h.refuseCrossOrigin), h.check(h.authenticate), h.limitBody, h.check(checkInput))
		r.NotFound(h.handle(h.notFound))
		r.MethodNotAllowed(h.handle(h.methodNotAllowed))
		r.Get("/Workspaces", h.handle(with(parsePage, h.listWorkspaces)))
		r.Route("/Workspaces/{workspace}", func(r chi.Router) {
			r.Use(h.loadWorkspace)
			r.Get("/", h.handle(h.getWorkspace))
			r.Post("/", h.handle(h.updateWorkspace))

			mountResource(h, r, "/Activities", resource[didrouter.Activity, activityJSON]{show: h.activityJSON,
				list: h.listActivities, create: h.createActivity, get: h.store.GetActivity,
				update: h.updateActivity, remove: h.removeActivity})
			mountResource(h, r, "/Workers", resource[didrouter.Worker, workerJSON]{show: h.workerJSON,
				list: h.listWorkers, create: h.createWorker, get: h.store.GetWorker,
				update: h.updateWorker, remove: h.eng.DeleteWorker})
			// The engine refuses (409) to delete a queue a workflow still
			// targets, the workspace's default workflow and a workflow with
			// unfinished tasks. A task is deleted in any state: a reservation
			// it holds ends first and its worker is freed.
			mountResource(h, r, "/TaskQueues", resource[didrouter.TaskQueue, taskQueueJSON]{show: h.taskQueueJSON,
				list: h.listTaskQueues, create: h.createTaskQueue, get: h.store.GetTaskQueue,
				update: h.updateTaskQueue, remove: readFirst(h.store.GetTaskQueue, h.eng.DeleteTaskQueue)})
			mountResource(h, r, "/Workflows", resource[didrouter.Workflow, workflowJSON]{show: h.workflowJSON,
				list: h.listWorkflows, create: h.createWorkflow, get: h.store.GetWorkflow,
				update: h.updateWorkflow, remove: readFirst(h.store.GetWorkflow, h.eng.DeleteWorkflow)})
			mountResource(h, r, "/Tasks", resource[didrouter.Task, taskJSON]{show: h.oneTaskJSON,
				list: h.listTasks, create: h.createTask, get: h.store.GetTask,
				update: h.updateTask, remove: h.eng.DeleteTask})

			r.Get("/Workers/{worker}/Channels", h.handle(with(parsePage, h.listWorkerChannels)))
			r.Get("/Workers/{worker}/Channels/{sid}", h.handle(h.getWorkerChannel))
			r.Post("/Workers/{worker}/Channels/{sid}", h.handle(h.updateWorkerChannel))
			r.Post("/Workers/{sid}/RevokeAgentTokens", h.handle(h.revokeAgentTokens))

			// Reservations are served under their task and under their
			// worker, as in TaskRouter.
			for _, via := range []parent{byTask, byWorker} {
				path := via.path()
				r.Get(path, h.handle(with(parsePage, h.listReservations(via))))
				r.Get(path+"/{sid}", h.handle(h.getReservation(via)))
				r.Post(path+"/{sid}", h.handle(h.updateReservation(via)))
			}

			r.Get("/Events", h.handle(with(parsePage, h.listEvents)))

			r.Get("/Statistics", h.handle(h.workspaceStatistics))
			r.Get("/RealTimeStatistics", h.handle(h.workspaceRealTime))
			r.Get("/CumulativeStatistics", h.handle(h.workspaceCumulative))
			r.Get("/TaskQueues/Statistics", h.handle(with(parsePage, h.taskQueuesStatistics)))
			r.Get("/TaskQueues/{sid}/Statistics", h.handle(with(h.pathQueue, h.taskQueueStatistics)))
			r.Get("/TaskQueues/{sid}/RealTimeStatistics", h.handle(with(h.pathQueue, h.taskQueueRealTime)))
			r.Get("/TaskQueues/{sid}/CumulativeStatistics", h.handle(with(h.pathQueue, h.taskQueueCumulative)))

			// didrouter's own: DID files and call settings.
			r.Post("/DIDs/Import", h.handle(h.importDIDs))
			r.Get("/DIDs/Export", h.handle(h.exportDIDs))
			r.Get("/CallSettings", h.handle(with(h.settingsNumber, h.listCallSettings)))
			r.Post("/CallSettings", h.handle(with(h.settingsNumber, h.putCallSettings)))
			r.Get("/CallSettings/{number}", h.handle(with(h.settingsNumber, h.getCallSettings)))
			r.Post("/CallSettings/{number}", h.handle(with(h.settingsNumber, h.putCallSettings)))
			r.Delete("/CallSettings/{number}", h.handle(with(h.settingsNumber, h.deleteCallSettings)))
		})
	})
	// Outside /v1, with its own credentials (admin or an agent token).
	r.With(h.recoverer, h.cors).Get(AgentNumberPath, h.handle(h.agentNumber))
	r.With(h.cors).Options(AgentNumberPath, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
}

// resource is one kind of TaskRouter resource. Its handlers say only what
// is particular to it: mountResource reads the workspace, the {sid} and
// the form of the request, and answers what they return, shown by show.
type resource[T, J any] struct {
	show   func(*http.Request, T) J
	list   func(w http.ResponseWriter, r *http.Request, p pageRequest) error
	create func(ctx context.Context, ws string, f form) (T, error)
	get    func(ctx context.Context, ws, sid string) (T, error)
	update func(ctx context.Context, ws, sid string, f form) (T, error)
	remove func(ctx context.Context, ws, sid string) error
}

// mountResource registers res as TaskRouter lays out its resources: the
// list at path (GET lists, POST creates), each one at path/{sid} (GET
// reads, POST updates, DELETE removes).
func mountResource[T, J any](h *Handler, r chi.Router, path string, res resource[T, J]) {
	answer := func(w http.ResponseWriter, r *http.Request, status int, v T, err error) error {
		if err != nil {
			return err
		}
		writeJSON(w, status, res.show(r, v))
		return nil
	}
	r.Get(path, h.handle(with(parsePage, res.list)))
	r.Post(path, h.handle(with(parseForm, func(w http.ResponseWriter, r *http.Request, f form) error {
		v, err := res.create(r.Context(), workspaceOf(r).SID, f)
		return answer(w, r, http.StatusCreated, v, err)
	})))
	r.Get(path+"/{sid}", h.handle(func(w http.ResponseWriter, r *http.Request) error {
		ws, sid := pathSID(r)
		v, err := res.get(r.Context(), ws, sid)
		return answer(w, r, http.StatusOK, v, err)
	}))
	r.Post(path+"/{sid}", h.handle(with(parseForm, func(w http.ResponseWriter, r *http.Request, f form) error {
		ws, sid := pathSID(r)
		v, err := res.update(r.Context(), ws, sid, f)
		return answer(w, r, http.StatusOK, v, err)
	})))
	r.Delete(path+"/{sid}", h.handle(func(w http.ResponseWriter, r *http.Request) error {
		ws, sid := pathSID(r)
		if err := res.remove(r.Context(), ws, sid); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
}

// pathSID is the workspace of the path and the {sid} in it.
func pathSID(r *http.Request) (ws, sid string) {
	return workspaceOf(r).SID, chi.URLParam(r, "sid")
}

// readFirst removes with remove only what read finds, so that an unknown
// sid is a 404 rather than what the engine's checks would answer.
func readFirst[T any](read func(ctx context.Context, ws, sid string) (T, error), remove func(ctx context.Context, ws, sid string) error) func(ctx context.Context, ws, sid string) error {
	return func(ctx context.Context, ws, sid string) error {
		if _, err := read(ctx, ws, sid); err != nil {
			return err
		}
		return remove(ctx, ws, sid)
	}
}

// with adapts fn, a handler of what read finds for the request (such as
// the resource its path names), to a handlerFunc. read's error is the
// answer.
func with[T any](read func(*http.Request) (T, error), fn func(http.ResponseWriter, *http.Request, T) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := read(r)
		if err != nil {
			return err
		}
		return fn(w, r, v)
	}
}

// render shows each row of a page, for writePage.
func render[T, J any](r *http.Request, rows []T, show func(*http.Request, T) J) []J {
	out := make([]J, 0, len(rows))
	for _, v := range rows {
		out = append(out, show(r, v))
	}
	return out
}

// writePage answers a page of a list: its items under key, and its paging
// block. next is the token of the following page ("" on the last).
func (h *Handler) writePage(w http.ResponseWriter, r *http.Request, key string, p pageRequest, next string, items any) error {
	writeJSON(w, http.StatusOK, map[string]any{key: items, "meta": h.listMeta(r, key, p, next)})
	return nil
}
