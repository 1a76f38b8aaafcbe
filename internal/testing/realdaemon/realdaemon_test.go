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

package realdaemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// With Options.Address the daemon is socket-activated on a socket this process made: a plain
// SocketClient, outside the daemon's namespaces, runs commands and a reconfigure that reads
// the drop-in in the given /etc/multipath; Close stops the daemon and removes the socket file.
func TestRunOnAddress(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the real multipathd is required on CI: %v", err)
		}
		t.Skipf("the real multipathd cannot run here: %v", err)
	}
	for _, kind := range []string{"abstract", "path"} {
		t.Run(kind, func(t *testing.T) {
			etc := t.TempDir()
			if err := os.MkdirAll(filepath.Join(etc, "conf.d"), 0o755); err != nil {
				t.Fatal(err)
			}
			addr := fmt.Sprintf("@kube-multipath-realdaemon-test/%d/%s", os.Getpid(), kind)
			if kind == "path" {
				addr = filepath.Join(t.TempDir(), "multipathd.sock")
			}
			d, err := Run(etc, Options{Address: addr})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = d.Close() }()
			c := &multipathd.SocketClient{Address: addr, Timeout: 5 * time.Second}
			ctx := context.Background()
			if v, err := c.Version(ctx); err != nil || v == "" {
				t.Fatalf("version through %s: %q, %v\n%s", addr, v, err, d.Output())
			}
			conf := "multipaths {\n\tmultipath {\n\t\twwid \"3600a098038303053453f463045727a4d\"\n\t\talias \"run-on-address\"\n\t}\n}\n"
			if err := os.WriteFile(filepath.Join(etc, "conf.d", "99-test.conf"), []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := c.Reconfigure(ctx); err != nil {
				t.Fatalf("reconfigure: %v\n%s", err, d.Output())
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				out, err := c.Command(ctx, "show", "config")
				if err == nil && strings.Contains(string(out), "run-on-address") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the daemon never ran the drop-in: %v\n%s\n%s", err, out, d.Output())
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-d.Exited():
			default:
				t.Error("Close returned before the daemon exited")
			}
			if _, err := c.ShowMapsJSON(ctx); err == nil {
				t.Error("the daemon still answers after Close")
			}
			if kind == "path" {
				if _, err := os.Stat(addr); !os.IsNotExist(err) {
					t.Errorf("socket file %s after Close: %v", addr, err)
				}
			}
		})
	}
}
