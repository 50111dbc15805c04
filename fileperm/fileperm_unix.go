//go:build unix

package fileperm

import (
	"io/fs"
	"syscall"
)

// NoFollow makes os.OpenFile refuse a symbolic link as the last element
// of the name.
const NoFollow = syscall.O_NOFOLLOW

func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
