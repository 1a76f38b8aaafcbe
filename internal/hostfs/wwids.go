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
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// WWIDsHeader is the header multipath-tools writes at the top of a new wwids file
// (WWIDS_FILE_HEADER in libmultipath/wwids.h).
const WWIDsHeader = "# Multipath wwids, Version : 1.0\n" +
	"# NOTE: This file is automatically maintained by multipath and multipathd.\n" +
	"# You should not need to edit this file in normal circumstances.\n" +
	"#\n" +
	"# Valid WWIDs:\n"

// ownedHeader starts the owned-wwids record.
const ownedHeader = "# WWIDs kube-multipath added to /etc/multipath/wwids, one per line. It removes only these.\n"

// wwidPattern is the API's pattern for spec.wwid; at most 128 characters. Nothing it allows
// can end the "/<wwid>/" entry or the line.
const wwidPattern = `^[a-zA-Z0-9._:-]{1,128}$`

// ValidWWID reports whether w matches wwidPattern and so can be written to the wwids file.
func ValidWWID(w string) bool {
	if len(w) == 0 || len(w) > 128 {
		return false
	}
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// entryOf returns the WWID of a wwids file line, as multipath-tools' lookup_wwid reads it:
// a line starting with '/' holds the WWID up to the next '/'. Other lines are not entries.
func entryOf(line []byte) (string, bool) {
	e, ok := entryBytes(line)
	return string(e), ok
}

// entryBytes is entryOf without making a string: the bytes of the entry within line.
func entryBytes(line []byte) ([]byte, bool) {
	if len(line) == 0 || line[0] != '/' {
		return nil, false
	}
	end := bytes.IndexByte(line[1:], '/')
	if end < 0 {
		return nil, false
	}
	return line[1 : 1+end], true
}

// ParseWWIDs returns the WWIDs listed in a wwids file, in file order, duplicates kept.
func ParseWWIDs(content []byte) []string {
	var out []string
	for line := range bytes.Lines(content) {
		if w, ok := entryOf(line); ok {
			out = append(out, w)
		}
	}
	return out
}

// WWIDsPlan is how the wwids file and the ownership record change.
type WWIDsPlan struct {
	// Content is the new wwids file; nil when the file stays absent.
	Content []byte
	// Changed is true when Content differs from the current file.
	Changed bool
	// Owned is the new ownership record: sorted, no duplicates.
	Owned []string
	// Added are the WWIDs appended (now owned); Removed the owned ones taken out. Both sorted.
	Added, Removed []string
}

// ReconcileWWIDs computes the wwids file that lists every desired WWID, from the current file
// (nil when absent) and the ownership record:
//
//   - a desired WWID not in the file is appended ("/<wwid>/") and becomes owned;
//   - a desired WWID already in the file stays owned if it was, and is never owned if not
//     (boot-from-SAN and hand-made entries);
//   - an owned WWID no longer desired is removed (every line of it) and no longer owned;
//   - every other line (header, comments, foreign entries) is kept byte for byte, in order.
//
// A new file starts with WWIDsHeader. Desired WWIDs must be valid (ValidWWID).
func ReconcileWWIDs(current []byte, owned, desired []string) (WWIDsPlan, error) {
	for _, w := range desired {
		if !ValidWWID(w) {
			return WWIDsPlan{}, fmt.Errorf("WWID %q cannot be written to the wwids file: it must match %s", w, wwidPattern)
		}
	}
	// One index over the desired and owned WWIDs, with what each one is. A WWID read from the
	// file is looked up by its bytes (no string is made for it) and marked in place: three
	// maps of every WWID, and a string per line of the file, were most of the plan's time.
	const (
		isWanted uint8 = 1 << iota
		isOwned
		isPresent
	)
	index := make(map[string]int, len(desired)+len(owned))
	flags := make([]uint8, 0, len(desired)+len(owned))
	mark := func(w string, f uint8) {
		i, ok := index[w]
		if !ok {
			i = len(flags)
			index[w] = i
			flags = append(flags, 0)
		}
		flags[i] |= f
	}
	for _, w := range desired {
		mark(w, isWanted)
	}
	for _, w := range owned {
		mark(w, isOwned)
	}

	var b bytes.Buffer
	b.Grow(len(current) + 40*len(desired))
	removed := []string{}
	for line := range bytes.Lines(current) {
		if e, ok := entryBytes(line); ok {
			if i, known := index[string(e)]; known {
				if flags[i]&(isOwned|isWanted) == isOwned {
					removed = append(removed, string(e))
					continue
				}
				flags[i] |= isPresent
			}
		}
		b.Write(line)
	}
	var added []string
	for _, w := range desired {
		i := index[w]
		if flags[i]&isPresent != 0 {
			continue
		}
		flags[i] |= isPresent // a desired WWID listed twice is added once
		if b.Len() == 0 && len(current) == 0 {
			b.WriteString(WWIDsHeader)
		}
		if n := b.Len(); n > 0 && b.Bytes()[n-1] != '\n' {
			b.WriteByte('\n')
		}
		b.WriteString("/" + w + "/\n")
		added = append(added, w)
	}

	// The record kept, in the order it was written (sorted), merged with the sorted additions:
	// sorting all 10,000 WWIDs again was a tenth of an apply's CPU.
	kept := make([]string, 0, len(owned))
	for _, w := range owned {
		if f := flags[index[w]]; f&isWanted != 0 && f&isPresent != 0 {
			kept = append(kept, w)
		}
	}
	if !slices.IsSorted(kept) {
		slices.Sort(kept) // a record written by hand, or by a version that did not sort it
	}
	slices.Sort(added)
	newOwned := mergeSorted(kept, added)
	slices.Sort(removed)
	removed = slices.Compact(removed) // an entry listed twice in the file is removed once

	p := WWIDsPlan{Owned: newOwned, Added: added, Removed: removed}
	if current != nil || b.Len() > 0 {
		p.Content = append([]byte{}, b.Bytes()...)
	}
	p.Changed = !bytes.Equal(p.Content, current) || (current == nil) != (p.Content == nil)
	return p, nil
}

// mergeSorted merges two sorted lists into one, sorted and without duplicates.
func mergeSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		var next string
		switch {
		case len(b) == 0 || len(a) > 0 && a[0] <= b[0]:
			next, a = a[0], a[1:]
		default:
			next, b = b[0], b[1:]
		}
		if len(out) == 0 || out[len(out)-1] != next {
			out = append(out, next)
		}
	}
	return out
}

// formatOwned renders the ownership record.
func formatOwned(owned []string) []byte {
	n := len(ownedHeader)
	for _, w := range owned {
		n += len(w) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, ownedHeader...)
	for _, w := range owned {
		b = append(b, w...)
		b = append(b, '\n')
	}
	return b
}

// parseOwned reads the ownership record: one WWID a line, '#' comments and blank lines
// skipped. A line that is not a valid WWID is an error: a corrupt record must not make the
// agent remove entries it cannot prove are its own.
func parseOwned(content []byte) ([]string, error) {
	var out []string
	n := 0
	for line := range strings.Lines(string(content)) {
		n++
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if !ValidWWID(line) {
			return nil, fmt.Errorf("line %d: %q is not a WWID", n, line)
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
