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

package multipathd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"strings"
)

// CmdShowPathsRaw lists every path multipathd tracks, one line each with no header and no
// padding (raw): WWID, device, HCIL, size, the map holding it ("[orphan]" when none,
// "[unknown]" for a map without a name) and vendor,product,revision, separated by '|'. The
// format has no space, so the daemon reads it as one word and nothing needs quoting. It is
// allow-listed for the client's own use (ShowPaths), not for Command, which takes keywords
// only. multipathd tracks only paths its blacklists let through, with the WWID it computes
// (uid_attrs, getuid), so what it lists is what it would assemble.
const CmdShowPathsRaw = "show paths raw format " + pathsFormat

const pathsFormat = "%w|%d|%i|%S|%m|%s"

// Orphan is what multipathd prints for a path no map holds; UnknownMap for a map without a name.
const (
	Orphan     = "[orphan]"
	UnknownMap = "[unknown]"
)

// PathInfo is one path as CmdShowPathsRaw lists it.
type PathInfo struct {
	WWID     string
	Dev      string // sdb
	HCIL     string // 1:0:0:1
	Size     string // as printed: 10G, 1.0T
	Map      string // the map holding it; "" for an orphan
	Vendor   string
	Product  string
	Revision string
}

// ErrPathsUnsupported: the client cannot list paths (a Client that does not implement PathLister).
var ErrPathsUnsupported = errors.New("the multipathd client cannot list paths")

// PathLister is implemented by clients that can send CmdShowPathsRaw.
type PathLister interface {
	ShowPathsRaw(ctx context.Context) ([]byte, error)
}

// ShowPathsRaw implements PathLister.
func (c *SocketClient) ShowPathsRaw(ctx context.Context) ([]byte, error) {
	return c.checked(ctx, CmdShowPathsRaw)
}

// ShowPaths sends CmdShowPathsRaw through c when it is a PathLister and parses the reply.
func ShowPaths(ctx context.Context, c Client) ([]PathInfo, error) {
	pl, ok := c.(PathLister)
	if !ok {
		return nil, ErrPathsUnsupported
	}
	reply, err := pl.ShowPathsRaw(ctx)
	if err != nil {
		return nil, err
	}
	return ParsePaths(reply), nil
}

// ParsePaths reads the reply to CmdShowPathsRaw. Lines with fewer than six fields (log lines,
// blank lines) are skipped; vendor,product,revision is the last field, so a '|' in it is kept.
// Fields are trimmed of spaces; "##" (multipathd's empty vendor or product) becomes "". It
// never fails: text it cannot read yields fewer paths.
func ParsePaths(reply []byte) []PathInfo {
	var out []PathInfo
	sc := bufio.NewScanner(bytes.NewReader(reply))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.SplitN(strings.TrimRight(sc.Text(), "\r"), "|", 6)
		if len(f) < 6 {
			continue
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		p := PathInfo{WWID: f[0], Dev: f[1], HCIL: f[2], Size: f[3], Map: f[4]}
		switch p.Map {
		case Orphan:
			p.Map = ""
		case UnknownMap:
			p.Map = p.WWID // a map without an alias is named by its WWID
		}
		vpr := strings.SplitN(f[5], ",", 3)
		for i, dst := range []*string{&p.Vendor, &p.Product, &p.Revision} {
			if i < len(vpr) {
				if v := strings.TrimSpace(vpr[i]); v != "##" {
					*dst = v
				}
			}
		}
		out = append(out, p)
	}
	return out
}
