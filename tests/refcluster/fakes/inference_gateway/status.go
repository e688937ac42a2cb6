// Controller side: reconcile of the Gateway API and InferencePool objects, and the status written.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

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
