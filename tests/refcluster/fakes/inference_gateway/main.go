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

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extproc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

func cond(typ, status, reason, msg string, gen int64) map[string]any {
	return map[string]any{
		"type": typ, "status": status, "reason": reason, "message": msg,
		"observedGeneration": gen, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
	}
}

// sameConditions compares conditions without their transition times.
func sameConditions(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, _ := a[i].(map[string]any)
		y, _ := b[i].(map[string]any)
		for _, k := range []string{"type", "status", "reason", "message"} {
			if fmt.Sprint(x[k]) != fmt.Sprint(y[k]) {
				return false
			}
		}
		if fmt.Sprint(x["observedGeneration"]) != fmt.Sprint(y["observedGeneration"]) {
			return false
		}
	}
	return true
}

func (g *gateway) list(ctx context.Context, gvr schema.GroupVersionResource) []unstructured.Unstructured {
	l, err := g.dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
	if err != nil {
		log.Printf("list %s: %v", gvr.Resource, err)
		return nil
	}
	return l.Items
}

func (g *gateway) writeStatus(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) {
	var err error
	if obj.GetNamespace() == "" {
		_, err = g.dyn.Resource(gvr).UpdateStatus(ctx, obj, metav1.UpdateOptions{})
	} else {
		_, err = g.dyn.Resource(gvr).Namespace(obj.GetNamespace()).UpdateStatus(ctx, obj, metav1.UpdateOptions{})
	}
	if err != nil {
		log.Printf("status of %s %s/%s: %v", gvr.Resource, obj.GetNamespace(), obj.GetName(), err)
	}
}

func str(obj map[string]any, path ...string) string {
	v, _, _ := unstructured.NestedString(obj, path...)
	return v
}

