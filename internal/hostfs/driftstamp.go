/*
Copyright 2026 The kube-multipath Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package hostfs

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// defaultRacyWindow: a file changed less than this before its stamp is taken is never trusted
// by its stamp, since another change within the same clock tick could leave the stamp as it
// was (git's "racily clean" index entries, the same guard).
const defaultRacyWindow = time.Second

// fileStamp is what the kernel says of a file without reading it. Any write or metadata change
// moves its ctime (which no user can set back), a replacement its inode.
type fileStamp struct {
	exists     bool
	dev, ino   uint64
	size       int64
	mode       uint32
	mtim, ctim syscall.Timespec
}

// checkedStamps are the transaction files' stamps when a drift check last found them holding
// the config of hash: while every stamp is the same, so are the files, and the next check
// reads nothing (at 10,000 LUNs a full check reads and re-plans 2 MiB every refresh).
type checkedStamps struct {
	hash   string
	stamps []fileStamp
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStamp{}, errors.New("no stat_t") // never on Linux; the caller checks in full
	}
	return fileStamp{exists: true, dev: uint64(st.Dev), ino: st.Ino, size: st.Size, mode: st.Mode, mtim: st.Mtim, ctim: st.Ctim}, nil
}

// stamps reads the stamps of every transaction path, and whether they can be trusted later:
// not when a file changed within racy of now.
func (h *Host) stamps(now time.Time) ([]fileStamp, bool, error) {
	racy := h.racyWindow
	if racy == 0 {
		racy = defaultRacyWindow
	}
	out := make([]fileStamp, len(transactionPaths))
	trusted := true
	for i, p := range transactionPaths {
		s, err := stampOf(h.path(p))
		if err != nil {
			return nil, false, err
		}
		if s.exists && now.Sub(time.Unix(s.ctim.Unix())) < racy {
			trusted = false
		}
		out[i] = s
	}
	return out, trusted, nil
}

// unchangedSinceCheck reports whether the files still hold hash, as the last drift check found
// them, by their stamps alone. It returns the stamps read, to record should a full check find
// no drift (nil when they cannot be trusted).
func (h *Host) unchangedSinceCheck(hash string) (bool, []fileStamp) {
	cur, trusted, err := h.stamps(time.Now())
	if err != nil || !trusted {
		return false, nil
	}
	last := h.checked
	if last == nil || last.hash != hash || len(last.stamps) != len(cur) {
		return false, cur
	}
	for i := range cur {
		if cur[i] != last.stamps[i] {
			return false, cur
		}
	}
	return true, cur
}
