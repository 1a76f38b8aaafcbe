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

package multipathd_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// le64 is a size_t as a little-endian 64-bit host writes it.
func le64(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

func TestAppendFrameMatchesLibmpathcmd(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 || multipathd.SizeTBytes != 8 {
		t.Skip("golden bytes are for 64-bit little-endian hosts")
	}
	// mpath_send_cmd: len = strlen(cmd) + 1; write(&len, sizeof(size_t)); write(cmd, len).
	want := append(le64(15), "show maps json\x00"...)
	if got := multipathd.AppendFrame(nil, "show maps json"); !bytes.Equal(got, want) {
		t.Fatalf("AppendFrame = % x, want % x", got, want)
	}
	var buf bytes.Buffer
	if err := multipathd.WriteFrame(&buf, "reconfigure"); err != nil {
		t.Fatal(err)
	}
	if want := append(le64(12), "reconfigure\x00"...); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("WriteFrame = % x, want % x", buf.Bytes(), want)
	}
}

func TestReadFrame(t *testing.T) {
	if multipathd.SizeTBytes != 8 || binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("hand-built frames are for 64-bit little-endian hosts")
	}
	frame := func(n uint64, body string) []byte { return append(le64(n), body...) }
	tests := map[string]struct {
		in        []byte
		max       int
		want      string
		wantErr   error
		errSubstr string
	}{
		"a well-formed reply is returned without its NUL": {
			in: frame(4, "ok\n\x00"), max: multipathd.MaxReplyLen, want: "ok\n",
		},
		"a reply of only the NUL is an empty reply": {
			in: frame(1, "\x00"), max: multipathd.MaxReplyLen, want: "",
		},
		"the largest length libmpathcmd accepts is accepted": {
			in: frame(multipathd.MaxReplyLen-1, strings.Repeat("x", multipathd.MaxReplyLen-2)+"\x00"), max: multipathd.MaxReplyLen,
			want: strings.Repeat("x", multipathd.MaxReplyLen-2),
		},
		"a length of 32 MiB is refused before reading the body, as libmpathcmd does": {
			in: frame(multipathd.MaxReplyLen, ""), max: multipathd.MaxReplyLen, wantErr: multipathd.ErrProtocol, errSubstr: "out of range",
		},
		"an absurd length is refused": {
			in: frame(1<<62, ""), max: multipathd.MaxReplyLen, wantErr: multipathd.ErrProtocol, errSubstr: "out of range",
		},
		"a length of zero is refused, as libmpathcmd does": {
			in: frame(0, ""), max: multipathd.MaxReplyLen, wantErr: multipathd.ErrProtocol, errSubstr: "out of range",
		},
		"a header cut short is a protocol error": {
			in: le64(4)[:3], max: multipathd.MaxReplyLen, wantErr: multipathd.ErrProtocol, errSubstr: "header cut short",
		},
		"a body cut short is a protocol error": {
			in: frame(10, "ok"), max: multipathd.MaxReplyLen, wantErr: multipathd.ErrProtocol, errSubstr: "cut short after 2 of 10",
		},
		"a body without its NUL is a protocol error": {
			in: frame(3, "ok\n"), max: multipathd.MaxReplyLen, wantErr: multipathd.ErrProtocol, errSubstr: "not NUL-terminated",
		},
		"a NUL inside the body is a protocol error": {
			in: frame(5, "o\x00k\n\x00"), max: multipathd.MaxReplyLen, wantErr: multipathd.ErrProtocol, errSubstr: "NUL at byte 1",
		},
		"nothing at all is io.EOF: the peer closed between frames": {
			in: nil, max: multipathd.MaxReplyLen, wantErr: io.EOF,
		},
		"a frame at a caller's smaller bound is refused": {
			in: frame(4096, ""), max: 4096, wantErr: multipathd.ErrProtocol, errSubstr: "out of range [1, 4096)",
		},
		// Larger than SumFrame holds at once (64 KiB): it reads them in chunks.
		"a long reply of many chunks": {
			in: frame(200001, big(200000)+"\x00"), max: multipathd.MaxReplyLen, want: big(200000),
		},
		"a long reply one byte over a chunk": {
			in: frame(65537, big(65536)+"\x00"), max: multipathd.MaxReplyLen, want: big(65536),
		},
		"a NUL inside a long body, past the first chunk": {
			in: frame(200001, big(70000)+"\x00"+big(129999)+"\x00"), max: multipathd.MaxReplyLen, wantErr: multipathd.ErrProtocol, errSubstr: "NUL at byte 70000 of a 200001-byte frame",
		},
		"a long body without its NUL": {
			in: frame(200001, big(200001)), max: multipathd.MaxReplyLen, wantErr: multipathd.ErrProtocol, errSubstr: "not NUL-terminated",
		},
		"a long body cut short": {
			in: frame(200001, big(150000)), max: multipathd.MaxReplyLen, wantErr: multipathd.ErrProtocol, errSubstr: "cut short after 150000 of 200001",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := multipathd.ReadFrame(bytes.NewReader(tc.in), tc.max)
			sum, small, sumErr := multipathd.SumFrame(bytes.NewReader(tc.in), tc.max)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.errSubstr)
				}
				if got != nil {
					t.Fatalf("payload = %q with an error", got)
				}
				if !errors.Is(sumErr, tc.wantErr) || !strings.Contains(sumErr.Error(), tc.errSubstr) {
					t.Fatalf("SumFrame: err = %v, want %v containing %q", sumErr, tc.wantErr, tc.errSubstr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("ReadFrame = %.40q, %v; want %.40q", got, err, tc.want)
			}
			if sumErr != nil || sum != sha256.Sum256(got) {
				t.Fatalf("SumFrame = %x, %v; want the sha256 of ReadFrame's payload, %x", sum, sumErr, sha256.Sum256(got))
			}
			if wantSmall := len(tc.want) < 64<<10; (small != nil) != wantSmall || (wantSmall && string(small) != tc.want) {
				t.Fatalf("SumFrame returned the payload %t (%d bytes), want it only up to 64 KiB", small != nil, len(small))
			}
		})
	}
}

// big is n bytes of text without a NUL.
func big(n int) string { return strings.Repeat("0123456789abcdef", n/16+1)[:n] }

func TestReadFrameReadsBackWhatWriteFrameWrote(t *testing.T) {
	var buf bytes.Buffer
	for _, s := range []string{"", "show maps json", strings.Repeat("é", 5000)} {
		if err := multipathd.WriteFrame(&buf, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"", "show maps json", strings.Repeat("é", 5000)} {
		got, err := multipathd.ReadFrame(&buf, multipathd.MaxReplyLen)
		if err != nil || string(got) != want {
			t.Fatalf("ReadFrame = %.20q, %v; want %.20q", got, err, want)
		}
	}
	if _, err := multipathd.ReadFrame(&buf, multipathd.MaxReplyLen); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: err = %v, want io.EOF", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(multipathd.AppendFrame(nil, "ok\n"))
	f.Add([]byte{1, 2, 3})
	f.Add(append(le64(5), "ab\x00c\x00"...))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := multipathd.ReadFrame(bytes.NewReader(in), 1<<16)
		if err != nil {
			return
		}
		if bytes.IndexByte(got, 0) >= 0 {
			t.Fatalf("payload %q holds a NUL", got)
		}
		if again := multipathd.AppendFrame(nil, string(got)); !bytes.HasPrefix(in, again) {
			t.Fatalf("re-encoding %q gives % x, not a prefix of the input % x", got, again, in)
		}
	})
}
