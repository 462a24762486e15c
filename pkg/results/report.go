package results

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// Summary is the run's one-line account.
func (r Run) Summary() string {
	return fmt.Sprintf("%d jobs: %d done, %d dry-run, %d skipped, %d failed",
		len(r.Jobs), r.Count(StatusDone), r.Count(StatusDryRun), r.Count(StatusSkipped), r.Count(StatusFailed))
}

func fmtDuration(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.Round(time.Millisecond).String()
}

func fmtMap(m map[string]any) string {
	flat := map[string]any{}
	Flatten("", m, flat)
	parts := make([]string, 0, len(flat))
	for _, k := range sortedKeys(flat) {
		if k == "file_location" {
			continue // the inputs' files: long, and in the inputs column already
		}
		parts = append(parts, k+"="+FormatValue(flat[k]))
	}
	return strings.Join(parts, ", ")
}

// label names a job for a reader: its job file's stem when known (skipped and failed
// jobs), else its first input asset's name and how many more it has.
func label(j Job) string {
	if j.Name != "" {
		return j.Name
	}
	if len(j.Inputs) == 0 {
		return short(j.Hash)
	}
	first := strings.TrimRight(j.Inputs[0], "/")
	first = first[strings.LastIndex(first, "/")+1:]
	if len(j.Inputs) > 1 {
		return fmt.Sprintf("%s +%d", first, len(j.Inputs)-1)
	}
	return first
}

