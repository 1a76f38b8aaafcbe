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

// Package hostconf reads the node's own multipath configuration, the files the operator does
// not own (/etc/multipath.conf, the other drop-ins of /etc/multipath/conf.d, the bindings
// file), and tells where it contradicts the managed LUNs: a managed WWID the host blacklists,
// a managed name the host gives another WWID, a host alias for a managed WWID that differs
// from ours. Every fact keeps its file and line, so that an admin can find it.
//
// The grammar is multipath-tools' own (libmultipath/parser.c, libmpathutil/parser.c from 0.9):
// a line is split into words, `"` opens and closes a quoted value in which `""` is one quote,
// `#` and `!` outside quotes start a comment, `{` and `}` outside quotes are words of their
// own. A section keyword (blacklist, multipaths, ...) opens its section whatever follows it on
// its line, and only a line whose first word is `}` closes one; a keyword's value is its second
// word, or the words between quotes. Unknown keywords are skipped, as multipath-tools does.
//
// It is pure: Read takes the host root as a parameter and only reads files; Conflicts is a
// function of what Read returned, the managed LUNs and the maps multipathd shows.
package hostconf

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Pos is where a fact is: a host path (as the host sees it, e.g. /etc/multipath.conf) and a
// line from 1.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Regex is one wwid (or devnode, property, protocol) regex of a blacklist or
// blacklist_exceptions section.
type Regex struct {
	Pos
	// Raw is the value as written (unquoted), with its leading `!` if any.
	Raw string
}

// DeviceEntry is a blacklist or blacklist_exceptions `device { vendor product }` subsection.
type DeviceEntry struct {
	Pos
	Vendor, Product string
}

// Filter is a blacklist or a blacklist_exceptions section, merged over every file.
type Filter struct {
	WWID     []Regex
	Devnode  []Regex
	Property []Regex
	Protocol []Regex
	Device   []DeviceEntry
}

// Multipath is one `multipaths { multipath { } }` subsection.
type Multipath struct {
	Pos
	WWID  string
	Alias string
	// AliasPos is where alias is set; zero when it is not.
	AliasPos Pos
}

// Binding is one line of the bindings file: alias then WWID.
type Binding struct {
	Pos
	Alias, WWID string
}

// Setting is a defaults keyword that decides what Read reads next.
type Setting struct {
	Pos
	Value string
}

// parsed is what one configuration file says.
type parsed struct {
	blacklist, exceptions Filter
	multipaths            []Multipath
	configDir             *Setting
	bindingsFile          *Setting
	// problems are lines multipath-tools would complain about, each naming file and line.
	problems []string
}

// sectionKeywords are the keywords that open a section (is_sublevel_keyword in parser.c, plus
// the sections multipath-tools knows and this reader skips: overrides and its protocol).
var sectionKeywords = map[string]bool{
	"defaults": true, "blacklist": true, "blacklist_exceptions": true, "devices": true,
	"device": true, "multipaths": true, "multipath": true, "overrides": true, "protocol": true,
}

