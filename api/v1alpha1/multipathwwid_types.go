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
)

// MultipathWWIDSpec allow-lists one LUN.
type MultipathWWIDSpec struct {
	// wwid is the LUN's World Wide Identifier as multipathd reports it (for example
	// `3600a098038303053453f463045727a4d`). It cannot be changed: delete and recreate instead.
	// WWIDs are compared case-insensitively across objects.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9._:-]+$')",message="wwid may contain only letters, digits, '.', '_', ':' and '-'"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="wwid is immutable"
	WWID string `json:"wwid"`

	// alias is the stable device-mapper name of the map on every node (/dev/mapper/<alias>).
	// Without it the map is named after its WWID. It must not hold whitespace, quotes, `#`, `!`,
	// `/` or `\`, must not be `.`, `..` or `control`, and must not look like a
	// user_friendly_names name (`mpath` followed by letters).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'''^[^\s"'#!/\\\x00-\x1f\x7f]+$''')`,message=`alias must not hold whitespace, quotes, '#', '!', '/', '\' or control characters`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^mpath[a-z]+$')",message="alias must not look like a user_friendly_names name (mpath followed by letters)"
	// +kubebuilder:validation:XValidation:rule="!(self in ['.', '..', 'control'])",message="alias must not be ., .. or control (reserved names in /dev/mapper)"
	Alias string `json:"alias,omitempty"`

	// nodeSelector sets where the LUN is expected, for its health: a managed node selected here
	// that does not have the map is reported missing, and one not selected never counts. It does
	// not limit where the LUN is configured: every managed node allow-lists and assembles it.
	// Without it, the nodes allowed by the node affinity of the PersistentVolumes that use the LUN
	// are expected, else every managed node.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`

	// The per-LUN knobs, rendered into this LUN's `multipath {}` subsection.
	LUNKnobs `json:",inline"`
}

// MapState is the health of one map on one node, or of one LUN across its nodes.
// +kubebuilder:validation:Enum=optimal;degraded;failed;missing;unknown
type MapState string

const (
	// MapOptimal: every path is active and ready, and there are at least two.
	MapOptimal MapState = "optimal"
	// MapDegraded: a path failed, or only one path is left.
	MapDegraded MapState = "degraded"
	// MapFailed: no usable path.
	MapFailed MapState = "failed"
	// MapMissing: a node expected to carry the LUN does not have the map.
	MapMissing MapState = "missing"
	// MapUnknown: the reporter is stale, NotReady, or sent something unreadable.
	MapUnknown MapState = "unknown"
)

// NodeHealth is the state of the LUN on one node that is not optimal.
type NodeHealth struct {
	// node is the node name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Node string `json:"node"`
	// state is the map's state on that node.
	// +required
	State MapState `json:"state"`
	// activePaths is the number of usable paths.
	// +optional
	ActivePaths int32 `json:"activePaths,omitempty"`
	// totalPaths is the number of paths.
	// +optional
	TotalPaths int32 `json:"totalPaths,omitempty"`
}

// LUNHealth is the LUN's health rolled up over the nodes expected to carry it: the worst wins.
type LUNHealth struct {
	// state is the worst state over the expected nodes.
	// +optional
	State MapState `json:"state,omitempty"`
	// nodes is "ok/expected", for example "3/4".
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Nodes string `json:"nodes,omitempty"`
	// counts counts the expected nodes by state.
	// +optional
	Counts HealthCounts `json:"counts,omitzero"`
	// nonOptimal lists, at most 32, the expected nodes where the LUN is not optimal, worst first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	NonOptimal []NodeHealth `json:"nonOptimal,omitempty"`
}

// NodeUse is what holds a LUN's map open on one node.
type NodeUse struct {
	// node is the node's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Node string `json:"node"`
	// name is the map's name on that node: a PersistentVolume or fstab entry may still name it.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name,omitempty"`
	// users are what holds it, as the node's agent reports them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Users []MapUser `json:"users,omitempty"`
}

// MultipathWWIDStatus is what the operator knows of the LUN.
type MultipathWWIDStatus struct {
	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready, Conflict and InUse (and Reconciling while the LUN is being rolled out).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// renderedAlias is the alias in the current rendered config: empty when the map is named after
	// its WWID, absent while the LUN is not rendered. It differs from spec.alias when a change to a
	// consumed LUN's alias was refused.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RenderedAlias *string `json:"renderedAlias,omitempty"`

	// consumers are the PersistentVolumes that use this LUN (at most 64 listed; see consumerCount).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	Consumers []string `json:"consumers,omitempty"`

	// consumerCount is the number of PersistentVolumes that use this LUN.
	// +optional
	ConsumerCount int32 `json:"consumerCount,omitempty"`

	// openOn are the nodes whose agent reports the LUN's map open (mounted, stacked on, swap, an
	// LVM physical volume, or opened by a process), with what holds it. A LUN open on any node
	// is in use exactly as one a PersistentVolume consumes. At most 64 listed.
	// +optional
	// +listType=map
	// +listMapKey=node
	// +kubebuilder:validation:MaxItems=64
	OpenOn []NodeUse `json:"openOn,omitempty"`

	// formerAliases are names the LUN's map had on the nodes before a forced alias change, kept
	// while a PersistentVolume still names them (/dev/mapper/<former alias>): such a volume is
	// still listed in consumers, and keeps the LUN in use, until it changes.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=64
	FormerAliases []string `json:"formerAliases,omitempty"`

	// health is the LUN's health over the nodes expected to carry it.
	// +optional
	Health LUNHealth `json:"health,omitzero"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mpwwid;mpw,categories=multipath
// +kubebuilder:printcolumn:name="WWID",type=string,JSONPath=`.spec.wwid`
// +kubebuilder:printcolumn:name="Alias",type=string,JSONPath=`.spec.alias`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Health",type=string,JSONPath=`.status.health.state`
// +kubebuilder:printcolumn:name="Nodes",type=string,JSONPath=`.status.health.nodes`,description="Nodes where the LUN is optimal / nodes expected to carry it"
// +kubebuilder:printcolumn:name="In-Use",type=string,JSONPath=`.status.conditions[?(@.type=="InUse")].status`
// +kubebuilder:printcolumn:name="Consumers",type=string,JSONPath=`.status.consumers`,priority=10
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=10
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// MultipathWWID allow-lists one SAN LUN: every managed node assembles it with multipathd, under
// its alias, with its knobs.
type MultipathWWID struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the LUN and its knobs.
	// +required
	Spec MultipathWWIDSpec `json:"spec"`

	// status is written by the operator.
	// +optional
	Status MultipathWWIDStatus `json:"status,omitzero"`
}

// GetConditions returns the conditions of the object.
func (w *MultipathWWID) GetConditions() []metav1.Condition { return w.Status.Conditions }

// SetConditions replaces the conditions of the object.
func (w *MultipathWWID) SetConditions(conds []metav1.Condition) { w.Status.Conditions = conds }

// +kubebuilder:object:root=true

// MultipathWWIDList is a list of MultipathWWID.
type MultipathWWIDList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []MultipathWWID `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &MultipathWWID{}, &MultipathWWIDList{})
		return nil
	})
}
