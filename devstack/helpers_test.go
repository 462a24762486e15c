package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestValidBucketName(t *testing.T) {
	for name, ok := range map[string]bool{
		"aind-analysis": true, "aind-open-data-devstack": true, "a.b-c": true,
		"ab": false, "Upper": false, "-lead": false, "trail-": false, "a..b": false,
		strings.Repeat("a", 64): false, "under_score": false,
	} {
		if err := validBucketName(name); (err == nil) != ok {
			t.Errorf("validBucketName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestCompactFerretMessage(t *testing.T) {
	if _, keep := compactFerretMessage("Response header: length: 121"); keep {
		t.Error("header dump kept")
	}
	if _, keep := compactFerretMessage("Response message:\n{\"errmsg\": \"no such command: 'endSessions'\",\n}"); keep {
		t.Error("endSessions dump kept")
	}
	msg, keep := compactFerretMessage("Response message:\n{\n  \"ok\": 0.0,\n  \"errmsg\": \"E11000 duplicate key \\\"x\\\"\",\n}")
	if !keep || msg != `error response: E11000 duplicate key \"x\"` {
		t.Errorf("got %q, %v", msg, keep)
	}
	if msg, keep := compactFerretMessage("something else"); !keep || msg != "something else" {
		t.Errorf("got %q, %v", msg, keep)
	}
}

func TestWriteEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "devstack.env")
	env := []envVar{{"A", "1"}, {"B", "mongodb://127.0.0.1:1/"}}
	if err := writeEnvFile(path, env); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "export A=1\nexport B=mongodb://127.0.0.1:1/\nexport DEVSTACK_READY=1\n"
	if string(got) != want {
		t.Errorf("env file = %q, want %q", got, want)
	}
	if err := writeEnvFile(path, []envVar{{"A", "has space"}}); err == nil {
		t.Error("value with a space accepted")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("leftover temporary files: %v", entries)
	}
}

func TestReadDocsKeepsStringIDs(t *testing.T) {
	docs, err := readDocs(filepath.Join("..", "testdata", "devstack", "docdb", "metadata_index", "data_assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 12 {
		t.Fatalf("got %d docs, want 12", len(docs))
	}
	for i, d := range docs {
		doc, ok := d.(bson.D)
		if !ok || len(doc) == 0 || doc[0].Key != "_id" {
			t.Fatalf("doc %d = %v, want a bson.D starting with _id", i, d)
		}
		if _, ok := doc[0].Value.(string); !ok {
			t.Errorf("doc %d _id is %T, want string", i, doc[0].Value)
		}
	}
}
