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

package multipathdtest

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Fault is a way for the fake daemon to misbehave when it answers a command.
type Fault int

const (
	// NoFault answers normally.
	NoFault Fault = iota
	// Hang reads the request and never answers (until the daemon is closed).
	Hang
	// CloseBeforeReply closes the connection without answering.
	CloseBeforeReply
	// CloseMidReply sends the length header and half of the body, then closes.
	CloseMidReply
	// ShortHeader sends 3 bytes of the length header, then closes.
	ShortHeader
	// OversizedLength announces a reply of 2^62 bytes, beyond any client's limit, and sends
	// nothing more.
	OversizedLength
	// ZeroLength announces a reply of 0 bytes.
	ZeroLength
	// NoNUL sends the body without its terminating NUL (the length counts what is sent).
	NoNUL
)

// Reply is what the fake daemon answers to one command.
type Reply struct {
	// Body is the reply text; the daemon adds the terminating NUL.
	Body string
	// Fault, when set, replaces the normal answer.
	Fault Fault
	// Delay is waited before answering (cut short by Close).
	Delay time.Duration
}

// Canned replies, with multipathd 0.9.4's wording.
const (
	// OK is the reply to a command that succeeded without output.
	OK = "ok\n"
	// Fail is the reply to a command that failed.
	Fail = "fail\n"
	// Timeout is the reply when the daemon could not take its lock in time.
	Timeout = "timeout\n"
	// PermissionDenied is the reply to a command that needs uid 0 from another uid.
	PermissionDenied = "permission deny: need to be root\n"
	// EmptyMapsJSON is "show maps json" on a daemon that tracks no maps.
	EmptyMapsJSON = "{\n   \"major_version\": 0,\n   \"minor_version\": 1,\n   \"maps\": []\n}\n"
)

// HelpText is the reply of multipathd 0.9.4 to a command it does not know: an error line, its
// version line and the command reference. The format strings are those of the 0.9.4 binary;
// the command list is abridged.
func HelpText(command, version string) string {
	return command + ": not found\n" +
		"multipath-tools v" + version + " (12/19, 2022)\n" +
		"CLI commands reference:\n" +
		" list|show paths\n" +
		" list|show status\n" +
		" list|show maps|multipaths json\n" +
		" list|show config\n" +
		" reconfigure\n" +
		" reconfigure all\n"
}

// FakeDaemon is a fake multipathd listening on a unix socket.
type FakeDaemon struct {
	ln     net.Listener
	closed chan struct{}
	wg     sync.WaitGroup

	mu         sync.Mutex
	replies    map[string]Reply
	version    string
	nonRoot    bool
	commands   []string
	received   map[string]time.Time
	violations []string
	conns      map[net.Conn]struct{}
}

var seq atomic.Uint64

// Start starts a fake daemon on a fresh abstract socket name, unique to this process and call.
// Abstract names need no directory and have no path-length trouble; they live in the network
// namespace, like multipathd's own.
func Start() (*FakeDaemon, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return Listen(fmt.Sprintf("@kube-multipath-test/%d/%d/%s", os.Getpid(), seq.Add(1), hex.EncodeToString(b[:])))
}

// Listen starts a fake daemon on address: a filesystem path, or an abstract name with a
// leading '@'. Passing multipathd.DefaultAddress impersonates the real daemon, which only makes
// sense inside a private network namespace.
//
// By default it answers "reconfigure" with OK, "show maps json" with EmptyMapsJSON and every
// other command with HelpText (as 0.9.4 does for commands it does not know).
func Listen(address string) (*FakeDaemon, error) {
	ln, err := net.Listen("unix", address)
	if err != nil {
		return nil, err
	}
	d := &FakeDaemon{
		ln:      ln,
		closed:  make(chan struct{}),
		version: "0.9.4",
		replies: map[string]Reply{
			"reconfigure":    {Body: OK},
			"show maps json": {Body: EmptyMapsJSON},
		},
		conns:    map[net.Conn]struct{}{},
		received: map[string]time.Time{},
	}
	d.wg.Add(1)
	go d.serve()
	return d, nil
}

// Address is the address the daemon listens on, as a SocketClient takes it.
func (d *FakeDaemon) Address() string { return d.ln.Addr().String() }

// SetReply sets the answer to command, given as words separated by single spaces. Requests
// are matched word by word, as multipathd splits them.
func (d *FakeDaemon) SetReply(command string, r Reply) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.replies[command] = r
}

// SetVersion sets the version the help text reports (default "0.9.4").
func (d *FakeDaemon) SetVersion(v string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.version = v
}

