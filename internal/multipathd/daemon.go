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
	"fmt"
	"strconv"
	"strings"
)

// DaemonState is the reply to "show daemon": the daemon's running state, and whether a
// reconfigure is scheduled but has not started.
type DaemonState struct {
	// PID is the daemon's process id.
	PID int
	// State is one of init, startup, configure, idle, running, shutdown.
	State string
	// PendingReconfigure is true when the daemon said "(pending reconfigure)"; only 0.10 and
	// later say it, so false from an older daemon proves nothing.
	PendingReconfigure bool
}

// Settled reports whether the daemon has finished every reconfigure it was asked for, as far
// as it tells: idle and nothing pending. A reconfigure sent while the daemon is idle switches it
// to configure before the reply (schedule_reconfigure in 0.9.x and later, set_config_state in
// 0.8.x), and it is back to idle only once reconfigure() has run; one sent while the checker
// runs stays pending, which 0.10 and later print and 0.8.x/0.9.x do not (their child loop picks
// it up the moment the checker posts idle, so idle may be seen for that instant).
func (s DaemonState) Settled() bool { return s.State == "idle" && !s.PendingReconfigure }

// daemonStates are the names every tested release prints (daemon_status_msg in
// multipathd/main.c, 0.8.4 to 0.14.3).
var daemonStates = map[string]bool{"init": true, "startup": true, "configure": true, "idle": true, "running": true, "shutdown": true}

// ParseDaemonState reads "pid <pid> <state>[ (pending reconfigure)]\n", the reply of every
// tested release (show_daemon in multipathd/cli_handlers.c).
func ParseDaemonState(reply []byte) (DaemonState, error) {
	line := strings.TrimRight(string(reply), "\n\x00")
	bad := func(why string) (DaemonState, error) {
		return DaemonState{}, fmt.Errorf("%w: %q reply %.80q: %s", ErrUnexpectedReply, CmdShowDaemon, line, why)
	}
	rest, ok := strings.CutPrefix(line, "pid ")
	if !ok || strings.Contains(rest, "\n") {
		return bad(`want "pid <pid> <state>"`)
	}
	rest, pending := strings.CutSuffix(rest, " (pending reconfigure)")
	pid, state, ok := strings.Cut(rest, " ")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil || n <= 0 {
		return bad("no pid")
	}
	if !daemonStates[state] {
		return bad("unknown state " + strconv.Quote(state))
	}
	return DaemonState{PID: n, State: state, PendingReconfigure: pending}, nil
}
