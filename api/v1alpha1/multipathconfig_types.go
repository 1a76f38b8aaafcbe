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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// MultipathConfigSpec is the cluster-wide multipathd configuration.
type MultipathConfigSpec struct {
	// nodeSelector selects the nodes whose multipathd the operator manages. Empty selects every node.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`

	// defaults are the typed knobs rendered into the managed `defaults {}` section.
	// +optional
	Defaults MultipathDefaults `json:"defaults,omitzero"`

	// overrides is verbatim multipath.conf text (devices, overrides, blacklist, blacklist_exceptions
	// sections), rendered into its own drop-in, 90-kube-multipath-overrides.conf. multipathd reads
	// the drop-ins in name order, a later value of a keyword replacing an earlier one, so the
	// managed 99-kube-multipath.conf is read after it and wins where both set a keyword; across
	// sections multipathd's precedence holds: a LUN's own knobs (its multipath subsection, from the
	// MultipathWWID) win over an overrides section, which wins over devices and defaults. It is checked before it is
	// accepted: balanced braces, known sections and keywords only, and nothing that breaks the
	// managed invariants (wwids_file, bindings_file, config_dir, a multipaths section, or a
	// blacklist that matches an allow-listed WWID), nor the host-wide user_friendly_names and
	// find_multipaths, which stay each host's own.
	// +optional
	// +kubebuilder:validation:MaxLength=131072
	Overrides string `json:"overrides,omitempty"`

	// rollout controls how a new rendered config reaches the nodes.
	// +optional
	// +kubebuilder:default={maxUnavailable: 1}
	Rollout RolloutPolicy `json:"rollout,omitzero"`
}

// RolloutPolicy bounds how many nodes apply a new config at once.
type RolloutPolicy struct {
	// maxUnavailable is how many nodes (a number, or a percentage of the selected nodes rounded
	// down, at least one) may be applying a new config, or failed, at the same time. Defaults to 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 1 : self.matches('^([1-9][0-9]?|100)%$')",message="maxUnavailable must be a number of nodes of at least 1 or a percentage from 1% to 100%"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`

	// paused stops handing the new config to more nodes; nodes that have it keep it.
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// RenderedConfigRef names a rendered config: an immutable ConfigMap and the hash of its content.
type RenderedConfigRef struct {
	// name is the name of the ConfigMap holding the rendered files.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// hash is the content hash of the rendered files.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+$`
	Hash string `json:"hash"`
}

// RenderedConfigStatus describes the current rendered config.
type RenderedConfigStatus struct {
	RenderedConfigRef `json:",inline"`

	// bytes is the uncompressed size of the rendered files.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Bytes int64 `json:"bytes,omitempty"`

	// luns is the number of LUNs in the allow-list.
	// +optional
	// +kubebuilder:validation:Minimum=0
	LUNs int32 `json:"luns,omitempty"`
}

// NodeCounts counts the selected nodes by rollout progress.
type NodeCounts struct {
	// selected is the number of nodes the node selector selects.
	// +optional
	Selected int32 `json:"selected,omitempty"`
	// updated is the number of selected nodes that applied the current rendered config.
	// +optional
	Updated int32 `json:"updated,omitempty"`
	// failed is the number of selected nodes whose last apply failed.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// unknown is the number of selected nodes that do not report (agent down, node NotReady).
	// +optional
	Unknown int32 `json:"unknown,omitempty"`
}

// HealthCounts counts LUNs, or nodes, by health state.
type HealthCounts struct {
	// optimal counts those with every path up and at least two paths.
	// +optional
	Optimal int32 `json:"optimal,omitempty"`
	// degraded counts those with a failed path or a single path left.
	// +optional
	Degraded int32 `json:"degraded,omitempty"`
	// failed counts those with no usable path.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// missing counts those expected on a node that does not have the map.
	// +optional
	Missing int32 `json:"missing,omitempty"`
	// unknown counts those whose reporter is stale, NotReady or malformed.
	// +optional
	Unknown int32 `json:"unknown,omitempty"`
}

// MultipathConfigStatus is the cluster roll-up.
type MultipathConfigStatus struct {
	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready, Reconciling and Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// renderedConfig is the config the nodes are moving to.
	// +optional
	RenderedConfig *RenderedConfigStatus `json:"renderedConfig,omitempty"`

	// heldConfig is the config for nodes being torn down (deselected, or all of them while the
	// MultipathConfig is being deleted): only the LUNs still in use (consumed by a
	// PersistentVolume or open on a node), with the same knobs. Such nodes are handed it through
	// the rollout budget and keep it until those LUNs are free; then they get the empty config.
	// Absent when no LUN is in use.
	// +optional
	HeldConfig *RenderedConfigStatus `json:"heldConfig,omitempty"`

	// nodes counts the selected nodes by rollout progress.
	// +optional
	Nodes NodeCounts `json:"nodes,omitzero"`

	// lunHealth counts the LUNs by rolled-up health.
	// +optional
	LUNHealth HealthCounts `json:"lunHealth,omitzero"`

	// nodeErrors are the nodes whose last apply failed, newest first, then the nodes whose own
	// multipath configuration contradicts a managed LUN (a host config conflict, with its file
	// and line), newest first; at most 32 in all.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	NodeErrors []NodeError `json:"nodeErrors,omitempty"`
}

// NodeError is a node's last apply error, shown beside the health matrix.
type NodeError struct {
	// node is the node name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Node string `json:"node"`
	// message is the agent's error.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message"`
	// lastTransitionTime is when the apply started failing.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitzero"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mpconfig,categories=multipath
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'cluster'",message="MultipathConfig is a singleton: metadata.name must be cluster"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="LUNs",type=integer,JSONPath=`.status.renderedConfig.luns`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.nodes.selected`
// +kubebuilder:printcolumn:name="Updated",type=integer,JSONPath=`.status.nodes.updated`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.nodes.failed`
// +kubebuilder:printcolumn:name="Config",type=string,JSONPath=`.status.renderedConfig.name`,priority=10
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=10
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// MultipathConfig is the cluster-wide multipathd configuration. It is a singleton named `cluster`.
type MultipathConfig struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired cluster-wide configuration.
	// +optional
	Spec MultipathConfigSpec `json:"spec,omitzero"`

	// status is the cluster roll-up, written by the operator.
	// +optional
	Status MultipathConfigStatus `json:"status,omitzero"`
}

// GetConditions returns the conditions of the object.
func (c *MultipathConfig) GetConditions() []metav1.Condition { return c.Status.Conditions }

// SetConditions replaces the conditions of the object.
func (c *MultipathConfig) SetConditions(conds []metav1.Condition) { c.Status.Conditions = conds }

// +kubebuilder:object:root=true

// MultipathConfigList is a list of MultipathConfig.
type MultipathConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []MultipathConfig `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &MultipathConfig{}, &MultipathConfigList{})
		return nil
	})
}
