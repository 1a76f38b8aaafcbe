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

package multipathconf

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

const (
	// PlainPayloadMaxBytes is the largest total file size stored as plain text. A bigger config is
	// stored gzip-compressed, so that 50,000 LUNs still fit in one ConfigMap (1 MiB in etcd).
	PlainPayloadMaxBytes = 256 << 10
	// MaxPackedBytes is the largest payload Pack returns: 1 MiB less 64 KiB for the ConfigMap's
	// metadata.
	MaxPackedBytes = 1<<20 - 64<<10
	// GzipSuffix ends the binaryData key of a compressed file.
	GzipSuffix = ".gz"
	// maxUnpackedBytes bounds decompression, against a corrupt or hostile payload.
	maxUnpackedBytes = 256 << 20
)

// Pack lays a rendered config out as ConfigMap data: every file plain in data when the files
// total at most PlainPayloadMaxBytes, else gzip-compressed in binaryData under its name plus
// GzipSuffix. A compressed payload leaves out the WWIDs file, which repeats the baseline's
// WWIDs (a third of the compressed size: WWIDs are the part that does not compress); Unpack
// derives it again and the hash proves it identical. The output is deterministic (no timestamps
// in the gzip header).
func Pack(r *Rendered) (data map[string]string, binaryData map[string][]byte, err error) {
	if r.Bytes <= PlainPayloadMaxBytes {
		data = make(map[string]string, len(r.Files))
		for _, f := range r.Files {
			data[f.Name] = f.Content
		}
		return data, nil, nil
	}
	binaryData = make(map[string][]byte, len(r.Files))
	total := 0
	for _, f := range r.Files {
		if f.Name == WWIDsFileName {
			if _, ok := r.File(BaselineFileName); ok {
				continue
			}
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := io.WriteString(zw, f.Content); err != nil {
			return nil, nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, nil, err
		}
		binaryData[f.Name+GzipSuffix] = buf.Bytes()
		total += len(f.Name) + len(GzipSuffix) + buf.Len()
	}
	if total > MaxPackedBytes {
		return nil, nil, fmt.Errorf("rendered config of %d LUNs is %d bytes compressed, more than the %d a ConfigMap can hold",
			r.LUNs, total, MaxPackedBytes)
	}
	return nil, binaryData, nil
}

// Unpack reads back what Pack wrote and verifies it against wantHash, the full Hash of the
// rendered config it names, so that a node never applies a config other than the one it was
// told to.
func Unpack(data map[string]string, binaryData map[string][]byte, wantHash string) (*Rendered, error) {
	files := make([]File, 0, len(data)+len(binaryData))
	for name, content := range data {
		files = append(files, File{Name: name, Content: content})
	}
	total := 0
	for key, compressed := range binaryData {
		name, ok := strings.CutSuffix(key, GzipSuffix)
		if !ok {
			return nil, fmt.Errorf("binaryData key %q does not end in %s", key, GzipSuffix)
		}
		if _, dup := data[name]; dup {
			return nil, fmt.Errorf("file %q is both in data and in binaryData", name)
		}
		zr, err := gzip.NewReader(bytes.NewReader(compressed))
		if err != nil {
			return nil, fmt.Errorf("file %q: %w", name, err)
		}
		content, err := io.ReadAll(io.LimitReader(zr, int64(maxUnpackedBytes-total)+1))
		if err != nil {
			return nil, fmt.Errorf("file %q: %w", name, err)
		}
		if total += len(content); total > maxUnpackedBytes {
			return nil, errors.New("rendered config is larger than 256 MiB uncompressed")
		}
		files = append(files, File{Name: name, Content: string(content)})
	}
	if baseline, ok := fileContent(files, BaselineFileName); ok {
		if _, ok := fileContent(files, WWIDsFileName); !ok {
			files = append(files, File{Name: WWIDsFileName, Content: wwidsOfBaseline(baseline)})
		}
	}
	if len(files) == 0 {
		files = nil // as Render leaves an empty config
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	r := &Rendered{Files: files, WWIDs: []string{}, Hash: hashFiles(files), Empty: len(files) == 0}
	if r.Hash != wantHash {
		return nil, fmt.Errorf("rendered config hash is %s, want %s", r.Hash, wantHash)
	}
	for _, f := range files {
		r.Bytes += len(f.Content)
	}
	if list, ok := r.File(WWIDsFileName); ok {
		r.WWIDs = strings.Fields(list)
		r.LUNs = len(r.WWIDs)
	}
	r.Names = map[string]string{}
	if baseline, ok := r.File(BaselineFileName); ok {
		r.Names = NamesOfBaseline(baseline)
	}
	return r, nil
}

func fileContent(files []File, name string) (string, bool) {
	for _, f := range files {
		if f.Name == name {
			return f.Content, true
		}
	}
	return "", false
}

// wwidsOfBaseline rebuilds the WWIDs file from the baseline Render wrote: its wwid lines, in
// order (Render sorts LUNs by WWID). A WWID holds no quote, so the line needs no unquoting.
func wwidsOfBaseline(baseline string) string {
	var b strings.Builder
	const prefix = "\t\twwid \""
	for line := range strings.Lines(baseline) {
		if w, ok := strings.CutPrefix(line, prefix); ok {
			b.WriteString(strings.TrimSuffix(w, "\"\n"))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// NamesOfBaseline reads the map names back from the baseline Render wrote: each multipath
// subsection's wwid line, then its alias line. The alias is unquoted (a quote in it is doubled).
func NamesOfBaseline(baseline string) map[string]string {
	const wwidPrefix, aliasPrefix = "\t\twwid \"", "\t\talias \""
	// Sized once: grown entry by entry, a map of 10,000 names was rehashed a dozen times.
	names := make(map[string]string, strings.Count(baseline, aliasPrefix))
	wwid := ""
	for line := range strings.Lines(baseline) {
		if w, ok := strings.CutPrefix(line, wwidPrefix); ok {
			wwid = strings.TrimSuffix(w, "\"\n")
			continue
		}
		if a, ok := strings.CutPrefix(line, aliasPrefix); ok && wwid != "" {
			names[wwid] = strings.ReplaceAll(strings.TrimSuffix(a, "\"\n"), `""`, `"`)
			wwid = ""
		}
	}
	return names
}
