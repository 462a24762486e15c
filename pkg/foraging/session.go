package foraging

import (
	"context"
	"fmt"
	"io"
	"math"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// tableKinds are the session tables, by base file name (without .parquet or .csv).
var tableKinds = []string{"df_trials", "df_events", "df_fip"}

// Trial is one row of df_trials, reduced to what the analysis uses.
type Trial struct {
	// Choice is 0 left, 1 right, 2 ignore.
	Choice float64
	// Rewarded is earned_reward.
	Rewarded bool
	// GoCue and ChoiceTime are in seconds in the session (ChoiceTime NaN when ignored).
	GoCue, ChoiceTime float64
	// QChosen and RPE are the model's chosen value and RPE_earned.
	QChosen, RPE float64
	// NumRewardPast is the signed run length of rewarded/unrewarded trials.
	NumRewardPast float64
}

// Finished reports whether the animal chose a side.
func (t Trial) Finished() bool {
	return (t.Choice == 0 || t.Choice == 1) && !math.IsNaN(t.ChoiceTime)
}

// Session is one session of one mouse: its trials and the photometry table.
type Session struct {
	// ID is the ses_idx, <subject>_<YYYY-MM-DD>.
	ID string
	// Date is the session's day; Week counts weeks from the first session (1-based).
	Date time.Time
	Week int
	// Dir is where the tables were found.
	Dir string
	// Trials are all rows of df_trials, sorted by go cue.
	Trials []Trial
	// FIP is df_fip, nil when the session has none.
	FIP *Table
	// Licks counts left and right lick events of df_events (-1 without df_events).
	Licks int
}

// Finished counts the finished trials.
func (s *Session) Finished() int {
	n := 0
	for _, t := range s.Trials {
		if t.Finished() {
			n++
		}
	}
	return n
}

// sessionFiles are the table files found in one folder.
type sessionFiles struct {
	dir   string
	files map[string]storage.URL
}

// FindTables lists the session tables of a job: every df_trials/df_events/df_fip .parquet
// or .csv under each asset location (s3_location), plus any such file named in
// file_location, so the job needs no --file_extension. Files are grouped by their folder,
// one folder per session; a .parquet wins over a .csv of the same table.
func FindTables(ctx context.Context, store storage.Store, j job.Job) ([]sessionFiles, error) {
	byDir := map[string]*sessionFiles{}
	add := func(u storage.URL, name string) {
		base := path.Base(name)
		ext := path.Ext(base)
		if ext != ".parquet" && ext != ".csv" {
			return
		}
		kind := strings.TrimSuffix(base, ext)
		known := false
		for _, k := range tableKinds {
			known = known || k == kind
		}
		if !known {
			return
		}
		dir := path.Dir(name)
		sf := byDir[dir]
		if sf == nil {
			sf = &sessionFiles{dir: dir, files: map[string]storage.URL{}}
			byDir[dir] = sf
		}
		if _, dup := sf.files[kind]; !dup || ext == ".parquet" {
			sf.files[kind] = u
		}
	}
	for _, f := range j.FileLocation {
		u, err := storage.Parse(f)
		if err != nil {
			return nil, fmt.Errorf("job file_location: %w", err)
		}
		add(u, f)
	}
	for _, loc := range j.S3Location {
		prefix, err := storage.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("job s3_location: %w", err)
		}
		err = store.List(ctx, prefix, func(o storage.Object) error {
			add(o.URL, strings.TrimRight(loc, "/")+"/"+o.Rel)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", loc, err)
		}
	}
	out := make([]sessionFiles, 0, len(byDir))
	for _, sf := range byDir {
		out = append(out, *sf)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].dir < out[b].dir })
	return out, nil
}