// cell cuts a report cell to n characters.
func cell(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// fmtScalars is fmtMap without list and object values (a nested output is a curve or a
// table: in the result folder, not in a report cell).
func fmtScalars(m map[string]any) string {
	flat := map[string]any{}
	Flatten("", m, flat)
	parts := []string{}
	for _, k := range sortedKeys(flat) {
		switch flat[k].(type) {
		case []any, map[string]any:
			continue
		}
		parts = append(parts, k+"="+FormatValue(flat[k]))
	}
	return strings.Join(parts, ", ")
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// mdCell escapes a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", "<br>")
}

// WriteMarkdown writes the run's summary: counts, a job table, and each failure's log tail.
func (r Run) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Run report\n\nSource: `%s`\n\n", r.Source)
	fmt.Fprintf(&b, "| status | jobs |\n| --- | ---: |\n")
	for _, s := range []string{StatusDone, StatusDryRun, StatusSkipped, StatusFailed} {
		fmt.Fprintf(&b, "| %s | %d |\n", s, r.Count(s))
	}
	fmt.Fprintf(&b, "| **total** | **%d** |\n\n", len(r.Jobs))
	if d := r.End.Sub(r.Start); !r.Start.IsZero() && d > 0 {
		fmt.Fprintf(&b, "Jobs ran between %s and %s (%s).\n\n", r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), fmtDuration(d))
	}
	b.WriteString("## Jobs\n\n| job | hash | status | inputs | parameters | outputs | duration | reason |\n| --- | --- | --- | --- | --- | --- | ---: | --- |\n")
	for _, j := range r.Jobs {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s | %s | %s |\n", mdCell(label(j)), short(j.Hash), j.Status,
			mdCell(joinInputs(j.Inputs)), mdCell(cell(fmtMap(j.Parameters), 200)), mdCell(cell(fmtScalars(j.Outputs), 200)), fmtDuration(j.Duration()), mdCell(j.Reason))
	}
	for _, j := range r.Jobs {
		if j.Status != StatusFailed {
			continue
		}
		name := j.Name
		if name == "" {
			name = short(j.Hash)
		}
		fmt.Fprintf(&b, "\n## Failed: %s\n\n%s\n", name, j.Reason)
		if j.LogTail != "" {
			fmt.Fprintf(&b, "\n```\n%s\n```\n", strings.ReplaceAll(j.LogTail, "```", "'''"))
		}
	}
	plots := 0
	for _, j := range r.Jobs {
		plots += len(j.Plots)
	}
	if plots > 0 {
		fmt.Fprintf(&b, "\nPlots: %d (embedded in the HTML report).\n", plots)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// htmlJob is a job prepared for the page.
type htmlJob struct {
	Job
	Label, Short, Params, Outs, Inputs, Dur string
	Nested                                  []string // the list and object outputs' keys
	Images                                  []htmlPlot
}

type htmlPlot struct {
	Name string
	Src  template.URL
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Run report: {{.Run.Summary}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}
td.long{max-width:28em;overflow-wrap:anywhere}
table#jobs{table-layout:auto;max-width:100%}
th{background:#f3f3f3}
tr.failed td.status{background:#fdd;font-weight:bold}
tr.done td.status{background:#dfd}
tr.skipped td.status{background:#eee}
tr.dry-run td.status{background:#ffd}
code,pre{font-family:ui-monospace,monospace;font-size:12px}
pre{background:#f7f7f7;padding:6px;max-height:20em;overflow:auto;white-space:pre-wrap}
.plots img{max-width:100%;border:1px solid #ddd;margin:4px}
</style></head>
<body>
<h1>Run report</h1>
<p>Source: <code>{{.Run.Source}}</code></p>
<table id="counts"><tr><th>status</th><th>jobs</th></tr>
{{range .Counts}}<tr><td>{{.Status}}</td><td class="count" data-status="{{.Status}}">{{.N}}</td></tr>
{{end}}<tr><th>total</th><th id="total">{{len .Run.Jobs}}</th></tr></table>
<h2>Jobs</h2>
<table id="jobs"><thead><tr><th>job</th><th>hash</th><th>status</th><th>inputs</th><th>parameters</th><th>outputs</th><th>duration</th><th>reason</th></tr></thead>
<tbody>
{{range .Jobs}}<tr class="job {{.Status}}" data-status="{{.Status}}" data-hash="{{.Hash}}"><td>{{.Label}}</td><td><code title="{{.Hash}}">{{.Short}}</code></td><td class="status">{{.Status}}</td><td class="long">{{.Inputs}}</td><td class="long">{{.Params}}</td><td class="long">{{.Outs}}{{if .Nested}}<details><summary>{{len .Nested}} nested outputs (in outputs.json)</summary>{{range .Nested}}<code>{{.}}</code> {{end}}</details>{{end}}</td><td>{{.Dur}}</td><td>{{.Reason}}{{if .LogTail}}<details><summary>log tail</summary><pre>{{.LogTail}}</pre></details>{{end}}</td></tr>
{{end}}</tbody></table>
{{if .HasPlots}}<h2>Plots</h2>
{{range .Jobs}}{{if .Images}}<div class="plots"><h3>{{.Label}} <code>{{.Short}}</code></h3>
{{range .Images}}<figure><img alt="{{.Name}}" src="{{.Src}}"><figcaption>{{.Name}}</figcaption></figure>
{{end}}</div>{{end}}{{end}}{{end}}
</body></html>
`))

// WriteHTML writes the run's report as one self-contained page: counts, the job table
// (one row per job, class and data-status naming its status, failures with their log
// tail) and every job's PNG plots embedded as data URIs.
func (r Run) WriteHTML(w io.Writer) error {
	type count struct {
		Status string
		N      int
	}
	data := struct {
		Run      Run
		Counts   []count
		Jobs     []htmlJob
		HasPlots bool
	}{Run: r}
	for _, s := range []string{StatusDone, StatusDryRun, StatusSkipped, StatusFailed} {
		data.Counts = append(data.Counts, count{s, r.Count(s)})
	}
	for _, j := range r.Jobs {
		hj := htmlJob{Job: j, Label: label(j), Short: short(j.Hash), Params: cell(fmtMap(j.Parameters), 400), Outs: cell(fmtScalars(j.Outputs), 400),
			Inputs: joinInputs(j.Inputs), Dur: fmtDuration(j.Duration())}
		flat := map[string]any{}
		Flatten("", j.Outputs, flat)
		for _, k := range sortedKeys(flat) {
			switch flat[k].(type) {
			case []any, map[string]any:
				hj.Nested = append(hj.Nested, k)
			}
		}
		for _, p := range j.Plots {
			hj.Images = append(hj.Images, htmlPlot{Name: p.Name, Src: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(p.PNG))})
			data.HasPlots = true
		}
		data.Jobs = append(data.Jobs, hj)
	}
	return page.Execute(w, data)
}
