package foraging

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// ParameterSchema is the JSON Schema of the analysis parameters, with their defaults.
//
//go:embed parameter_schema.json
var ParameterSchema []byte

// OutputSchema is the JSON Schema of outputs.json.
//
//go:embed output_schema.json
var OutputSchema []byte

// Plot types accepted in Params.Plots.
const (
	PlotSessionPSTH = "session_psth"
	PlotRPEScatter  = "rpe_scatter"
	PlotLastN       = "last_n"
	PlotWeekly      = "weekly"
)

// Params are the analysis parameters (see ParameterSchema for the defaults).
type Params struct {
	// AnalysisName and AnalysisTag are the upstream template's descriptive parameters.
	AnalysisName string `json:"analysis_name"`
	AnalysisTag  string `json:"analysis_tag"`
	// Channels maps base channel names (G_0) to labels (NAc DA).
	Channels map[string]string `json:"channels"`
	// Preprocessing is the df_fip channel suffix; "raw" means none.
	Preprocessing string `json:"preprocessing"`
	// Window is the ETR window around choice, [start, end] s.
	Window [2]float64 `json:"window"`
	// GridHz is the ETR grid rate.
	GridHz float64 `json:"grid_hz"`
	// BaselineS is the baseline length before each go cue, s.
	BaselineS float64 `json:"baseline_s"`
	// ResponseWindow is where A_i is averaged, [start, end] s after choice.
	ResponseWindow [2]float64 `json:"response_window"`
	// LastN is how many of the latest sessions the last-N averages take.
	LastN int `json:"last_n"`
	// Plots lists the plots to draw.
	Plots []string `json:"plots"`
	// PearsonPairs lists channel pairs "<a>-<b>" for the rolling Pearson r.
	PearsonPairs []string `json:"pearson_pairs"`
}

// DefaultParams returns the defaults of ParameterSchema.
func DefaultParams() Params {
	p, err := ParseParams(nil)
	if err != nil {
		panic(err)
	}
	return p
}

// ParseParams reads parameters (as the wrapper passes them: validated, defaults filled,
// numbers possibly json.Number) over the schema's defaults.
func ParseParams(m map[string]any) (Params, error) {
	var schema struct {
		Properties map[string]struct {
			Default json.RawMessage `json:"default"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(ParameterSchema, &schema); err != nil {
		return Params{}, fmt.Errorf("parameter schema: %w", err)
	}
	merged := map[string]json.RawMessage{}
	for k, v := range schema.Properties {
		if v.Default != nil {
			merged[k] = v.Default
		}
	}
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			return Params{}, fmt.Errorf("parameter %s: %w", k, err)
		}
		merged[k] = b
	}
	b, _ := json.Marshal(merged)
	var p Params
	if err := json.Unmarshal(b, &p); err != nil {
		return Params{}, fmt.Errorf("parameters: %w", err)
	}
	switch {
	case len(p.Channels) == 0:
		return p, fmt.Errorf("parameter channels: no channel")
	case p.GridHz <= 0:
		return p, fmt.Errorf("parameter grid_hz: %v is not positive", p.GridHz)
	case p.Window[1] <= p.Window[0]:
		return p, fmt.Errorf("parameter window: %v is empty", p.Window)
	case p.ResponseWindow[1] < p.ResponseWindow[0]:
		return p, fmt.Errorf("parameter response_window: %v is empty", p.ResponseWindow)
	case p.LastN < 1:
		return p, fmt.Errorf("parameter last_n: %d < 1", p.LastN)
	}
	for _, pl := range p.Plots {
		switch pl {
		case PlotSessionPSTH, PlotRPEScatter, PlotLastN, PlotWeekly:
		default:
			return p, fmt.Errorf("parameter plots: unknown plot %q", pl)
		}
	}
	for _, pair := range p.PearsonPairs {
		a, b, ok := strings.Cut(pair, "-")
		if !ok {
			return p, fmt.Errorf("parameter pearson_pairs: %q is not <a>-<b>", pair)
		}
		for _, c := range []string{a, b} {
			if _, ok := p.Channels[c]; !ok {
				return p, fmt.Errorf("parameter pearson_pairs: channel %q of %q is not in channels", c, pair)
			}
		}
	}
	return p, nil
}

// ChannelNames returns the base channel names, sorted.
func (p Params) ChannelNames() []string {
	var out []string
	for c := range p.Channels {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// TraceName returns the df_fip event name of base channel c.
func (p Params) TraceName(c string) string {
	if p.Preprocessing == "raw" || p.Preprocessing == "" {
		return c
	}
	return c + "_" + p.Preprocessing
}

func (p Params) has(plot string) bool {
	for _, q := range p.Plots {
		if q == plot {
			return true
		}
	}
	return false
}
