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
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func mustRender(t testing.TB, config *mpv1alpha1.MultipathConfig, luns []mpv1alpha1.MultipathWWID) *Rendered {
	t.Helper()
	r, err := Render(config, luns)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPackAndUnpack(t *testing.T) {
	tests := map[string]struct {
		rendered   *Rendered
		dataKeys   []string
		binaryKeys []string
	}{
		"a small config is stored plain": {
			rendered: mustRender(t, clusterConfig(withOverrides(realisticOverrides)), manyLUNs(10)),
			dataKeys: []string{OverridesFileName, BaselineFileName, WWIDsFileName},
		},
		"a config above 256 KiB is stored gzip-compressed, the WWIDs file derived from the baseline": {
			rendered:   mustRender(t, clusterConfig(withOverrides(realisticOverrides)), manyLUNs(3000)),
			binaryKeys: []string{OverridesFileName + ".gz", BaselineFileName + ".gz"},
		},
		"an empty config packs to nothing": {
			rendered: mustRender(t, nil, nil),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data, binaryData, err := Pack(tc.rendered)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(data)); !slices.Equal(got, tc.dataKeys) {
				t.Errorf("data keys = %v, want %v", got, tc.dataKeys)
			}
			if got := slices.Sorted(maps.Keys(binaryData)); !slices.Equal(got, tc.binaryKeys) {
				t.Errorf("binaryData keys = %v, want %v", got, tc.binaryKeys)
			}
			again, againBinary, _ := Pack(tc.rendered)
			if !reflect.DeepEqual(again, data) || !reflect.DeepEqual(againBinary, binaryData) {
				t.Error("Pack is not deterministic")
			}
			back, err := Unpack(data, binaryData, tc.rendered.Hash)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.rendered) {
				t.Errorf("Unpack gave %d files, %d LUNs, %d bytes, empty %v; want %d, %d, %d, %v",
					len(back.Files), back.LUNs, back.Bytes, back.Empty, len(tc.rendered.Files), tc.rendered.LUNs, tc.rendered.Bytes, tc.rendered.Empty)
			}
		})
	}
}

// TestFiftyThousandLUNsFitOneConfigMap: 50,000 LUNs, each with a 32-character WWID, an alias
// and three knobs, pack under 1 MiB with room left for the ConfigMap's metadata.
func TestFiftyThousandLUNsFitOneConfigMap(t *testing.T) {
	luns := manyLUNs(50000)
	if len(luns[0].Spec.WWID) != 32 {
		t.Fatalf("WWID %q is not 32 characters", luns[0].Spec.WWID)
	}
	r := mustRender(t, clusterConfig(withOverrides(realisticOverrides)), luns)
	data, binaryData, err := Pack(r)
	if err != nil {
		t.Fatal(err)
	}
	size := PackedSize(data, binaryData)
	t.Logf("50,000 LUNs: %d bytes rendered, %d bytes packed (%.1f%%)", r.Bytes, size, 100*float64(size)/float64(r.Bytes))
	if size > MaxPackedBytes || MaxPackedBytes > 1<<20-32<<10 {
		t.Errorf("packed size %d, limit %d: want at most 1 MiB less metadata headroom", size, MaxPackedBytes)
	}
	back, err := Unpack(data, binaryData, r.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if back.LUNs != 50000 || back.Bytes != r.Bytes {
		t.Errorf("unpacked %d LUNs, %d bytes; want 50000, %d", back.LUNs, back.Bytes, r.Bytes)
	}
}

func TestPackRefusesWhatCannotFit(t *testing.T) {
	// Random bytes do not compress: 1 MiB of them cannot fit.
	noise := make([]byte, 1<<20)
	for i := range noise {
		noise[i] = byte(i*2654435761>>13) ^ byte(i>>7)
	}
	r := &Rendered{Files: []File{{Name: WWIDsFileName, Content: hex.EncodeToString(sha256Chain(noise))}}, LUNs: 1}
	r.Bytes = len(r.Files[0].Content)
	_, _, err := Pack(r)
	if err == nil || !strings.Contains(err.Error(), "more than the 983040 a ConfigMap can hold") {
		t.Fatalf("error = %v", err)
	}
}

// sha256Chain turns b into as many incompressible bytes.
func sha256Chain(b []byte) []byte {
	var out []byte
	sum := sha256.Sum256(nil)
	for len(out) < len(b) {
		sum = sha256.Sum256(append(sum[:], b[len(out):min(len(b), len(out)+32)]...))
		out = append(out, sum[:]...)
	}
	return out
}

func TestUnpackRefusesBadPayloads(t *testing.T) {
	r := mustRender(t, nil, manyLUNs(3))
	data, _, _ := Pack(r)
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s)) // a bytes.Buffer: never fails
		w.Close()
		return b.Bytes()
	}
	tests := map[string]struct {
		data       map[string]string
		binaryData map[string][]byte
		hash       string
		want       string
	}{
		"another config's hash": {
			data: data, hash: strings.Repeat("0", 64),
			want: "rendered config hash is " + r.Hash + ", want " + strings.Repeat("0", 64),
		},
		"a file changed in the ConfigMap": {
			data: map[string]string{BaselineFileName: "defaults {\n}\n", WWIDsFileName: data[WWIDsFileName]}, hash: r.Hash,
			want: "rendered config hash is",
		},
		"a binaryData key without .gz": {
			binaryData: map[string][]byte{"wwids": gz("x")}, hash: r.Hash,
			want: `binaryData key "wwids" does not end in .gz`,
		},
		"a file both plain and compressed": {
			data: map[string]string{"wwids": "x"}, binaryData: map[string][]byte{"wwids.gz": gz("x")}, hash: r.Hash,
			want: `file "wwids" is both in data and in binaryData`,
		},
		"corrupt gzip": {
			binaryData: map[string][]byte{"wwids.gz": []byte("this is not gzip at all")}, hash: r.Hash,
			want: `file "wwids": gzip: invalid header`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Unpack(tc.data, tc.binaryData, tc.hash)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one starting with %q", err, tc.want)
			}
		})
	}
}

// PackedSize (test-only) is the number of bytes data and binaryData take: keys and values.
func PackedSize(data map[string]string, binaryData map[string][]byte) int {
	n := 0
	for k, v := range data {
		n += len(k) + len(v)
	}
	for k, v := range binaryData {
		n += len(k) + len(v)
	}
	return n
}
