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

// Package multipathdtest provides a fake multipathd for tests: a real unix-socket listener that
// speaks multipathd's framing, serves canned replies, records the commands it receives and can
// misbehave on purpose (hang, close mid-reply, announce an oversized reply...). It exists for
// fault injection and for states no machine here can produce; it is not a model of multipathd's
// logic.
//
// Its framing is written independently of package multipathd, so that a bug in the client's
// framing does not cancel out against the same bug here.
package multipathdtest
