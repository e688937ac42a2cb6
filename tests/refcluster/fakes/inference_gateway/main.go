// FAKE inference gateway data plane for the reference cluster.
//
// On a real cluster an InferencePool is served by a Gateway implementation with Gateway API
// Inference Extension support (Envoy Gateway, kgateway, Istio, GKE): Envoy asks the pool's endpoint
// picker (EPP) over ext_proc which endpoint serves each request and forwards it there.  No such
// data plane can run on this machine (no Envoy binary, Traefik has no InferencePool backend), so
// this small program stands in for it.  It talks to the REAL endpoint picker built from
// sigs.k8s.io/gateway-api-inference-extension the way Envoy does in the upstream configuration:
//
//   - Gateways of a GatewayClass whose controllerName is --controller-name are reconciled: the
//     class, the Gateway, every attached HTTPRoute and every InferencePool a route references get
//     Accepted/ResolvedRefs status written by this controller (status.parents of the pool).  A route
//     from a namespace no listener allows (allowedRoutes from Same, the default, or All) gets
//     Accepted=False, NotAllowedByListeners, and is not served.
//   - A request is matched against the attached routes (hostnames, PathPrefix/Exact path, exact
//     header matches; Gateway API precedence: exact path, longest prefix, most header matches,
//     oldest route).  Only InferencePool backends are served.
//   - For an InferencePool backend the request headers and the whole body go to the pool's
//     endpointPickerRef Service (its ready EndpointSlice address) on one ext_proc stream
//     (FULL_DUPLEX_STREAMED as upstream configures Envoy).  The picker's ImmediateResponse is
//     returned as is; otherwise its header mutation names the endpoint
//     (x-gateway-destination-endpoint) and its body mutation the body to send.  The response
//     headers and body go back on the same stream, as Envoy sends them.
//   - A picker that cannot be reached gets the spec's FailClose behaviour: 503 and nothing is
//     forwarded.  FailOpen is not implemented by this fake (also 503, said in the body).
//
// It stands in for a data plane only: endpoint choice is entirely the real EPP's.
package main

// This file: constants, resource kinds, types, shared helpers and main().

import (
	"context"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	gatewayGroup     = "gateway.networking.k8s.io"
	inferenceGroup   = "inference.networking.k8s.io"
	destinationKey   = "x-gateway-destination-endpoint"
	metadataLBKey    = "envoy.lb"
	maxBody          = 16 << 20
	pickerTimeout    = 30 * time.Second
	upstreamTimeout  = 300 * time.Second
	routeNotAccepted = "NotAllowedByListeners"
)

var (
	gvrGatewayClass  = schema.GroupVersionResource{Group: gatewayGroup, Version: "v1", Resource: "gatewayclasses"}
	gvrGateway       = schema.GroupVersionResource{Group: gatewayGroup, Version: "v1", Resource: "gateways"}
	gvrHTTPRoute     = schema.GroupVersionResource{Group: gatewayGroup, Version: "v1", Resource: "httproutes"}
	gvrPool          = schema.GroupVersionResource{Group: inferenceGroup, Version: "v1", Resource: "inferencepools"}
	gvrService       = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrEndpointSlice = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
)

type headerMatch struct{ name, value string }

type rule struct {
	pathType, path string
	headers        []headerMatch
	poolNS, pool   string // empty pool: the backend is not an InferencePool
	routeKey       string
	created        time.Time
}

type poolTarget struct {
	picker      string // host:port of a ready endpoint picker endpoint, "" if none
	failureMode string
}

type table struct {
	rules []rule              // sorted by precedence
	hosts map[string][]string // route key -> hostnames
	pools map[string]poolTarget
}

type gateway struct {
	dyn            dynamic.Interface
	controllerName string
	statusAddress  string
	mu             sync.RWMutex
	tab            table
	conns          map[string]*grpc.ClientConn
	connMu         sync.Mutex
	upstream       *http.Client
}

func str(obj map[string]any, path ...string) string {
	v, _, _ := unstructured.NestedString(obj, path...)
	return v
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
	controllerName := flag.String("controller-name", "ai-conformance.io/fake-inference-gateway", "GatewayClass controllerName this fake serves")
	listen := flag.String("listen", "127.0.0.1:18400", "address:port the Gateway listeners are served on")
	statusAddress := flag.String("status-address", "127.0.0.1", "address written to Gateway status")
	readyFile := flag.String("ready-file", "", "file written once the first reconcile is done")
	resync := flag.Duration("resync", time.Second, "how often the API is read again")
	flag.Parse()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("kubeconfig: %v", err)
	}
	g := &gateway{
		dyn:            dynamic.NewForConfigOrDie(cfg),
		controllerName: *controllerName,
		statusAddress:  *statusAddress,
		conns:          map[string]*grpc.ClientConn{},
		// One connection per request: no pooled connection is ever reused after the server closed it.
		upstream: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: upstreamTimeout},
	}
	ctx := context.Background()
	g.reconcile(ctx)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	go func() {
		for {
			time.Sleep(*resync)
			g.reconcile(ctx)
		}
	}()
	if *readyFile != "" {
		if err := os.WriteFile(*readyFile, []byte("ok\n"), 0o600); err != nil {
			log.Fatalf("ready file: %v", err)
		}
	}
	log.Printf("fake inference gateway for %s listening on %s", *controllerName, *listen)
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
