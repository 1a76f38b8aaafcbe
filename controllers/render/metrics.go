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

package render

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	rendersTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kube_multipath_renders_total",
		Help: "Renders of the desired state. A burst of changes coalesces into few renders.",
	})
	configMapWritesTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kube_multipath_rendered_configmap_writes_total",
		Help: "Rendered ConfigMaps created. An unchanged desired state writes none.",
	})
)

func init() {
	metrics.Registry.MustRegister(rendersTotal, configMapWritesTotal)
}

// RendersTotal reads the renders counter, for tests and the scale harness.
func RendersTotal() float64 { return readCounter(rendersTotal) }

// ConfigMapWritesTotal reads the ConfigMap writes counter.
func ConfigMapWritesTotal() float64 { return readCounter(configMapWritesTotal) }

func readCounter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