func readURL(ctx context.Context, store storage.Store, u storage.URL) (*Table, error) {
	r, err := store.Open(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("opening table: %w", err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading table: %w", err)
	}
	name := u.Path
	if u.Scheme == storage.SchemeS3 {
		name = "s3://" + u.Bucket + "/" + u.Key
	}
	t, err := ReadTable(data, name)
	if t != nil {
		for _, n := range t.Notes {
			zerolog.Ctx(ctx).Debug().Str("table", name).Msg(n)
		}
	}
	return t, err
}

var sesDate = regexp.MustCompile(`(\d{4}-\d{2}-\d{2})$`)

// LoadSession reads one folder's tables into a Session. A folder without df_trials, or a
// df_trials without the needed columns, is an error; a missing df_events or df_fip is a
// warning (reported through warn).
func LoadSession(ctx context.Context, store storage.Store, sf sessionFiles, warn func(string, ...any)) (*Session, error) {
	u, ok := sf.files["df_trials"]
	if !ok {
		return nil, fmt.Errorf("session folder %s: no df_trials table (.parquet or .csv)", sf.dir)
	}
	tt, err := readURL(ctx, store, u)
	if err != nil {
		return nil, err
	}
	s := &Session{Dir: sf.dir, Licks: -1}
	if s.Trials, err = parseTrials(tt); err != nil {
		return nil, err
	}
	s.ID = path.Base(sf.dir)
	if ids, err := tt.String("ses_idx"); err == nil && len(ids) > 0 && ids[0] != "" {
		s.ID = ids[0]
	}
	m := sesDate.FindString(s.ID)
	if m == "" {
		return nil, fmt.Errorf("%s: session %q: no date (want ses_idx <subject>_<YYYY-MM-DD>)", tt.Name, s.ID)
	}
	if s.Date, err = time.Parse("2006-01-02", m); err != nil {
		return nil, fmt.Errorf("%s: session %q: %w", tt.Name, s.ID, err)
	}
	if s.Finished() == 0 {
		return nil, fmt.Errorf("%s: session %s has no finished trials", tt.Name, s.ID)
	}
	if eu, ok := sf.files["df_events"]; ok {
		et, err := readURL(ctx, store, eu)
		if err != nil {
			return nil, err
		}
		ev, err := et.String("event")
		if err != nil {
			return nil, err
		}
		s.Licks = 0
		for _, e := range ev {
			if e == "left_lick_time" || e == "right_lick_time" {
				s.Licks++
			}
		}
	} else {
		warn("session %s: no df_events table in %s", s.ID, sf.dir)
	}
	if fu, ok := sf.files["df_fip"]; ok {
		if s.FIP, err = readURL(ctx, store, fu); err != nil {
			return nil, err
		}
		for _, c := range []string{"timestamps", "data", "event"} {
			if !s.FIP.Has(c) {
				return nil, fmt.Errorf("%s: missing column %q", s.FIP.Name, c)
			}
		}
	} else {
		warn("session %s: no df_fip table in %s: behaviour only", s.ID, sf.dir)
	}
	return s, nil
}

func parseTrials(t *Table) ([]Trial, error) {
	cols := map[string][]float64{}
	for _, c := range []string{"choice", "earned_reward", "goCue_start_time_in_session", "choice_time_in_session", "Q_chosen"} {
		v, err := t.Float(c)
		if err != nil {
			return nil, err
		}
		cols[c] = v
	}
	rpe, err := t.Float("RPE_earned")
	if err != nil {
		rpe = make([]float64, t.Rows)
		for i := range rpe {
			rpe[i] = cols["earned_reward"][i] - cols["Q_chosen"][i]
		}
	}
	trials := make([]Trial, t.Rows)
	for i := range trials {
		trials[i] = Trial{
			Choice:     cols["choice"][i],
			Rewarded:   cols["earned_reward"][i] == 1,
			GoCue:      cols["goCue_start_time_in_session"][i],
			ChoiceTime: cols["choice_time_in_session"][i],
			QChosen:    cols["Q_chosen"][i],
			RPE:        rpe[i],
		}
		if math.IsNaN(trials[i].GoCue) {
			return nil, fmt.Errorf("%s: row %d: goCue_start_time_in_session is missing", t.Name, i)
		}
	}
	if nrp, err := t.Float("num_reward_past"); err == nil {
		for i := range trials {
			trials[i].NumRewardPast = nrp[i]
		}
	} else {
		rew := make([]bool, len(trials))
		for i, tr := range trials {
			rew[i] = tr.Rewarded
		}
		for i, n := range RunLengths(rew) {
			trials[i].NumRewardPast = float64(n)
		}
	}
	sort.SliceStable(trials, func(a, b int) bool { return trials[a].GoCue < trials[b].GoCue })
	return trials, nil
}

// Channel is one photometry trace of a session, sorted by time.
type Channel struct {
	Times, Data []float64
}

// ChannelTrace returns the samples of df_fip whose event is name, sorted by time; ok is
// false when there are none.
func ChannelTrace(fip *Table, name string) (Channel, bool, error) {
	ts, err := fip.Float("timestamps")
	if err != nil {
		return Channel{}, false, err
	}
	data, err := fip.Float("data")
	if err != nil {
		return Channel{}, false, err
	}
	ev, err := fip.String("event")
	if err != nil {
		return Channel{}, false, err
	}
	var idx []int
	for i, e := range ev {
		if e == name {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return Channel{}, false, nil
	}
	sort.SliceStable(idx, func(a, b int) bool { return ts[idx[a]] < ts[idx[b]] })
	c := Channel{Times: make([]float64, len(idx)), Data: make([]float64, len(idx))}
	for k, i := range idx {
		c.Times[k], c.Data[k] = ts[i], data[i]
	}
	return c, true, nil
}
