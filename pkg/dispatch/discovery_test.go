package dispatch

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// keyLister lists keys verbatim, as S3 does: a key is any string and the prefix matches
// byte for byte ("p//a/" is not "p/a/"). The devstack's versitygw cannot stand in here:
// its file-system backend stores "p//a/x" as "p/a/x".
type keyLister []string

func (l keyLister) List(_ context.Context, prefix storage.URL, fn func(storage.Object) error) error {
	dir := prefix.Key + "/"
	for _, k := range l {
		if strings.HasPrefix(k, dir) {
			u := prefix
			u.Key = k
			if err := fn(storage.Object{URL: u, Rel: strings.TrimPrefix(k, dir)}); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestDiscoveryKeepsKeysAsTheyAre(t *testing.T) {
	keys := keyLister{"p//asset/w.nwb", "p/asset/other.nwb", "p/./dot/v.nwb", "q/a..b/x.nwb/.zattrs", "q/a..b/x.nwb/0/0"}
	tests := []struct {
		location string
		want     []string
	}{
		{"s3://b/p//asset", []string{"s3://b/p//asset/w.nwb"}},
		{"s3://b/p/asset", []string{"s3://b/p/asset/other.nwb"}},
		{"s3://b/p/./dot", []string{"s3://b/p/./dot/v.nwb"}},
		{"s3://b/q/a..b", []string{"s3://b/q/a..b/x.nwb"}},
	}
	for _, tt := range tests {
		t.Run(tt.location, func(t *testing.T) {
			d := &dispatcher{opts: Options{FileExtension: ".nwb", SplitFiles: true}, lister: keys}
			res, err := d.discover(context.Background(), job.Job{S3Location: []string{tt.location}, DocDBRecordID: []string{"r"}, AssetName: []string{"n"}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, j := range res.jobs {
				got = append(got, j.FileLocation...)
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tt.want) || len(res.noFiles) != 0 {
				t.Fatalf("files %q (no files under %q), want %q", got, res.noFiles, tt.want)
			}
		})
	}
}
