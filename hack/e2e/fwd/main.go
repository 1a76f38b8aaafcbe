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

// Command fwd joins its stdin and stdout to a TCP connection: QEMU's user network runs it once
// per guest connection (`guestfwd=tcp:10.0.2.100:6443-cmd:fwd 127.0.0.1 PORT`), which is how
// the e2e guest reaches the host's kube-apiserver, and nothing else, under `restrict=on`. The
// `-tcp:` form of guestfwd carries a single connection for the VM's whole life; this form gives
// every guest connection its own.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fwd HOST PORT")
		os.Exit(2)
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(os.Args[1], os.Args[2]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fwd:", err)
		os.Exit(1)
	}
	tcp := conn.(*net.TCPConn)
	go func() {
		// The guest closed its side: pass the half-close on, the reply may still be coming.
		_, _ = io.Copy(tcp, os.Stdin)
		_ = tcp.CloseWrite()
	}()
	// The server closed: the guest sees EOF when this process exits.
	_, _ = io.Copy(os.Stdout, tcp)
}
