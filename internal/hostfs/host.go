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

package hostfs

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

const (
	overridesName = multipathconf.OverridesFileName
	baselineName  = multipathconf.BaselineFileName
)

// dropIns are the drop-ins the agent owns, under ConfDir.
var dropIns = []string{overridesName, baselineName}

// Step names a step of the transaction, for errors and metrics.
type Step string

// Steps, in order.
const (
	StepRecover     Step = "Recover"
	StepPlan        Step = "Plan"
	StepValidate    Step = "Validate"
	StepPreflight   Step = "Preflight"
	StepWrite       Step = "Write"
	StepReconfigure Step = "Reconfigure"
	StepPostCheck   Step = "PostCheck"
	StepCommit      Step = "Commit"
)

var (
	// ErrPostCheck: maps that existed before the apply are gone after reconfigure.
	ErrPostCheck = errors.New("maps are gone or renamed after reconfigure")
)

// ApplyError is a failed apply: the step, why, and whether the host is back where it was.
type ApplyError struct {
	// Step is the step that failed.
	Step Step
	// Err is why.
	Err error
	// RolledBack is true when files were written and have been restored (and multipathd
	// reconfigured again when it had been). False with a nil RollbackErr: nothing was written.
	RolledBack bool
	// RollbackErr is why the rollback did not finish; the pending marker then stays, and the
	// next Apply finishes it.
	RollbackErr error
	// Renames are the maps the operator does not manage that the config would rename, and the
	// open maps it did not name that the config would adopt under another name (Users set),
	// when Err wraps ErrWouldRename (nothing was written). Sorted by WWID.
	Renames []Rename
}

func (e *ApplyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed: %v", e.Step, e.Err)
	switch {
	case e.RollbackErr != nil:
		fmt.Fprintf(&b, "; rolling back failed too, the pending marker stays: %v", e.RollbackErr)
	case e.RolledBack:
		b.WriteString("; the previous files were restored")
	}
	return b.String()
}

func (e *ApplyError) Unwrap() []error {
	if e.RollbackErr != nil {
		return []error{e.Err, e.RollbackErr}
	}
	return []error{e.Err}
}

// Result is what an apply did.
type Result struct {
	// Hash is the hash of the config the host now runs.
	Hash string
	// Changed lists the configuration files written or removed, as host paths
	// (/etc/multipath/...). Empty when the disk already held the config.
	Changed []string
	// Added and Removed are the WWIDs added to and removed from /etc/multipath/wwids.
	Added, Removed []string
	// Validated is true when the real parser checked the candidate.
	Validated bool
	// ValidationSkipped says why the candidate was not checked, when it was not.
	ValidationSkipped string
	// Reconfigured is true when multipathd was told to reconfigure.
	Reconfigured bool
	// Recovered is true when an interrupted apply was rolled back first.
	Recovered bool
}

// Host applies rendered configs to the files under Root and has multipathd reload them. Its
// methods are safe for concurrent use; they also take a flock on the host, so that two agents
// never apply at once.
type Host struct {
	// Root is the host's / as the agent sees it.
	Root string
	// Client talks to multipathd.
	Client multipathd.Client
	// Validator checks the candidate before anything is written; nil skips the check.
	Validator Validator
	// SettleDelay is waited after reconfigure before the post-check, only when multipathd does
	// not answer "show daemon" (every tested release does; a stand-in daemon may not). Otherwise
	// the post-check waits for the daemon to say it is idle with no reconfigure pending.
	SettleDelay time.Duration
	// PostCheckTimeout is how long the post-check keeps looking for missing or renamed maps
	// once multipathd has settled; 0 looks once.
	PostCheckTimeout time.Duration
	// SettleTimeout bounds the wait for multipathd to finish reconfiguring (show daemon idle,
	// nothing pending); 0 means 30 seconds.
	SettleTimeout time.Duration
	// PostCheckInterval is the wait between two looks; 0 means 250 ms.
	PostCheckInterval time.Duration
	// TempDir is where the candidate for the validator is laid out; "" means os.TempDir().
	TempDir string
	// InUse says what holds an existing map open (mounts, devices stacked on it, swap, an LVM
	// physical volume, a process), in words, "" when nothing does; nil counts every map as
	// closed. An apply that would rename an open map the operator did not name is refused
	// (PredictAdoptions).
	InUse func(m multipathd.Map) string
	// Usable reports whether a map has a path that can carry I/O (the health rules, given by the
	// caller so that this package holds no health rule). The post-check wants such maps back;
	// nil wants every map back.
	Usable func(m multipathd.Map) bool

	mu sync.Mutex
	// checked is what the last drift check found unchanged, nil when nothing is known; any
	// apply forgets it. Guarded by mu.
	checked *checkedStamps
	// written is the config this Host last applied: while the disk holds its baseline, its
	// names are the previous names of the next apply, not parsed again (previousNames).
	written *multipathconf.Rendered
	// wrote is what that apply left in each transaction path (transactionPaths' order); nil
	// once another apply starts. A drift check that reads exactly that needs no plan.
	wrote []fileSum
	// racyWindow is defaultRacyWindow when zero (tests shorten it).
	racyWindow time.Duration
	// fullChecks counts the drift checks that read the files, plannedChecks those that also
	// planned them (for tests).
	fullChecks, plannedChecks int
}

