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
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

func startDaemon(t *testing.T) (*multipathdtest.FakeDaemon, *multipathd.SocketClient) {
	t.Helper()
	d, err := multipathdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("closing the fake daemon: %v", err)
		}
		if v := d.Violations(); len(v) != 0 {
			t.Errorf("the client broke the framing: %q", v)
		}
	})
	return d, &multipathd.SocketClient{Address: d.Address(), Timeout: 2 * time.Second}
}

// call runs one Client method by name, so that tables can name the call.
func call(ctx context.Context, c multipathd.Client, method string, args ...string) (string, error) {
	switch method {
	case "ShowMapsJSON":
		b, err := c.ShowMapsJSON(ctx)
		return string(b), err
	case "Reconfigure":
		return "", c.Reconfigure(ctx)
	case "Version":
		return c.Version(ctx)
	case "Command":
		b, err := c.Command(ctx, args...)
		return string(b), err
	}
	panic("unknown method " + method)
}

func TestSocketClientAgainstFakeDaemon(t *testing.T) {
	tests := map[string]struct {
		command string // the command the fake answers; "" leaves its defaults
		reply   multipathdtest.Reply
		nonRoot bool

		method string
		args   []string

		want     string
		wantErr  error
		wantSent []string
	}{
		"show maps json returns the reply unparsed": {
			command: "show maps json", reply: multipathdtest.Reply{Body: `{"maps":[]}`},
			method: "ShowMapsJSON", want: `{"maps":[]}`, wantSent: []string{"show maps json"},
		},
		"reconfigure sends exactly reconfigure and ok is success": {
			method: "Reconfigure", wantSent: []string{"reconfigure"},
		},
		"reconfigure answered fail is ErrFailReply": {
			command: "reconfigure", reply: multipathdtest.Reply{Body: multipathdtest.Fail},
			method: "Reconfigure", wantErr: multipathd.ErrFailReply, wantSent: []string{"reconfigure"},
		},
		"reconfigure answered timeout is ErrTimeoutReply": {
			command: "reconfigure", reply: multipathdtest.Reply{Body: multipathdtest.Timeout},
			method: "Reconfigure", wantErr: multipathd.ErrTimeoutReply, wantSent: []string{"reconfigure"},
		},
		"reconfigure from a non-root peer is ErrPermissionReply": {
			nonRoot: true,
			method:  "Reconfigure", wantErr: multipathd.ErrPermissionReply, wantSent: []string{"reconfigure"},
		},
		"reconfigure answered with anything but ok is ErrUnexpectedReply": {
			command: "reconfigure", reply: multipathdtest.Reply{Body: "maybe\n"},
			method: "Reconfigure", wantErr: multipathd.ErrUnexpectedReply, wantSent: []string{"reconfigure"},
		},
		"show is allowed to a non-root peer": {
			nonRoot: true, command: "show maps json", reply: multipathdtest.Reply{Body: multipathdtest.EmptyMapsJSON},
			method: "ShowMapsJSON", want: multipathdtest.EmptyMapsJSON, wantSent: []string{"show maps json"},
		},
		"show maps json answered fail with a reason is ErrFailReply": {
			command: "show maps json", reply: multipathdtest.Reply{Body: "fail\ndevice not found\n"},
			method: "ShowMapsJSON", wantErr: multipathd.ErrFailReply, wantSent: []string{"show maps json"},
		},
		"a reason line before fail is ErrFailReply too": {
			command: "show maps json", reply: multipathdtest.Reply{Body: "map or partition in use\nfail\n"},
			method: "ShowMapsJSON", wantErr: multipathd.ErrFailReply, wantSent: []string{"show maps json"},
		},
		"version on 0.9.4 is read from the help text it answers with": {
			method: "Version", want: "0.9.4", wantSent: []string{"show version"},
		},
		"version from a daemon that knows the command": {
			command: "show version", reply: multipathdtest.Reply{Body: "multipath-tools v0.10.2 (01/16, 2025)\n"},
			method: "Version", want: "0.10.2", wantSent: []string{"show version"},
		},
		"version without a version string is ErrUnexpectedReply": {
			command: "show version", reply: multipathdtest.Reply{Body: "ok\n"},
			method: "Version", wantErr: multipathd.ErrUnexpectedReply, wantSent: []string{"show version"},
		},
		"version answered fail is ErrFailReply": {
			command: "show version", reply: multipathdtest.Reply{Body: multipathdtest.Fail},
			method: "Version", wantErr: multipathd.ErrFailReply, wantSent: []string{"show version"},
		},
		"an allow-listed command returns its reply": {
			command: "show status", reply: multipathdtest.Reply{Body: "path checker states:\nup 4\n"},
			method: "Command", args: []string{"show", "status"}, want: "path checker states:\nup 4\n", wantSent: []string{"show status"},
		},
		"an allow-listed command the daemon does not know is ErrUnknownCommandReply": {
			method: "Command", args: []string{"show", "version"}, wantErr: multipathd.ErrUnknownCommandReply, wantSent: []string{"show version"},
		},
		"reconfigure all never reaches the daemon": {
			method: "Command", args: []string{"reconfigure", "all"}, wantErr: multipathd.ErrNotAllowed,
		},
		"a command with a smuggled second line never reaches the daemon": {
			method: "Command", args: []string{"show", "paths\nreconfigure"}, wantErr: multipathd.ErrNotAllowed,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, c := startDaemon(t)
			if tc.command != "" {
				d.SetReply(tc.command, tc.reply)
			}
			d.SetNonRoot(tc.nonRoot)
			got, err := call(t.Context(), c, tc.method, tc.args...)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tc.want {
				t.Errorf("result = %q, want %q", got, tc.want)
			}
			if sent := d.Commands(); !slices.Equal(sent, tc.wantSent) {
				t.Errorf("daemon received %q, want %q", sent, tc.wantSent)
			}
		})
	}
}