// reconcile reads the Gateway API and InferencePool objects, writes status and rebuilds the table.
func (g *gateway) reconcile(ctx context.Context) {
	classes := map[string]bool{}
	for _, c := range g.list(ctx, gvrGatewayClass) {
		if str(c.Object, "spec", "controllerName") != g.controllerName {
			continue
		}
		classes[c.GetName()] = true
		want := []any{cond("Accepted", "True", "Accepted", "served by the reference cluster's fake inference gateway", c.GetGeneration())}
		have, _, _ := unstructured.NestedSlice(c.Object, "status", "conditions")
		if !sameConditions(have, want) {
			_ = unstructured.SetNestedSlice(c.Object, want, "status", "conditions")
			g.writeStatus(ctx, gvrGatewayClass, &c)
		}
	}
	gateways := map[string]unstructured.Unstructured{}
	for _, gw := range g.list(ctx, gvrGateway) {
		if classes[str(gw.Object, "spec", "gatewayClassName")] {
			gateways[gw.GetNamespace()+"/"+gw.GetName()] = gw
		}
	}
	pools := map[string]unstructured.Unstructured{}
	for _, p := range g.list(ctx, gvrPool) {
		pools[p.GetNamespace()+"/"+p.GetName()] = p
	}
	attached := map[string]int{}
	poolParents := map[string]map[string]bool{} // pool key -> gateway keys
	tab := table{hosts: map[string][]string{}, pools: map[string]poolTarget{}}
	for _, rt := range g.list(ctx, gvrHTTPRoute) {
		parents, _, _ := unstructured.NestedSlice(rt.Object, "spec", "parentRefs")
		var statuses []any
		ours := false
		for _, pr := range parents {
			ref, _ := pr.(map[string]any)
			grp, kind := str(ref, "group"), str(ref, "kind")
			if (grp != "" && grp != gatewayGroup) || (kind != "" && kind != "Gateway") {
				continue
			}
			ns := str(ref, "namespace")
			if ns == "" {
				ns = rt.GetNamespace()
			}
			gwKey := ns + "/" + str(ref, "name")
			gwObj, ok := gateways[gwKey]
			if !ok {
				continue
			}
			ours = true
			if !routeAllowed(gwObj, rt.GetNamespace()) {
				statuses = append(statuses, map[string]any{
					"parentRef":      ref,
					"controllerName": g.controllerName,
					"conditions": []any{cond("Accepted", "False", routeNotAccepted,
						"no listener of the Gateway allows routes from namespace "+rt.GetNamespace(), rt.GetGeneration())},
				})
				continue
			}
			attached[gwKey]++
			resolved, missing := true, ""
			rules, _, _ := unstructured.NestedSlice(rt.Object, "spec", "rules")
			for _, r := range rules {
				rm, _ := r.(map[string]any)
				backends, _, _ := unstructured.NestedSlice(rm, "backendRefs")
				if len(backends) != 1 {
					resolved, missing = false, "this fake serves exactly one InferencePool backendRef per rule"
					continue
				}
				b, _ := backends[0].(map[string]any)
				if str(b, "group") != inferenceGroup || str(b, "kind") != "InferencePool" {
					resolved, missing = false, "this fake serves InferencePool backends only"
					continue
				}
				bns := str(b, "namespace")
				if bns == "" {
					bns = rt.GetNamespace()
				}
				pkey := bns + "/" + str(b, "name")
				if _, ok := pools[pkey]; !ok {
					resolved, missing = false, "InferencePool "+pkey+" not found"
					continue
				}
				if poolParents[pkey] == nil {
					poolParents[pkey] = map[string]bool{}
				}
				poolParents[pkey][gwKey] = true
				matches, _, _ := unstructured.NestedSlice(rm, "matches")
				if len(matches) == 0 {
					matches = []any{map[string]any{}}
				}
				for _, m := range matches {
					mm, _ := m.(map[string]any)
					ru := rule{pathType: "PathPrefix", path: "/", poolNS: bns, pool: str(b, "name"), routeKey: rt.GetNamespace() + "/" + rt.GetName(), created: rt.GetCreationTimestamp().Time}
					if t := str(mm, "path", "type"); t != "" {
						ru.pathType = t
					}
					if v := str(mm, "path", "value"); v != "" {
						ru.path = v
					}
					hs, _, _ := unstructured.NestedSlice(mm, "headers")
					for _, h := range hs {
						hm, _ := h.(map[string]any)
						ru.headers = append(ru.headers, headerMatch{strings.ToLower(str(hm, "name")), str(hm, "value")})
					}
					tab.rules = append(tab.rules, ru)
				}
			}
			hostnames, _, _ := unstructured.NestedStringSlice(rt.Object, "spec", "hostnames")
			tab.hosts[rt.GetNamespace()+"/"+rt.GetName()] = hostnames
			rr := cond("ResolvedRefs", "True", "ResolvedRefs", "InferencePool backends resolved", rt.GetGeneration())
			if !resolved {
				rr = cond("ResolvedRefs", "False", "BackendNotFound", missing, rt.GetGeneration())
			}
			statuses = append(statuses, map[string]any{
				"parentRef":      ref,
				"controllerName": g.controllerName,
				"conditions":     []any{cond("Accepted", "True", "Accepted", "route attached", rt.GetGeneration()), rr},
			})
		}
		if !ours {
			continue
		}
		have, _, _ := unstructured.NestedSlice(rt.Object, "status", "parents")
		var keep []any
		for _, h := range have {
			hm, _ := h.(map[string]any)
			if str(hm, "controllerName") != g.controllerName {
				keep = append(keep, h)
			}
		}
		if !sameParents(have, append(keep, statuses...)) {
			_ = unstructured.SetNestedSlice(rt.Object, append(keep, statuses...), "status", "parents")
			g.writeStatus(ctx, gvrHTTPRoute, &rt)
		}
	}
	for key, gw := range gateways {
		g.gatewayStatus(ctx, gw, attached[key])
	}
	for pkey, p := range pools {
		target, resolvedMsg := g.picker(ctx, p)
		tab.pools[pkey] = target
		var statuses []any
		gwKeys := make([]string, 0, len(poolParents[pkey]))
		for k := range poolParents[pkey] {
			gwKeys = append(gwKeys, k)
		}
		sort.Strings(gwKeys)
		for _, gwKey := range gwKeys {
			ns, name, _ := strings.Cut(gwKey, "/")
			rr := cond("ResolvedRefs", "True", "ResolvedRefs", "endpoint picker "+target.picker, p.GetGeneration())
			if target.picker == "" {
				rr = cond("ResolvedRefs", "False", "InvalidExtensionRef", resolvedMsg, p.GetGeneration())
			}
			statuses = append(statuses, map[string]any{
				"parentRef":      map[string]any{"group": gatewayGroup, "kind": "Gateway", "name": name, "namespace": ns},
				"controllerName": g.controllerName,
				"conditions":     []any{cond("Accepted", "True", "Accepted", "referenced by an HTTPRoute of this Gateway", p.GetGeneration()), rr},
			})
		}
		have, _, _ := unstructured.NestedSlice(p.Object, "status", "parents")
		var keep []any
		for _, h := range have {
			hm, _ := h.(map[string]any)
			if str(hm, "controllerName") != g.controllerName {
				keep = append(keep, h)
			}
		}
		want := append(keep, statuses...)
		if !sameParents(have, want) {
			if len(want) == 0 {
				unstructured.RemoveNestedField(p.Object, "status", "parents")
			} else {
				_ = unstructured.SetNestedSlice(p.Object, want, "status", "parents")
			}
			g.writeStatus(ctx, gvrPool, &p)
		}
	}
	sort.SliceStable(tab.rules, func(i, j int) bool { return precedes(tab.rules[i], tab.rules[j]) })
	g.mu.Lock()
	g.tab = tab
	g.mu.Unlock()
}

