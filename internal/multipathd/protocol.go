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
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
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

// readHeader reads a frame's length header and checks it as ReadFrame does.
func readHeader(r io.Reader, maxLen int) (uint64, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:SizeTBytes]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("%w: length header cut short", ErrProtocol)
		}
		return 0, err
	}
	var n uint64
	if SizeTBytes == 8 {
		n = binary.NativeEndian.Uint64(hdr[:])
	} else {
		n = uint64(binary.NativeEndian.Uint32(hdr[:4]))
	}
	if n == 0 || n >= uint64(maxLen) {
		return 0, fmt.Errorf("%w: frame length %d out of range [1, %d)", ErrProtocol, n, maxLen)
	}
	return n, nil
}

// sumChunk is how much of a frame SumFrame holds at once.
const sumChunk = 64 << 10

// SumFrame reads one frame from r as ReadFrame does and returns the sha256 of its payload (the
// same as of ReadFrame's), and the payload itself only when it is at most sumChunk bytes (a
// failure reply or help text is; a report of many maps is not). A large payload goes through
// one buffer of sumChunk bytes: an agent that hashes multipathd's reply to see whether anything
// changed reads 18 MiB at 10,000 maps every refresh, and that is no garbage this way.
func SumFrame(r io.Reader, maxLen int) (sum [sha256.Size]byte, small []byte, err error) {
	n, err := readHeader(r, maxLen)
	if err != nil {
		return sum, nil, err
	}
	if n <= sumChunk {
		body, err := readBody(r, n)
		if err != nil {
			return sum, nil, err
		}
		return sha256.Sum256(body), body, nil
	}
	body := newBodyReader(r, n)
	if _, err := io.CopyBuffer(io.Discard, body, make([]byte, sumChunk)); err != nil {
		return sum, nil, err
	}
	return body.sum(), nil, nil
}

// bodyReader reads a frame's body of n bytes as it arrives, without its terminating NUL, and
// hashes it: the payload of a large reply is decoded or hashed without ever being held whole.
// It checks the body as readBody does (ErrProtocol when cut short, with a NUL inside or without
// the NUL at the end).
type bodyReader struct {
	r    io.Reader
	n    uint64 // the frame's announced length, NUL included
	off  uint64 // bytes read so far
	hash hash.Hash
}

func newBodyReader(r io.Reader, n uint64) *bodyReader {
	return &bodyReader{r: r, n: n, hash: sha256.New()}
}

// Read implements io.Reader: it returns io.EOF once the payload is read and its NUL checked.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.off == b.n {
		return 0, io.EOF
	}
	if b.off == b.n-1 {
		var nul [1]byte
		if _, err := io.ReadFull(b.r, nul[:]); err != nil {
			return 0, b.cut(err)
		}
		b.off++
		if nul[0] != 0 {
			return 0, fmt.Errorf("%w: frame of %d bytes is not NUL-terminated", ErrProtocol, b.n)
		}
		return 0, io.EOF
	}
	p = p[:min(uint64(len(p)), b.n-1-b.off)]
	got, err := b.r.Read(p)
	if i := bytes.IndexByte(p[:got], 0); i >= 0 {
		return 0, fmt.Errorf("%w: NUL at byte %d of a %d-byte frame", ErrProtocol, b.off+uint64(i), b.n)
	}
	b.hash.Write(p[:got])
	b.off += uint64(got)
	if err != nil {
		return got, b.cut(err)
	}
	return got, nil
}

// cut turns the end of the connection before the frame's end into a protocol error.
func (b *bodyReader) cut(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: frame cut short after %d of %d bytes", ErrProtocol, b.off, b.n)
	}
	return err
}

// sum is the sha256 of the payload read so far: of all of it once Read returned io.EOF.
func (b *bodyReader) sum() (sum [sha256.Size]byte) {
	b.hash.Sum(sum[:0])
	return sum
}

// ReadFrame reads one frame from r and returns its payload without the terminating NUL. A
// frame announcing 0 bytes, or maxLen bytes or more, is refused before its body is read, as
// libmpathcmd refuses replies of MaxReplyLen or more. Errors from r are returned wrapped;
// violations of the framing wrap ErrProtocol.
func ReadFrame(r io.Reader, maxLen int) ([]byte, error) {
	n, err := readHeader(r, maxLen)
	if err != nil {
		return nil, err
	}
	return readBody(r, n)
}

// readBody reads a frame's body of n bytes and returns it without its terminating NUL.
func readBody(r io.Reader, n uint64) ([]byte, error) {
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
