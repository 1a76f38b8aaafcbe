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

package consumers

import (
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// LUN is one allow-listed LUN: its WWID as the MultipathWWID spells it, and its alias if any.
type LUN struct {
	WWID  string
	Alias string
}

// Index maps lowercase WWIDs and aliases to the allow-listed WWID.
type Index struct {
	byWWID  map[string]string
	byAlias map[string]string
}

// NewIndex indexes luns. Entries with an empty WWID are skipped. When two entries claim the same
// WWID or alias (case-insensitively) the first wins; the render controller resolves such
// conflicts before it builds the index. A name is looked up as a WWID before it is looked up as
// an alias.
func NewIndex(luns []LUN) *Index {
	ix := &Index{
		byWWID:  make(map[string]string, len(luns)),
		byAlias: make(map[string]string, len(luns)),
	}
	for _, l := range luns {
		if l.WWID == "" {
			continue
		}
		if k := Key(l.WWID); ix.byWWID[k] == "" {
			ix.byWWID[k] = l.WWID
		}
		if l.Alias == "" {
			continue
		}
		if k := Key(l.Alias); ix.byAlias[k] == "" {
			ix.byAlias[k] = l.WWID
		}
	}
	return ix
}

// Len is the number of distinct WWIDs in the index.
func (ix *Index) Len() int { return len(ix.byWWID) }

// WWIDsOf returns the allow-listed WWIDs that pv consumes, spelled as in the allow-list, sorted
// and without duplicates; nil when it consumes none.
func (ix *Index) WWIDsOf(pv *corev1.PersistentVolume) []string {
	var out []string
	add := func(wwid string) {
		if !slices.Contains(out, wwid) {
			out = append(out, wwid)
		}
	}
	visit(pv, func(r ref) {
		if w, ok := ix.byWWID[r.key]; ok {
			add(w)
			return
		}
		if r.kind == nameRef {
			if w, ok := ix.byAlias[r.key]; ok {
				add(w)
				return
			}
		}
		if r.partOf == "" {
			return
		}
		if w, ok := ix.byWWID[r.partOf]; ok {
			add(w)
		} else if w, ok := ix.byAlias[r.partOf]; ok && r.kind == nameRef {
			add(w)
		}
	})
	slices.Sort(out)
	return out
}

// Refs returns the lowercase WWIDs and device-mapper names that pv mentions where this package
// looks for consumers, sorted and without duplicates; nil when it mentions none. A partition
// name gives both itself and its parent's name.
func Refs(pv *corev1.PersistentVolume) []string {
	var out []string
	visit(pv, func(r ref) {
		out = append(out, r.key)
		if r.partOf != "" {
			out = append(out, r.partOf)
		}
	})
	slices.Sort(out)
	return slices.Compact(out)
}

// Key is the index key of a WWID or an alias: its lowercase form.
func Key(wwidOrAlias string) string { return strings.ToLower(wwidOrAlias) }

type refKind int

const (
	// wwidRef names a WWID only.
	wwidRef refKind = iota
	// nameRef names a device-mapper map: a WWID or an alias.
	nameRef
)

// ref is one reference found in a PersistentVolume.
type ref struct {
	// key is the lowercase WWID or map name.
	key  string
	kind refKind
	// partOf is, when key looks like a partition of a map, the lowercase name of that map.
	partOf string
}

// visit calls fn for every reference pv makes to a WWID or a map name.
func visit(pv *corev1.PersistentVolume, fn func(ref)) {
	if pv == nil {
		return
	}
	if fc := pv.Spec.FC; fc != nil {
		for _, w := range fc.WWIDs {
			wwid(strings.TrimSpace(w), fn)
		}
	}
	if local := pv.Spec.Local; local != nil {
		devicePath(local.Path, fn)
	}
	if csi := pv.Spec.CSI; csi != nil {
		volumeHandle(csi.VolumeHandle, fn)
		for _, v := range csi.VolumeAttributes {
			if strings.HasPrefix(v, "/") {
				devicePath(v, fn)
			} else {
				wwid(v, fn)
			}
		}
	}
	if a, ok := pv.Annotations[mpv1alpha1.WWIDAnnotation]; ok {
		for w := range strings.SplitSeq(a, ",") {
			wwid(strings.TrimSpace(w), fn)
		}
	}
}

// maxWWIDLen is the API's limit on spec.wwid and spec.alias is shorter; a longer value is no WWID.
const maxWWIDLen = 128

// wwid reports s as a WWID if it could be one (the API's pattern for spec.wwid).
func wwid(s string, fn func(ref)) {
	if !isWWID(s) {
		return
	}
	fn(ref{key: Key(s), kind: wwidRef})
}

func isWWID(s string) bool {
	if s == "" || len(s) > maxWWIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// minHandleWWID is the shortest hex string a CSI volume handle is read as a WWID from: an EUI-64
// or 8-byte NAA identifier is 16 hex digits, multipathd's SCSI WWIDs 17 or 33 characters.
const minHandleWWID = 16

// volumeHandle reports the WWID a CSI volume handle names: the whole handle, or its last
// segment after a ':' or '/', when that is a device identifier (handleWWID).
func volumeHandle(h string, fn func(ref)) {
	seen := ""
	for _, c := range []string{h, h[strings.LastIndexAny(h, ":/")+1:]} {
		if c != seen && handleWWID(c) {
			fn(ref{key: Key(c), kind: wwidRef})
			seen = c
		}
	}
}

// handleWWID reports whether s, part of a CSI volume handle, is a device identifier as
// multipathd spells WWIDs: at least minHandleWWID hex digits (NAA with its type digit, EUI-64),
// or an NVMe "eui." or "nvme." identifier. Names, UUIDs with dashes and numbers shorter than an
// EUI-64 are not: a handle is the driver's own string, and only these forms are unambiguous.
func handleWWID(s string) bool {
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "eui."); ok {
		return isHex(rest) && len(rest) >= minHandleWWID
	}
	if strings.HasPrefix(strings.ToLower(s), "nvme.") {
		return isWWID(s) && len(s) > len("nvme.")+minHandleWWID
	}
	return len(s) >= minHandleWWID && isHex(s)
}

func isHex(s string) bool {
	if s == "" || len(s) > maxWWIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// Device paths of a multipath map, as device-mapper and udev (10-dm.rules, 11-dm-mpath.rules)
// create them, and the by-id links of the LUN that udev's 60-persistent-storage.rules creates.
const (
	mapperDir     = "/dev/mapper/"
	byIDDir       = "/dev/disk/by-id/"
	byNamePrefix  = byIDDir + "dm-name-"
	byUUIDPrefix  = byIDDir + "dm-uuid-mpath-"
	byPartPrefix  = byIDDir + "dm-uuid-part"
	partUUIDInfix = "-mpath-"
	// scsiPrefix is udev's scsi-$ID_SERIAL link; ID_SERIAL is multipathd's WWID for SCSI.
	scsiPrefix = byIDDir + "scsi-"
	// wwnPrefix is udev's wwn-$ID_WWN_WITH_EXTENSION link: 0x and the NAA identifier in hex,
	// without the designator type digit "3" that ID_SERIAL (the WWID) starts with.
	wwnPrefix = byIDDir + "wwn-0x"
	// naaType is the designator type scsi_id puts before an NAA identifier in ID_SERIAL.
	naaType = "3"
	// partSuffix is how udev names the link of a partition: <link>-part<N>.
	partSuffix = "-part"
)

// devicePath reports the map that p, a device path, names.
func devicePath(p string, fn func(ref)) {
	if !strings.HasPrefix(p, "/dev/") {
		return
	}
	p = path.Clean(p)
	switch {
	case strings.HasPrefix(p, mapperDir):
		mapName(p[len(mapperDir):], fn)
	case strings.HasPrefix(p, byNamePrefix):
		mapName(p[len(byNamePrefix):], fn)
	case strings.HasPrefix(p, byUUIDPrefix):
		wwid(p[len(byUUIDPrefix):], fn)
	case strings.HasPrefix(p, byPartPrefix):
		// dm-uuid-part<N>-mpath-<wwid>: the DM UUID kpartx gives partition N of a multipath map.
		rest := p[len(byPartPrefix):]
		n := digits(rest)
		if n == 0 || !strings.HasPrefix(rest[n:], partUUIDInfix) {
			return
		}
		wwid(rest[n+len(partUUIDInfix):], fn)
	case strings.HasPrefix(p, scsiPrefix):
		byIDWWID(p[len(scsiPrefix):], "", fn)
	case strings.HasPrefix(p, wwnPrefix):
		if naa := p[len(wwnPrefix):]; naa != "" && isHex(strings.TrimSuffix(naa, partOfLink(naa))) {
			byIDWWID(naa, naaType, fn)
		}
	}
}

// byIDWWID reports the WWID prefix+name names, name being a by-id link's name after its
// prefix, and for a partition link (<name>-part<N>) the WWID of the whole LUN as its parent.
func byIDWWID(name, prefix string, fn func(ref)) {
	if !isWWID(prefix + name) {
		return
	}
	r := ref{key: Key(prefix + name), kind: wwidRef}
	if suffix := partOfLink(name); suffix != "" {
		r.partOf = Key(prefix + strings.TrimSuffix(name, suffix))
	}
	fn(r)
}

// partOfLink returns the "-part<N>" suffix of a by-id partition link name, or "".
func partOfLink(name string) string {
	n := trailingDigits(name)
	if n == 0 || n == len(name) {
		return ""
	}
	head := name[:len(name)-n]
	if strings.HasSuffix(head, partSuffix) && len(head) > len(partSuffix) {
		return name[len(head)-len(partSuffix):]
	}
	return ""
}

// mapName reports name, a device-mapper name, as a WWID or alias, and the map it is a partition
// of if it looks like one.
func mapName(name string, fn func(ref)) {
	if name == "" || len(name) > maxWWIDLen || strings.ContainsAny(name, "/ \t\n") {
		return
	}
	r := ref{key: Key(name), kind: nameRef}
	if parent := partitionParent(name); parent != "" {
		r.partOf = Key(parent)
	}
	fn(r)
}

// partitionParent returns the map name that name is a kpartx partition of (<parent>-part<N> or
// <parent>p<N>), or "".
func partitionParent(name string) string {
	n := trailingDigits(name)
	if n == 0 || n == len(name) {
		return ""
	}
	head := name[:len(name)-n]
	if parent, ok := strings.CutSuffix(head, "-part"); ok && parent != "" {
		return parent
	}
	if parent, ok := strings.CutSuffix(head, "p"); ok && parent != "" {
		return parent
	}
	return ""
}

func digits(s string) int {
	n := 0
	for n < len(s) && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n
}

func trailingDigits(s string) int {
	n := 0
	for n < len(s) && '0' <= s[len(s)-1-n] && s[len(s)-1-n] <= '9' {
		n++
	}
	return n
}
