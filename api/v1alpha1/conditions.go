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

// Who writes what. Every status field and condition has one writer; a writer patches with the
// optimistic lock (a merge patch replaces the whole conditions list) and touches nothing else.
//
//	MultipathConfig   render controller:   renderedConfig, heldConfig, Rendered
//	                  rollout controller:  observedGeneration, nodes, Ready, Reconciling,
//	                                       Stalled, TeardownHeld; the teardown finalizer
//	                  health controller:   lunHealth, nodeErrors
//	MultipathWWID     render controller:   everything but health (renderedAlias,
//	                                       formerAliases, consumers, Ready, Conflict, InUse);
//	                                       the in-use finalizer
//	                  health controller:   health
//	MultipathNodeState agent (its node's): everything in status; the manager's rollout
//	                                       controller writes only spec.desiredConfig
//
// One exception, on purpose: when the render controller changes renderedConfig it also sets
// the rollout's Reconciling (RolloutInProgress) in the same write, so that a kstatus reader (Argo
// CD, Flux) never sees the previous Ready=True beside a config no node has yet; the rollout
// controller owns both from its next pass. A render that does not bump the MultipathConfig's
// generation (a MultipathWWID changed) gives observedGeneration nothing to say, hence the write.

// Condition types and reasons of every kind. Ready summarises each object (kstatus); Reconciling
// and Stalled are abnormal-true and present only while they are true.
const (
	// ReadyCondition is True when the object's desired state is fully realised.
	ReadyCondition = "Ready"
	// ReconcilingCondition is True while work toward the desired state is under way.
	ReconcilingCondition = "Reconciling"
	// StalledCondition is True when progress needs a person to act.
	StalledCondition = "Stalled"

	// ConflictCondition is True on a MultipathWWID left out of the render because another object
	// already claims its WWID or alias.
	ConflictCondition = "Conflict"
	// InUseCondition is True on a MultipathWWID that a PersistentVolume consumes (reason
	// Consumed) or whose map is open on a node (reason OpenOnNode, when no volume consumes it).
	InUseCondition = "InUse"

	// DegradedCondition is True on a MultipathNodeState whose last apply failed and was rolled back.
	DegradedCondition = "Degraded"
	// MultipathToolsUntestedCondition is True on a MultipathNodeState whose node runs a
	// multipath-tools version outside the range kube-multipath's real-parser tests cover, or
	// one multipathd answered without a readable version. Admission refuses what a node's
	// version does not take only as far as it knows that version: such a node may be given a
	// knob it ignores. Written by the node's agent (which reads the version); present only
	// while True, like Degraded, so a node in range carries nothing.
	MultipathToolsUntestedCondition = "MultipathToolsUntested"
	// HostConfigConflictCondition is True on a MultipathNodeState whose node's own multipath
	// configuration contradicts the desired state (status.hostConflicts lists each fact with its
	// file and line). Written by the node's agent; present only while True.
	HostConfigConflictCondition = "HostConfigConflict"
	// TeardownHeldCondition is True on a MultipathConfig being deleted, or with deselected
	// nodes, while in-use LUNs keep some nodes from being torn down; the message names the LUNs,
	// the nodes and what uses them. Present only while True.
	TeardownHeldCondition = "TeardownHeld"
	// RenderedCondition on the MultipathConfig says whether the current generation rendered.
	// Written by the render controller; the rollout controller folds it into Ready.
	RenderedCondition = "Rendered"
)

