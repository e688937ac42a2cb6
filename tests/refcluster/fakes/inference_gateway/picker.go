// Endpoint picker lookup: an InferencePool's endpointPickerRef Service to a ready address.

package main

import (
	"context"
	"net"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

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