// SetNonRoot makes the daemon treat its peer as a uid other than 0: every command that does not
// start with "show" or "list" gets PermissionDenied, as multipathd 0.9.4 does.
func (d *FakeDaemon) SetNonRoot(nonRoot bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nonRoot = nonRoot
}

// Commands returns the commands received so far, byte for byte as sent, in order, without
// their NUL.
func (d *FakeDaemon) Commands() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.commands...)
}

// Received returns when command (its words joined by single spaces) was last received; the
// zero time when it never was. The scale harness times a node's reconfigure with it.
func (d *FakeDaemon) Received(command string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.received[command]
}

// Violations returns the framing errors the daemon saw in requests (a well-behaved client
// causes none).
func (d *FakeDaemon) Violations() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.violations...)
}

// Close stops the listener, closes every connection, releases hung replies and waits for all
// of them to finish.
func (d *FakeDaemon) Close() error {
	select {
	case <-d.closed:
		return nil
	default:
	}
	close(d.closed)
	err := d.ln.Close()
	d.mu.Lock()
	for c := range d.conns {
		_ = c.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
	return err
}

func (d *FakeDaemon) serve() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		select {
		case <-d.closed: // Close ran between Accept and here: it will not see c.
			d.mu.Unlock()
			_ = c.Close()
			return
		default:
		}
		d.conns[c] = struct{}{}
		d.wg.Add(1)
		d.mu.Unlock()
		go d.handle(c)
	}
}

func (d *FakeDaemon) handle(c net.Conn) {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		delete(d.conns, c)
		d.mu.Unlock()
		_ = c.Close()
	}()
	for {
		cmd, err := readRequest(c)
		if err != nil {
			// A peer that hangs up (even with our reply unread, which resets the
			// connection) is not a framing error.
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) {
				d.violation(err)
			}
			return
		}
		r := d.reply(cmd)
		if r.Delay > 0 {
			select {
			case <-time.After(r.Delay):
			case <-d.closed:
				return
			}
		}
		if !d.answer(c, r) {
			return
		}
	}
}

func (d *FakeDaemon) violation(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.violations = append(d.violations, err.Error())
}

func (d *FakeDaemon) reply(cmd string) Reply {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.commands = append(d.commands, cmd)
	// multipathd splits the line into words, so spacing does not matter to it; the multipathd
	// 0.9.4 command-line client sends "show maps json \n".
	words := strings.Join(strings.Fields(cmd), " ")
	d.received[words] = time.Now()
	if d.nonRoot && !strings.HasPrefix(words, "show") && !strings.HasPrefix(words, "list") {
		return Reply{Body: PermissionDenied}
	}
	if r, ok := d.replies[words]; ok {
		return r
	}
	return Reply{Body: HelpText(words, d.version)}
}

// answer writes r to c and reports whether the connection stays open.
func (d *FakeDaemon) answer(c net.Conn, r Reply) bool {
	body := []byte(r.Body + "\x00")
	switch r.Fault {
	case NoFault:
		_, err := c.Write(append(header(uint64(len(body))), body...))
		return err == nil
	case Hang:
		<-d.closed
		return false
	case CloseBeforeReply:
		return false
	case CloseMidReply:
		_, _ = c.Write(append(header(uint64(len(body))), body[:len(body)/2]...))
		return false
	case ShortHeader:
		_, _ = c.Write(header(uint64(len(body)))[:3])
		return false
	case OversizedLength:
		_, _ = c.Write(header(1 << 62))
		<-d.closed
		return false
	case ZeroLength:
		_, err := c.Write(header(0))
		return err == nil
	case NoNUL:
		raw := []byte(r.Body)
		_, err := c.Write(append(header(uint64(len(raw))), raw...))
		return err == nil
	}
	return false
}

// header is a native-endian size_t; the fake assumes a 64-bit platform.
func header(n uint64) []byte {
	return binary.NativeEndian.AppendUint64(nil, n)
}

// readRequest reads one request: an 8-byte native-endian length counting the NUL, then the
// command and its NUL.
func readRequest(c net.Conn) (string, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return "", fmt.Errorf("request length header cut short")
		}
		return "", err
	}
	n := binary.NativeEndian.Uint64(hdr[:])
	if n == 0 || n > 4096 {
		return "", fmt.Errorf("request length %d out of range", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		return "", fmt.Errorf("request body cut short: %w", err)
	}
	if buf[n-1] != 0 {
		return "", fmt.Errorf("request %q is not NUL-terminated", buf)
	}
	return string(buf[:n-1]), nil
}
