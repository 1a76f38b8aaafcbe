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
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Client is what the agent needs of multipathd.
type Client interface {
	// ShowMapsJSON returns the reply to "show maps json", unparsed (see ParseMapsJSON).
	ShowMapsJSON(ctx context.Context) ([]byte, error)
	// Reconfigure sends "reconfigure" (never "reconfigure all"): multipathd re-reads
	// /etc/multipath.conf and /etc/multipath/conf.d/*.conf. It needs uid 0. In 0.9.x the daemon
	// schedules the reconfiguration and answers "ok" before it has run.
	Reconfigure(ctx context.Context) error
	// Version returns the daemon's multipath-tools version, for example "0.9.4".
	Version(ctx context.Context) (string, error)
	// Command sends one allow-listed command (see ValidateCommand) and returns the reply.
	Command(ctx context.Context, args ...string) ([]byte, error)
}

// Errors. A reply that means failure is returned as a *DaemonError wrapping one of the
// Err*Reply sentinels; use errors.Is.
var (
	// ErrDaemonUnavailable: nothing listens on the socket (multipathd not running, or the agent
	// is not in the host's network namespace).
	ErrDaemonUnavailable = errors.New("multipathd is not reachable")
	// ErrFailReply: the daemon answered "fail" (with a reason line when it gave one).
	ErrFailReply = errors.New("multipathd replied fail")
	// ErrTimeoutReply: the daemon answered "timeout": it could not take its lock in time.
	ErrTimeoutReply = errors.New("multipathd replied timeout")
	// ErrPermissionReply: the daemon refused a command that needs uid 0.
	ErrPermissionReply = errors.New("multipathd refused: need to be root")
	// ErrUnknownCommandReply: the daemon answered with its help text, so it does not know the
	// command (for example "show version" on 0.9.4).
	ErrUnknownCommandReply = errors.New("multipathd does not know the command")
	// ErrUnexpectedReply: the reply is none of the above and not what the command returns.
	ErrUnexpectedReply = errors.New("unexpected reply from multipathd")
)

// DaemonError is a reply from multipathd that means the command did not succeed.
type DaemonError struct {
	// Command is the command sent.
	Command string
	// Reply is the daemon's reply, cut to 256 bytes.
	Reply string
	// Err is one of the Err*Reply sentinels.
	Err error
}

func (e *DaemonError) Error() string {
	return fmt.Sprintf("multipathd %q: %v: %q", e.Command, e.Err, e.Reply)
}

func (e *DaemonError) Unwrap() error { return e.Err }

// CheckReply returns a *DaemonError when reply is one of multipathd's failure replies, or its
// help text (the command is unknown to it); nil otherwise.
func CheckReply(command string, reply []byte) error {
	var kind error
	switch first, last := firstLine(reply), lastLine(reply); {
	case first == "fail" || last == "fail":
		kind = ErrFailReply
	case first == "timeout":
		kind = ErrTimeoutReply
	case strings.HasPrefix(first, "permission deny"):
		kind = ErrPermissionReply
	case isHelpText(reply):
		kind = ErrUnknownCommandReply
	default:
		return nil
	}
	return daemonError(command, reply, kind)
}

func daemonError(command string, reply []byte, kind error) *DaemonError {
	r := string(reply[:min(len(reply), 256)])
	return &DaemonError{Command: command, Reply: r, Err: kind}
}

