package results

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
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
	first := inputName(j.Inputs[0])
	if len(j.Inputs) > 1 {
		return fmt.Sprintf("%s +%d", first, len(j.Inputs)-1)
	}
	return first
}

// inputName is an input location's last path element (an asset's or a file's name).
func inputName(in string) string {
	in = strings.TrimRight(in, "/")
	return in[strings.LastIndex(in, "/")+1:]
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
	Label, Short, Dur string
	Inputs            []htmlInput
	Params            []htmlValue // flattened parameters
	Outs              []htmlValue // scalar outputs
	Nested            []htmlNested
	Images            []htmlPlot
}

// htmlInput is one input location, shown by its last path element.
type htmlInput struct{ Name, URL string }

// htmlValue is one row of a job's short key-value table.
type htmlValue struct{ Key, Value string }

// htmlNested is a list or object output, folded: its size and its JSON.
type htmlNested struct{ Key, Size, JSON string }

type htmlPlot struct {
	Name string
	Src  template.URL
}

// maxNestedJSON bounds one folded output's text on the page (the whole is in outputs.json).
const maxNestedJSON = 20000

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Run report: {{.Run.Summary}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}
table#jobs{table-layout:fixed;width:100%}
table#jobs td{overflow-wrap:anywhere}
table.kv{margin:0;width:100%}
table.kv th,table.kv td{border:none;border-bottom:1px solid #eee;padding:1px 4px;font-size:13px;background:none;font-weight:normal}
table.kv th{color:#555;width:45%}
th{background:#f3f3f3}
tr.failed td.status{background:#fdd;font-weight:bold}
tr.done td.status{background:#dfd}
tr.skipped td.status{background:#eee}
tr.dry-run td.status{background:#ffd}
code,pre{font-family:ui-monospace,monospace;font-size:12px}
pre{background:#f7f7f7;padding:6px;max-height:20em;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
details{margin:2px 0}
summary{cursor:pointer;font-size:13px}
.plots figure{margin:0 0 1em 0}
.plots img{display:block;max-width:100%;height:auto;border:1px solid #ddd}
</style></head>
<body>
<h1>Run report</h1>
<p>Source: <code>{{.Run.Source}}</code></p>
<table id="counts"><tr><th>status</th><th>jobs</th></tr>
{{range .Counts}}<tr><td>{{.Status}}</td><td class="count" data-status="{{.Status}}">{{.N}}</td></tr>
{{end}}<tr><th>total</th><th id="total">{{len .Run.Jobs}}</th></tr></table>
{{if .HasPlots}}<h2 id="plots">Plots</h2>
{{range .Jobs}}{{if .Images}}<div class="plots"><h3>{{.Label}} <code>{{.Short}}</code></h3>
{{range .Images}}<figure><img alt="{{.Name}}" src="{{.Src}}"><figcaption>{{.Name}}</figcaption></figure>
{{end}}</div>{{end}}{{end}}{{end}}<h2>Jobs</h2>
<table id="jobs"><colgroup><col style="width:14%"><col style="width:8%"><col style="width:6%"><col style="width:16%"><col style="width:22%"><col style="width:22%"><col style="width:6%"><col style="width:6%"></colgroup>
<thead><tr><th>job</th><th>hash</th><th>status</th><th>inputs</th><th>parameters</th><th>outputs</th><th>duration</th><th>reason</th></tr></thead>
<tbody>
{{range .Jobs}}<tr class="job {{.Status}}" data-status="{{.Status}}" data-hash="{{.Hash}}"><td class="label">{{.Label}}</td><td><code title="{{.Hash}}">{{.Short}}</code></td><td class="status">{{.Status}}</td><td>{{range .Inputs}}<div title="{{.URL}}">{{.Name}}</div>{{end}}</td><td>{{if .Params}}<table class="kv">{{range .Params}}<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>{{end}}</table>{{end}}</td><td class="outputs">{{if .Outs}}<table class="kv">{{range .Outs}}<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>{{end}}</table>{{end}}{{range .Nested}}<details class="nested"><summary>{{.Key}} ({{.Size}})</summary><pre>{{.JSON}}</pre></details>{{end}}</td><td>{{.Dur}}</td><td>{{.Reason}}{{if .LogTail}}<details><summary>log tail</summary><pre>{{.LogTail}}</pre></details>{{end}}</td></tr>
{{end}}</tbody></table>
</body></html>
`))

// WriteHTML writes the run's report as one self-contained page that fits a laptop screen:
// counts, every job's PNG plots embedded as data URIs, then the job table (one row per job,
// class and data-status naming its status; its inputs, parameters and scalar outputs as
// short tables, each list or object output folded; failures with their log tail).
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
		hj := htmlJob{Job: j, Label: label(j), Short: short(j.Hash), Dur: fmtDuration(j.Duration())}
		for _, in := range j.Inputs {
			hj.Inputs = append(hj.Inputs, htmlInput{Name: inputName(in), URL: in})
		}
		flat := map[string]any{}
		Flatten("", j.Parameters, flat)
		for _, k := range sortedKeys(flat) {
			hj.Params = append(hj.Params, htmlValue{k, cell(FormatValue(flat[k]), 80)})
		}
		for _, k := range sortedKeys(j.Outputs) {
			switch v := j.Outputs[k].(type) {
			case []any:
				hj.Nested = append(hj.Nested, nested(k, plural(len(v), "item"), v))
			case map[string]any:
				hj.Nested = append(hj.Nested, nested(k, plural(len(v), "key"), v))
			default:
				hj.Outs = append(hj.Outs, htmlValue{k, cell(FormatValue(v), 80)})
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

// nested folds a list or object output: its size and its indented JSON, cut to
// maxNestedJSON characters.
func nested(key, size string, v any) htmlNested {
	b, err := json.MarshalIndent(v, "", "  ")
	text := string(b)
	if err != nil {
		text = FormatValue(v)
	}
	if r := []rune(text); len(r) > maxNestedJSON {
		text = string(r[:maxNestedJSON]) + "\n… (cut: the whole is in " + result.OutputsFile + ")"
	}
	return htmlNested{Key: key, Size: size, JSON: text}
}

// plural is "1 key", "2 keys".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
