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

// MultipathNodeStateSpec is written by the operator: what the node should apply.
type MultipathNodeStateSpec struct {
	// desiredConfig is the rendered config the node's agent should apply. Unset while the rollout
	// has not reached the node. While the rollout wave (the ConfigMap kube-multipath-rollout-wave
	// in the operator's namespace) names the node, the wave's config is the one to apply; the
	// operator records it here once the node confirmed it, and before the wave drops the node.
	// +optional
	DesiredConfig *RenderedConfigRef `json:"desiredConfig,omitempty"`
}

// PathStatus is one path of a map, as multipathd reports it.
type PathStatus struct {
	// device is the kernel device name, for example `sdc` or `nvme0n1`.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Device string `json:"device"`
	// hcil is the SCSI host:channel:id:lun, or the NVMe controller and namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	HCIL string `json:"hcil,omitempty"`
	// dmState is the device-mapper state of the path (`active`, `failed`).
	// +optional
	// +kubebuilder:validation:MaxLength=32
	DMState string `json:"dmState,omitempty"`
	// checkerState is the path checker's verdict (`ready`, `ghost`, `faulty`, `shaky`, ...).
	// +optional
	// +kubebuilder:validation:MaxLength=32
	CheckerState string `json:"checkerState,omitempty"`
	// deviceState is the kernel device state (`running`, `offline`, ...).
	// +optional
	// +kubebuilder:validation:MaxLength=32
	DeviceState string `json:"deviceState,omitempty"`
	// group is the number of the path's path group, 1-based as `multipath -ll` numbers them
	// (see the map's pathGroups). Zero when not reported.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1024
	Group int32 `json:"group,omitempty"`
	// priority is the path's priority from its prioritizer; -1 when undefined.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	Priority int32 `json:"priority,omitempty"`
}

// PathGroupStatus is one path group (priority group) of a map, as multipathd reports it.
type PathGroupStatus struct {
	// group is the group's number, 1-based as `multipath -ll` numbers them.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	Group int32 `json:"group"`
	// selector is the group's path selector (`service-time 0`, `round-robin 0`, ...).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Selector string `json:"selector,omitempty"`
	// priority is the group's priority; -1 when undefined.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	Priority int32 `json:"priority,omitempty"`
	// state is the group's device-mapper state (`active`, `enabled`, `disabled`), the
	// `status=` of `multipath -ll`.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	State string `json:"state,omitempty"`
}

// MapStatus is one multipath map on the node.
type MapStatus struct {
	// wwid is the map's WWID.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	WWID string `json:"wwid"`
	// name is the device-mapper name (the alias, or the WWID).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name,omitempty"`
	// state is the map's health on this node.
	// +required
	State MapState `json:"state"`
	// activePaths is the number of usable paths.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ActivePaths int32 `json:"activePaths,omitempty"`
	// totalPaths is the number of paths.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TotalPaths int32 `json:"totalPaths,omitempty"`
	// paths are the map's paths (at most 64 listed; totalPaths counts all), those needing
	// attention first. Listed only for a map that is not optimal: an optimal map's paths are
	// all usable (activePaths equals totalPaths), and leaving them out keeps a healthy node's
	// report small.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Paths []PathStatus `json:"paths,omitempty"`
	// pathGroups are the map's path groups in the daemon's order (at most 64 listed). Listed
	// with the paths: only for a map that is not optimal, and left out with them when the
	// status must be cut to fit.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	PathGroups []PathGroupStatus `json:"pathGroups,omitempty"`
	// openCount is the kernel's open count of the map's device: how many times something holds
	// it open (a mount, a stacked device, a process). Zero when nothing does.
	// +optional
	// +kubebuilder:validation:Minimum=0
	OpenCount int32 `json:"openCount,omitempty"`
	// users are what holds the map on this node, as the agent reads it from the kernel. A map
	// with users is in use: the operator holds its removal, rename and teardown on every node,
	// as it does for a PersistentVolume. At most 16 listed.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Users []MapUser `json:"users,omitempty"`
}

// MapUserKind is what kind of user holds a map.
// +kubebuilder:validation:Enum=Mount;Swap;Holder;LVMPhysicalVolume;Open
type MapUserKind string

const (
	// MapUserMount: the map, or a partition of it, is mounted; name is the mount point.
	MapUserMount MapUserKind = "Mount"
	// MapUserSwap: the map, or a partition of it, is active swap; name is the device.
	MapUserSwap MapUserKind = "Swap"
	// MapUserHolder: another block device is stacked on the map (an LVM logical volume, a kpartx
	// partition, dm-crypt); name is the holder's device-mapper name or kernel name.
	MapUserHolder MapUserKind = "Holder"
	// MapUserLVMPhysicalVolume: the map carries an LVM physical volume label; name is the volume
	// group when known.
	MapUserLVMPhysicalVolume MapUserKind = "LVMPhysicalVolume"
	// MapUserOpen: the map is open (openCount > 0) and none of the above explains it: a process
	// or a virtual machine has the device open.
	MapUserOpen MapUserKind = "Open"
)

// MapUser is one user of a map on a node.
type MapUser struct {
	// kind is what kind of user this is.
	// +required
	Kind MapUserKind `json:"kind"`
	// name says which one: the mount point, the holder device, the volume group.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name,omitempty"`
}

// HostConflictType is how the node's own multipath configuration contradicts the desired state.
// +kubebuilder:validation:Enum=Blacklisted;AliasTaken;AliasDiffers;WouldRename
type HostConflictType string

