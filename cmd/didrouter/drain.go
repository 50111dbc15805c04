package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// engineStopTimeout bounds how long shutdown waits for the engine's loops
// (change feed, timer loop, assignment callbacks) once they are told to
// stop; they only have to notice a canceled context.
const engineStopTimeout = 5 * time.Second

// errDraining is what /readyz reports once shutdown has begun.
var errDraining = errors.New("draining: this instance is shutting down")

// drainer holds the shutdown state that /readyz reports.
type drainer struct{ draining atomic.Bool }

// ready fails once draining has begun, so that a load balancer that polls
// /readyz stops sending new calls here.
func (d *drainer) ready() error {
	if d.draining.Load() {
		return errDraining
	}
	return nil
}

// drainHTTP stops the HTTP side in order. /readyz fails at once. The
// listener keeps accepting for delay, so a balancer that has not noticed yet
// still gets answers. Then new connections are refused, idle ones are
// closed, and requests in flight have at most timeout to finish before
// their connections are closed. The engine is left running, because
// in-flight webhooks still need it.
func drainHTTP(srv *http.Server, d *drainer, delay, timeout time.Duration, logger *slog.Logger) {
	d.draining.Store(true)
	if delay > 0 {
		logger.Info("draining, /readyz fails", "delay", delay.String())
		time.Sleep(delay)
	}
	logger.Info("finishing in-flight requests", "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		logger.Warn("in-flight requests did not finish, closing connections", "err", err)
		_ = srv.Close()
		return
	}
	logger.Info("in-flight requests finished", "took", time.Since(start).Round(time.Millisecond).String())
}

// waitStopped waits for each done channel for at most engineStopTimeout in
// all, and reports whether all of them closed (or sent) in time. The
// timers the engine had not fired stay in the store: another instance's
// timer loop fires them.
func waitStopped(logger *slog.Logger, done ...<-chan struct{}) bool {
	deadline := time.NewTimer(engineStopTimeout)
	defer deadline.Stop()
	for _, ch := range done {
		select {
		case <-ch:
		case <-deadline.C:
			logger.Warn("engine did not stop in time, exiting anyway",
				"timeout", engineStopTimeout.String())
			return false
		}
	}
	return true
}
