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

package multipathconf

import (
	"math"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// Section is a set of multipath.conf (sub)sections, as a bit mask. The keyword table says, per
// keyword, in which of them multipath-tools 0.9.4 accepts it.
type Section uint16

const (
	// SectionDefaults is `defaults {}`.
	SectionDefaults Section = 1 << iota
	// SectionBlacklist is `blacklist {}`.
	SectionBlacklist
	// SectionBlacklistDevice is `blacklist { device {} }`.
	SectionBlacklistDevice
	// SectionBlacklistExceptions is `blacklist_exceptions {}`.
	SectionBlacklistExceptions
	// SectionBlacklistExceptionsDevice is `blacklist_exceptions { device {} }`.
	SectionBlacklistExceptionsDevice
	// SectionDevice is `devices { device {} }`.
	SectionDevice
	// SectionOverrides is `overrides {}`.
	SectionOverrides
	// SectionOverridesProtocol is `overrides { protocol {} }`.
	SectionOverridesProtocol
	// SectionMultipath is `multipaths { multipath {} }`.
	SectionMultipath
)

var sectionNames = [...]string{
	"defaults", "blacklist", "blacklist/device", "blacklist_exceptions",
	"blacklist_exceptions/device", "devices/device", "overrides", "overrides/protocol",
	"multipaths/multipath",
}

// String names the sections as paths, e.g. "devices/device", joined by ", ".
func (s Section) String() string {
	var names []string
	for i, name := range sectionNames {
		if s&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// Policy says whether spec.overrides may use a keyword.
type Policy uint8

const (
	// Allowed keywords may appear in spec.overrides wherever multipath-tools accepts them (in a
	// defaults section only when the API does not type them, see doc.go).
	Allowed Policy = iota
	// Managed keywords are set only by kube-multipath, because they carry its invariants.
	Managed
	// Deprecated keywords are ignored by multipath-tools 0.9.4, which logs an error for them.
	Deprecated
)

// Scope says where the API exposes a keyword.
type Scope uint8

const (
	// NotInAPI keywords are reachable only through spec.overrides.
	NotInAPI Scope = iota
	// ScopeLUN keywords are LUNKnobs: spec.defaults of MultipathConfig and spec of MultipathWWID.
	ScopeLUN
	// ScopeDefaults keywords exist only in MultipathConfig spec.defaults.
	ScopeDefaults
	// ScopeIdentity keywords are a MultipathWWID's spec.wwid and spec.alias.
	ScopeIdentity
)

// ValueKind is the shape of a keyword's value.
type ValueKind uint8

const (
	// KindString is free text, optionally matching Pattern, MinLength..MaxLength characters.
	KindString ValueKind = iota
	// KindEnum is one of Enum.
	KindEnum
	// KindBool is an API boolean, rendered as BoolWords[0] (false) or BoolWords[1] (true).
	KindBool
	// KindInt is an integer from Min to Max.
	KindInt
	// KindIntOrKeyword is an integer from Min to Max, or one of Enum (an API IntOrString).
	KindIntOrKeyword
	// KindRegex is a POSIX extended regular expression.
	KindRegex
	// KindCountedArgs is "N arg1 ... argN" (hardware_handler).
	KindCountedArgs
	// KindFeatures is a KindCountedArgs device-mapper feature list without the features
	// multipath-tools 0.9.4 deprecates (queue_if_no_path, retain_attached_hw_handler).
	KindFeatures
	// KindUIDAttrs is a space separated list of "type:ATTR" records (uid_attrs).
	KindUIDAttrs
	// KindOctalMode is a file mode in octal, at most 0777.
	KindOctalMode
)

// IntRange is an inclusive integer range.
type IntRange struct{ Min, Max int64 }

// ValueSpec describes the values a keyword takes. For API fields it mirrors the CRD exactly (a
// test compares it with config/crd/bases), and Parser narrows it where multipath-tools 0.9.4
// itself accepts less than the CRD does.
type ValueSpec struct {
	Kind ValueKind
	// Enum lists the values of KindEnum, or the keywords of KindIntOrKeyword.
	Enum []string
	// Min and Max bound KindInt and the integer half of KindIntOrKeyword.
	Min, Max int64
	// Parser, when set, is the narrower range multipath-tools 0.9.4 accepts without logging an
	// error (it caps anything else). Go validation enforces it; the CRD does not.
	Parser *IntRange
	// Pattern is the regular expression (Go RE2, as the API server uses) a KindString matches.
	Pattern string
	// MinLength and MaxLength bound a KindString in characters; 0 means no bound.
	MinLength, MaxLength int
	// BoolWords are the spellings of false and true for KindBool.
	BoolWords [2]string

	pattern *regexp.Regexp
}

// Keyword is one row of the keyword table. A keyword whose rules differ by section (`wwid` is
// an exact WWID in multipaths/multipath and a regular expression in blacklist) has one row per
// rule, with disjoint Sections.
type Keyword struct {
	// Name is the multipath.conf spelling.
	Name string
	// Sections are where multipath-tools 0.9.4 accepts it.
	Sections Section
	// Repeatable keywords may appear more than once in one section; multipathd logs "duplicate
	// keyword" for any other.
	Repeatable bool
	// Policy says whether spec.overrides may use it, and Why explains a refusal.
	Policy Policy
	Why    string
	// AliasOf names the keyword this one is another spelling of (checker is path_checker).
	AliasOf string
	// Field is the API JSON field name, "" when the API does not expose the keyword.
	Field string
	// Scope is where the API exposes it.
	Scope Scope
	// Value is the shape of its value.
	Value ValueSpec

	lun      func(*mpv1alpha1.LUNKnobs) Value
	defaults func(*mpv1alpha1.MultipathDefaults) Value
}

// Forbidden reports whether spec.overrides may not use the keyword at all.
func (k *Keyword) Forbidden() bool { return k.Policy != Allowed }

// FromLUN reads the keyword's API field from per-LUN knobs; unset when the keyword is not a
// ScopeLUN knob.
func (k *Keyword) FromLUN(knobs *mpv1alpha1.LUNKnobs) Value {
	if k.lun == nil || knobs == nil {
		return Value{}
	}
	return k.lun(knobs)
}

// FromDefaults reads the keyword's API field from MultipathConfig spec.defaults; unset when the
// API does not expose the keyword there.
func (k *Keyword) FromDefaults(d *mpv1alpha1.MultipathDefaults) Value {
	if d == nil {
		return Value{}
	}
	if k.defaults != nil {
		return k.defaults(d)
	}
	return k.FromLUN(&d.LUNKnobs)
}

// Value is an API field's value as read by a Keyword accessor.
type Value struct {
	// Set is false when the field is omitted: nothing is rendered.
	Set bool
	// IsInt says Int holds the value (integers, and the integer half of IntOrString).
	IsInt bool
	Int   int64
	// IsBool says Bool holds the value.
	IsBool bool
	Bool   bool
	// Str holds strings, enums, and the string half of IntOrString.
	Str string
}

// Section bit masks shared by many rows.
const (
	inDefaultsDeviceOverrides = SectionDefaults | SectionDevice | SectionOverrides
	// inLUN: the LUNKnobs, accepted in defaults, devices/device, overrides and multipath.
	inLUN         = inDefaultsDeviceOverrides | SectionMultipath
	inBlacklists  = SectionBlacklist | SectionBlacklistExceptions
	inBlDevices   = SectionBlacklistDevice | SectionBlacklistExceptionsDevice
	inAnyProtocol = inDefaultsDeviceOverrides | SectionOverridesProtocol
)

// Value shapes shared by many rows.
var (
	yesNo    = ValueSpec{Kind: KindBool, BoolWords: [2]string{"no", "yes"}}
	yesNoTxt = ValueSpec{Kind: KindEnum, Enum: []string{"yes", "no"}}
	regex    = ValueSpec{Kind: KindRegex}
	text     = ValueSpec{Kind: KindString}
	counted  = ValueSpec{Kind: KindCountedArgs}
	features = ValueSpec{Kind: KindFeatures}
)

func intRange(lo, hi int64) ValueSpec { return ValueSpec{Kind: KindInt, Min: lo, Max: hi} }

func intOr(lo, hi int64, keywords ...string) ValueSpec {
	return ValueSpec{Kind: KindIntOrKeyword, Min: lo, Max: hi, Enum: keywords}
}

func enum(values ...string) ValueSpec { return ValueSpec{Kind: KindEnum, Enum: values} }

// The API's enums, spelled as the kubebuilder markers in api/v1alpha1/knobs_types.go spell them.
var (
	pathGroupingPolicies = []string{
		string(mpv1alpha1.PathGroupingFailover), string(mpv1alpha1.PathGroupingMultibus),
		string(mpv1alpha1.PathGroupingGroupBySerial), string(mpv1alpha1.PathGroupingGroupByPrio),
		string(mpv1alpha1.PathGroupingGroupByNodeName),
	}
	pathSelectors = []string{
		string(mpv1alpha1.PathSelectorRoundRobin), string(mpv1alpha1.PathSelectorQueueLength),
		string(mpv1alpha1.PathSelectorServiceTime), string(mpv1alpha1.PathSelectorHistoricalServiceTime),
	}
	prioritizers = []string{"const", "sysfs", "emc", "alua", "ontap", "rdac", "hp_sw", "hds", "random",
		"weightedpath", "path_latency", "ana", "iet", "datacore"}
	pathCheckers  = []string{"tur", "readsector0", "directio", "emc_clariion", "hp_sw", "rdac", "cciss_tur", "none"}
	rrWeights     = []string{"uniform", "priorities"}
	logCheckerErr = []string{"once", "always"}
	// protocols are the path protocols multipath-tools 0.9.4 knows (multipath.conf(5), protocol).
	protocols = []string{"scsi:fcp", "scsi:spi", "scsi:ssa", "scsi:sbp", "scsi:srp", "scsi:iscsi",
		"scsi:sas", "scsi:adt", "scsi:ata", "scsi:unspec", "nvme:pcie", "nvme:rdma", "nvme:fc",
		"nvme:tcp", "nvme:loop", "nvme:apple-nvme", "nvme:unspec", "ccw", "cciss", "undef"}
)

// Patterns of the API's free-text fields, spelled exactly as the CRD spells them.
const (
	wwidPattern           = `^[a-zA-Z0-9._:-]+$`
	aliasPattern          = `^[^\s"'#!/\\\x00-\x1f\x7f]+$`
	prioArgsPattern       = `^[^\x00-\x1f\x7f]+$`
	reservationKeyPattern = `^(file|0x[0-9a-fA-F]{1,16}(:aptpl)?)$`
)

// Reasons spec.overrides may not use a keyword; each completes "keyword X is ...".
const (
	// user_friendly_names and find_multipaths stay the host's: the baseline names each managed
	// map in its own multipath subsection, so they change only maps kube-multipath does not
	// manage, and setting them cluster-wide from spec.overrides would rename a host's boot or
	// database maps, or change which devices it multipaths, on every node at once. A storage
	// admin who wants them changed changes them per host, in /etc/multipath.conf.
	whyMapNames = "left to each host's /etc/multipath.conf: kube-multipath names the maps it manages one by one " +
		"(alias, or the WWID) and changes neither how a host names its other maps nor which devices it multipaths"
	whyFiles      = "managed by kube-multipath and cannot be overridden: the agent owns /etc/multipath/wwids and the default state files"
	whyConfigDir  = "managed by kube-multipath and cannot be overridden: its drop-ins live in /etc/multipath/conf.d"
	whyIdentity   = "managed by kube-multipath and cannot be overridden: set it on a MultipathWWID"
	whyIgnored    = "deprecated in multipath-tools 0.9.4, which ignores it and logs an error"
	whyNoEffect   = "deprecated in multipath-tools 0.9.4, which ignores it"
	whyDeprecated = "deprecated in multipath-tools 0.9.4 and will be disabled; it also moves state kube-multipath manages"
)

// keywords is THE keyword table: every keyword multipath-tools 0.9.4 accepts, in the order the
// renderer writes typed knobs (the API's LUNKnobs, then its defaults-only knobs, in the API's
// field order), then the keywords only spec.overrides reaches, alphabetically. Sections were
// taken from the 0.9.4 parser itself (TestKeywordSectionsMatchRealParser re-checks them).
var keywords = []Keyword{
	// MultipathWWID identity, rendered by the baseline's multipath subsections.
	{Name: "wwid", Sections: SectionMultipath, Policy: Managed, Why: whyIdentity, Field: "wwid", Scope: ScopeIdentity,
		Value: ValueSpec{Kind: KindString, Pattern: wwidPattern, MinLength: 1, MaxLength: 128}},
	{Name: "alias", Sections: SectionMultipath, Policy: Managed, Why: whyIdentity, Field: "alias", Scope: ScopeIdentity,
		Value: ValueSpec{Kind: KindString, Pattern: aliasPattern, MinLength: 1, MaxLength: 64}},

	// LUNKnobs.
	lunKnob("path_grouping_policy", "pathGroupingPolicy", enum(pathGroupingPolicies...),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofString(k.PathGroupingPolicy) }),
	lunKnob("path_selector", "pathSelector", enum(pathSelectors...),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofString(k.PathSelector) }),
	lunKnob("prio", "prio", enum(prioritizers...),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofString(k.Prio) }),
	lunKnob("prio_args", "prioArgs", ValueSpec{Kind: KindString, Pattern: prioArgsPattern, MinLength: 1, MaxLength: 255},
		func(k *mpv1alpha1.LUNKnobs) Value { return ofString(k.PrioArgs) }),
	lunKnob("failback", "failback", intOr(1, 86400, "immediate", "manual", "followover"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.Failback) }),
	lunKnob("no_path_retry", "noPathRetry", intOr(1, 1000000, "queue", "fail"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.NoPathRetry) }),
	lunKnob("rr_weight", "rrWeight", enum(rrWeights...),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofString(k.RRWeight) }),
	lunKnob("rr_min_io_rq", "rrMinIORq", intRange(1, 1000000),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofInt32(k.RRMinIORq) }),
	lunKnob("flush_on_last_del", "flushOnLastDel", yesNo,
		func(k *mpv1alpha1.LUNKnobs) Value { return ofBool(k.FlushOnLastDel) }),
	withSections(lunKnob("reservation_key", "reservationKey",
		ValueSpec{Kind: KindString, Pattern: reservationKeyPattern, MaxLength: 24},
		func(k *mpv1alpha1.LUNKnobs) Value { return ofString(k.ReservationKey) }), SectionDefaults|SectionMultipath),
	lunKnob("deferred_remove", "deferredRemove", yesNo,
		func(k *mpv1alpha1.LUNKnobs) Value { return ofBool(k.DeferredRemove) }),
	lunKnob("skip_kpartx", "skipKpartx", yesNo,
		func(k *mpv1alpha1.LUNKnobs) Value { return ofBool(k.SkipKpartx) }),
	lunKnob("max_sectors_kb", "maxSectorsKB", intRange(4, 1048576),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofInt32(k.MaxSectorsKB) }),
	lunKnob("ghost_delay", "ghostDelay", intOr(1, 3600, "no"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.GhostDelay) }),
	lunKnob("delay_watch_checks", "delayWatchChecks", intOr(1, 1000000, "no"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.DelayWatchChecks) }),
	lunKnob("delay_wait_checks", "delayWaitChecks", intOr(1, 1000000, "no"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.DelayWaitChecks) }),
	lunKnob("san_path_err_threshold", "sanPathErrThreshold", intOr(1, 1000000, "no"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.SANPathErrThreshold) }),
	lunKnob("san_path_err_forget_rate", "sanPathErrForgetRate", intOr(1, 1000000, "no"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.SANPathErrForgetRate) }),
	lunKnob("san_path_err_recovery_time", "sanPathErrRecoveryTime", intOr(1, 1000000, "no"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.SANPathErrRecoveryTime) }),
	lunKnob("marginal_path_err_sample_time", "marginalPathErrSampleTime", intOr(120, 1000000, "no"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.MarginalPathErrSampleTime) }),
	lunKnob("marginal_path_err_rate_threshold", "marginalPathErrRateThreshold", intOr(1, 1000, "no"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.MarginalPathErrRateThreshold) }),
	lunKnob("marginal_path_err_recheck_gap_time", "marginalPathErrRecheckGapTime", intOr(1, 1000000, "no"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.MarginalPathErrRecheckGapTime) }),
	lunKnob("marginal_path_double_failed_time", "marginalPathDoubleFailedTime", intOr(1, 1000000, "no"),
		func(k *mpv1alpha1.LUNKnobs) Value { return ofIntOrString(k.MarginalPathDoubleFailedTime) }),

	// MultipathDefaults only.
	defaultsKnob("polling_interval", "pollingInterval", SectionDefaults, intRange(1, 3600),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofInt32(d.PollingInterval) }),
	defaultsKnob("max_polling_interval", "maxPollingInterval", SectionDefaults, intRange(1, 14400),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofInt32(d.MaxPollingInterval) }),
	defaultsKnob("path_checker", "pathChecker", inDefaultsDeviceOverrides, enum(pathCheckers...),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofString(d.PathChecker) }),
	defaultsKnob("checker_timeout", "checkerTimeout", SectionDefaults, intRange(1, 3600),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofInt32(d.CheckerTimeout) }),
	defaultsKnob("fast_io_fail_tmo", "fastIOFailTmo", inAnyProtocol, intOr(0, 86400, "off"),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofIntOrString(d.FastIOFailTmo) }),
	defaultsKnob("dev_loss_tmo", "devLossTmo", inAnyProtocol, intOr(1, 2147483646, "infinity"),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofIntOrString(d.DevLossTmo) }),
	defaultsKnob("queue_without_daemon", "queueWithoutDaemon", SectionDefaults, yesNo,
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofBool(d.QueueWithoutDaemon) }),
	defaultsKnob("detect_prio", "detectPrio", inDefaultsDeviceOverrides, yesNo,
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofBool(d.DetectPrio) }),
	defaultsKnob("detect_checker", "detectChecker", inDefaultsDeviceOverrides, yesNo,
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofBool(d.DetectChecker) }),
	// multipath-tools 0.9.4 caps verbosity at 4 (multipath.conf(5) says 6) and logs an error.
	defaultsKnob("verbosity", "verbosity", SectionDefaults, intRange(0, 4),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofInt32(d.Verbosity) }),
	defaultsKnob("log_checker_err", "logCheckerErr", SectionDefaults, enum(logCheckerErr...),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofString(d.LogCheckerErr) }),
	// multipath-tools 0.9.4 raises uxsock_timeout below 4000 to 4000 and logs an error.
	defaultsKnob("uxsock_timeout", "uxsockTimeout", SectionDefaults, intRange(4000, 600000),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofInt32(d.UxsockTimeout) }),
	defaultsKnob("retrigger_tries", "retriggerTries", SectionDefaults, intRange(0, 100),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofInt32(d.RetriggerTries) }),
	defaultsKnob("retrigger_delay", "retriggerDelay", SectionDefaults, intRange(1, 3600),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofInt32(d.RetriggerDelay) }),
	defaultsKnob("missing_uev_wait_timeout", "missingUevWaitTimeout", SectionDefaults, intRange(1, 3600),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofInt32(d.MissingUevWaitTimeout) }),
	defaultsKnob("strict_timing", "strictTiming", SectionDefaults, yesNo,
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofBool(d.StrictTiming) }),
	// Rendered yes/no, which every tested version takes: 0.8.4 and 0.8.7 ignore on/off without
	// a word, 0.8.8 refuses it (TestLimitsMatchRealParsers proves both spellings).
	defaultsKnob("marginal_pathgroups", "marginalPathgroups", SectionDefaults, yesNo,
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofBool(d.MarginalPathgroups) }),
	defaultsKnob("recheck_wwid", "recheckWWID", inDefaultsDeviceOverrides, yesNo,
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofBool(d.RecheckWWID) }),
	defaultsKnob("remove_retries", "removeRetries", SectionDefaults, intRange(0, 100),
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofInt32(d.RemoveRetries) }),
	defaultsKnob("all_tg_pt", "allTgPt", inDefaultsDeviceOverrides, yesNo,
		func(d *mpv1alpha1.MultipathDefaults) Value { return ofBool(d.AllTgPt) }),

	// Reachable only through spec.overrides, or not at all.
	{Name: "alias_prefix", Sections: inDefaultsDeviceOverrides, Value: ValueSpec{Kind: KindString, MinLength: 1}},
	{Name: "allow_usb_devices", Sections: SectionDefaults, Value: yesNoTxt},
	{Name: "bindings_file", Sections: SectionDefaults, Policy: Managed, Why: whyFiles},
	{Name: "checker", Sections: inDefaultsDeviceOverrides, AliasOf: "path_checker", Value: enum(pathCheckers...)},
	{Name: "config_dir", Sections: SectionDefaults, Policy: Managed, Why: whyConfigDir},
	{Name: "devnode", Sections: inBlacklists, Repeatable: true, Value: regex},
	{Name: "disable_changed_wwids", Sections: SectionDefaults, Policy: Deprecated, Why: whyNoEffect},
	{Name: "eh_deadline", Sections: inAnyProtocol, Value: intOr(0, math.MaxInt32, "off")},
	{Name: "enable_foreign", Sections: SectionDefaults, Value: regex},
	{Name: "features", Sections: inLUN, Value: features},
	{Name: "find_multipaths", Sections: SectionDefaults, Policy: Managed, Why: whyMapNames},
	{Name: "find_multipaths_timeout", Sections: SectionDefaults, Value: intRange(-86400, 86400)},
	{Name: "force_sync", Sections: SectionDefaults, Value: yesNoTxt},
	{Name: "getuid_callout", Sections: inDefaultsDeviceOverrides, Policy: Deprecated, Why: whyIgnored},
	{Name: "gid", Sections: SectionDefaults | SectionMultipath, Value: intRange(0, math.MaxInt32)},
	{Name: "hardware_handler", Sections: SectionDevice, Value: counted},
	{Name: "max_fds", Sections: SectionDefaults, Value: intOr(1, 1048576, "max")},
	{Name: "mode", Sections: SectionDefaults | SectionMultipath, Value: ValueSpec{Kind: KindOctalMode}},
	{Name: "multipath_dir", Sections: SectionDefaults, Policy: Managed, Why: whyConfigDir},
	{Name: "partition_delimiter", Sections: SectionDefaults, Value: ValueSpec{Kind: KindString, MinLength: 1}},
	{Name: "pg_timeout", Sections: SectionDefaults | SectionDevice | SectionMultipath, Policy: Deprecated, Why: whyIgnored},
	{Name: "prkeys_file", Sections: SectionDefaults, Policy: Managed, Why: whyDeprecated},
	{Name: "product", Sections: SectionDevice | inBlDevices, Value: regex},
	{Name: "product_blacklist", Sections: SectionDevice, Value: regex},
	{Name: "property", Sections: inBlacklists, Repeatable: true, Value: regex},
	{Name: "protocol", Sections: inBlacklists, Repeatable: true, Value: regex},
	{Name: "reassign_maps", Sections: SectionDefaults, Value: yesNoTxt},
	{Name: "retain_attached_hw_handler", Sections: inDefaultsDeviceOverrides, Value: yesNoTxt},
	{Name: "revision", Sections: SectionDevice, Value: regex},
	{Name: "rr_min_io", Sections: inLUN, Value: intRange(1, 1000000)},
	{Name: "type", Sections: SectionOverridesProtocol, Value: enum(protocols...)},
	{Name: "uid", Sections: SectionDefaults | SectionMultipath, Value: intRange(0, math.MaxInt32)},
	{Name: "uid_attribute", Sections: inDefaultsDeviceOverrides, Value: text},
	{Name: "uid_attrs", Sections: SectionDefaults, Value: ValueSpec{Kind: KindUIDAttrs}},
	{Name: "user_friendly_names", Sections: inLUN, Policy: Managed, Why: whyMapNames},
	{Name: "vendor", Sections: SectionDevice | inBlDevices, Value: regex},
	{Name: "vpd_vendor", Sections: SectionDevice, Value: enum("hp3par")},
	{Name: "wwid", Sections: inBlacklists, Repeatable: true, Value: regex},
	{Name: "wwids_file", Sections: SectionDefaults, Policy: Managed, Why: whyFiles},
}

