package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/wiremessage"
)

// opMsgBytes encodes an OP_MSG with the Mongo driver's own encoder: a body (kind 0) and,
// when seqFirst, a document sequence (kind 1) before it, as the spec allows.
func opMsgBytes(body bsoncore.Document, seqFirst bool) []byte {
	idx, b := wiremessage.AppendHeaderStart(nil, 1, 0, wiremessage.OpMsg)
	b = wiremessage.AppendMsgFlags(b, 0)
	if seqFirst {
		b = wiremessage.AppendMsgSectionType(b, wiremessage.DocumentSequence)
		var seq []byte
		seq = append(seq, "documents\x00"...)
		doc := bsoncore.NewDocumentBuilder().AppendString("_id", "a").Build()
		seq = append(seq, doc...)
		b = bsoncore.AppendInt32(b, int32(4+len(seq)))
		b = append(b, seq...)
	}
	b = wiremessage.AppendMsgSectionType(b, wiremessage.SingleDocument)
	b = append(b, body...)
	return bsoncore.UpdateLength(b, idx, int32(len(b)))
}

// opQueryBytes encodes a legacy OP_QUERY on ns.
func opQueryBytes(ns string, query bsoncore.Document) []byte {
	idx, b := wiremessage.AppendHeaderStart(nil, 1, 0, wiremessage.OpQuery)
	b = wiremessage.AppendQueryFlags(b, 0)
	b = wiremessage.AppendQueryFullCollectionName(b, ns)
	b = wiremessage.AppendQueryNumberToSkip(b, 0)
	b = wiremessage.AppendQueryNumberToReturn(b, -1)
	b = append(b, query...)
	return bsoncore.UpdateLength(b, idx, int32(len(b)))
}

