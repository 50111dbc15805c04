package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Precision is the resolution times are stored with.
const Precision = time.Microsecond

// UTC returns t in UTC truncated to the stored precision: what a store gives
// back for t.
func UTC(t time.Time) time.Time { return t.UTC().Truncate(Precision) }

// timeArg encodes t for a statement.
func (q *Queries) timeArg(t time.Time) any { return q.d.Time(UTC(t)) }

// timeDest scans a stored time, a timestamptz on Postgres or unix
// microseconds on SQLite. NULL scans as the zero time.
type timeDest struct{ t *time.Time }

func scanTime(t *time.Time) timeDest { return timeDest{t} }

// Scan implements sql.Scanner (SQLite, and pgx's fallback).
func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		*d.t = time.UnixMicro(v).UTC()
	case time.Time:
		*d.t = v.UTC()
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}

// ScanTimestamptz lets pgx decode a timestamptz without the database/sql detour.
func (d timeDest) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		*d.t = time.Time{}
		return nil
	}
	*d.t = v.Time.UTC()
	return nil
}

// sidList scans a JSON array of sids (tasks.rejected_workers).
type sidList struct{ s *[]string }

func (d sidList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*d.s = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("cannot scan %T into a sid list", src)
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("decode sid list %q: %w", b, err)
	}
	if len(list) == 0 {
		list = nil // an empty list reads back as nil
	}
	*d.s = list
	return nil
}

// sidListArg encodes a sid list as a JSON array ("[]" for none).
func sidListArg(list []string) string {
	if len(list) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(list) // a []string always marshals
	return string(b)
}

// rawText scans a text column as bytes valid until the next row. With pgx
// they are its read buffer itself, through ScanBytes. With database/sql
// they are what it hands a Scanner, copied into buf when the driver gives
// a string.
type rawText struct {
	b   *[]byte
	buf *[]byte
}

// ScanBytes implements pgtype.BytesScanner: v is the driver's buffer.
func (d rawText) ScanBytes(v []byte) error {
	*d.b = v
	return nil
}

// Scan implements sql.Scanner.
func (d rawText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.b = nil
	case []byte:
		*d.b = v
	case string:
		*d.buf = append((*d.buf)[:0], v...)
		*d.b = *d.buf
	default:
		return fmt.Errorf("cannot scan %T into text", src)
	}
	return nil
}