// routeAllowed applies the listeners' allowedRoutes.namespaces.from (Same by default, All; a
// Selector is not implemented by this fake and allows nothing).
func routeAllowed(gw unstructured.Unstructured, routeNS string) bool {
	listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	for _, l := range listeners {
		lm, _ := l.(map[string]any)
		switch str(lm, "allowedRoutes", "namespaces", "from") {
		case "All":
			return true
		case "", "Same":
			if routeNS == gw.GetNamespace() {
				return true
			}
		}
	}
	return false
}

func sameParents(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, _ := a[i].(map[string]any)
		y, _ := b[i].(map[string]any)
		xr, _ := json.Marshal(x["parentRef"])
		yr, _ := json.Marshal(y["parentRef"])
		xc, _ := x["conditions"].([]any)
		yc, _ := y["conditions"].([]any)
		if string(xr) != string(yr) || fmt.Sprint(x["controllerName"]) != fmt.Sprint(y["controllerName"]) || !sameConditions(xc, yc) {
			return false
		}
	}
	return true
}

func precedes(a, b rule) bool {
	if (a.pathType == "Exact") != (b.pathType == "Exact") {
		return a.pathType == "Exact"
	}
	if len(a.path) != len(b.path) {
		return len(a.path) > len(b.path)
	}
	if len(a.headers) != len(b.headers) {
		return len(a.headers) > len(b.headers)
	}
	if !a.created.Equal(b.created) {
		return a.created.Before(b.created)
	}
	return a.routeKey < b.routeKey
}

func (g *gateway) gatewayStatus(ctx context.Context, gw unstructured.Unstructured, routes int) {
	listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	var ls []any
	for _, l := range listeners {
		lm, _ := l.(map[string]any)
		ls = append(ls, map[string]any{
			"name":           str(lm, "name"),
			"attachedRoutes": int64(routes),
			"supportedKinds": []any{map[string]any{"group": gatewayGroup, "kind": "HTTPRoute"}},
			"conditions": []any{
				cond("Accepted", "True", "Accepted", "listener accepted", gw.GetGeneration()),
				cond("Programmed", "True", "Programmed", "listener served", gw.GetGeneration()),
				cond("ResolvedRefs", "True", "ResolvedRefs", "no references", gw.GetGeneration()),
			},
		})
	}
	want := map[string]any{
		"addresses":  []any{map[string]any{"type": "IPAddress", "value": g.statusAddress}},
		"conditions": []any{cond("Accepted", "True", "Accepted", "gateway accepted", gw.GetGeneration()), cond("Programmed", "True", "Programmed", "gateway served", gw.GetGeneration())},
		"listeners":  ls,
	}
	have, _, _ := unstructured.NestedMap(gw.Object, "status")
	if statusEqual(have, want) {
		return
	}
	_ = unstructured.SetNestedField(gw.Object, want, "status")
	g.writeStatus(ctx, gvrGateway, &gw)
}

