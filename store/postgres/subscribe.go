package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/didrouter/didrouter"
)

// Reconnect backoff of a subscription whose connection broke.
const (
	minReconnectWait = 100 * time.Millisecond
	maxReconnectWait = 5 * time.Second
)

// Subscribe listens for committed changes of every instance on a dedicated
// connection (a LISTEN connection cannot be shared through the pool). When
// that connection breaks it reconnects with backoff and then sends a
// ChangeResync, since notifications sent meanwhile are lost. The channel is
// closed when ctx ends.
func (s *Store) Subscribe(ctx context.Context) (<-chan didrouter.Change, error) {
	conn, err := s.listen(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan didrouter.Change, 64)
	go s.receive(ctx, conn, ch)
	return ch, nil
}

func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("postgres: subscribe: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("postgres: subscribe: listen: %w", err)
	}
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx) // the connection is being dropped either way
}

func (s *Store) receive(ctx context.Context, conn *pgx.Conn, ch chan<- didrouter.Change) {
	defer close(ch)
	defer func() {
		if conn != nil {
			closeConn(conn)
		}
	}()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err == nil {
			cs, err := decodeChanges(n.Payload)
			if err != nil {
				s.logger.WarnContext(ctx, "malformed change notification", "then", "ignored", "err", err)
				continue
			}
			for _, c := range cs {
				if !send(ctx, ch, c) {
					return
				}
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		s.logger.WarnContext(ctx, "change feed connection lost, reconnecting", "err", err)
		closeConn(conn)
		conn = s.reconnect(ctx)
		if conn == nil || !send(ctx, ch, didrouter.Change{Kind: didrouter.ChangeResync}) {
			return
		}
	}
}

// reconnect retries listen until it works or ctx ends (then it returns nil).
func (s *Store) reconnect(ctx context.Context) *pgx.Conn {
	wait := minReconnectWait
	for {
		if sleep(ctx, wait) != nil {
			return nil
		}
		conn, err := s.listen(ctx)
		if err == nil {
			s.logger.InfoContext(ctx, "change feed reconnected")
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		s.logger.WarnContext(ctx, "change feed reconnect failed, retrying", "in", wait.String(), "err", err)
		wait = min(2*wait, maxReconnectWait)
	}
}

func send(ctx context.Context, ch chan<- didrouter.Change, c didrouter.Change) bool {
	select {
	case ch <- c:
		return true
	case <-ctx.Done():
		return false
	}
}
