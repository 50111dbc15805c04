//go:build unix

package degraded

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f without waiting. One
// process at a time writes a journal, either its instance or the journal
// replay command. The lock goes away with the process.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrJournalInUse
	}
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}
