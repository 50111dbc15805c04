package engine

import (
	"github.com/didrouter/didrouter/routing"

	"github.com/didrouter/didrouter"
)

// Task channels and capacity, as TaskRouter has them: a worker has a
// capacity per channel. didrouter keeps two. Voice (Worker.Capacity and
// Busy) is taken by every channel but one, as before channels had
// capacities of their own; MessageChannel (MessageCapacity, MessageBusy) is
// taken by the voicemail and call-back tasks the webhooks make. A message
// offered to an agent then never keeps a live call from them, and an agent
// on a call can still be offered a message.

// capacityOf is the capacity a task of the given channel takes a unit of.
func capacityOf(channel string) routing.Capacity {
	if channel == didrouter.MessageChannel {
		return routing.Messages
	}
	return routing.Voice
}

// hasRoom reports whether w could take a reservation on some channel.
func hasRoom(w didrouter.Worker) bool {
	return w.Available && (w.Busy < w.Capacity || w.MessageBusy < w.MessageCapacity)
}

// sameCapacity reports whether tasks of two task channels take units of the
// same capacity (every channel but MessageChannel takes voice).
func sameCapacity(a, b string) bool {
	return capacityOf(a) == capacityOf(b)
}

// HoldsWork reports whether w holds a task or reservation on any channel.
func HoldsWork(w didrouter.Worker) bool { return w.Busy > 0 || w.MessageBusy > 0 }