func statusEqual(have, want map[string]any) bool {
	hc, _ := have["conditions"].([]any)
	wc, _ := want["conditions"].([]any)
	if !sameConditions(hc, wc) {
		return false
	}
	ha, _ := json.Marshal(have["addresses"])
	wa, _ := json.Marshal(want["addresses"])
	if string(ha) != string(wa) {
		return false
	}
	hl, _ := have["listeners"].([]any)
	wl, _ := want["listeners"].([]any)
	if len(hl) != len(wl) {
		return false
	}
	for i := range hl {
		x, _ := hl[i].(map[string]any)
		y, _ := wl[i].(map[string]any)
		xc, _ := x["conditions"].([]any)
		yc, _ := y["conditions"].([]any)
		if fmt.Sprint(x["name"]) != fmt.Sprint(y["name"]) || fmt.Sprint(x["attachedRoutes"]) != fmt.Sprint(y["attachedRoutes"]) || !sameConditions(xc, yc) {
			return false
		}
	}
	return true
}

// picker resolves the pool's endpointPickerRef Service to one ready endpoint address.
func (g *gateway) picker(ctx context.Context, p unstructured.Unstructured) (poolTarget, string) {
	ref, _, _ := unstructured.NestedMap(p.Object, "spec", "endpointPickerRef")
	t := poolTarget{failureMode: str(ref, "failureMode")}
	if t.failureMode == "" {
		t.failureMode = "FailClose"
	}
	if k := str(ref, "kind"); k != "" && k != "Service" {
		return t, "endpointPickerRef kind " + k + " is not supported"
	}
	port, _, _ := unstructured.NestedInt64(ref, "port", "number")
	svc, err := g.dyn.Resource(gvrService).Namespace(p.GetNamespace()).Get(ctx, str(ref, "name"), metav1.GetOptions{})
	if err != nil {
		return t, "endpoint picker Service " + str(ref, "name") + ": " + err.Error()
	}
	portName := ""
	svcPorts, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	for _, sp := range svcPorts {
		spm, _ := sp.(map[string]any)
		if n, _, _ := unstructured.NestedInt64(spm, "port"); n == port || port == 0 {
			portName = str(spm, "name")
			break
		}
	}
	slices, err := g.dyn.Resource(gvrEndpointSlice).Namespace(p.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc.GetName()})
	if err != nil {
		return t, "endpoint picker EndpointSlices: " + err.Error()
	}
	for _, s := range slices.Items {
		var target int64
		sps, _, _ := unstructured.NestedSlice(s.Object, "ports")
		for _, sp := range sps {
			spm, _ := sp.(map[string]any)
			if str(spm, "name") == portName {
				target, _, _ = unstructured.NestedInt64(spm, "port")
			}
		}
		if target == 0 {
			continue
		}
		eps, _, _ := unstructured.NestedSlice(s.Object, "endpoints")
		for _, e := range eps {
			em, _ := e.(map[string]any)
			if ready, found, _ := unstructured.NestedBool(em, "conditions", "ready"); found && !ready {
				continue
			}
			addrs, _, _ := unstructured.NestedStringSlice(em, "addresses")
			if len(addrs) > 0 {
				t.picker = net.JoinHostPort(addrs[0], strconv.FormatInt(target, 10))
				return t, ""
			}
		}
	}
	return t, "endpoint picker Service " + svc.GetName() + " has no ready endpoint"
}

func hostMatches(patterns []string, host string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == host || (strings.HasPrefix(p, "*.") && strings.HasSuffix(host, p[1:])) {
			return true
		}
	}
	return false
}

func pathMatches(r rule, path string) bool {
	if r.pathType == "Exact" {
		return path == r.path
	}
	prefix := strings.TrimSuffix(r.path, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

func (g *gateway) match(req *http.Request) (rule, poolTarget, bool) {
	host := req.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, r := range g.tab.rules {
		if !hostMatches(g.tab.hosts[r.routeKey], host) || !pathMatches(r, req.URL.Path) {
			continue
		}
		ok := true
		for _, h := range r.headers {
			if req.Header.Get(h.name) != h.value {
				ok = false
				break
			}
		}
		if ok {
			return r, g.tab.pools[r.poolNS+"/"+r.pool], true
		}
	}
	return rule{}, poolTarget{}, false
}

func (g *gateway) conn(addr string) (*grpc.ClientConn, error) {
	g.connMu.Lock()
	defer g.connMu.Unlock()
	if c, ok := g.conns[addr]; ok {
		return c, nil
	}
	// The picker serves TLS with a self-signed certificate, as Envoy's upstream configuration
	// accepts it (no verification).
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}))) // #nosec G402 -- matches the upstream Envoy config
	if err != nil {
		return nil, err
	}
	g.conns[addr] = c
	return c, nil
}

