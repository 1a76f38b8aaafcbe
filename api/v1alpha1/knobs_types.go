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

import "k8s.io/apimachinery/pkg/util/intstr"

// Switches are booleans, rendered as multipathd's "yes"/"no" (also for marginal_pathgroups, whose
// "on"/"off" multipath-tools 0.8.x ignores or refuses):
// YAML 1.1, which kubectl speaks, reads an unquoted yes/no/on/off as a boolean, so a string enum
// of "yes"/"no" would reject what admins naturally write.
//
// The knob types below carry multipathd's own value spellings (`group_by_prio`, `service-time 0`)
// rather than Kubernetes CamelCase, so that what an admin reads in multipath.conf(5) is what they
// write here. Every enum and range is mirrored in internal/multipathconf's keyword table, and a test
// fails when the two drift apart.

// PathGroupingPolicy says how multipathd groups the paths of a map into priority groups.
// +kubebuilder:validation:Enum=failover;multibus;group_by_serial;group_by_prio;group_by_node_name
type PathGroupingPolicy string

const (
	// PathGroupingFailover puts one path in each priority group.
	PathGroupingFailover PathGroupingPolicy = "failover"
	// PathGroupingMultibus puts every path in one priority group.
	PathGroupingMultibus PathGroupingPolicy = "multibus"
	// PathGroupingGroupBySerial groups paths by target serial number.
	PathGroupingGroupBySerial PathGroupingPolicy = "group_by_serial"
	// PathGroupingGroupByPrio groups paths by path priority (ALUA arrays).
	PathGroupingGroupByPrio PathGroupingPolicy = "group_by_prio"
	// PathGroupingGroupByNodeName groups paths by target node name.
	PathGroupingGroupByNodeName PathGroupingPolicy = "group_by_node_name"
)

// PathSelector is the device-mapper path selector algorithm, with its repeat count.
// +kubebuilder:validation:Enum="round-robin 0";"queue-length 0";"service-time 0";"historical-service-time 0"
type PathSelector string

const (
	// PathSelectorRoundRobin loops through every path of the group.
	PathSelectorRoundRobin PathSelector = "round-robin 0"
	// PathSelectorQueueLength sends I/O to the path with the fewest outstanding requests.
	PathSelectorQueueLength PathSelector = "queue-length 0"
	// PathSelectorServiceTime sends I/O to the path with the shortest estimated service time.
	PathSelectorServiceTime PathSelector = "service-time 0"
	// PathSelectorHistoricalServiceTime estimates service time from past I/O.
	PathSelectorHistoricalServiceTime PathSelector = "historical-service-time 0"
)

// Prioritizer is the routine multipathd uses to rank paths.
// +kubebuilder:validation:Enum=const;sysfs;emc;alua;ontap;rdac;hp_sw;hds;random;weightedpath;path_latency;ana;iet;datacore
type Prioritizer string

// PathChecker is the routine multipathd uses to test whether a path works.
// +kubebuilder:validation:Enum=tur;readsector0;directio;emc_clariion;hp_sw;rdac;cciss_tur;none
type PathChecker string

// RRWeight says whether round-robin weights paths by priority.
// +kubebuilder:validation:Enum=uniform;priorities
type RRWeight string

// LogCheckerErr says how often multipathd logs a checker error for a path.
// +kubebuilder:validation:Enum=once;always
type LogCheckerErr string

