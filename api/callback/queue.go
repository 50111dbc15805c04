package callback

import (
	"context"
	"sync"
)

// Queue holds what a dispatcher has yet to send, in shards, and runs the
// goroutines that send it. Adding never blocks, because the goroutine that
// adds has just committed a transaction: a full shard refuses.
type Queue[T any] struct {
	shards  []chan T
	senders int
}

// NewQueue makes a Queue of shards shards that hold size items in all (at
// least one each). Each shard is emptied by senders goroutines; one keeps
// the shard's items in order.
func NewQueue[T any](shards, senders, size int) *Queue[T] {
	q := &Queue[T]{senders: senders}
	per := max(size/shards, 1)
	for range shards {
		q.shards = append(q.shards, make(chan T, per))
	}
	return q
}

// Add queues v on the shard key picks; false when that shard is full.
func (q *Queue[T]) Add(key uint32, v T) bool {
	select {
	case q.shards[key%uint32(len(q.shards))] <- v:
		return true
	default:
		return false
	}
}

// Run sends until ctx ends. Each sender calls send with the next item of
// its shard; send may take more of what is queued from shard. Items still
// queued when ctx ends are not sent.
func (q *Queue[T]) Run(ctx context.Context, send func(ctx context.Context, first T, shard <-chan T)) error {
	var wg sync.WaitGroup
	for _, shard := range q.shards {
		for range q.senders {
			wg.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case v := <-shard:
						send(ctx, v, shard)
					}
				}
			})
		}
	}
	wg.Wait()
	return ctx.Err()
}