func TestDaemonErrorCarriesCommandAndReply(t *testing.T) {
	d, c := startDaemon(t)
	d.SetReply("reconfigure", multipathdtest.Reply{Body: "fail\n" + strings.Repeat("x", 1000)})
	err := c.Reconfigure(t.Context())
	var de *multipathd.DaemonError
	if !errors.As(err, &de) {
		t.Fatalf("err = %T %v, want *DaemonError", err, err)
	}
	if de.Command != "reconfigure" || len(de.Reply) != 256 || !strings.HasPrefix(de.Reply, "fail\n") {
		t.Errorf("DaemonError = {%q, %d bytes %.10q}, want reconfigure and the first 256 bytes", de.Command, len(de.Reply), de.Reply)
	}
}

func TestSocketClientFaults(t *testing.T) {
	tests := map[string]struct {
		fault   multipathdtest.Fault
		timeout time.Duration
		wantErr error
		within  time.Duration
	}{
		"a daemon that hangs is cut off by the client timeout": {
			fault: multipathdtest.Hang, timeout: 200 * time.Millisecond, wantErr: context.DeadlineExceeded, within: 2 * time.Second,
		},
		"a daemon that closes without replying is a protocol error": {
			fault: multipathdtest.CloseBeforeReply, wantErr: multipathd.ErrProtocol, within: time.Second,
		},
		"a daemon that closes mid-reply is a protocol error": {
			fault: multipathdtest.CloseMidReply, wantErr: multipathd.ErrProtocol, within: time.Second,
		},
		"a daemon that sends half a length header is a protocol error": {
			fault: multipathdtest.ShortHeader, wantErr: multipathd.ErrProtocol, within: time.Second,
		},
		"an oversized length is refused at once, without waiting for the body": {
			fault: multipathdtest.OversizedLength, timeout: 5 * time.Second, wantErr: multipathd.ErrProtocol, within: time.Second,
		},
		"a zero length is a protocol error": {
			fault: multipathdtest.ZeroLength, wantErr: multipathd.ErrProtocol, within: time.Second,
		},
		"a reply without its NUL is a protocol error": {
			fault: multipathdtest.NoNUL, wantErr: multipathd.ErrProtocol, within: time.Second,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, c := startDaemon(t)
			if tc.timeout > 0 {
				c.Timeout = tc.timeout
			}
			d.SetReply("show maps json", multipathdtest.Reply{Body: multipathdtest.EmptyMapsJSON, Fault: tc.fault})
			start := time.Now()
			b, err := c.ShowMapsJSON(t.Context())
			if !errors.Is(err, tc.wantErr) || b != nil {
				t.Fatalf("ShowMapsJSON = %q, %v; want %v", b, err, tc.wantErr)
			}
			if el := time.Since(start); el > tc.within {
				t.Errorf("took %s, want under %s", el, tc.within)
			}
		})
	}
}

