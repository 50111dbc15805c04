// Package fileperm keeps the files that hold callers' data (numbers,
// emails, call decisions) readable and writable by their owner only.
package fileperm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// Private is the mode of a file that holds callers' data.
const Private fs.FileMode = 0o600

// Create creates the file at path, empty and with mode Private, unless a
// file is there already (left as it is: see Tighten). Programs that create
// their files themselves with a wider mode (SQLite: 0644) keep the mode of
// a file that exists.
func Create(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, Private)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// Tighten takes every permission group and others have away from the file
// at path, if there is one, and warns that it did. When that fails (the
// file belongs to another user) it warns and leaves the file as it is: the
// caller goes on.
func Tighten(ctx context.Context, path string, logger *slog.Logger) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		logger.WarnContext(ctx, "cannot check a data file's permissions", "file", path, "err", err)
		return
	}
	mode := fi.Mode().Perm()
	if mode&0o077 == 0 {
		return
	}
	if err := os.Chmod(path, mode&^0o077); err != nil {
		logger.WarnContext(ctx, "data file open to other users and cannot be made private",
			"fix", "chmod it to 600", "file", path, "mode", fmt.Sprintf("%#o", mode), "err", err)
		return
	}
	logger.WarnContext(ctx, "data file was open to other users, made private",
		"file", path, "was", fmt.Sprintf("%#o", mode), "now", fmt.Sprintf("%#o", mode&^0o077))
}

// Owner returns the user id that owns the file fi describes; ok is false
// where the system has no such notion (then nothing can be said).
func Owner(fi fs.FileInfo) (uid int, ok bool) { return owner(fi) }