// Indexes over the table, built once.
var (
	byName        = map[string][]int{}
	byLUNField    = map[string]int{}
	byConfigField = map[string]int{}
	lunKnobs      []int // ScopeLUN rows, table order
	defaultsKnobs []int // ScopeLUN and ScopeDefaults rows, table order
	wwidRow       int
	aliasRow      int
	// longestKeyword is the length of the longest keyword, for the line budget in quote.go.
	longestKeyword int
)

func init() {
	for i := range keywords {
		k := &keywords[i]
		if k.Value.Pattern != "" {
			k.Value.pattern = regexp.MustCompile(k.Value.Pattern)
		}
		byName[k.Name] = append(byName[k.Name], i)
		longestKeyword = max(longestKeyword, len(k.Name))
		switch k.Scope {
		case ScopeLUN:
			lunKnobs = append(lunKnobs, i)
			defaultsKnobs = append(defaultsKnobs, i)
			byLUNField[k.Field] = i
			byConfigField[k.Field] = i
		case ScopeDefaults:
			defaultsKnobs = append(defaultsKnobs, i)
			byConfigField[k.Field] = i
		case ScopeIdentity:
			byLUNField[k.Field] = i
			if k.Name == "wwid" {
				wwidRow = i
			} else {
				aliasRow = i
			}
		}
	}
	maxQuotedBytes = MaxLineBytes - 2 - longestKeyword - 1
}