func headerMap(h http.Header, extra map[string]string) *corev3.HeaderMap {
	hm := &corev3.HeaderMap{}
	for k, v := range extra {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	for k, vs := range h {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: strings.ToLower(k), RawValue: []byte(strings.Join(vs, ","))})
	}
	return hm
}

func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("content-type", "text/plain")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

type pickResult struct {
	immediate *extproc.ImmediateResponse
	endpoint  string
	setHeader map[string]string
	body      []byte
}

// pick runs the request phase of one ext_proc stream.
func pick(stream extproc.ExternalProcessor_ProcessClient, req *http.Request, body []byte) (pickResult, error) {
	res := pickResult{setHeader: map[string]string{}}
	pseudo := map[string]string{":method": req.Method, ":path": req.URL.RequestURI(), ":authority": req.Host, ":scheme": "http"}
	if err := stream.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_RequestHeaders{RequestHeaders: &extproc.HttpHeaders{Headers: headerMap(req.Header, pseudo)}}}); err != nil {
		return res, err
	}
	if err := stream.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_RequestBody{RequestBody: &extproc.HttpBody{Body: body, EndOfStream: true}}}); err != nil {
		return res, err
	}
	var newBody []byte
	for {
		resp, err := stream.Recv()
		if err != nil {
			return res, err
		}
		switch r := resp.Response.(type) {
		case *extproc.ProcessingResponse_ImmediateResponse:
			res.immediate = r.ImmediateResponse
			return res, nil
		case *extproc.ProcessingResponse_RequestHeaders:
			for _, h := range r.RequestHeaders.GetResponse().GetHeaderMutation().GetSetHeaders() {
				v := string(h.GetHeader().GetRawValue())
				if v == "" {
					v = h.GetHeader().GetValue()
				}
				res.setHeader[strings.ToLower(h.GetHeader().GetKey())] = v
			}
			if md := resp.GetDynamicMetadata(); md != nil {
				if lb := md.GetFields()[metadataLBKey].GetStructValue(); lb != nil {
					if v := lb.GetFields()[destinationKey].GetStringValue(); v != "" {
						res.endpoint = v
					}
				}
			}
			if res.endpoint == "" {
				res.endpoint = res.setHeader[destinationKey]
			}
		case *extproc.ProcessingResponse_RequestBody:
			mut := r.RequestBody.GetResponse().GetBodyMutation()
			if s := mut.GetStreamedResponse(); s != nil {
				newBody = append(newBody, s.GetBody()...)
				if !s.GetEndOfStream() {
					continue
				}
			} else if b := mut.GetBody(); b != nil {
				newBody = b
			} else {
				newBody = body
			}
			res.body = newBody
			// Several endpoints may be named (fallbacks): the first is the choice.
			res.endpoint = strings.TrimSpace(strings.Split(res.endpoint, ",")[0])
			return res, nil
		}
	}
}

var hopByHop = map[string]bool{"connection": true, "keep-alive": true, "transfer-encoding": true, "upgrade": true, "content-length": true, "te": true, "trailer": true, "proxy-connection": true}

