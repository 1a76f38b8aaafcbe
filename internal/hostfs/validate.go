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

package hostfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/mountns"
)

// Validator checks a candidate configuration before anything is written.
type Validator interface {
	// Validate checks the configuration multipathd would read with candidate, a directory laid
	// out as /etc/multipath (its conf.d holds every drop-in the host would have after the
	// apply). current is the host's /etc/multipath as it is: what it already complains about
	// is not held against the candidate. It returns an error wrapping ErrInvalidConfig when the
	// config is refused, and ErrParserUnavailable when it cannot check at all (the apply then
	// goes on unvalidated).
	Validate(ctx context.Context, candidate, current string) error
}

// ConfigPrinter is a Validator that can also print the merged configuration multipathd would
// run with a candidate (multipath -t's output), for the rename prediction.
type ConfigPrinter interface {
	// PrintConfig returns what multipath -t prints for candidate (laid out as for Validate).
	PrintConfig(ctx context.Context, candidate string) ([]byte, error)
}

var _ ConfigPrinter = (*ParserValidator)(nil)

// PrintConfig implements ConfigPrinter.
func (v *ParserValidator) PrintConfig(ctx context.Context, candidate string) ([]byte, error) {
	bin, err := v.Binary()
	if err != nil {
		return nil, err
	}
	stdout, _, err := v.exec(ctx, bin, candidate)
	return stdout, err
}

var (
	// ErrInvalidConfig: the real parser complained about the candidate.
	ErrInvalidConfig = errors.New("multipath -t refused the candidate configuration")
	// ErrParserUnavailable: there is no multipath binary to check with.
	ErrParserUnavailable = errors.New("multipath-tools' parser is not available")
)

// ParserValidator runs the node's own `multipath -t` over the candidate: in a private mount
// namespace, with the candidate bind-mounted over Root/etc/multipath and a tmpfs over
// Root/run, chrooted into Root, so that the host's binary, libraries and /etc/multipath.conf
// take part and nothing of the host changes. multipath -t exits 0 whatever it finds; every
// complaint is a line on stderr. A complaint that the current configuration causes too (a
// host file the agent does not own) is not held against the candidate: only new ones refuse
// it, so the current configuration is parsed too, but only when the candidate drew complaints.
//
// No shell and no external tool other than multipath itself is run: package mountns makes the
// namespace on a locked OS thread and forks multipath from it. A host without /etc/multipath
// yet (Debian's package does not make it) is validated too: mountns shows it through a private
// overlay of /etc, and nothing is written to the host before the candidate is accepted. It
// needs CAP_SYS_ADMIN and CAP_SYS_CHROOT.
type ParserValidator struct {
	// Root is the file system whose multipath binary and /etc/multipath.conf are used: the
	// host root (/host in the DaemonSet), or "/" for the agent's own.
	Root string
	// Timeout bounds one run of multipath -t; 0 means 30 seconds.
	Timeout time.Duration
}

var _ Validator = (*ParserValidator)(nil)

// binaries are where multipath-tools installs multipath, inside Root.
var binaries = []string{"usr/sbin/multipath", "sbin/multipath", "usr/bin/multipath", "bin/multipath"}

// Binary returns the path of multipath inside Root, or ErrParserUnavailable.
func (v *ParserValidator) Binary() (string, error) {
	for _, b := range binaries {
		if fi, err := os.Stat(filepath.Join(v.Root, b)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return "/" + b, nil
		}
	}
	return "", fmt.Errorf("%w: no multipath binary under %s", ErrParserUnavailable, v.Root)
}

// Validate implements Validator.
func (v *ParserValidator) Validate(ctx context.Context, candidate, current string) error {
	bin, err := v.Binary()
	if err != nil {
		return err
	}
	complaints, err := v.run(ctx, bin, candidate)
	if err != nil {
		return err
	}
	if len(complaints) == 0 {
		return nil
	}
	known, err := v.run(ctx, bin, current)
	if err != nil {
		return err
	}
	if added := subtract(complaints, known); len(added) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(added, "; "))
	}
	return nil
}

// subtract returns the lines of a not in b, counting repeats.
func subtract(a, b []string) []string {
	seen := map[string]int{}
	for _, l := range b {
		seen[l]++
	}
	var out []string
	for _, l := range a {
		if seen[l] > 0 {
			seen[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}

const (
	maxStderr = 64 << 10
	// maxStdout bounds multipath -t's printed config: 10,000 LUNs print a few MiB.
	maxStdout = 64 << 20
)

// run runs multipath -t in a private mount namespace with dir over /etc/multipath, and returns
// its stderr lines without their timestamps.
func (v *ParserValidator) run(ctx context.Context, bin, dir string) ([]string, error) {
	_, stderr, err := v.exec(ctx, bin, dir)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(stderr)), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		// "602.024244 | message": drop the uptime stamp.
		if _, msg, ok := strings.Cut(line, " | "); ok {
			line = msg
		}
		lines = append(lines, line)
	}
	return lines, nil
}

// exec runs multipath -t over dir and returns its stdout (the merged config) and stderr.
func (v *ParserValidator) exec(ctx context.Context, bin, dir string) ([]byte, []byte, error) {
	timeout := v.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	root, err := filepath.Abs(v.Root)
	if err != nil {
		return nil, nil, err
	}
	stdout, stderr, err := runInPrivateMounts(ctx, root, bin, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("running multipath -t: %w", err)
	}
	return stdout, stderr, nil
}

// runInPrivateMounts runs bin -t chrooted into root, with dir as its /etc/multipath, in a
// private mount namespace (mountns), and returns its stdout and stderr.
func runInPrivateMounts(ctx context.Context, root, bin, dir string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, bin, "-t")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	stdout := limitedBuffer{max: maxStdout}
	cmd.Stdout = &stdout
	var stderr limitedBuffer
	stderr.max = maxStderr
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	if err := (mountns.View{Root: root, EtcMultipath: dir}).Run(cmd); err != nil {
		return nil, nil, fmt.Errorf("%s -t in %s: %w: %s", bin, root, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), stderr.Bytes(), nil
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