const (
	// HostConflictBlacklisted: the host's own configuration blacklists a managed WWID.
	HostConflictBlacklisted HostConflictType = "Blacklisted"
	// HostConflictAliasTaken: the host already gives a managed alias to another WWID (a
	// multipaths entry, a bindings file line, or a map of that name).
	HostConflictAliasTaken HostConflictType = "AliasTaken"
	// HostConflictAliasDiffers: the host's own configuration names a managed WWID differently.
	HostConflictAliasDiffers HostConflictType = "AliasDiffers"
	// HostConflictWouldRename: applying would rename a map the operator does not manage.
	HostConflictWouldRename HostConflictType = "WouldRename"
)

// HostConflict is one fact of the node's own multipath configuration that contradicts the
// desired state. The agent reports it and never silently overrides it.
type HostConflict struct {
	// type is how the host contradicts the desired state.
	// +required
	Type HostConflictType `json:"type"`
	// wwid is the managed WWID concerned.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	WWID string `json:"wwid,omitempty"`
	// alias is the name concerned: the host's alias, or the managed alias it takes.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Alias string `json:"alias,omitempty"`
	// file is the host file that says it, for example `/etc/multipath.conf`.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	File string `json:"file,omitempty"`
	// line is the line of file, from 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Line int32 `json:"line,omitempty"`
	// message says it in words.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// MultipathNodeStateStatus is written by the node's agent only.
type MultipathNodeStateStatus struct {
	// observedGeneration is the generation the agent last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready, Reconciling and Degraded.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// appliedConfig is the rendered config the node runs.
	// +optional
	AppliedConfig *RenderedConfigRef `json:"appliedConfig,omitempty"`

	// multipathToolsVersion is the node's multipath-tools version, for example `0.9.4`.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	MultipathToolsVersion string `json:"multipathToolsVersion,omitempty"`

	// mapCount is the number of multipath maps on the node.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MapCount int32 `json:"mapCount,omitempty"`

	// maps are the node's multipath maps, sorted by WWID.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10000
	Maps []MapStatus `json:"maps,omitempty"`

	// hostConflicts are the facts of the node's own multipath configuration (files the operator
	// does not own) that contradict the desired state, each naming its file and line. The
	// HostConfigConflict condition is True while there is any.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	HostConflicts []HostConflict `json:"hostConflicts,omitempty"`

	// unmanagedDevices are the multipath-capable devices multipathd sees on the node (its
	// blacklists applied) whose WWID no MultipathWWID handed to this node names: orphan paths
	// no map holds, and paths of maps the host assembled itself. One entry per WWID, sorted;
	// `kubectl multipath discover` lists them and `adopt` writes their MultipathWWID.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	UnmanagedDevices []UnmanagedDevice `json:"unmanagedDevices,omitempty"`

	// unmanagedDeviceCount is the number of unmanaged WWIDs, also those left out of
	// unmanagedDevices beyond its 256 entries.
	// +optional
	// +kubebuilder:validation:Minimum=0
	UnmanagedDeviceCount int32 `json:"unmanagedDeviceCount,omitempty"`
}

// UnmanagedDevice is one WWID the node sees that the operator does not manage.
type UnmanagedDevice struct {
	// wwid is the WWID multipathd computed for the device's paths.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	WWID string `json:"wwid"`

	// vendor is the SCSI vendor of the first path.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Vendor string `json:"vendor,omitempty"`

	// product is the SCSI product of the first path.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Product string `json:"product,omitempty"`

	// size is the size as multipathd prints it, for example `10G` or `1.0T`.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Size string `json:"size,omitempty"`

	// pathCount is the number of paths with this WWID.
	// +optional
	// +kubebuilder:validation:Minimum=0
	PathCount int32 `json:"pathCount,omitempty"`

	// devices are the paths' device names (for example `sdb`), sorted, at most 8.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=64
	Devices []string `json:"devices,omitempty"`

	// inMap is the name of the map the host assembled from these paths under its own name (for
	// example `mpatha`); empty for orphan paths no map holds.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	InMap string `json:"inMap,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mpns,categories=multipath
// +kubebuilder:printcolumn:name="Desired Config",type=string,JSONPath=`.spec.desiredConfig.name`,priority=10
// +kubebuilder:printcolumn:name="Applied Config",type=string,JSONPath=`.status.appliedConfig.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Maps",type=integer,JSONPath=`.status.mapCount`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.multipathToolsVersion`,priority=10
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=10
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// MultipathNodeState is one node's multipath state: the config the operator wants it to apply
// (spec) and what its agent applied and sees (status). Named after the node, owned by it.
type MultipathNodeState struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is written by the operator.
	// +optional
	Spec MultipathNodeStateSpec `json:"spec,omitzero"`

	// status is written by the node's agent.
	// +optional
	Status MultipathNodeStateStatus `json:"status,omitzero"`
}

// GetConditions returns the conditions of the object.
func (n *MultipathNodeState) GetConditions() []metav1.Condition { return n.Status.Conditions }

// SetConditions replaces the conditions of the object.
func (n *MultipathNodeState) SetConditions(conds []metav1.Condition) { n.Status.Conditions = conds }

// +kubebuilder:object:root=true

// MultipathNodeStateList is a list of MultipathNodeState.
type MultipathNodeStateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []MultipathNodeState `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &MultipathNodeState{}, &MultipathNodeStateList{})
		return nil
	})
}
