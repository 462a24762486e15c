package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func TestVerifySigV4(t *testing.T) {
	g := &docdbGateway{cfg: docdbGatewayConfig{creds: aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey}, region: Region}, signer: v4.NewSigner()}
	body := []byte(`{"_id":"x"}`)
	signed := func(secret, service string, b []byte) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9/v1/db/c/insert_one", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256(b)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: secret}, req, hex.EncodeToString(sum[:]), service, Region, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	tests := []struct {
		name    string
		req     *http.Request
		body    []byte
		wantErr string
	}{
		{"valid", signed(SecretKey, "execute-api", body), body, ""},
		{"unsigned", httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9/v1/db/c/insert_one", nil), body, "missing Authorization"},
		{"wrong secret", signed("nope", "execute-api", body), body, "does not match"},
		{"wrong service", signed(SecretKey, "s3", body), body, "execute-api"},
		{"body changed after signing", signed(SecretKey, "execute-api", body), []byte(`{"_id":"y"}`), "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := g.verify(tt.req, tt.body)
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("verify = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestClientEnvSelectsOneDocDB(t *testing.T) {
	st := &stack{docdbURI: "mongodb://127.0.0.1:1/", s3Endpoint: "http://127.0.0.1:2", docdbHost: "http://127.0.0.1:3",
		docdbGW: &docdbGateway{cfg: docdbGatewayConfig{version: "v1"}}}
	for _, viaGateway := range []bool{false, true} {
		keys := map[string]string{}
		for _, v := range clientEnv(st, "b", "/tmp/d", viaGateway) {
			keys[v.key] = v.value
		}
		_, uri := keys["DOCDB_URI"]
		_, host := keys["DOCDB_HOST"]
		if uri == viaGateway || host != viaGateway {
			t.Errorf("viaGateway=%v: env %v selects DOCDB_URI=%v DOCDB_HOST=%v", viaGateway, keys, uri, host)
		}
		if keys["DEVSTACK_DOCDB_HOST"]+keys["DOCDB_HOST"] != st.docdbHost || keys["DEVSTACK_DOCDB_URI"]+keys["DOCDB_URI"] != st.docdbURI {
			t.Errorf("viaGateway=%v: env %v lacks one of the ways to DocDB", viaGateway, keys)
		}
	}
}