// Reasons.
const (
	// RenderPendingReason (Reconciling, MultipathConfig): the render controller has not
	// rendered the current generation yet.
	RenderPendingReason = "RenderPending"
	// RolloutCompleteReason (Event): every selected node applied the rendered config.
	RolloutCompleteReason = "RolloutComplete"
	// TeardownInProgressReason (Reconciling, MultipathConfig): the MultipathConfig is being
	// deleted and its nodes are being torn down through the rollout budget.
	TeardownInProgressReason = "TeardownInProgress"
	// TeardownCompleteReason (Event): every node of a deleted MultipathConfig is torn down and
	// the finalizer goes.
	TeardownCompleteReason = "TeardownComplete"

	// ApplyingReason (Reconciling, MultipathNodeState): the agent is applying the desired config.
	ApplyingReason = "Applying"
	// WaitingForConfigReason (MultipathNodeState): no config has been handed out to the node yet.
	WaitingForConfigReason = "WaitingForConfig"
	// MultipathdUnavailableReason (MultipathNodeState): multipathd cannot be reached or
	// answered garbage.
	MultipathdUnavailableReason = "MultipathdUnavailable"
	// DriftCorrectedReason (Event): owned files changed by hand were re-asserted.
	DriftCorrectedReason = "DriftCorrected"
	// RecoveredReason (Event): an apply interrupted by an agent restart was rolled back.
	RecoveredReason = "Recovered"
	// OpenCountUnavailableReason (Event, once per agent): the kernel's open count of the maps
	// cannot be read.
	OpenCountUnavailableReason = "OpenCountUnavailable"

	// RenderedReason: the desired state was rendered and is being (or has been) rolled out.
	RenderedReason = "Rendered"
	// RolloutInProgressReason: some selected nodes have not applied the rendered config yet.
	RolloutInProgressReason = "RolloutInProgress"
	// RolloutPausedReason: spec.rollout.paused stops handing out the new config.
	RolloutPausedReason = "RolloutPaused"
	// RolloutFailedReason: failed nodes reached maxUnavailable; the rollout stopped.
	RolloutFailedReason = "RolloutFailed"
	// InvalidSpecReason: the spec cannot be rendered until it is edited.
	InvalidSpecReason = "InvalidSpec"
	// AppliedReason: the node applied its desired config.
	AppliedReason = "Applied"
	// ApplyFailedReason: the node's last apply failed and was rolled back.
	ApplyFailedReason = "ApplyFailed"
	// DuplicateWWIDReason: another MultipathWWID already allow-lists this WWID.
	DuplicateWWIDReason = "DuplicateWWID"
	// DuplicateAliasReason: another MultipathWWID already uses this alias, or has it as its WWID.
	DuplicateAliasReason = "DuplicateAlias"
	// NoConflictReason: the WWID and alias are claimed by this object only.
	NoConflictReason = "NoConflict"
	// ConsumedReason: at least one PersistentVolume uses the LUN.
	ConsumedReason = "Consumed"
	// NotConsumedReason: no PersistentVolume uses the LUN.
	NotConsumedReason = "NotConsumed"
	// VersionUnknownReason: multipathd answered, but its version could not be read.
	VersionUnknownReason = "VersionUnknown"
	// VersionUntestedReason: the node's multipath-tools is older or newer than every tested one.
	VersionUntestedReason = "VersionUntested"
	// AliasChangeRefusedReason: the alias of a consumed LUN changed without the force annotation;
	// the last rendered alias stays.
	AliasChangeRefusedReason = "AliasChangeRefused"
	// HostConfigConflictReason: the node's own configuration contradicts the desired state.
	HostConfigConflictReason = "HostConfigConflict"
	// OpenOnNodeReason: the LUN's map is open on at least one node (and maybe consumed too).
	OpenOnNodeReason = "OpenOnNode"
	// InUseLUNsReason: teardown waits for in-use LUNs to be freed.
	InUseLUNsReason = "InUseLUNs"
	// NoExpectedNodesReason: the LUN is rendered, but its status.health expects it on no node
	// (nodes "0/0"), so it is ready nowhere.
	NoExpectedNodesReason = "NoExpectedNodes"
	// ConfigDeletingReason: the MultipathConfig is being deleted and the LUN, not in use, leaves
	// the nodes.
	ConfigDeletingReason = "ConfigDeleting"
	// ForcedReason: a change to an in-use LUN went through because of the force annotation.
	ForcedReason = "Forced"
)

// Annotations and finalizers.
const (
	// ForceRemoveAnnotation, set to "true" on a MultipathWWID, allows deleting it or changing its
	// alias while it is in use; on the MultipathConfig, lets deletion and teardown go on with
	// in-use LUNs still held. It is removed once honoured, and an Event records who forced what.
	ForceRemoveAnnotation = "multipath.kube-multipath.io/force-remove"
	// WWIDAnnotation on a PersistentVolume names the WWID it consumes.
	WWIDAnnotation = "multipath.kube-multipath.io/wwid"
	// InUseFinalizer keeps a consumed MultipathWWID until its consumers are gone.
	InUseFinalizer = "multipath.kube-multipath.io/in-use"
	// TeardownFinalizer keeps the MultipathConfig while nodes it managed are being torn down
	// through the rollout budget, and while in-use LUNs hold that teardown. The force-remove
	// annotation on the MultipathConfig lets it go with LUNs still held.
	TeardownFinalizer = "multipath.kube-multipath.io/teardown"
	// ClusterConfigName is the only accepted name of a MultipathConfig.
	ClusterConfigName = "cluster"
)
