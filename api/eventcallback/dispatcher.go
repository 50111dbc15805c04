// Package eventcallback implements TaskRouter's workspace event callbacks.
// Every event the engine commits in a workspace that has an
// EventCallbackUrl is POSTed there with TaskRouter's parameters,
// form-encoded and signed as package callback is configured. When the
// workspace has an EventsFilter, only the event types it lists are sent.
//
// Delivery is at most once, by the instance that committed the event, after
// commit and outside any transaction. An event still queued when the
// instance stops or dies is never sent, and a full queue drops events with
// a warning. Events of one task (its reservations included), or of one
// other resource, are sent in the order they were committed on that
// instance; different resources are sent concurrently. Each event goes to
// the workspace's URL as it is when the event is sent.
package eventcallback

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"

	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/api/callback"
)

// Defaults of a Dispatcher.
const (
	DefaultQueue   = 10000
	DefaultWorkers = 4
)

// Config configures a Dispatcher. Store and Client are required.
type Config struct {
	Store didrouter.Reader
	// Workspace, when set, reads a workspace's settings instead of Store
	// (the engine's cache: a call commits several events).
	Workspace func(ctx context.Context, sid string) (didrouter.Workspace, error)
	// Settings say how callbacks are sent. Their Client is required.
	callback.Settings

	Queue   int // events waiting to be sent, all shards together; 0 = 10000
	Workers int // events sent at once (one per shard); 0 = 4
}

// Dispatcher sends event callbacks in the background.
type Dispatcher struct {
	cfg    Config
	log    *slog.Logger
	queue  *callback.Queue[didrouter.Event]
	sender callback.Sender
}

// New checks cfg and returns a Dispatcher; call Run to send.
func New(cfg Config) (*Dispatcher, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("eventcallback: Config.Store is required")
	case cfg.Client == nil:
		return nil, errors.New("eventcallback: Config.Client is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	// One sender per shard keeps each shard's events in commit order.
	return &Dispatcher{cfg: cfg, log: cfg.Logger, queue: callback.NewQueue[didrouter.Event](cfg.Workers, 1, cfg.Queue),
		sender: cfg.Sender("didrouter-event-callback")}, nil
}

// Notify queues a committed event without blocking. It is safe on a nil
// Dispatcher (event callbacks off).
func (d *Dispatcher) Notify(e didrouter.Event) {
	if d == nil {
		return
	}
	if !d.queue.Add(shardKey(e), e) {
		d.log.Warn("event callback dropped", "reason", "queue full", "event", e.SID, "type", e.EventType, "resource", e.ResourceSID)
	}
}

// shardKey keeps the events of one task (its reservations included) or of
// one other resource on one sender, so they go out in commit order.
func shardKey(e didrouter.Event) uint32 {
	key := e.TaskSID
	if key == "" {
		key = e.ResourceSID
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()
}

// Run sends queued events until ctx ends; events still queued then are not
// sent.
func (d *Dispatcher) Run(ctx context.Context) error {
	return d.queue.Run(ctx, d.handleBatch)
}

// maxBatch bounds how many queued events share one read of their
// workspace's callback settings.
const maxBatch = 64

// handleBatch handles first and up to maxBatch events already queued behind
// it. It reads each workspace's settings once for them, because most events
// go to workspaces without an EventCallbackUrl and a call makes several.
func (d *Dispatcher) handleBatch(ctx context.Context, first didrouter.Event, q <-chan didrouter.Event) {
	batch := []didrouter.Event{first}
fill:
	for len(batch) < maxBatch {
		select {
		case e := <-q:
			batch = append(batch, e)
		default:
			break fill
		}
	}
	settings := map[string]*didrouter.Workspace{} // nil: unreadable, skip its events
	for _, e := range batch {
		ws, ok := settings[e.WorkspaceSID]
		if !ok {
			ws = d.workspace(ctx, e)
			settings[e.WorkspaceSID] = ws
		}
		if ws != nil {
			d.handle(ctx, *ws, e)
		}
	}
}

// workspace reads the workspace of e (nil when it cannot be read).
func (d *Dispatcher) workspace(ctx context.Context, e didrouter.Event) *didrouter.Workspace {
	ws, err := d.readWorkspace(ctx, e.WorkspaceSID)
	if err != nil {
		if didrouter.ErrorCode(err) != didrouter.ENOTFOUND && ctx.Err() == nil {
			d.log.WarnContext(ctx, "event callback not sent", "reason", "workspace unreadable", "event", e.SID, "err", err)
		}
		return nil
	}
	return &ws
}

func (d *Dispatcher) readWorkspace(ctx context.Context, sid string) (didrouter.Workspace, error) {
	if d.cfg.Workspace != nil {
		return d.cfg.Workspace(ctx, sid)
	}
	return d.cfg.Store.GetWorkspace(ctx, sid)
}

// handle sends one event if its workspace wants it. Failures are logged:
// there is no caller to return them to.
func (d *Dispatcher) handle(ctx context.Context, ws didrouter.Workspace, e didrouter.Event) {
	if ws.EventCallbackURL == "" || !Wanted(ws.EventsFilter, e.EventType) {
		return
	}
	params := d.params(ctx, ws, e)
	// ws was read for the whole batch, and the events before this one may
	// have taken seconds. The URL is read again from the engine's cache
	// before each try, so a cleared URL gets nothing more and a changed one
	// gets what follows.
	current := func(ctx context.Context) (string, error) {
		now, err := d.readWorkspace(ctx, e.WorkspaceSID)
		if err != nil || !Wanted(now.EventsFilter, e.EventType) {
			return "", err
		}
		return now.EventCallbackURL, nil
	}
	if _, u, err := d.sender.Post(ctx, current, params); err != nil {
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, callback.ErrNotWanted):
			d.log.InfoContext(ctx, "event callback not sent", "reason", "callback url or filter changed",
				"event", e.SID, "type", e.EventType)
		default:
			d.log.WarnContext(ctx, "event callback failed", "event", e.SID,
				"type", e.EventType, "url", callback.Redact(u), "err", err)
		}
	}
}
