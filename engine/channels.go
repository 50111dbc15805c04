package engine

import (
	"github.com/didrouter/didrouter"
	"github.com/didrouter/didrouter/routing"
)

// As in TaskRouter, a worker has a capacity per task channel. didrouter
// keeps two. Every channel but one takes voice, which is Worker.Capacity
// and Busy. The voicemail and call-back tasks the webhooks make are on
// didrouter.MessageChannel and take MessageCapacity and MessageBusy. So a
// message offered to an agent never keeps a live call from them, and an
// agent on a call can still be offered a message.

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
