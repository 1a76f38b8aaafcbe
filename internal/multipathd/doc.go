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

// Package multipathd talks to multipathd over its socket, without a shell, and reads what it
// says.
//
// # Protocol (checked against multipath-tools 0.9.4)
//
// multipathd 0.9.4 listens on the abstract unix socket "/org/kernel/linux/storage/multipathd"
// (DefaultAddress; Go spells abstract names with a leading '@'). Abstract sockets belong to a
// network namespace, so the agent needs the host's. libmpathcmd connects with an address length
// of 39 bytes (family, NUL, 36 name bytes, no trailing NUL), which is what Go's net package
// sends for "@/org/kernel/linux/storage/multipathd".
//
// A request is a native-endian size_t (8 bytes on 64-bit Linux) holding the length of the
// command including its terminating NUL, then the command bytes and the NUL. The reply is
// framed the same way. libmpathcmd 0.9.4 refuses a reply length of 0 or of 32 MiB and more
// (MAX_REPLY_LEN, read from its mpath_recv_reply_len), while the daemon itself sends replies of
// any size; SocketClient accepts up to DefaultMaxReplyBytes (see there why). The client opens
// one connection per command.
//
// Replies that mean failure are plain text; the 0.9.4 daemon's format strings are "fail\n",
// "timeout\n" (it could not take its lock within uxsock_timeout, 4 s by default) and
// "permission deny: need to be root\n" (commands other than show/list need uid 0). A command
// the daemon does not know gets its help text: "<cmd>: not found\n" or "<cmd>: Missing
// argument\n", then "multipath-tools v0.9.4 (12/19, 2022)\n" and "CLI commands reference:\n"
// with the command list. A command that succeeds with no output gets "ok\n". Each of these
// becomes a *DaemonError that errors.Is the matching sentinel.
//
// multipathd 0.9.4 has no "version" keyword: "show version" is answered with the help text,
// whose version line is what Version reads (see ParseVersion).
//
// # What it offers
//
//   - Client, the interface the agent uses, with SocketClient as its implementation. Command
//     accepts only the allow-listed commands (AllowedCommands); nothing else reaches the daemon.
//   - ParseMapsJSON reads "show maps json" (and "show map X json") into []Map, tolerantly:
//     unknown fields are ignored, missing ones stay zero, absurd numbers are clamped, a map
//     with values of the wrong type is kept but marked Malformed, and only broken JSON is an
//     error. DecodeMaps reads the same from a stream, giving each map as it is decoded, and
//     SocketClient.DecodeMapsJSON feeds it from the socket, so a large reply is never held
//     whole; EachMap and ShowMaps use it when the client is a MapsDecoder.
//
// It knows neither the API nor the health rules: internal/mapstatus maps its Map to both.
//
// The package multipathdtest holds a fake daemon that speaks the same protocol, for tests.
package multipathd
