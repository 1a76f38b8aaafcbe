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

// Package consumers tells which allow-listed WWIDs a PersistentVolume consumes. It holds the one
// rule the render controller (status.consumers, the InUse condition), the webhook (refusing to
// delete or re-alias a consumed LUN) and the CLI share. It has no Kubernetes client.
//
// A PersistentVolume consumes a WWID when any of these name it:
//
//   - an entry of spec.fc.wwids;
//   - spec.local.path, or a value of spec.csi.volumeAttributes, that is a multipath device path:
//     /dev/mapper/<name>, /dev/disk/by-id/dm-name-<name> (name = the WWID or its alias),
//     /dev/disk/by-id/dm-uuid-mpath-<wwid>, or a partition of one of those (below); or a by-id
//     link of the LUN: /dev/disk/by-id/scsi-<wwid> or /dev/disk/by-id/wwn-0x<naa> (below), or
//     its partition link <link>-part<N>;
//   - a value of spec.csi.volumeAttributes equal to the WWID;
//   - spec.csi.volumeHandle equal to the WWID, or ending in it after its last ':' or '/' (below);
//   - an entry of the annotation multipath.kube-multipath.io/wwid (mpv1alpha1.WWIDAnnotation), a
//     comma-separated list of WWIDs, blanks around entries ignored.
//
// Decisions:
//
//   - Case-insensitive everywhere: WWIDs and aliases are compared lowercased, so
//     3600A098... and 3600a098... are the same LUN (the webhook compares them that way too).
//     Aliases are matched case-insensitively as well; /dev/mapper names are case-sensitive on
//     the node, so this can only over-protect (report a consumer that is not one), never miss one.
//   - spec.fc.wwids are matched exactly against the allow-listed WWID, NAA type digit included.
//     Kubernetes' FC volume plugin (pkg/volume/fc/fc_util.go, findDiskWWIDs) looks each entry up
//     as /dev/disk/by-id/scsi-<wwid>, comparing the file name exactly; udev names that link
//     scsi-$ID_SERIAL, and multipathd's default uid_attribute for SCSI is ID_SERIAL, the scsi_id
//     page 0x83 identifier prefixed with its designator type ("3" for NAA, as in the plugin's own
//     example 3600508b400105e210000900000490000 and in every captured multipathd output in
//     shared/fixtures/multipathd). So a working FC PV names exactly multipathd's WWID; one that
//     omitted the "3" would not find its disk. There is no "also without the leading 3" match:
//     no evidence calls for it, and it would let an EUI-64 ("2...") or T10 ("1...") WWID match the
//     wrong LUN.
//   - Only WWIDs are looked for in CSI attribute values and the annotation, not aliases: an alias
//     is a free word (for example "data") that an unrelated attribute may equal, whereas a device
//     path or a WWID is unambiguous. Values are compared whole (no substring search), and only
//     values that could be a WWID (the API's pattern ^[a-zA-Z0-9._:-]+$, at most 128 bytes) are
//     considered.
//   - Device paths are cleaned (path.Clean) first. A partition map made by kpartx,
//     <name>-part<N> or <name>p<N>, and its link /dev/disk/by-id/dm-uuid-part<N>-mpath-<wwid>,
//     consume the parent LUN. The whole name is tried before the partition suffix is stripped,
//     so an allow-listed alias that itself ends in p1 still matches exactly.
//   - The FC form targetWWNs plus lun names no WWID and is not matched.
//   - /dev/disk/by-id/scsi-<id>: udev's 60-persistent-storage.rules links scsi-$ID_SERIAL, and
//     ID_SERIAL is multipathd's WWID for SCSI (see spec.fc.wwids above), so <id> is compared
//     with the WWID as it is. /dev/disk/by-id/wwn-0x<naa>: the same rules link
//     wwn-$ID_WWN_WITH_EXTENSION, which scsi_id sets to "0x" and the NAA identifier in hex
//     (ID_WWN, plus ID_WWN_VENDOR_EXTENSION for a 16-byte NAA), without the designator type
//     digit "3" that ID_SERIAL puts before it. So wwn-0x600a0980383030534530000000000a01 is the
//     LUN multipathd calls 3600a0980383030534530000000000a01 (every SCSI WWID in
//     shared/fixtures/multipathd is such a "3" plus 32 hex digits; no fixture shows a wwn- link,
//     so the mapping is udev's and scsi_id's, not a capture's). Only hex after "0x" is read as an
//     NAA. Whether udev points these links at the map or at one of its paths, a volume that
//     names them uses the LUN, so either counts.
//   - spec.csi.volumeHandle is the driver's own string. It is read as naming a WWID only when
//     the whole handle, or its last segment after ':' or '/' (drivers that prefix an array or
//     pool: "<array>:<wwid>", "<pool>/<wwid>"), is a device identifier as multipathd spells
//     WWIDs: at least 16 hex digits (an NAA WWID with its "3", an EUI-64), or an NVMe "eui." or
//     "nvme." identifier; the comparison is then exact, ignoring case. Names, UUIDs with dashes,
//     short numbers and vendor-text (T10) WWIDs in a handle are not read: they are ambiguous,
//     and would put every CSI volume in the field index. A handle that carries the NAA without
//     its "3" is not matched either: no driver format is known here that would justify it.
//     Drivers whose handle names no WWID are matched through their volume attributes or the
//     annotation.
//   - spec.iscsi names a target portal, an IQN and a LUN number: the WWID is what the target
//     reports once a node has logged in, so no rule on the spec can find it. An iSCSI volume is
//     recognised through the annotation (whoever provisions it knows the WWID), and, wherever it
//     is attached, through the node: the agent reports the map open (mounted, held), which
//     protects the LUN as a consumer does (MultipathWWID status.openOn).
//
// Index is built once per render from the allow-list; WWIDsOf costs O(references in the PV),
// not O(LUNs). Refs gives the same references as lowercase keys without an index, for a
// controller-runtime field indexer: looking up Key(wwid) and Key(alias) returns a superset of the
// consumers of a LUN (an alias can equal a CSI attribute value), which the caller narrows with
// Index.WWIDsOf. Minimal and Transform strip a PersistentVolume to the fields this package reads,
// so that a cache of 10,000 PersistentVolumes stays small.
package consumers
