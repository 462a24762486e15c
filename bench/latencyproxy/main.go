// Command latencyproxy is the benchmarks' loopback HTTP proxy that adds latency to S3: it
// forwards every request, unchanged (same Host header, so SigV4 signatures made for the
// proxy's address stay valid), to the target server (versitygw) after waiting -delay, as
// a round trip to real S3 costs. It is not a fake S3: every byte comes from the target.
//
//	latencyproxy -target http://127.0.0.1:7070 -delay 20ms
//
// It listens on 127.0.0.1 (an ephemeral port unless -listen) and prints its URL on the
// first line of stdout, then serves until killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"
)

func main() {
	target := flag.String("target", "", "URL of the server to forward to, e.g. http://127.0.0.1:7070")
	delay := flag.Duration("delay", 20*time.Millisecond, "latency added to each request before it is forwarded")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		fmt.Fprintln(os.Stderr, "latencyproxy: -target: want a URL such as http://127.0.0.1:7070")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("latencyproxy: %v", err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // the client signed for the proxy's host
		},
		// Many clients list hundreds of prefixes at once: keep that many connections open.
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(*delay)
		rp.ServeHTTP(w, r)
	})
	fmt.Printf("http://%s\n", ln.Addr())
	os.Stdout.Sync()
	log.Fatal(http.Serve(ln, h))
}