func firstLine(b []byte) string {
	s := string(b[:min(len(b), 128)])
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

func lastLine(b []byte) string {
	s := strings.TrimRight(string(b[max(0, len(b)-128):]), "\n \t")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

const helpMarker = "CLI commands reference:\n"

func isHelpText(b []byte) bool {
	// The marker follows at most an error line and the version line.
	head := string(b[:min(len(b), 512)])
	return strings.HasPrefix(head, helpMarker) || strings.Contains(head, "\n"+helpMarker)
}

// versionRE matches multipath-tools' VERSION_STRING, "multipath-tools v0.9.4 (12/19, 2022)".
var versionRE = regexp.MustCompile(`multipath-tools v([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})\b`)

// ParseVersion reads the multipath-tools version from a reply to "show version". multipathd
// 0.9.4 has no such command and answers with its help text, whose second line is the
// VERSION_STRING "multipath-tools v0.9.4 (12/19, 2022)"; a daemon that knows the command is
// expected to print the same string. The first match anywhere in the reply is used.
func ParseVersion(reply []byte) (string, error) {
	m := versionRE.FindSubmatch(reply)
	if m == nil {
		return "", fmt.Errorf("%w: no \"multipath-tools vX.Y.Z\" in %q", ErrUnexpectedReply, reply[:min(len(reply), 128)])
	}
	return string(m[1]), nil
}

// DefaultTimeout bounds one command when SocketClient.Timeout is zero. The daemon bounds its
// own wait for its lock (uxsock_timeout, 4 s by default) and then replies "timeout"; the rest
// is room to receive a large "show maps json".
const DefaultTimeout = 10 * time.Second

// DefaultMaxReplyBytes bounds a reply when SocketClient.MaxReplyBytes is zero. It is above
// libmpathcmd's MaxReplyLen on purpose: "show maps json" for 10,000 maps of 4 paths is about
// 30 MiB in 0.9.4's layout, so 8 paths per map pass 32 MiB, and the 0.9.4 daemon builds and
// sends replies of any size (only libmpathcmd's reader refuses them). The reader grows its
// buffer as bytes arrive, so a bogus length costs no more memory than the bytes actually sent.
const DefaultMaxReplyBytes = 256 << 20

// SocketClient talks to multipathd over its unix socket, one connection per command. The zero
// value talks to DefaultAddress with DefaultTimeout and DefaultMaxReplyBytes. It is safe for
// concurrent use.
type SocketClient struct {
	// Address is the socket; "" means DefaultAddress. A leading '@' names an abstract socket.
	Address string
	// Timeout bounds one command (connect, request and the whole reply); 0 means
	// DefaultTimeout. The context's deadline applies too, whichever comes first.
	Timeout time.Duration
	// MaxReplyBytes refuses replies announcing this many bytes or more; 0 means
	// DefaultMaxReplyBytes. MaxReplyLen reproduces libmpathcmd's limit.
	MaxReplyBytes int
}

var _ Client = (*SocketClient)(nil)

// ShowMapsJSON implements Client.
func (c *SocketClient) ShowMapsJSON(ctx context.Context) ([]byte, error) {
	return c.checked(ctx, CmdShowMapsJSON)
}

// Reconfigure implements Client. Only the reply "ok" is success.
func (c *SocketClient) Reconfigure(ctx context.Context) error {
	reply, err := c.checked(ctx, CmdReconfigure)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(reply)) != "ok" {
		return daemonError(CmdReconfigure, reply, ErrUnexpectedReply)
	}
	return nil
}

// Version implements Client. See ParseVersion for the reply it expects.
func (c *SocketClient) Version(ctx context.Context) (string, error) {
	reply, err := c.do(ctx, CmdShowVersion)
	if err != nil {
		return "", err
	}
	if err := CheckReply(CmdShowVersion, reply); err != nil && !errors.Is(err, ErrUnknownCommandReply) {
		return "", err
	}
	return ParseVersion(reply)
}

// Command implements Client.
func (c *SocketClient) Command(ctx context.Context, args ...string) ([]byte, error) {
	cmd, err := ValidateCommand(args...)
	if err != nil {
		return nil, err
	}
	return c.checked(ctx, cmd)
}

func (c *SocketClient) checked(ctx context.Context, cmd string) ([]byte, error) {
	reply, err := c.do(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if err := CheckReply(cmd, reply); err != nil {
		return nil, err
	}
	return reply, nil
}

// do sends an allow-listed command and returns the raw reply without interpreting it.
func (c *SocketClient) do(ctx context.Context, cmd string) ([]byte, error) {
	var reply []byte
	err := c.exchange(ctx, cmd, func(r io.Reader, maxReply int) (err error) {
		reply, err = ReadFrame(r, maxReply)
		return err
	})
	return reply, err
}

// ShowMapsJSONSum returns the sha256 of the reply to "show maps json", the same as of
// ShowMapsJSON's reply, without holding a large reply whole (SumFrame): an agent compares it
// with the last reply's to skip the read and the parse while nothing changed. A failure reply
// is an error, as from ShowMapsJSON.
func (c *SocketClient) ShowMapsJSONSum(ctx context.Context) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	var small []byte
	err := c.exchange(ctx, CmdShowMapsJSON, func(r io.Reader, maxReply int) (err error) {
		sum, small, err = SumFrame(r, maxReply)
		return err
	})
	if err != nil {
		return sum, err
	}
	// Failure replies and the help text are short; a long reply is the maps.
	if small != nil {
		if err := CheckReply(CmdShowMapsJSON, small); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// MapsDecoder is a client that decodes the maps reply as it arrives, without holding it whole
// (SocketClient); the agent and the apply's post-check use it when their client is one.
type MapsDecoder interface {
	DecodeMapsJSON(ctx context.Context, each func(Map) error) ([sha256.Size]byte, error)
}

var _ MapsDecoder = (*SocketClient)(nil)

// EachMap gives each of the daemon's maps to each, decoded as they arrive when c is a
// MapsDecoder, else from ShowMapsJSON's whole reply, and returns the reply's sha256 (as
// ShowMapsJSONSum's). On an error the maps already given are to be discarded.
func EachMap(ctx context.Context, c Client, each func(Map) error) ([sha256.Size]byte, error) {
	if dec, ok := c.(MapsDecoder); ok {
		return dec.DecodeMapsJSON(ctx, each)
	}
	reply, err := c.ShowMapsJSON(ctx)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(reply), DecodeMaps(bytes.NewReader(reply), each)
}

// ShowMaps returns the daemon's maps (EachMap).
func ShowMaps(ctx context.Context, c Client) ([]Map, error) {
	maps := []Map{}
	if _, err := EachMap(ctx, c, appendTo(&maps)); err != nil {
		return nil, err
	}
	return maps, nil
}

// DecodeMapsJSON asks for "show maps json" and decodes the reply map by map as it arrives
// (DecodeMaps), giving each map to each, and returns the reply's sha256 (ShowMapsJSONSum's): an
// agent with 10,000 maps never holds the reply (18 MiB) or all its maps decoded. A failure reply
// is an error, as from ShowMapsJSON; so is a reply that is not the maps' JSON, and then the maps
// already given are to be discarded.
func (c *SocketClient) DecodeMapsJSON(ctx context.Context, each func(Map) error) (sum [sha256.Size]byte, err error) {
	err = c.exchange(ctx, CmdShowMapsJSON, func(r io.Reader, maxReply int) error {
		n, err := readHeader(r, maxReply)
		if err != nil {
			return err
		}
		if n <= sumChunk {
			// Failure replies and the help text are short; a long reply is the maps.
			body, err := readBody(r, n)
			if err != nil {
				return err
			}
			if err := CheckReply(CmdShowMapsJSON, body); err != nil {
				return err
			}
			sum = sha256.Sum256(body)
			return DecodeMaps(bytes.NewReader(body), each)
		}
		// The decoder reads a few KiB at a time; the buffer makes that 64 KiB per read from the
		// socket (a 1,000-map reply was a thousand reads).
		body := newBodyReader(r, n)
		if err := DecodeMaps(bufio.NewReaderSize(body, sumChunk), each); err != nil {
			return err
		}
		sum = body.sum() // DecodeMaps read to the frame's end, to see nothing follows the JSON
		return nil
	})
	return sum, err
}

// exchange sends an allow-listed command and has read take the reply from the connection. It
// is the one place that writes to the socket; a command off the allow-list is refused here too.
func (c *SocketClient) exchange(ctx context.Context, cmd string, read func(r io.Reader, maxReply int) error) error {
	if _, ok := allowed[cmd]; !ok {
		return fmt.Errorf("%w: %q", ErrNotAllowed, cmd)
	}
	addr := c.Address
	if addr == "" {
		addr = DefaultAddress
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout,
		fmt.Errorf("no reply within %s: %w", timeout, context.DeadlineExceeded))
	defer cancel()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("multipathd %q: %w", cmd, context.Cause(ctx))
		}
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("%w at %s: %w", ErrDaemonUnavailable, addr, err)
		}
		return fmt.Errorf("multipathd %q: connect %s: %w", cmd, addr, err)
	}
	defer conn.Close()
	// The context's end (deadline, timeout or cancel) interrupts a blocked read or write at
	// once. Only this sets a deadline on conn, so ctx.Err() is set whenever the I/O times out.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	maxReply := c.MaxReplyBytes
	if maxReply <= 0 {
		maxReply = DefaultMaxReplyBytes
	}
	err = WriteFrame(conn, cmd)
	if err != nil {
		err = fmt.Errorf("send: %w", err)
	} else if err = read(conn, maxReply); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: connection closed before a reply", ErrProtocol)
		} else {
			err = fmt.Errorf("receive: %w", err)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("multipathd %q: %w", cmd, context.Cause(ctx))
		}
		return fmt.Errorf("multipathd %q: %w", cmd, err)
	}
	return nil
}
