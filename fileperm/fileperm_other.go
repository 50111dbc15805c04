//go:build !unix

package fileperm

import "io/fs"

// NoFollow is 0 where the system has no such open flag (a symbolic link
// is then refused by the Lstat check alone).
const NoFollow = 0

func owner(fs.FileInfo) (int, bool) { return 0, false }
