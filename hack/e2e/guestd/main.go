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

// Command guestd is the e2e guest's control daemon: the test on the host sends it shell scripts
// over a virtio-serial port (no network: the guest's only network path is the one to the API
// server) and gets their output and exit code back. One JSON object a line each way; requests
// run concurrently and replies carry the request's id. It runs as root in the guest, started by
// hack/e2e/guest/init.sh from the 9p share, so it changes without rebuilding the image.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// portName is the virtserialport's name on the QEMU command line (test/e2e).
const portName = "kube-multipath.e2e"

// Request is one script to run.
type Request struct {
	ID     int64  `json:"id"`
	Script string `json:"script"`
	// Timeout in seconds; 0 means a minute.
	Timeout float64 `json:"timeout,omitempty"`
}

// Reply is what the script did.
type Reply struct {
	ID     int64  `json:"id"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Code   int    `json:"code"`
	Err    string `json:"err,omitempty"`
}

func main() {
	port, err := findPort()
	if err != nil {
		fmt.Fprintln(os.Stderr, "guestd:", err)
		os.Exit(1)
	}
	f, err := os.OpenFile(port, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "guestd:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "guestd: serving on", port)
	var mu sync.Mutex
	enc := json.NewEncoder(f)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for {
		for sc.Scan() {
			var req Request
			if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
				fmt.Fprintln(os.Stderr, "guestd: bad request:", err)
				continue
			}
			go func() {
				rep := run(req)
				mu.Lock()
				defer mu.Unlock()
				if err := enc.Encode(rep); err != nil {
					fmt.Fprintln(os.Stderr, "guestd: reply:", err)
				}
			}()
		}
		// The host side is not connected (yet, or any more): a virtio port reads EOF then.
		time.Sleep(100 * time.Millisecond)
		sc = bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
	}
}

// findPort finds the virtio-serial port by name, with or without udev's symlink.
func findPort() (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat("/dev/virtio-ports/" + portName); err == nil {
			return "/dev/virtio-ports/" + portName, nil
		}
		names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, n := range names {
			if b, err := os.ReadFile(n); err == nil && strings.TrimSpace(string(b)) == portName {
				return "/dev/" + filepath.Base(filepath.Dir(n)), nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("no virtio port named %s", portName)
}

func run(req Request) Reply {
	timeout := time.Duration(req.Timeout * float64(time.Second))
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/bash", "-c", req.Script)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LC_ALL=C"}
	// Its own process group, killed whole on timeout; what a script starts in the background
	// with its output redirected outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	rep := Reply{ID: req.ID, Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		rep.Code = exit.ExitCode()
	case err != nil:
		rep.Code, rep.Err = -1, err.Error()
	}
	if ctx.Err() != nil {
		rep.Err = fmt.Sprintf("timed out after %s", timeout)
	}
	return rep
}