func (h *Host) path(rel string) string { return filepath.Join(h.Root, filepath.FromSlash(rel)) }

// hostPath is how a path is named in messages: as on the host.
func hostPath(rel string) string { return "/" + rel }

// Apply makes the host run r; see the package documentation for the steps. A failure is an
// *ApplyError.
func (h *Host) Apply(ctx context.Context, r *multipathconf.Rendered) (Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	unlock, err := h.lock(ctx)
	if err != nil {
		return Result{}, &ApplyError{Step: StepPlan, Err: err}
	}
	defer unlock()
	h.checked = nil // the files may change: the next drift check reads them
	recovered, err := h.recover(ctx)
	if err != nil {
		return Result{Recovered: recovered}, &ApplyError{Step: StepRecover, Err: err}
	}
	res, err := h.apply(ctx, r)
	res.Recovered = recovered
	return res, err
}

// Pending reports whether a pending marker is on the host.
func (h *Host) Pending() (bool, error) {
	_, err := os.Lstat(h.path(PendingPath))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Applied returns the config recorded as applied, or nil when none is.
func (h *Host) Applied() (*AppliedConfig, error) {
	s, err := readSnapshot(h.path(AppliedPath))
	if err != nil || !s.Exists {
		return nil, err
	}
	a := &AppliedConfig{}
	if err := json.Unmarshal(s.Content, a); err != nil {
		return nil, fmt.Errorf("%s is unreadable: %w", hostPath(AppliedPath), err)
	}
	return a, nil
}

// Reassert applies r again, through the whole transaction, when the owned files drifted from
// it, and returns the files that had drifted (nil when none had: nothing was done).
func (h *Host) Reassert(ctx context.Context, r *multipathconf.Rendered) ([]string, Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	unlock, err := h.lock(ctx)
	if err != nil {
		return nil, Result{}, &ApplyError{Step: StepPlan, Err: err}
	}
	defer unlock()
	if pending, err := h.Pending(); err != nil || pending {
		// An interrupted apply is not drift: Apply recovers it.
		return nil, Result{}, err
	}
	// Stamped before the files are read: a change while they are read moves a stamp, and the
	// next check reads them again.
	same, stamps := h.unchangedSinceCheck(r.Hash)
	if same {
		return nil, Result{Hash: r.Hash}, nil
	}
	h.fullChecks++
	st, err := h.readState()
	if err != nil {
		return nil, Result{}, &ApplyError{Step: StepPlan, Err: err}
	}
	if w := h.written; w != nil && w.Hash == r.Hash && h.wrote != nil && slices.Equal(st.sums(), h.wrote) {
		// The files are byte for byte what this Host's apply of r left (their CRC-32C and
		// size): no drift, and no plan (at 10,000 LUNs most of a check, which the pass after
		// an apply makes while the files' stamps are too fresh to trust).
		if stamps != nil {
			h.checked = &checkedStamps{hash: r.Hash, stamps: stamps}
		}
		return nil, Result{Hash: r.Hash}, nil
	}
	h.plannedChecks++
	p, err := planFor(st, r)
	if err != nil {
		return nil, Result{}, &ApplyError{Step: StepPlan, Err: err}
	}
	if len(p.changed) == 0 {
		if stamps != nil && len(p.records) == 0 {
			h.checked = &checkedStamps{hash: r.Hash, stamps: stamps}
		}
		return nil, Result{Hash: r.Hash}, nil
	}
	h.checked = nil
	res, err := h.apply(ctx, r)
	return hostPaths(p.changed), res, err
}

func hostPaths(rel []string) []string {
	if len(rel) == 0 {
		return nil
	}
	out := make([]string, len(rel))
	for i, p := range rel {
		out[i] = hostPath(p)
	}
	return out
}

// hostState is the transaction's files as they are on disk.
type hostState struct {
	files map[string]snapshot
	owned []string
}

// sums are the files' fileSums, in transactionPaths' order.
func (st *hostState) sums() []fileSum {
	out := make([]fileSum, len(transactionPaths))
	for i, p := range transactionPaths {
		out[i] = sumOf(st.files[p])
	}
	return out
}

func (h *Host) readState() (*hostState, error) {
	st := &hostState{files: make(map[string]snapshot, len(transactionPaths))}
	for _, p := range transactionPaths {
		s, err := readSnapshot(h.path(p))
		if err != nil {
			return nil, err
		}
		st.files[p] = s
	}
	if s := st.files[OwnedWWIDsPath]; s.Exists {
		owned, err := parseOwned(s.Content)
		if err != nil {
			return nil, fmt.Errorf("ownership record %s: %w", hostPath(OwnedWWIDsPath), err)
		}
		st.owned = owned
	}
	return st, nil
}

// plan is what an apply will write.
type plan struct {
	target AppliedConfig
	// want holds the new content of every transaction path.
	want map[string]snapshot
	// changed lists the configuration paths (drop-ins, wwids) that differ from the disk.
	changed []string
	// records lists the record paths (owned-wwids, applied) that differ from the disk.
	records []string
	wwids   WWIDsPlan
	// wwidsFrom is the wwids file's content wwids was planned from (nil: no file).
	wwidsFrom []byte
}

// planFor compares r with the disk. It refuses a config holding a file the agent does not own
// or a WWID that cannot be written safely.
func planFor(st *hostState, r *multipathconf.Rendered) (*plan, error) {
	if r == nil {
		return nil, errors.New("no rendered config")
	}
	if len(r.Hash) != 64 {
		return nil, fmt.Errorf("rendered config hash %q is not a sha256", r.Hash)
	}
	if _, err := hex.DecodeString(r.Hash); err != nil {
		return nil, fmt.Errorf("rendered config hash %q is not a sha256", r.Hash)
	}
	p := &plan{target: AppliedConfig{Name: r.ConfigMapName(), Hash: r.Hash}, want: map[string]snapshot{}}
	for _, f := range r.Files {
		switch f.Name {
		case overridesName, baselineName:
			p.want[ConfDir+"/"+f.Name] = snapshot{Exists: true, Mode: fileMode, Content: []byte(f.Content)}
		case multipathconf.WWIDsFileName:
		default:
			return nil, fmt.Errorf("rendered config holds %q, which is not a file the agent owns", f.Name)
		}
	}
	for _, name := range dropIns {
		if _, ok := p.want[ConfDir+"/"+name]; !ok {
			p.want[ConfDir+"/"+name] = snapshot{}
		}
	}

	cur := st.files[WWIDsPath]
	var content []byte
	if cur.Exists {
		content = cur.Content
		if content == nil {
			content = []byte{}
		}
	}
	wp, err := ReconcileWWIDs(content, st.owned, r.WWIDs)
	if err != nil {
		return nil, err
	}
	p.wwids, p.wwidsFrom = wp, content
	mode := fileMode
	if cur.Exists {
		mode = cur.Mode
	}
	p.want[WWIDsPath] = snapshot{Exists: wp.Content != nil, Mode: mode, Content: wp.Content}
	if len(wp.Owned) > 0 {
		p.want[OwnedWWIDsPath] = snapshot{Exists: true, Mode: fileMode, Content: formatOwned(wp.Owned)}
	} else {
		p.want[OwnedWWIDsPath] = snapshot{}
	}
	applied, _ := json.Marshal(p.target)
	p.want[AppliedPath] = snapshot{Exists: true, Mode: fileMode, Content: append(applied, '\n')}

	for _, path := range transactionPaths {
		if st.files[path].equal(p.want[path]) {
			continue
		}
		switch path {
		case OwnedWWIDsPath, AppliedPath:
			p.records = append(p.records, path)
		default:
			p.changed = append(p.changed, path)
		}
	}
	return p, nil
}

// apply runs the transaction; the caller holds the locks and has recovered any marker.
func (h *Host) apply(ctx context.Context, r *multipathconf.Rendered) (res Result, retErr error) {
	log := logr.FromContextOrDiscard(ctx)
	h.wrote = nil
	st, err := h.readState()
	if err != nil {
		return res, &ApplyError{Step: StepPlan, Err: err}
	}
	p, err := planFor(st, r)
	if err != nil {
		return res, &ApplyError{Step: StepPlan, Err: err}
	}
	res.Hash = r.Hash
	if len(p.changed) == 0 {
		// The disk holds the config: no write, no reconfigure. Only the records may lag (a
		// hand-made entry that became desired, the name of a config with the same files).
		for _, path := range p.records {
			if _, err := restore(h.path(path), p.want[path]); err != nil {
				return res, &ApplyError{Step: StepCommit, Err: err}
			}
		}
		return res, nil
	}

	var printed []byte // the candidate's merged config, when the validator prints it
	if h.Validator != nil {
		var err error
		switch printed, err = h.validate(ctx, p); {
		case err == nil:
			res.Validated = true
		case errors.Is(err, ErrParserUnavailable):
			res.ValidationSkipped = err.Error()
			log.V(2).Info("Applying without the real parser's check", "reason", err.Error())
		default:
			return res, &ApplyError{Step: StepValidate, Err: err}
		}
	}

	before, err := multipathd.ShowMaps(ctx, h.Client)
	if err != nil {
		return res, &ApplyError{Step: StepPreflight, Err: err}
	}
	// Before anything is written: an open map the host named itself that the candidate would
	// take over under another name (a new MultipathWWID for a LUN the host already assembles
	// and has mounted as mpatha) ...
	// The managed names of the baseline on disk, parsed once (1.5 MB at 10,000 LUNs).
	previous := h.previousNames(st)
	renames := PredictAdoptions(before, r.Names, previous, h.InUse)
	if printed != nil {
		// ... and the names multipathd would give the maps the operator does not manage under
		// the candidate, against their names now (an upgrade from a render that forced
		// user_friendly_names no, a host whose bindings differ, ...).
		predicted, err := h.predictRenames(printed, before, previous, r)
		if err != nil {
			return res, &ApplyError{Step: StepPreflight, Err: err}
		}
		renames = append(renames, predicted...)
		slices.SortStableFunc(renames, func(a, b Rename) int { return strings.Compare(a.WWID, b.WWID) })
	}
	if len(renames) > 0 {
		msgs := make([]string, len(renames))
		for i, rn := range renames {
			msgs[i] = rn.String()
		}
		return res, &ApplyError{Step: StepPreflight, Err: fmt.Errorf("%w: %s", ErrWouldRename, strings.Join(msgs, "; ")), Renames: renames}
	}
	want := postCheckWant{
		required: requiredMaps(before, p.wwids.Removed, h.Usable),
		names:    expectedNames(before, previous, r.Names),
		rendered: r.Names,
	}

	if err := ensureDir(h.path(ConfDir)); err != nil {
		return res, &ApplyError{Step: StepWrite, Err: err}
	}
	marker := &pendingMarker{Version: markerVersion, Target: p.target}
	for _, path := range transactionPaths {
		if path == WWIDsPath {
			continue // shared with multipath-tools: undone by delta (marker.WWIDs), never by snapshot
		}
		s := st.files[path]
		marker.Previous = append(marker.Previous, backupFile{Path: path, Exists: s.Exists, Mode: s.Mode, Content: s.Content})
	}
	if err := h.writeMarker(marker); err != nil {
		return res, &ApplyError{Step: StepWrite, Err: fmt.Errorf("writing the pending marker: %w", err)}
	}

	// Undo of the whole transaction. Deferred first, so it runs last: after every step's own
	// undo below has restored its files, multipathd is reconfigured again (when it had been)
	// and the marker removed. Anything that fails keeps the marker for the next Apply.
	var undoErrs []error
	reconfigured := false
	defer func() {
		if retErr == nil {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if reconfigured && len(undoErrs) == 0 {
			log.Info("Reconfiguring multipathd with the restored files")
			if err := h.Client.Reconfigure(rctx); err != nil {
				undoErrs = append(undoErrs, fmt.Errorf("reconfigure after restoring the files: %w", err))
			}
		}
		if len(undoErrs) == 0 {
			if err := h.removeMarker(); err != nil {
				undoErrs = append(undoErrs, err)
			}
		}
		var ae *ApplyError
		if errors.As(retErr, &ae) {
			ae.RolledBack = len(undoErrs) == 0
			ae.RollbackErr = errors.Join(undoErrs...)
		}
		res.Changed, res.Added, res.Removed, res.Reconfigured = nil, nil, nil, reconfigured
	}()
	undo := func(paths ...string) {
		if retErr == nil {
			return
		}
		for _, path := range paths {
			if prev, ok := marker.snapshot(path); ok {
				if _, err := restore(h.path(path), prev); err != nil {
					undoErrs = append(undoErrs, fmt.Errorf("restoring %s: %w", hostPath(path), err))
				}
			}
		}
	}

	// Drop-ins.
	defer undo(ConfDir+"/"+overridesName, ConfDir+"/"+baselineName)
	for _, path := range p.changed {
		if path == WWIDsPath {
			continue
		}
		want := p.want[path]
		log.V(1).Info("Writing drop-in", "path", hostPath(path), "remove", !want.Exists)
		if want.Exists {
			err = writeAtomic(h.path(path), want.Content, want.Mode)
		} else {
			err = removeDurably(h.path(path))
		}
		if err != nil {
			return res, &ApplyError{Step: StepWrite, Err: err}
		}
		res.Changed = append(res.Changed, hostPath(path))
	}

	// /etc/multipath/wwids and the ownership record. The wwids edit is undone by reversing
	// what was really changed, in place under the lock, so that entries another writer added
	// meanwhile stay.
	defer undo(OwnedWWIDsPath)
	defer func() {
		if retErr == nil || marker.WWIDs == nil {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := h.undoWWIDs(rctx, *marker.WWIDs); err != nil {
			undoErrs = append(undoErrs, fmt.Errorf("undoing the %s edit: %w", hostPath(WWIDsPath), err))
		}
	}()
	owned, wwids := p.want[OwnedWWIDsPath], st.files[WWIDsPath]
	if slices.Contains(p.changed, WWIDsPath) {
		wp, err := h.reconcileWWIDsFile(ctx, marker, st.owned, r.WWIDs, p.want[WWIDsPath].Mode, wwidsPlanned{from: p.wwidsFrom, plan: p.wwids})
		if err != nil {
			return res, &ApplyError{Step: StepWrite, Err: err}
		}
		res.Changed = append(res.Changed, hostPath(WWIDsPath))
		res.Added, res.Removed = wp.Added, wp.Removed
		wwids = snapshot{Exists: true, Content: wp.Content}
		if !slices.Equal(wp.Owned, p.wwids.Owned) { // else the plan's record is this one
			owned = snapshot{}
			if len(wp.Owned) > 0 {
				owned = snapshot{Exists: true, Mode: fileMode, Content: formatOwned(wp.Owned)}
			}
		}
	}
	if _, err := restore(h.path(OwnedWWIDsPath), owned); err != nil {
		return res, &ApplyError{Step: StepWrite, Err: err}
	}

	// multipathd.
	reconfigured = true
	log.Info("Reconfiguring multipathd", "config", p.target.Name, "files", res.Changed)
	if err := h.Client.Reconfigure(ctx); err != nil {
		return res, &ApplyError{Step: StepReconfigure, Err: err}
	}
	res.Reconfigured = true
	if err := h.postCheck(ctx, want); err != nil {
		return res, &ApplyError{Step: StepPostCheck, Err: err}
	}

	// Commit.
	defer undo(AppliedPath)
	if _, err := restore(h.path(AppliedPath), p.want[AppliedPath]); err != nil {
		return res, &ApplyError{Step: StepCommit, Err: err}
	}
	if err := h.removeMarker(); err != nil {
		return res, &ApplyError{Step: StepCommit, Err: fmt.Errorf("removing the pending marker: %w", err)}
	}
	h.written = r
	h.wrote = make([]fileSum, len(transactionPaths))
	for i, path := range transactionPaths {
		switch path {
		case WWIDsPath:
			h.wrote[i] = sumOf(wwids)
		case OwnedWWIDsPath:
			h.wrote[i] = sumOf(owned)
		default:
			h.wrote[i] = sumOf(p.want[path])
		}
	}
	return res, nil
}

// recover rolls back a pending marker's transaction; the caller holds the locks.
func (h *Host) recover(ctx context.Context) (bool, error) {
	m, err := h.readMarker()
	if err != nil || m == nil {
		return false, err
	}
	logr.FromContextOrDiscard(ctx).Info("Rolling back an interrupted apply", "config", m.Target.Name)
	for _, path := range transactionPaths {
		if path == WWIDsPath && m.WWIDs != nil {
			if err := h.undoWWIDs(ctx, *m.WWIDs); err != nil {
				return true, fmt.Errorf("undoing the %s edit of the pending marker: %w", hostPath(path), err)
			}
			continue
		}
		if prev, ok := m.snapshot(path); ok {
			var err error
			if path == WWIDsPath && prev.Exists {
				// A marker of an older agent: its byte-for-byte backup, written in place under the lock.
				err = h.editWWIDs(ctx, prev.Mode, func([]byte) ([]byte, error) { return prev.Content, nil })
			} else {
				_, err = restore(h.path(path), prev)
			}
			if err != nil {
				return true, fmt.Errorf("restoring %s from the pending marker: %w", hostPath(path), err)
			}
		}
	}
	// The interrupted agent may or may not have reconfigured: reconfigure, to be sure multipathd
	// runs what the disk now holds.
	if err := h.Client.Reconfigure(ctx); err != nil {
		return true, fmt.Errorf("restored the files an interrupted apply of %s had changed, but reconfigure failed: %w", m.Target.Name, err)
	}
	if err := h.removeMarker(); err != nil {
		return true, fmt.Errorf("removing the pending marker: %w", err)
	}
	return true, nil
}

// validate lays the candidate out in a temp directory and hands it to the validator. When the
// validator can print the merged config, it returns it.
func (h *Host) validate(ctx context.Context, p *plan) ([]byte, error) {
	dir, err := os.MkdirTemp(h.TempDir, "kube-multipath-candidate-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParserUnavailable, err)
	}
	defer os.RemoveAll(dir)
	confd := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(confd, dirMode); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(h.path(ConfDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if slices.Contains(dropIns, name) || !strings.HasSuffix(name, ".conf") || !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(h.path(ConfDir), name))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(confd, name), b, fileMode); err != nil {
			return nil, err
		}
	}
	for _, name := range dropIns {
		if want := p.want[ConfDir+"/"+name]; want.Exists {
			if err := os.WriteFile(filepath.Join(confd, name), want.Content, fileMode); err != nil {
				return nil, err
			}
		}
	}
	if err := ensureDir(h.path(EtcMultipathDir)); err != nil {
		return nil, err
	}
	if err := h.Validator.Validate(ctx, dir, h.path(EtcMultipathDir)); err != nil {
		return nil, err
	}
	if cp, ok := h.Validator.(ConfigPrinter); ok {
		out, err := cp.PrintConfig(ctx, dir)
		if err != nil {
			return nil, fmt.Errorf("printing the candidate's merged config: %w", err)
		}
		return out, nil
	}
	return nil, nil
}

// predictRenames predicts the renames of maps neither the candidate nor the config it replaces
// manages (PredictRenames), from the candidate's merged config and the host's bindings file;
// previous are the names the baseline on disk manages (previousNames).
func (h *Host) predictRenames(printed []byte, before []multipathd.Map, previous map[string]string, r *multipathconf.Rendered) ([]Rename, error) {
	cfg, err := ParseEffectiveConfig(printed)
	if err != nil {
		return nil, err
	}
	managed := func(wwid string) bool {
		_, now := r.Names[wwid]
		_, was := previous[wwid]
		return now || was
	}
	return PredictRenames(before, cfg, managed, h.bindingsPath(cfg))
}

func fcntlLock(ctx context.Context, f *os.File) error {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	for {
		err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
			return err
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// lock takes the host-wide flock, waiting for another agent's apply to end.
func (h *Host) lock(ctx context.Context) (func(), error) {
	if err := ensureDir(h.path(StateDir)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(h.path(LockPath), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", hostPath(LockPath), err)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("waiting for another apply to release %s: %w", hostPath(LockPath), err)
		}
	}
}