// Keywords returns a copy of the keyword table, in table order.
func Keywords() []Keyword { return append([]Keyword(nil), keywords...) }

// Lookup returns the row for a keyword in one section, and false when multipath-tools 0.9.4 does
// not accept the keyword there.
func Lookup(name string, section Section) (Keyword, bool) {
	if k := lookup(name, section); k != nil {
		return *k, true
	}
	return Keyword{}, false
}

func lookup(name string, section Section) *Keyword {
	for _, i := range byName[name] {
		if keywords[i].Sections&section != 0 {
			return &keywords[i]
		}
	}
	return nil
}

// known reports whether multipath-tools 0.9.4 accepts the keyword in any section.
func known(name string) bool { return len(byName[name]) > 0 }

// LookupField returns the row of an API field by its JSON name: a MultipathWWID spec field when
// config is false (wwid, alias and the LUNKnobs), a MultipathConfig spec.defaults field when true.
func LookupField(jsonName string, config bool) (Keyword, bool) {
	m := byLUNField
	if config {
		m = byConfigField
	}
	i, ok := m[jsonName]
	if !ok {
		return Keyword{}, false
	}
	return keywords[i], true
}

func lunKnob(name, field string, v ValueSpec, get func(*mpv1alpha1.LUNKnobs) Value) Keyword {
	return Keyword{Name: name, Sections: inLUN, Field: field, Scope: ScopeLUN, Value: v, lun: get}
}

func defaultsKnob(name, field string, sections Section, v ValueSpec, get func(*mpv1alpha1.MultipathDefaults) Value) Keyword {
	return Keyword{Name: name, Sections: sections, Field: field, Scope: ScopeDefaults, Value: v, defaults: get}
}

func withSections(k Keyword, s Section) Keyword {
	k.Sections = s
	return k
}

// Value builders, one per Go field shape the API uses; small enough to inline into each row's
// accessor, which the renderer calls for every knob of every LUN.

func ofString[T ~string](v T) Value { return Value{Set: v != "", Str: string(v)} }

func ofInt32(p *int32) Value {
	if p == nil {
		return Value{}
	}
	return Value{Set: true, IsInt: true, Int: int64(*p)}
}

func ofBool(p *bool) Value {
	if p == nil {
		return Value{}
	}
	return Value{Set: true, IsBool: true, Bool: *p}
}

func ofIntOrString(p *intstr.IntOrString) Value {
	switch {
	case p == nil:
		return Value{}
	case p.Type == intstr.Int:
		return Value{Set: true, IsInt: true, Int: int64(p.IntVal)}
	}
	return Value{Set: true, Str: p.StrVal}
}
