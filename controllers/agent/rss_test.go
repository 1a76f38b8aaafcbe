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

package agent_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// scaleMapsJSON is "show maps json" for n maps of 4 paths in 2 groups, in 0.9.4's layout.
func scaleMapsJSON(n int) string {
	var b strings.Builder
	b.WriteString(`{"major_version": 0, "minor_version": 1, "maps": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name": "3600a0980383030%018d", "uuid": "3600a0980383030%018d", "sysfs": "dm-%d",
 "failback": "immediate", "queueing": "15 chk", "paths": 4, "write_prot": "rw", "dm_st": "active",
 "features": "1 queue_if_no_path", "hwhandler": "1 alua", "action": "", "path_faults": 0, "vend": "NETAPP",
 "prod": "LUN C-Mode", "rev": "9141", "switch_grp": 0, "map_loads": 1, "total_q_time": 0, "q_timeouts": 0,
 "path_groups": [`, i, i, i)
		for g := range 2 {
			if g > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"selector": "service-time 0", "pri": %d, "dm_st": "active", "marginal_st": "normal", "group": %d, "paths": [`, 50-40*g, g+1)
			for p := range 2 {
				if p > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"dev": "sd%d", "dev_t": "8:%d", "dm_st": "active", "dev_st": "running", "chk_st": "%s",
 "checker": "tur", "pri": 50, "host_wwnn": "[undef]", "target_wwnn": "[undef]", "host_wwpn": "[undef]",
 "target_wwpn": "[undef]", "host_adapter": "0000:00:03.0", "lun_hex": "0x0001000000000000", "marginal_st": "normal"}`,
					4*i+2*g+p, 4*i+2*g+p, map[bool]string{true: "ready", false: "ghost"}[g == 0])
			}
			b.WriteString("]}")
		}
		b.WriteString("]}")
	}
	b.WriteString("]}\n")
	return b.String()
}

// cpuSeconds is the process's user and system CPU time so far, from /proc (clock ticks of
// 10 ms, the USER_HZ Linux reports on every architecture it runs the agent on).
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name, field 2, is in parentheses and may hold spaces: count from after it.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %v %v", pid, err1, err2)
	}
	return (utime + stime) / 100
}

// rss returns the process's resident memory now, with its anonymous (heap, stacks) and
// file-backed (the binary's code and tables) parts, and its peak.
func rss(t *testing.T, pid int) (cur, peak string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	cur = fmt.Sprintf("%s (anon %s, file %s)", fields["VmRSS"], fields["RssAnon"], fields["RssFile"])
	return cur, fields["VmHWM"]
}

// The agent binary's memory, idle and with 10,000 maps of 4 paths, against the real API
// server. It builds cmd/agent, so it runs only with KUBE_MULTIPATH_AGENT_RSS=true.
func TestAgentBinaryMemory(t *testing.T) {
	if os.Getenv("KUBE_MULTIPATH_AGENT_RSS") != "true" {
		t.Skip("set KUBE_MULTIPATH_AGENT_RSS=true to build the agent and measure its memory")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "agent")
	build := exec.Command("go", "build", "-o", bin, "./cmd/agent")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the agent: %v\n%s", err, out)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	d, err := multipathdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: fixtureMaps(t)})
	const name = "node-rss"
	cmd := exec.Command(bin, "--kubeconfig="+kubeconfig, "--node-name="+name, "--namespace="+namespace,
		"--host-root="+t.TempDir(), "--multipathd-socket="+d.Address(), "--validate=false", "--uevents=false",
		"--refresh-interval=2s", "--metrics-bind-address=0", "--health-probe-bind-address=0")
	// The DaemonSet's environment (GOMEMLIMIT, GOGC), unless this test's own sets a variable:
	// the figure is the deployed agent's, and other settings can still be measured.
	deployed, err := sim.DeployedEnv("config/agent/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = os.Environ()
	var settings []string
	for _, e := range deployed {
		name, _, _ := strings.Cut(e, "=")
		if v, ok := os.LookupEnv(name); ok {
			e = name + "=" + v
		} else {
			cmd.Env = append(cmd.Env, e)
		}
		settings = append(settings, e)
	}
	t.Logf("agent environment: %s", strings.Join(settings, " "))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	_, ref := publish(t, wwidA)
	createState(t, name, &ref)
	applied(t, name, ref)
	time.Sleep(3 * time.Second)
	idle, idlePeak := rss(t, cmd.Process.Pid)

	d.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: scaleMapsJSON(10000)})
	eventually(t, func() error {
		if st := getState(t, name); st.Status.MapCount != 10000 || len(st.Status.Maps) != 10000 {
			return fmt.Errorf("mapCount %d, %d maps", st.Status.MapCount, len(st.Status.Maps))
		}
		return nil
	})
	reported := cpuSeconds(t, cmd.Process.Pid)
	time.Sleep(5 * time.Second) // a few more refreshes of the 10,000 maps
	loaded, loadedPeak := rss(t, cmd.Process.Pid)
	total := cpuSeconds(t, cmd.Process.Pid)
	t.Logf("agent RSS: idle with 2 maps %s (peak %s); with 10,000 maps of 4 paths %s (peak %s)", idle, idlePeak, loaded, loadedPeak)
	t.Logf("agent CPU: %.2f s from start to the 10,000 maps reported, %.2f s in the 5 s after (refreshes every 2 s)", reported, total-reported)
}