func TestSocketClientHonoursTheContext(t *testing.T) {
	t.Run("cancelling the context interrupts a hung daemon at once", func(t *testing.T) {
		d, c := startDaemon(t)
		c.Timeout = time.Minute
		d.SetReply("show maps json", multipathdtest.Reply{Fault: multipathdtest.Hang})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.ShowMapsJSON(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("took %s after cancel", el)
		}
	})
	t.Run("a context deadline shorter than the timeout wins", func(t *testing.T) {
		d, c := startDaemon(t)
		c.Timeout = time.Minute
		d.SetReply("reconfigure", multipathdtest.Reply{Fault: multipathdtest.Hang})
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		defer cancel()
		if err := c.Reconfigure(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("a slow reply inside the timeout is received", func(t *testing.T) {
		d, c := startDaemon(t)
		d.SetReply("reconfigure", multipathdtest.Reply{Body: "ok\n", Delay: 100 * time.Millisecond})
		if err := c.Reconfigure(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSocketClientWithoutDaemon(t *testing.T) {
	d, err := multipathdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	addr := d.Address()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	c := &multipathd.SocketClient{Address: addr, Timeout: time.Second}
	if _, err := c.ShowMapsJSON(t.Context()); !errors.Is(err, multipathd.ErrDaemonUnavailable) {
		t.Fatalf("abstract socket without listener: err = %v, want ErrDaemonUnavailable", err)
	}
	c.Address = t.TempDir() + "/no-such.sock"
	if err := c.Reconfigure(t.Context()); !errors.Is(err, multipathd.ErrDaemonUnavailable) {
		t.Fatalf("missing socket file: err = %v, want ErrDaemonUnavailable", err)
	}
}

func TestSocketClientOnAPathSocket(t *testing.T) {
	d, err := multipathdtest.Listen(t.TempDir() + "/multipathd.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := &multipathd.SocketClient{Address: d.Address()}
	if err := c.Reconfigure(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestSocketClientLargeReply(t *testing.T) {
	d, c := startDaemon(t)
	big := strings.Repeat("0123456789abcdef", 5<<20/16) // 5 MiB
	d.SetReply("show maps json", multipathdtest.Reply{Body: big})
	got, err := c.ShowMapsJSON(t.Context())
	if err != nil || string(got) != big {
		t.Fatalf("got %d bytes, %v; want %d bytes", len(got), err, len(big))
	}
}

// ShowMapsJSONSum hashes the reply ShowMapsJSON would return, and fails as it does.
func TestSocketClientShowMapsJSONSum(t *testing.T) {
	d, c := startDaemon(t)
	for _, body := range []string{`{"major_version": 0, "maps": []}`, strings.Repeat("0123456789abcdef", 5<<20/16)} {
		d.SetReply("show maps json", multipathdtest.Reply{Body: body})
		sum, err := c.ShowMapsJSONSum(t.Context())
		if err != nil || sum != sha256.Sum256([]byte(body)) {
			t.Fatalf("%d bytes: sum %x, %v; want %x", len(body), sum, err, sha256.Sum256([]byte(body)))
		}
	}
	d.SetReply("show maps json", multipathdtest.Reply{Body: "fail\n"})
	if _, err := c.ShowMapsJSONSum(t.Context()); !errors.Is(err, multipathd.ErrFailReply) {
		t.Errorf("a fail reply: err = %v, want ErrFailReply", err)
	}
	d.Close()
	if _, err := c.ShowMapsJSONSum(t.Context()); !errors.Is(err, multipathd.ErrDaemonUnavailable) {
		t.Errorf("no daemon: err = %v, want ErrDaemonUnavailable", err)
	}
}

// DecodeMapsJSON decodes the reply as it arrives into what ParseMapsJSON returns, with
// ShowMapsJSONSum's hash, for a reply held whole (up to 64 KiB) and one that is not; it fails as
// ShowMapsJSON does.
func TestSocketClientDecodeMapsJSON(t *testing.T) {
	d, c := startDaemon(t)
	for _, body := range []string{`{"major_version": 0, "maps": [{"uuid": "u1", "name": "a"}]}`, string(mapsJSON(300))} {
		d.SetReply("show maps json", multipathdtest.Reply{Body: body})
		want, err := multipathd.ParseMapsJSON([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		var got []multipathd.Map
		sum, err := c.DecodeMapsJSON(t.Context(), func(m multipathd.Map) error {
			got = append(got, m)
			return nil
		})
		if err != nil || sum != sha256.Sum256([]byte(body)) {
			t.Fatalf("%d bytes: sum %x, %v; want %x", len(body), sum, err, sha256.Sum256([]byte(body)))
		}
		if len(got) != len(want) || digest(got) != digest(want) {
			t.Fatalf("%d bytes: %d maps, want %d as ParseMapsJSON reads them", len(body), len(got), len(want))
		}
	}
	for body, want := range map[string]error{
		"fail\n": multipathd.ErrFailReply,
		`{"maps": [` + strings.Repeat(`{"uuid": "u"}, `, 10000) + `{"uuid": "u"`: multipathd.ErrMalformedJSON,
		`{"maps": []}` + strings.Repeat(" ", 100000) + "x":                       multipathd.ErrMalformedJSON,
	} {
		d.SetReply("show maps json", multipathdtest.Reply{Body: body})
		if _, err := c.DecodeMapsJSON(t.Context(), func(multipathd.Map) error { return nil }); !errors.Is(err, want) {
			t.Errorf("reply of %d bytes: err = %v, want %v", len(body), err, want)
		}
	}
	d.Close()
	if _, err := c.DecodeMapsJSON(t.Context(), func(multipathd.Map) error { return nil }); !errors.Is(err, multipathd.ErrDaemonUnavailable) {
		t.Errorf("no daemon: err = %v, want ErrDaemonUnavailable", err)
	}
}

func TestSocketClientReplyLimit(t *testing.T) {
	t.Run("a reply past libmpathcmd's 32 MiB limit is accepted by default", func(t *testing.T) {
		d, c := startDaemon(t)
		c.Timeout = time.Minute // 32 MiB under -race on a loaded machine
		big := strings.Repeat("x", multipathd.MaxReplyLen+1024)
		d.SetReply("show maps json", multipathdtest.Reply{Body: big})
		got, err := c.ShowMapsJSON(t.Context())
		if err != nil || len(got) != len(big) {
			t.Fatalf("got %d bytes, %v; want %d", len(got), err, len(big))
		}
	})
	t.Run("a reply at MaxReplyBytes is refused before its body is read", func(t *testing.T) {
		d, c := startDaemon(t)
		c.MaxReplyBytes = 1024
		d.SetReply("show maps json", multipathdtest.Reply{Body: strings.Repeat("x", 1023)}) // 1024 with the NUL
		if _, err := c.ShowMapsJSON(t.Context()); !errors.Is(err, multipathd.ErrProtocol) {
			t.Fatalf("err = %v, want ErrProtocol", err)
		}
		d.SetReply("show maps json", multipathdtest.Reply{Body: strings.Repeat("x", 1022)})
		if got, err := c.ShowMapsJSON(t.Context()); err != nil || len(got) != 1022 {
			t.Fatalf("one byte under the limit: %d bytes, %v", len(got), err)
		}
	})
}

func TestSocketClientConcurrentUse(t *testing.T) {
	d, c := startDaemon(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = c.ShowMapsJSON(t.Context())
			} else {
				err = c.Reconfigure(t.Context())
			}
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(d.Commands()); n != 16 {
		t.Errorf("daemon received %d commands, want 16", n)
	}
}

func TestCheckReply(t *testing.T) {
	tests := map[string]struct {
		reply   string
		wantErr error
	}{
		"fail":                          {reply: "fail\n", wantErr: multipathd.ErrFailReply},
		"fail without newline":          {reply: "fail", wantErr: multipathd.ErrFailReply},
		"timeout":                       {reply: "timeout\n", wantErr: multipathd.ErrTimeoutReply},
		"permission":                    {reply: "permission deny: need to be root\n", wantErr: multipathd.ErrPermissionReply},
		"help text after an error line": {reply: multipathdtest.HelpText("show version", "0.9.4"), wantErr: multipathd.ErrUnknownCommandReply},
		"help text alone":               {reply: "CLI commands reference:\n list|show paths\n", wantErr: multipathd.ErrUnknownCommandReply},
		"ok is not an error":            {reply: "ok\n"},
		"JSON is not an error":          {reply: multipathdtest.EmptyMapsJSON},
		"a config mentioning fail is not an error": {reply: "defaults {\n\tno_path_retry \"fail\"\n}\n"},
		"an empty reply is not an error":           {reply: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := multipathd.CheckReply("cmd", []byte(tc.reply))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestZeroSocketClientUsesTheDefaults(t *testing.T) {
	// Nothing may listen on multipathd's address here (the tests run where multipathd does
	// not), so the zero value must fail fast with ErrDaemonUnavailable, not hang.
	var c multipathd.SocketClient
	_, err := c.ShowMapsJSON(t.Context())
	if err == nil {
		t.Skip("a multipathd answers on the default address; not touching it")
	}
	if !errors.Is(err, multipathd.ErrDaemonUnavailable) || !strings.Contains(err.Error(), multipathd.DefaultAddress) {
		t.Fatalf("err = %v, want ErrDaemonUnavailable naming %s", err, multipathd.DefaultAddress)
	}
}