// LUNKnobs are the multipathd knobs that multipath-tools 0.9.x accepts inside a `multipath {}`
// subsection, so they may be set per LUN (MultipathWWID) as well as cluster-wide (defaults).
// An unset knob is not rendered, and multipathd's own default (or the device table's) applies.
type LUNKnobs struct {
	// pathGroupingPolicy is how paths are grouped into priority groups (path_grouping_policy).
	// +optional
	PathGroupingPolicy PathGroupingPolicy `json:"pathGroupingPolicy,omitempty"`

	// pathSelector is the device-mapper path selector (path_selector).
	// +optional
	PathSelector PathSelector `json:"pathSelector,omitempty"`

	// prio is the path prioritizer (prio).
	// +optional
	Prio Prioritizer `json:"prio,omitempty"`

	// prioArgs are the arguments passed to the prioritizer (prio_args), for example
	// `exclusive_pref_bit` for alua. Printable characters only.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[^\\x00-\\x1f\\x7f]+$')`,message="prioArgs must not hold control characters"
	PrioArgs string `json:"prioArgs,omitempty"`

	// failback is how to fail back to a higher-priority path group (failback): `immediate`,
	// `manual`, `followover`, or a number of seconds to wait before failing back.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 86400) : self in ['immediate', 'manual', 'followover']",message="failback must be immediate, manual, followover or a number of seconds from 1 to 86400"
	Failback *intstr.IntOrString `json:"failback,omitempty"`

	// noPathRetry is what happens when every path is down (no_path_retry): `queue` I/O forever,
	// `fail` at once, or retry for this many checker intervals, then fail.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 1000000) : self in ['queue', 'fail']",message="noPathRetry must be queue, fail or a number of retries from 1 to 1000000"
	NoPathRetry *intstr.IntOrString `json:"noPathRetry,omitempty"`

	// rrWeight says whether round-robin weights paths by priority (rr_weight).
	// +optional
	RRWeight RRWeight `json:"rrWeight,omitempty"`

	// rrMinIORq is the number of requests sent to a path before switching to the next (rr_min_io_rq).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	RRMinIORq *int32 `json:"rrMinIORq,omitempty"`

	// flushOnLastDel flushes the map when its last path is deleted (flush_on_last_del).
	// +optional
	FlushOnLastDel *bool `json:"flushOnLastDel,omitempty"`

	// reservationKey is the SCSI persistent reservation key (reservation_key): `file`, or a hex
	// key such as `0x123abc`, optionally followed by `:aptpl`.
	// +optional
	// +kubebuilder:validation:MaxLength=24
	// +kubebuilder:validation:XValidation:rule="self.matches('^(file|0x[0-9a-fA-F]{1,16}(:aptpl)?)$')",message="reservationKey must be file, or 0x and 1 to 16 hex digits, optionally followed by :aptpl"
	ReservationKey string `json:"reservationKey,omitempty"`

	// deferredRemove defers removing the map until its last user closes it (deferred_remove).
	// +optional
	DeferredRemove *bool `json:"deferredRemove,omitempty"`

	// skipKpartx stops kpartx from creating partition mappings for the map (skip_kpartx).
	// +optional
	SkipKpartx *bool `json:"skipKpartx,omitempty"`

	// maxSectorsKB is the largest I/O in KiB sent to the map's paths (max_sectors_kb).
	// +optional
	// +kubebuilder:validation:Minimum=4
	// +kubebuilder:validation:Maximum=1048576
	MaxSectorsKB *int32 `json:"maxSectorsKB,omitempty"`

	// ghostDelay is how many seconds to wait for an active path when only ghost (standby) paths
	// exist (ghost_delay): `no`, or seconds.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 3600) : self == 'no'",message="ghostDelay must be no or a number of seconds from 1 to 3600"
	GhostDelay *intstr.IntOrString `json:"ghostDelay,omitempty"`

	// delayWatchChecks is how many checks a path that came back is watched before being reused
	// (delay_watch_checks): `no`, or a number of checks.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 1000000) : self == 'no'",message="delayWatchChecks must be no or a number of checks from 1 to 1000000"
	DelayWatchChecks *intstr.IntOrString `json:"delayWatchChecks,omitempty"`

	// delayWaitChecks is how many checks a flapping path is kept out of use (delay_wait_checks):
	// `no`, or a number of checks.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 1000000) : self == 'no'",message="delayWaitChecks must be no or a number of checks from 1 to 1000000"
	DelayWaitChecks *intstr.IntOrString `json:"delayWaitChecks,omitempty"`

	// sanPathErrThreshold is how many path errors within the forget rate mark a path as failing
	// (san_path_err_threshold): `no`, or a count.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 1000000) : self == 'no'",message="sanPathErrThreshold must be no or a count from 1 to 1000000"
	SANPathErrThreshold *intstr.IntOrString `json:"sanPathErrThreshold,omitempty"`

	// sanPathErrForgetRate is how many checks it takes to forget one path error
	// (san_path_err_forget_rate): `no`, or a number of checks.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 1000000) : self == 'no'",message="sanPathErrForgetRate must be no or a number of checks from 1 to 1000000"
	SANPathErrForgetRate *intstr.IntOrString `json:"sanPathErrForgetRate,omitempty"`

	// sanPathErrRecoveryTime is how many seconds a failing path stays out of use
	// (san_path_err_recovery_time): `no`, or seconds.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 1000000) : self == 'no'",message="sanPathErrRecoveryTime must be no or a number of seconds from 1 to 1000000"
	SANPathErrRecoveryTime *intstr.IntOrString `json:"sanPathErrRecoveryTime,omitempty"`

	// marginalPathErrSampleTime is the window, in seconds, over which I/O errors of a path that
	// failed twice are sampled (marginal_path_err_sample_time): `no`, or seconds (at least 120).
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 120 && self <= 1000000) : self == 'no'",message="marginalPathErrSampleTime must be no or a number of seconds from 120 to 1000000"
	MarginalPathErrSampleTime *intstr.IntOrString `json:"marginalPathErrSampleTime,omitempty"`

	// marginalPathErrRateThreshold is the error rate, in errors per thousand I/Os, above which a
	// path is marginal (marginal_path_err_rate_threshold): `no`, or 1 to 1000 (0 means unset to
	// multipath-tools).
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 1000) : self == 'no'",message="marginalPathErrRateThreshold must be no or a rate from 1 to 1000"
	MarginalPathErrRateThreshold *intstr.IntOrString `json:"marginalPathErrRateThreshold,omitempty"`

	// marginalPathErrRecheckGapTime is how many seconds a marginal path waits before it is
	// checked again (marginal_path_err_recheck_gap_time): `no`, or seconds.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 1000000) : self == 'no'",message="marginalPathErrRecheckGapTime must be no or a number of seconds from 1 to 1000000"
	MarginalPathErrRecheckGapTime *intstr.IntOrString `json:"marginalPathErrRecheckGapTime,omitempty"`

	// marginalPathDoubleFailedTime is the window, in seconds, in which two failures make a path a
	// marginal candidate (marginal_path_double_failed_time): `no`, or seconds.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 1000000) : self == 'no'",message="marginalPathDoubleFailedTime must be no or a number of seconds from 1 to 1000000"
	MarginalPathDoubleFailedTime *intstr.IntOrString `json:"marginalPathDoubleFailedTime,omitempty"`
}

