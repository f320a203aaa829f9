// latencyproxy: a reverse proxy for the benchmark that delays every answer by a fixed time (a
// registry across a network) and counts requests by method. Written in Go so that the proxy's own
// cost does not show up in the plugin's figures, as the Python test proxy's did.
//
//	latencyproxy -listen 127.0.0.1:0 -upstream http://127.0.0.1:5000 -delay 20ms
//
// Prints "listening on HOST:PORT" once ready. GET /__counts returns {"GET":n,...}; POST /__reset
// zeroes them; POST /__delay?d=20ms changes the delay.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := flag.String("upstream", "", "registry base URL")
	delay := flag.Duration("delay", 0, "added to every answer")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		log.Fatalf("latencyproxy: -upstream must be a URL: %q", *upstream)
	}
	var mu sync.Mutex
	counts := map[string]int{}
	wait := *delay
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	mux := http.NewServeMux()
	mux.HandleFunc("/__counts", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(counts)
	})
	mux.HandleFunc("/__reset", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		counts = map[string]int{}
		mu.Unlock()
	})
	mux.HandleFunc("/__delay", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		wait = d
		mu.Unlock()
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		counts[r.Method]++
		d := wait
		mu.Unlock()
		time.Sleep(d)
		r.Host = target.Host
		proxy.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}
