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
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// DefaultAddress is multipathd's socket: the abstract unix socket
// "/org/kernel/linux/storage/multipathd", spelled the Go way with a leading '@'.
const DefaultAddress = "@/org/kernel/linux/storage/multipathd"

// MaxReplyLen is the first reply length libmpathcmd 0.9.4 refuses (MAX_REPLY_LEN, 32 MiB).
// Valid frames announce 1 to MaxReplyLen-1 bytes.
const MaxReplyLen = 32 << 20

// SizeTBytes is the size of the length header: a C size_t, as wide as a pointer.
const SizeTBytes = bits.UintSize / 8

// ErrProtocol marks a frame that breaks the protocol: a short header, a length of zero or out
// of range, a body cut short, a body without its terminating NUL or with a NUL inside.
var ErrProtocol = errors.New("multipathd protocol error")

// AppendFrame appends the frame of payload to dst: the native-endian size_t length of payload
// plus its terminating NUL, the payload, and the NUL.
func AppendFrame(dst []byte, payload string) []byte {
	n := uint64(len(payload) + 1)
	if SizeTBytes == 8 {
		dst = binary.NativeEndian.AppendUint64(dst, n)
	} else {
		dst = binary.NativeEndian.AppendUint32(dst, uint32(n))
	}
	dst = append(dst, payload...)
	return append(dst, 0)
}

// WriteFrame writes the frame of payload to w in one Write.
func WriteFrame(w io.Writer, payload string) error {
	_, err := w.Write(AppendFrame(make([]byte, 0, SizeTBytes+len(payload)+1), payload))
	return err
}

// ReadFrame reads one frame from r and returns its payload without the terminating NUL. A
// frame announcing 0 bytes, or maxLen bytes or more, is refused before its body is read, as
// libmpathcmd refuses replies of MaxReplyLen or more. Errors from r are returned wrapped;
// violations of the framing wrap ErrProtocol.
func ReadFrame(r io.Reader, maxLen int) ([]byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:SizeTBytes]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: length header cut short", ErrProtocol)
		}
		return nil, err
	}
	var n uint64
	if SizeTBytes == 8 {
		n = binary.NativeEndian.Uint64(hdr[:])
	} else {
		n = uint64(binary.NativeEndian.Uint32(hdr[:4]))
	}
	if n == 0 || n >= uint64(maxLen) {
		return nil, fmt.Errorf("%w: frame length %d out of range [1, %d)", ErrProtocol, n, maxLen)
	}
	// One allocation of the announced length (bounded by maxLen above): growing as bytes arrive
	// doubled the buffer a dozen times for a 10,000-map reply, as much garbage again as the
	// reply, on every refresh.
	var buf bytes.Buffer
	buf.Grow(int(n))
	got, err := io.CopyN(&buf, r, int64(n))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: frame cut short after %d of %d bytes", ErrProtocol, got, n)
		}
		return nil, err
	}
	body := buf.Bytes()
	if body[len(body)-1] != 0 {
		return nil, fmt.Errorf("%w: frame of %d bytes is not NUL-terminated", ErrProtocol, n)
	}
	body = body[:len(body)-1]
	if i := bytes.IndexByte(body, 0); i >= 0 {
		return nil, fmt.Errorf("%w: NUL at byte %d of a %d-byte frame", ErrProtocol, i, n)
	}
	return body, nil
}