// words splits one line as alloc_strvec does. quoted[i] tells that words[i] was written
// between quotes (so a quoted "{" is a value, not a brace). ok is false when a quote is left
// open, which multipath-tools reports ("missing closing quotes") and then still uses.
//
// commentAfterQuote is multipath-tools 0.8.4's reading (fixed by 0.8.7): a `!` or `#` right
// after an opening quote ends the line, so `wwid "!^3600a"` is an empty regex, which matches
// every WWID.
func words(line string, commentAfterQuote bool) (ws []string, quoted []bool, ok bool) {
	i := 0
	for {
		for i < len(line) && (isSpace(line[i]) || line[i] >= 0x80) {
			i++
		}
		if i >= len(line) || line[i] == '#' || line[i] == '!' {
			return ws, quoted, true
		}
		switch c := line[i]; {
		case c == '{' || c == '}':
			ws, quoted = append(ws, string(c)), append(quoted, false)
			i++
		case c == '"':
			i++
			if commentAfterQuote && i < len(line) && (line[i] == '!' || line[i] == '#') {
				return append(ws, ""), append(quoted, true), false
			}
			var b strings.Builder
			closed := false
			for i < len(line) {
				if line[i] == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(line[i])
				i++
			}
			ws, quoted = append(ws, b.String()), append(quoted, true)
			if !closed {
				return ws, quoted, false
			}
		default:
			start := i
			for i < len(line) && !isSpace(line[i]) && line[i] < 0x80 && !strings.ContainsRune("!#{}\"", rune(line[i])) {
				i++
			}
			ws, quoted = append(ws, line[start:i]), append(quoted, false)
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// parse reads one configuration file; file is its host path, for positions. old selects
// multipath-tools 0.8.4's reading of quotes (see words).
func parse(file string, data []byte, old bool) *parsed {
	p := &parsed{}
	var stack []string // open sections, outermost first
	var mp *Multipath  // the open multipaths/multipath subsection
	var dev *DeviceEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		pos := Pos{File: file, Line: n}
		ws, quoted, ok := words(sc.Text(), old)
		if len(ws) == 0 {
			continue
		}
		if !ok {
			p.problems = append(p.problems, fmt.Sprintf("%s: missing closing quote", pos))
		}
		kw := ws[0]
		if kw == "}" && !quoted[0] {
			if len(stack) == 0 {
				p.problems = append(p.problems, fmt.Sprintf("%s: unmatched }", pos))
				continue
			}
			switch strings.Join(stack, "/") {
			case "multipaths/multipath":
				if mp != nil && mp.WWID != "" {
					p.multipaths = append(p.multipaths, *mp)
				}
				mp = nil
			case "blacklist/device", "blacklist_exceptions/device":
				if dev != nil {
					f := &p.blacklist
					if stack[0] == "blacklist_exceptions" {
						f = &p.exceptions
					}
					f.Device = append(f.Device, *dev)
				}
				dev = nil
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if sectionKeywords[kw] && !quoted[0] && opens(stack, kw) {
			stack = append(stack, kw)
			switch strings.Join(stack, "/") {
			case "multipaths/multipath":
				mp = &Multipath{Pos: pos}
			case "blacklist/device", "blacklist_exceptions/device":
				dev = &DeviceEntry{Pos: pos}
			}
			continue
		}
		if len(ws) < 2 {
			p.problems = append(p.problems, fmt.Sprintf("%s: missing value for %s", pos, kw))
			continue
		}
		val := ws[1]
		switch path := strings.Join(stack, "/"); path {
		case "defaults":
			switch kw {
			case "config_dir":
				p.configDir = &Setting{Pos: pos, Value: val}
			case "bindings_file":
				p.bindingsFile = &Setting{Pos: pos, Value: val}
			}
		case "blacklist", "blacklist_exceptions":
			f := &p.blacklist
			if path == "blacklist_exceptions" {
				f = &p.exceptions
			}
			r := Regex{Pos: pos, Raw: val}
			switch kw {
			case "wwid":
				f.WWID = append(f.WWID, r)
			case "devnode":
				f.Devnode = append(f.Devnode, r)
			case "property":
				f.Property = append(f.Property, r)
			case "protocol":
				f.Protocol = append(f.Protocol, r)
			}
		case "blacklist/device", "blacklist_exceptions/device":
			switch kw {
			case "vendor":
				dev.Vendor = val
			case "product":
				dev.Product = val
			}
		case "multipaths/multipath":
			switch kw {
			case "wwid":
				mp.WWID = val
			case "alias":
				mp.Alias, mp.AliasPos = val, pos
			}
		}
	}
	if len(stack) > 0 {
		p.problems = append(p.problems, fmt.Sprintf("%s: missing } at end of file", file))
		if mp != nil && mp.WWID != "" {
			p.multipaths = append(p.multipaths, *mp)
		}
	}
	return p
}

// opens reports whether kw opens a section inside stack: top-level sections at the top, their
// subsections inside them (multipath-tools looks keywords up in the open section's table only).
func opens(stack []string, kw string) bool {
	switch len(stack) {
	case 0:
		return kw == "defaults" || kw == "blacklist" || kw == "blacklist_exceptions" ||
			kw == "devices" || kw == "multipaths" || kw == "overrides"
	case 1:
		switch stack[0] {
		case "devices", "blacklist", "blacklist_exceptions":
			return kw == "device"
		case "multipaths":
			return kw == "multipath"
		case "overrides":
			return kw == "protocol"
		case "devices/device":
		}
	case 2:
		// 0.9.x: devices/device and overrides hold a protocol subsection.
		return stack[1] == "device" && stack[0] == "devices" && kw == "protocol"
	}
	return false
}
