// Package didrouter holds the domain: workspaces, activities, workers, task
// queues, workflows, tasks, reservations, events and timers, the coded
// Error, the Clock and sids, and the Store contract that persists them,
// with the web and call settings stores beside it. It imports nothing of
// didrouter's, so the stores and the packages that only read data depend
// on it and not on the routing state machine in package engine.
package didrouter
