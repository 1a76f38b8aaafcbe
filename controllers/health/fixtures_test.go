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

package health

import fx "github.com/kube-multipath/kube-multipath/internal/rollup/rolluptest"

// The shared builders (rolluptest) under the short names the tests use.
var (
	now           = fx.Now
	interval      = fx.Interval
	node          = fx.Node
	labelled      = fx.Labelled
	notReady      = fx.NotReady
	state         = fx.State
	degradedState = fx.DegradedState
	mapOf         = fx.MapOf
	lease         = fx.Lease
	wwidObj       = fx.LUN
	consumedBy    = fx.ConsumedBy
	pinnedPV      = fx.PinnedPV
	config        = fx.Config
)

const wwid = fx.WWID