// MultipathDefaults are the cluster-wide knobs, rendered into the managed `defaults {}` section.
// `user_friendly_names` and `find_multipaths` stay each host's own and cannot be set here: every
// managed map is named in its own multipath subsection (its alias, or its WWID), identical on
// every node whatever the host's settings.
type MultipathDefaults struct {
	LUNKnobs `json:",inline"`

	// pollingInterval is the path check interval in seconds (polling_interval).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	PollingInterval *int32 `json:"pollingInterval,omitempty"`

	// maxPollingInterval is the longest interval, in seconds, between checks of a healthy path
	// (max_polling_interval).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=14400
	MaxPollingInterval *int32 `json:"maxPollingInterval,omitempty"`

	// pathChecker is how multipathd tests paths (path_checker).
	// +optional
	PathChecker PathChecker `json:"pathChecker,omitempty"`

	// checkerTimeout is the timeout, in seconds, of the checker's SCSI commands (checker_timeout).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	CheckerTimeout *int32 `json:"checkerTimeout,omitempty"`

	// fastIOFailTmo is how many seconds the SCSI layer waits after a transport problem before
	// failing I/O on the path (fast_io_fail_tmo): `off`, or seconds from 0.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 0 && self <= 86400) : self == 'off'",message="fastIOFailTmo must be off or a number of seconds from 0 to 86400"
	FastIOFailTmo *intstr.IntOrString `json:"fastIOFailTmo,omitempty"`

	// devLossTmo is how many seconds the SCSI layer waits after a transport problem before
	// removing the path (dev_loss_tmo): `infinity`, or seconds.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 2147483646) : self == 'infinity'",message="devLossTmo must be infinity or a number of seconds from 1 to 2147483646"
	DevLossTmo *intstr.IntOrString `json:"devLossTmo,omitempty"`

	// queueWithoutDaemon keeps queueing I/O when multipathd is stopped (queue_without_daemon).
	// +optional
	QueueWithoutDaemon *bool `json:"queueWithoutDaemon,omitempty"`

	// detectPrio lets multipathd pick the prioritizer from the array (detect_prio).
	// +optional
	DetectPrio *bool `json:"detectPrio,omitempty"`

	// detectChecker lets multipathd pick the path checker from the array (detect_checker).
	// +optional
	DetectChecker *bool `json:"detectChecker,omitempty"`

	// verbosity is multipathd's log level, 0 to 4 (verbosity; multipath-tools 0.9.4 caps it at 4).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4
	Verbosity *int32 `json:"verbosity,omitempty"`

	// logCheckerErr is how often a checker error is logged at the normal level (log_checker_err).
	// +optional
	LogCheckerErr LogCheckerErr `json:"logCheckerErr,omitempty"`

	// uxsockTimeout is the timeout, in milliseconds, of the multipathd socket (uxsock_timeout); at
	// least 4000, which multipath-tools 0.9.4 enforces.
	// +optional
	// +kubebuilder:validation:Minimum=4000
	// +kubebuilder:validation:Maximum=600000
	UxsockTimeout *int32 `json:"uxsockTimeout,omitempty"`

	// retriggerTries is how many times a missing uevent is retriggered (retrigger_tries).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	RetriggerTries *int32 `json:"retriggerTries,omitempty"`

	// retriggerDelay is how many seconds to wait between retriggers (retrigger_delay).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	RetriggerDelay *int32 `json:"retriggerDelay,omitempty"`

	// missingUevWaitTimeout is how many seconds to wait for a map's creation uevent
	// (missing_uev_wait_timeout).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	MissingUevWaitTimeout *int32 `json:"missingUevWaitTimeout,omitempty"`

	// strictTiming checks paths at exact intervals (strict_timing).
	// +optional
	StrictTiming *bool `json:"strictTiming,omitempty"`

	// marginalPathgroups puts marginal paths in their own path group (marginal_pathgroups).
	// +optional
	MarginalPathgroups *bool `json:"marginalPathgroups,omitempty"`

	// recheckWWID re-reads the WWID of a path that comes back, and removes it if it changed
	// (recheck_wwid).
	// +optional
	RecheckWWID *bool `json:"recheckWWID,omitempty"`

	// removeRetries is how many times removing a map in use is retried (remove_retries).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	RemoveRetries *int32 `json:"removeRetries,omitempty"`

	// allTgPt registers the reservation key on every target port (all_tg_pt).
	// +optional
	AllTgPt *bool `json:"allTgPt,omitempty"`
}
