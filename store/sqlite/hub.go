package sqlite

import (
	"context"
	"sync"

	"github.com/didrouter/didrouter"
)

// hub fans committed changes out to this process's subscribers.
type hub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

// subscriber queues changes for one receiver; its goroutine drains the
// queue into the receiver's channel.
type subscriber struct {
	mu    sync.Mutex
	queue []didrouter.Change
	wake  chan struct{} // capacity 1: "the queue has grown"
}

func newHub() *hub { return &hub{subs: make(map[*subscriber]struct{})} }

func (h *hub) subscribe(ctx context.Context) <-chan didrouter.Change {
	sub := &subscriber{wake: make(chan struct{}, 1)}
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	out := make(chan didrouter.Change)
	go func() {
		defer close(out)
		defer func() {
			h.mu.Lock()
			delete(h.subs, sub)
			h.mu.Unlock()
		}()
		for {
			sub.mu.Lock()
			batch := sub.queue
			sub.queue = nil
			sub.mu.Unlock()
			for _, c := range batch {
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-sub.wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// publish never blocks: a slow receiver only makes its queue longer.
func (h *hub) publish(changes []didrouter.Change) {
	if len(changes) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.mu.Lock()
		sub.queue = append(sub.queue, changes...)
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default: // already signalled
		}
	}
}
