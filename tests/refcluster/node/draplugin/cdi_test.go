// Tests of the FAKE NVIDIA DRA kubelet plugin (stands in for k8s-dra-driver-gpu's kubelet plugin):
// ResourceSlice devices, per-claim CDI specs, prepare/unprepare.
package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/dynamic-resource-allocation/kubeletplugin"
	"local/ai-conformance/fake-gpu-node/fakegpu"
)

var inv = &fakegpu.Inventory{
	Node: "refcluster-rt-1", DriverVersion: "580.159.04", CUDAVersion: "13.0",
	GPUs: []fakegpu.GPU{
		{Minor: 0, UUID: "GPU-55bbd2d4-03e9-5704-bcb9-fcde5b99afc7", PCIBusID: "00000000:18:00.0", Product: "NVIDIA H100 80GB HBM3", Brand: "NVIDIA", Architecture: "Hopper", MemoryMiB: 81559, CCMajor: 9},
		{Minor: 1, UUID: "GPU-c97cb62a-a463-5026-b2d0-75ec3e263019", PCIBusID: "00000000:2A:00.0", Product: "NVIDIA H100 80GB HBM3", Brand: "NVIDIA", Architecture: "Hopper", MemoryMiB: 81559, CCMajor: 9},
	},
}

var cfg = specConfig{HostPaths: fakegpu.HostPaths{
	DevDir: "/state/nodes/refcluster-rt-1/dev", NvidiaSMI: "/bin/fake/nvidia-smi", GPUsJSON: "/state/nodes/refcluster-rt-1/gpus.json",
}}

func TestSemverAndBus(t *testing.T) {
	for in, want := range map[string]string{"580.159.04": "580.159.4", "13.0": "13.0.0", "9": "9.0.0"} {
		if got := semver(in); got != want {
			t.Errorf("semver(%q) = %q, want %q", in, got, want)
		}
	}
	bus, root := pciBusID("00000000:2A:00.0")
	if bus != "0000:2a:00.0" || root != "pci0000:2a" {
		t.Errorf("pciBusID = %q, %q", bus, root)
	}
}

// The same attribute names, types and values as tests/refcluster/fakes/dra_driver.py slice_for.
func TestSliceDevices(t *testing.T) {
	devs := sliceDevices(inv)
	if len(devs) != 2 || devs[0].Name != "gpu-0" || devs[1].Name != "gpu-1" {
		t.Fatalf("devices %+v", devs)
	}
	data, _ := json.Marshal(devs[1])
	var got map[string]any
	json.Unmarshal(data, &got)
	want := map[string]any{
		"name": "gpu-1",
		"attributes": map[string]any{
			"type":                            map[string]any{"string": "gpu"},
			"uuid":                            map[string]any{"string": "GPU-c97cb62a-a463-5026-b2d0-75ec3e263019"},
			"productName":                     map[string]any{"string": "NVIDIA H100 80GB HBM3"},
			"brand":                           map[string]any{"string": "NVIDIA"},
			"architecture":                    map[string]any{"string": "Hopper"},
			"cudaComputeCapability":           map[string]any{"version": "9.0.0"},
			"driverVersion":                   map[string]any{"version": "580.159.4"},
			"cudaDriverVersion":               map[string]any{"version": "13.0.0"},
			"index":                           map[string]any{"int": 1.0},
			"minor":                           map[string]any{"int": 1.0},
			"resource.kubernetes.io/pciBusID": map[string]any{"string": "0000:2a:00.0"},
			"resource.kubernetes.io/pcieRoot": map[string]any{"string": "pci0000:2a"},
		},
		"capacity": map[string]any{"memory": map[string]any{"value": "81559Mi"}},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("device:\n%s", g)
	}
}

// container is what a runtime makes of CDI edits: env replaced by key, device nodes and mounts
// replaced by path (the CDI library's ContainerEdits.Apply).
type container struct {
	env    map[string]string
	nodes  map[string]fakegpu.CDIDeviceNode
	mounts map[string]string
}