func (g *gateway) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r, target, ok := g.match(req)
	if !ok {
		fail(w, http.StatusNotFound, "no route")
		return
	}
	if r.pool == "" {
		fail(w, http.StatusInternalServerError, "backend not served by this fake")
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
	if err != nil {
		fail(w, http.StatusBadRequest, "cannot read body")
		return
	}
	if target.picker == "" {
		log.Printf("%s %s pool %s/%s: no endpoint picker (%s)", req.Method, req.URL.Path, r.poolNS, r.pool, target.failureMode)
		fail(w, http.StatusServiceUnavailable, "endpoint picker unavailable ("+target.failureMode+"; FailOpen is not implemented by this fake)")
		return
	}
	conn, err := g.conn(target.picker)
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "endpoint picker unavailable: "+err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), upstreamTimeout)
	defer cancel()
	pctx, pcancel := context.WithTimeout(ctx, pickerTimeout)
	stream, err := extproc.NewExternalProcessorClient(conn).Process(ctx)
	var res pickResult
	if err == nil {
		done := make(chan struct{})
		go func() {
			select {
			case <-pctx.Done():
				if pctx.Err() == context.DeadlineExceeded {
					cancel()
				}
			case <-done:
			}
		}()
		res, err = pick(stream, req, body)
		close(done)
	}
	pcancel()
	if err != nil {
		log.Printf("%s %s pool %s/%s: endpoint picker %s failed: %v", req.Method, req.URL.Path, r.poolNS, r.pool, target.picker, err)
		fail(w, http.StatusServiceUnavailable, "endpoint picker unavailable (FailClose)")
		return
	}
	if res.immediate != nil {
		code := int(res.immediate.GetStatus().GetCode())
		if code == 0 {
			code = http.StatusInternalServerError
		}
		for _, h := range res.immediate.GetHeaders().GetSetHeaders() {
			w.Header().Set(h.GetHeader().GetKey(), string(h.GetHeader().GetRawValue()))
		}
		log.Printf("%s %s pool %s/%s: picker answered %d itself", req.Method, req.URL.Path, r.poolNS, r.pool, code)
		w.WriteHeader(code)
		_, _ = w.Write(res.immediate.GetBody())
		_ = stream.CloseSend()
		return
	}
	if res.endpoint == "" {
		fail(w, http.StatusServiceUnavailable, "endpoint picker named no endpoint")
		_ = stream.CloseSend()
		return
	}
	up, err := http.NewRequestWithContext(ctx, req.Method, "http://"+res.endpoint+req.URL.RequestURI(), bytes.NewReader(res.body))
	if err != nil {
		fail(w, http.StatusBadGateway, err.Error())
		return
	}
	for k, vs := range req.Header {
		if !hopByHop[strings.ToLower(k)] {
			up.Header[k] = vs
		}
	}
	for k, v := range res.setHeader {
		if !hopByHop[k] && !strings.HasPrefix(k, ":") {
			up.Header.Set(k, v)
		}
	}
	up.Host = req.Host
	resp, err := g.upstream.Do(up)
	if err != nil {
		log.Printf("%s %s pool %s/%s -> %s: %v", req.Method, req.URL.Path, r.poolNS, r.pool, res.endpoint, err)
		fail(w, http.StatusBadGateway, "upstream "+res.endpoint+": "+err.Error())
		_ = stream.CloseSend()
		return
	}
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	log.Printf("%s %s pool %s/%s -> %s: %d", req.Method, req.URL.Path, r.poolNS, r.pool, res.endpoint, resp.StatusCode)
	// The response phase, as Envoy sends it; the picker accounts the request with it.
	outBody := respBody
	setResp := map[string]string{}
	if err := stream.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extproc.HttpHeaders{Headers: headerMap(resp.Header, map[string]string{":status": strconv.Itoa(resp.StatusCode)})}}}); err == nil {
		if err := stream.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_ResponseBody{ResponseBody: &extproc.HttpBody{Body: respBody, EndOfStream: true}}}); err == nil {
			outBody = responsePhase(stream, respBody, setResp)
		}
	}
	_ = stream.CloseSend()
	for k, vs := range resp.Header {
		if !hopByHop[strings.ToLower(k)] {
			w.Header()[k] = vs
		}
	}
	for k, v := range setResp {
		if !hopByHop[k] && !strings.HasPrefix(k, ":") {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(outBody)
}

func responsePhase(stream extproc.ExternalProcessor_ProcessClient, body []byte, set map[string]string) []byte {
	var out []byte
	for {
		resp, err := stream.Recv()
		if err != nil {
			return body
		}
		switch r := resp.Response.(type) {
		case *extproc.ProcessingResponse_ResponseHeaders:
			for _, h := range r.ResponseHeaders.GetResponse().GetHeaderMutation().GetSetHeaders() {
				set[strings.ToLower(h.GetHeader().GetKey())] = string(h.GetHeader().GetRawValue())
			}
		case *extproc.ProcessingResponse_ResponseBody:
			mut := r.ResponseBody.GetResponse().GetBodyMutation()
			if s := mut.GetStreamedResponse(); s != nil {
				out = append(out, s.GetBody()...)
				if s.GetEndOfStream() {
					return out
				}
				continue
			}
			if b := mut.GetBody(); b != nil {
				return b
			}
			return body
		default:
			return body
		}
	}
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
