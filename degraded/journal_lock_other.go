//go:build !unix

package degraded

import "os"

// lockFile does nothing where flock is missing. Do not run two processes
// on one journal there.
func lockFile(*os.File) error { return nil }