// inject applies the named devices of one spec file: the spec-level edits once, then each device's.
func inject(t *testing.T, spec fakegpu.CDISpec, ids []string) container {
	t.Helper()
	c := container{env: map[string]string{}, nodes: map[string]fakegpu.CDIDeviceNode{}, mounts: map[string]string{}}
	apply := func(e fakegpu.CDIEdits) {
		for _, kv := range e.Env {
			k, v, _ := strings.Cut(kv, "=")
			c.env[k] = v
		}
		for _, n := range e.DeviceNodes {
			c.nodes[n.Path] = n
		}
		for _, m := range e.Mounts {
			c.mounts[m.ContainerPath] = m.HostPath
		}
	}
	apply(spec.ContainerEdits)
	for _, id := range ids {
		kind, name, ok := strings.Cut(id, "=")
		if !ok || kind != spec.Kind {
			t.Fatalf("CDI id %q not of kind %s", id, spec.Kind)
		}
		found := false
		for _, d := range spec.Devices {
			if d.Name == name {
				apply(d.ContainerEdits)
				found = true
			}
		}
		if !found {
			t.Fatalf("CDI id %q not in spec", id)
		}
	}
	return c
}

// sortedNodes are the container's device node paths, sorted; each node must pass ok.
func sortedNodes(c container, ok func(path string, n fakegpu.CDIDeviceNode) bool) []string {
	var out []string
	for p, n := range c.nodes {
		if n.Type != "c" || !ok(p, n) {
			panic(p)
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// nodePaths: the fake mode's nodes are all 195:N.
func nodePaths(c container) []string {
	return sortedNodes(c, func(_ string, n fakegpu.CDIDeviceNode) bool { return n.Major == fakegpu.NvidiaMajor })
}

func TestClaimSpec(t *testing.T) {
	uid := "0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
	spec := claimSpec(uid, inv.GPUs[1:], inv.GPUs, cfg, false)
	if spec.Version != "0.6.0" || spec.Kind != "k8s.gpu.nvidia.com/device" || len(spec.Devices) != 1 || spec.Devices[0].Name != uid+"-gpu-1" {
		t.Fatalf("spec %+v", spec)
	}
	c := inject(t, spec, []string{claimDeviceID(uid, inv.GPUs[1])})
	if got := nodePaths(c); !reflect.DeepEqual(got, []string{"/dev/nvidia1", "/dev/nvidiactl"}) {
		t.Errorf("nodes %v", got)
	}
	if n := c.nodes["/dev/nvidia1"]; n.Minor != 1 || n.HostPath != cfg.DevDir+"/nvidia1" {
		t.Errorf("nvidia1 %+v", n)
	}
	if n := c.nodes["/dev/nvidiactl"]; n.Minor != 255 {
		t.Errorf("nvidiactl %+v", n)
	}
	if c.env["NVIDIA_VISIBLE_DEVICES"] != inv.GPUs[1].UUID {
		t.Errorf("env %v", c.env)
	}
	if c.mounts["/usr/bin/nvidia-smi"] != cfg.NvidiaSMI || c.mounts["/usr/local/aic-fake-nvidia/gpus.json"] != cfg.GPUsJSON {
		t.Errorf("mounts %v", c.mounts)
	}

	// Two GPUs in one claim: both nodes, both UUIDs, the env set once.
	spec = claimSpec(uid, inv.GPUs, inv.GPUs, cfg, false)
	c = inject(t, spec, []string{claimDeviceID(uid, inv.GPUs[0]), claimDeviceID(uid, inv.GPUs[1])})
	if got := nodePaths(c); !reflect.DeepEqual(got, []string{"/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"}) {
		t.Errorf("nodes %v", got)
	}
	if c.env["NVIDIA_VISIBLE_DEVICES"] != inv.GPUs[0].UUID+","+inv.GPUs[1].UUID {
		t.Errorf("env %v", c.env)
	}
	envs := len(spec.ContainerEdits.Env)
	for _, d := range spec.Devices {
		envs += len(d.ContainerEdits.Env)
	}
	if envs != 1 {
		t.Errorf("NVIDIA_VISIBLE_DEVICES set %d times", envs)
	}
}

func TestClaimSpecFaultAllDevices(t *testing.T) {
	uid := "11111111-2222-3333-4444-555555555555"
	spec := claimSpec(uid, inv.GPUs[:1], inv.GPUs, cfg, true)
	c := inject(t, spec, []string{claimDeviceID(uid, inv.GPUs[0])})
	if got := nodePaths(c); !reflect.DeepEqual(got, []string{"/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"}) {
		t.Errorf("fault nodes %v", got)
	}
	if c.env["NVIDIA_VISIBLE_DEVICES"] != inv.GPUs[0].UUID+","+inv.GPUs[1].UUID {
		t.Errorf("fault env %v", c.env)
	}
}

func TestSpecJSON(t *testing.T) {
	spec := claimSpec("abc", inv.GPUs[:1], inv.GPUs, cfg, false)
	data, _ := json.Marshal(spec)
	var m map[string]any
	json.Unmarshal(data, &m)
	dev := m["devices"].([]any)[0].(map[string]any)
	node := dev["containerEdits"].(map[string]any)["deviceNodes"].([]any)[0].(map[string]any)
	want := map[string]any{"path": "/dev/nvidia0", "hostPath": cfg.DevDir + "/nvidia0", "type": "c", "major": 195.0, "minor": 0.0}
	if !reflect.DeepEqual(node, want) {
		t.Errorf("device node JSON %v", node)
	}
	mount := m["containerEdits"].(map[string]any)["mounts"].([]any)[0].(map[string]any)
	if mount["type"] != "bind" || !reflect.DeepEqual(mount["options"], []any{"ro", "nosuid", "nodev", "bind"}) {
		t.Errorf("mount JSON %v", mount)
	}
	if got := claimSpecFile("/cdi", "abc"); got != "/cdi/k8s.gpu.nvidia.com-device_abc.json" {
		t.Errorf("spec file %s", got)
	}
}

func claim(uid, ns, name string, results ...resourceapi.DeviceRequestAllocationResult) *resourceapi.ResourceClaim {
	return &resourceapi.ResourceClaim{
		ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Namespace: ns, Name: name},
		Status: resourceapi.ResourceClaimStatus{Allocation: &resourceapi.AllocationResult{
			Devices: resourceapi.DeviceAllocationResult{Results: results},
		}},
	}
}

func TestPrepareUnprepare(t *testing.T) {
	dir := t.TempDir()
	d := newDriver("refcluster-rt-1", inv, dir, cfg, false, log.New(io.Discard, "", 0), nil)
	c1 := claim("uid-1", "ns", "one",
		resourceapi.DeviceRequestAllocationResult{Request: "gpu", Driver: driverName, Pool: "refcluster-rt-1", Device: "gpu-1"},
		resourceapi.DeviceRequestAllocationResult{Request: "nic", Driver: "dra.net", Pool: "refcluster-rt-1", Device: "pci-0"},
	)
	c2 := claim("uid-2", "ns", "bad",
		resourceapi.DeviceRequestAllocationResult{Request: "gpu", Driver: driverName, Pool: "refcluster-rt-1", Device: "gpu-9"})
	c3 := &resourceapi.ResourceClaim{ObjectMeta: metav1.ObjectMeta{UID: "uid-3", Namespace: "ns", Name: "unallocated"}}
	res, err := d.PrepareResourceClaims(context.Background(), []*resourceapi.ResourceClaim{c1, c2, c3})
	if err != nil || len(res) != 3 {
		t.Fatalf("prepare: %v %v", res, err)
	}
	want := []kubeletplugin.Device{{Requests: []string{"gpu"}, PoolName: "refcluster-rt-1", DeviceName: "gpu-1", CDIDeviceIDs: []string{"k8s.gpu.nvidia.com/device=uid-1-gpu-1"}}}
	if r := res["uid-1"]; r.Err != nil || !reflect.DeepEqual(r.Devices, want) {
		t.Errorf("uid-1: %+v", r)
	}
	if res["uid-2"].Err == nil || res["uid-3"].Err == nil {
		t.Errorf("unknown device / unallocated claim prepared: %+v %+v", res["uid-2"], res["uid-3"])
	}
	data, err := os.ReadFile(claimSpecFile(dir, "uid-1"))
	if err != nil {
		t.Fatal(err)
	}
	var spec fakegpu.CDISpec
	if err := json.Unmarshal(data, &spec); err != nil || spec.Devices[0].Name != "uid-1-gpu-1" {
		t.Fatalf("spec file: %s %v", data, err)
	}
	// Idempotent.
	if res, _ := d.PrepareResourceClaims(context.Background(), []*resourceapi.ResourceClaim{c1}); res["uid-1"].Err != nil {
		t.Fatal(res["uid-1"].Err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}

	objs := []kubeletplugin.NamespacedObject{{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "one"}, UID: "uid-1"}, {NamespacedName: types.NamespacedName{Namespace: "ns", Name: "gone"}, UID: "uid-9"}}
	ures, err := d.UnprepareResourceClaims(context.Background(), objs)
	if err != nil || ures["uid-1"] != nil || ures["uid-9"] != nil || len(ures) != 2 {
		t.Fatalf("unprepare: %v %v", ures, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left after unprepare: %v", entries)
	}
}