func TestWireCommandName(t *testing.T) {
	find := bsoncore.NewDocumentBuilder().AppendString("find", "c").AppendString("$db", "d").Build()
	insert := bsoncore.NewDocumentBuilder().AppendString("insert", "c").AppendString("$db", "d").Build()
	isMaster := bsoncore.NewDocumentBuilder().AppendInt32("isMaster", 1).Build()
	empty := bsoncore.NewDocumentBuilder().Build()
	compressedIdx, compressed := wiremessage.AppendHeaderStart(nil, 1, 0, wiremessage.OpCompressed)
	compressed = wiremessage.AppendCompressedOriginalOpCode(compressed, wiremessage.OpMsg)
	compressed = bsoncore.UpdateLength(compressed, compressedIdx, int32(len(compressed)))
	killIdx, kill := wiremessage.AppendHeaderStart(nil, 1, 0, wiremessage.OpKillCursors)
	kill = wiremessage.AppendKillCursorsZero(kill)
	kill = bsoncore.UpdateLength(kill, killIdx, int32(len(kill)))
	findMsg := opMsgBytes(find, false)

	tests := []struct {
		name string
		msg  []byte
		want string
	}{
		{"OP_MSG find", findMsg, "find"},
		{"OP_MSG insert, document sequence first", opMsgBytes(insert, true), "insert"},
		{"OP_MSG with an empty body", opMsgBytes(empty, false), "unknown"},
		{"OP_MSG cut inside the command name", findMsg[:wireHeaderLen+4+1+4+1+2], "unknown"},
		{"OP_MSG cut after the header", findMsg[:wireHeaderLen], "unknown"},
		{"OP_QUERY handshake on admin.$cmd", opQueryBytes("admin.$cmd", isMaster), "isMaster"},
		{"OP_QUERY on a collection", opQueryBytes("d.c", find), "OP_QUERY"},
		{"OP_COMPRESSED", compressed, "OP_COMPRESSED"},
		{"OP_KILL_CURSORS", kill, "opcode 2007"},
		{"shorter than a header", []byte{1, 2, 3}, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wireCommandName(tt.msg); got != tt.want {
				t.Errorf("wireCommandName = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzWireCommandName checks that no byte string makes the parser panic or read out of range.
func FuzzWireCommandName(f *testing.F) {
	f.Add(opMsgBytes(bsoncore.NewDocumentBuilder().AppendString("find", "c").Build(), true))
	f.Add(opQueryBytes("admin.$cmd", bsoncore.NewDocumentBuilder().AppendInt32("hello", 1).Build()))
	f.Fuzz(func(t *testing.T, b []byte) {
		if wireCommandName(b) == "" {
			t.Error("empty name")
		}
	})
}

func TestS3Operation(t *testing.T) {
	tests := []struct {
		method, target string
		copySource     bool
		want           string
	}{
		{"GET", "/", false, "ListBuckets"},
		{"PUT", "/b", false, "CreateBucket"},
		{"HEAD", "/b", false, "HeadBucket"},
		{"DELETE", "/b", false, "DeleteBucket"},
		{"GET", "/b?list-type=2&prefix=p%2F&x-id=ListObjectsV2", false, "ListObjectsV2"},
		{"GET", "/b/?prefix=p&marker=m", false, "ListObjects"},
		{"GET", "/b?uploads", false, "ListMultipartUploads"},
		{"GET", "/b?versioning", false, "GetBucketVersioning"},
		{"GET", "/b?cors", false, "other"},
		{"PUT", "/b?tagging", false, "PutBucketTagging"},
		{"PUT", "/b?cors", false, "other"},
		{"POST", "/b?delete", false, "DeleteObjects"},
		{"DELETE", "/b?policy", false, "DeleteBucketPolicy"},
		{"GET", "/b/k/x.nwb?x-id=GetObject", false, "GetObject"},
		{"GET", "/b/k?uploadId=u", false, "ListParts"},
		{"GET", "/b/k?tagging", false, "GetObjectTagging"},
		{"HEAD", "/b/k", false, "HeadObject"},
		{"PUT", "/b/k?x-id=PutObject", false, "PutObject"},
		{"PUT", "/b/k", true, "CopyObject"},
		{"PUT", "/b/k?partNumber=1&uploadId=u", false, "UploadPart"},
		{"PUT", "/b/k?partNumber=1&uploadId=u", true, "UploadPartCopy"},
		{"PUT", "/b/k?tagging", false, "PutObjectTagging"},
		{"POST", "/b/k?uploads", false, "CreateMultipartUpload"},
		{"POST", "/b/k?uploadId=u", false, "CompleteMultipartUpload"},
		{"POST", "/b/k", false, "other"},
		{"DELETE", "/b/k?uploadId=u", false, "AbortMultipartUpload"},
		{"DELETE", "/b/k?x-id=DeleteObject", false, "DeleteObject"},
		{"OPTIONS", "/b/k", false, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://127.0.0.1:9"+tt.target, nil)
			if tt.copySource {
				r.Header.Set("X-Amz-Copy-Source", "/b/src")
			}
			if got := s3Operation(r); got != tt.want {
				t.Errorf("s3Operation = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGatewayEndpoint(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/db/c/find": "find", "/v1/db/c/insert_one": "insert_one", "/v1/db/c/bulk_write": "bulk_write",
		"/v1/db/c": "records", "/v1/db/c/": "records", "/v1/db/c/nope": "other", "/v1/db/c/find/x": "other", "/": "other",
	} {
		if got := gatewayEndpoint(path); got != want {
			t.Errorf("gatewayEndpoint(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestRequestCountsSnapshotAndReset(t *testing.T) {
	c := newRequestCounts()
	c.s3Conn()
	c.s3Request("PutObject", http.StatusOK)
	c.s3Request("PutObject", http.StatusPreconditionFailed)
	c.s3Request("PutObject", http.StatusNoContent)
	c.wireConn()
	c.wireCommand("insert")
	c.wireCommand("hello")
	c.gatewayConn()
	c.gatewayRequest("find", http.StatusServiceUnavailable)

	s := c.snapshot(true)
	if s.S3.Connections != 1 || len(s.S3.Requests) != 2 || s.S3.Requests["PutObject 2xx"] != 2 || s.S3.Requests["PutObject 4xx"] != 1 {
		t.Errorf("s3 = %+v", s.S3)
	}
	if s.DocDB.Connections != 1 || len(s.DocDB.Commands) != 1 || s.DocDB.Commands["insert"] != 1 ||
		len(s.DocDB.Heartbeats) != 1 || s.DocDB.Heartbeats["hello"] != 1 {
		t.Errorf("docdb = %+v", s.DocDB)
	}
	if s.Gateway.Connections != 1 || len(s.Gateway.Requests) != 1 || s.Gateway.Requests["find 5xx"] != 1 {
		t.Errorf("gateway = %+v", s.Gateway)
	}
	after := c.snapshot(false)
	if after.S3.Connections+after.DocDB.Connections+after.Gateway.Connections != 0 ||
		len(after.S3.Requests)+len(after.DocDB.Commands)+len(after.DocDB.Heartbeats)+len(after.Gateway.Requests) != 0 {
		t.Errorf("after reset: %+v", after)
	}
	if after.Since.Before(s.Since) {
		t.Errorf("since went back from %v to %v", s.Since, after.Since)
	}
}
