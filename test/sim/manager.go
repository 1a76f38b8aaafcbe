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

package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// BuildManager builds cmd/manager into dir and returns the binary's path.
func BuildManager(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/manager")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the manager: %w\n%s", err, out)
	}
	return bin, nil
}

// Manager is the real manager binary running as its own process, as in its Deployment: it can
// be killed, restarted and measured (RSS) on its own.
type Manager struct {
	Bin        string
	Kubeconfig string
	// Args are added to the harness's flags (a later flag wins).
	Args []string
	// Log receives the manager's output.
	Log string

	// Pprof, when set, is the address of the manager's net/http/pprof endpoint.
	Pprof string

	cmd         *exec.Cmd
	metricsAddr string
	exited      chan error
}

// Start starts the manager: no leader election (one replica), no webhook unless Args enable
// it, plain-HTTP metrics on a free local port.
func (m *Manager) Start() error {
	if m.cmd != nil {
		return errors.New("the manager is running")
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	m.metricsAddr = fmt.Sprintf("127.0.0.1:%d", port)
	args := append([]string{
		"--leader-elect=false", "--namespace=" + Namespace,
		"--metrics-bind-address=" + m.metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address=0", "--webhook-port=-1", "--zap-log-level=info",
	}, m.Args...)
	if m.Pprof != "" {
		args = append(args, "--pprof-bind-address="+m.Pprof)
	}
	cmd := exec.Command(m.Bin, args...)
	// The environment the Deployment gives it (GOMEMLIMIT), so memory is measured as deployed.
	deployed, err := DeployedEnv("config/manager/manager.yaml")
	if err != nil {
		return err
	}
	cmd.Env = append(append(os.Environ(), deployed...), "KUBECONFIG="+m.Kubeconfig)
	// The manager dies with the test process, however that ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if m.Log != "" {
		f, err := os.OpenFile(m.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the manager: %w", err)
	}
	m.cmd = cmd
	m.exited = make(chan error, 1)
	go func() { m.exited <- cmd.Wait() }()
	return nil
}

// Stop interrupts the manager (a graceful stop) and waits for it.
func (m *Manager) Stop() error { return m.end(syscall.SIGINT) }

// Kill kills the manager at once (SIGKILL: no deferred code, no graceful shutdown).
func (m *Manager) Kill() error { return m.end(syscall.SIGKILL) }

func (m *Manager) end(sig syscall.Signal) error {
	if m.cmd == nil {
		return nil
	}
	_ = m.cmd.Process.Signal(sig)
	var err error
	select {
	case err = <-m.exited:
	case <-time.After(45 * time.Second):
		_ = m.cmd.Process.Kill()
		err = <-m.exited
	}
	m.cmd = nil
	if sig == syscall.SIGKILL {
		return nil // killed on purpose
	}
	return err
}

// Exited reports whether the manager process ended by itself, with its error.
func (m *Manager) Exited() (bool, error) {
	select {
	case err := <-m.exited:
		m.exited <- err
		return true, err
	default:
		return false, nil
	}
}

// Memory is a process's resident memory.
type Memory struct {
	// RSS is the resident set now; Peak the highest it has been (VmHWM), in bytes.
	RSS, Peak int64
}

// Pid is the manager process's id (0 when it is not running).
func (m *Manager) Pid() int {
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Memory reads the manager's resident memory from /proc.
func (m *Manager) Memory() (Memory, error) {
	if m.cmd == nil {
		return Memory{}, errors.New("the manager is not running")
	}
	return ProcessMemory(m.cmd.Process.Pid)
}

// ProcessMemory reads a process's VmRSS and VmHWM.
func ProcessMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var mem Memory
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			mem.RSS = kb * 1024
		case "VmHWM:":
			mem.Peak = kb * 1024
		}
	}
	return mem, s.Err()
}

// Metrics is one scrape of the manager's metrics endpoint.
type Metrics map[string]*dto.MetricFamily

// Scrape reads the manager's metrics once.
func (m *Manager) Scrape(ctx context.Context) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.metricsAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return ParseMetrics(resp.Body)
}

// ParseMetrics reads Prometheus' text exposition format (a /metrics page).
func ParseMetrics(r io.Reader) (Metrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(r)
}

// Sum sums the series of a counter or gauge whose label has value (every series when label is
// ""); 0 when the metric is absent.
func (ms Metrics) Sum(name, label, value string) float64 {
	sum := 0.0
	for _, mt := range ms[name].GetMetric() {
		if label != "" && !hasLabel(mt.GetLabel(), label, value) {
			continue
		}
		switch {
		case mt.Counter != nil:
			sum += mt.GetCounter().GetValue()
		case mt.Gauge != nil:
			sum += mt.GetGauge().GetValue()
		case mt.Untyped != nil:
			sum += mt.GetUntyped().GetValue()
		}
	}
	return sum
}

// Metric scrapes the manager and sums every series of one metric.
func (m *Manager) Metric(ctx context.Context, name string) (float64, error) {
	ms, err := m.Scrape(ctx)
	if err != nil {
		return 0, err
	}
	return ms.Sum(name, "", ""), nil
}

func hasLabel(pairs []*dto.LabelPair, name, value string) bool {
	for _, p := range pairs {
		if p.GetName() == name && p.GetValue() == value {
			return true
		}
	}
	return false
}

// WaitMetrics waits until the manager serves metrics (it has started).
func (m *Manager) WaitMetrics(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := m.Metric(ctx, "kube_multipath_renders_total"); err == nil {
			return nil
		}
		if done, err := m.Exited(); done {
			return fmt.Errorf("the manager exited: %v (log %s)", err, m.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager served no metrics within a minute (log %s)", m.Log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
