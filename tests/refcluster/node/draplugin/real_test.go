// Tests of the real mode of the NVIDIA DRA kubelet plugin stand-in: nvidia-smi parsing, host device
// nodes, the PCIe root from sysfs, the per-claim CDI spec and setup with a stand-in nvidia-smi.
package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	resourceapi "k8s.io/api/resource/v1"
	"local/ai-conformance/fake-gpu-node/fakegpu"
)

// What the H200 machine's driver prints for realQueryFields with csv,noheader,nounits (the layout of
// the recorded H100 query, shared/reference/fixtures/h100/query.csv, without units); the second GPU
// is made up to test several lines.
const h200CSV = "0, GPU-640a6f14-1111-2222-3333-444455556666, NVIDIA H200, 00000000:00:06.0, 580.159.04, 143771, 9.0\n" +
	"1, GPU-77777777-8888-9999-aaaa-bbbbccccdddd, NVIDIA H200, 00000000:2A:00.0, 580.159.04, 143771, 9.0\n"

// An excerpt of `nvidia-smi -q` in the recorded layout (shared/reference/fixtures/h100/nvidia-smi-q.txt).
const h200Q = `
==============NVSMI LOG==============

Timestamp                                              : Wed Dec  2 18:00:00 2026
Driver Version                                         : 580.159.04
CUDA Version                                           : 13.0

Attached GPUs                                          : 2
GPU 00000000:00:06.0
    Product Name                                       : NVIDIA H200
    Product Brand                                      : NVIDIA
    Product Architecture                               : Hopper
    MIG Mode
        Current                                        : Disabled
    GPU UUID                                           : GPU-640a6f14-1111-2222-3333-444455556666
    Minor Number                                       : 0
    Platform Info
        Minor Number                                   : 99

GPU 00000000:2A:00.0
    Product Name                                       : NVIDIA H200
    Product Brand                                      : NVIDIA
    Product Architecture                               : Hopper
    Minor Number                                       : 3
`

func TestParseQueryCSV(t *testing.T) {
	gpus, driver, err := parseQueryCSV(h200CSV)
	if err != nil {
		t.Fatal(err)
	}
	want := []fakegpu.GPU{
		{Minor: 0, UUID: "GPU-640a6f14-1111-2222-3333-444455556666", Product: "NVIDIA H200", PCIBusID: "00000000:00:06.0", MemoryMiB: 143771, CCMajor: 9, CCMinor: 0},
		{Minor: 1, UUID: "GPU-77777777-8888-9999-aaaa-bbbbccccdddd", Product: "NVIDIA H200", PCIBusID: "00000000:2A:00.0", MemoryMiB: 143771, CCMajor: 9, CCMinor: 0},
	}
	if driver != "580.159.04" || !reflect.DeepEqual(gpus, want) {
		t.Fatalf("got %q %+v", driver, gpus)
	}
	// With units (the recorded H100 line's cells) the memory still parses.
	if g, _, err := parseQueryCSV("0, GPU-a764fc88-d7a8-ffd6-863f-cdb649c54382, NVIDIA H100 80GB HBM3, 00000000:00:06.0, 580.159.04, 81559 MiB, 9.0\n"); err != nil || g[0].MemoryMiB != 81559 {
		t.Fatalf("units: %+v %v", g, err)
	}
	for name, bad := range map[string]string{
		"no devices":     "No devices were found\n",
		"empty":          "\n",
		"short":          "0, GPU-x, NVIDIA H200\n",
		"bad index":      "x, GPU-x, n, 00000000:00:06.0, 580.159.04, 1, 9.0\n",
		"bad uuid":       "0, MIG-x, n, 00000000:00:06.0, 580.159.04, 1, 9.0\n",
		"bad cc":         "0, GPU-x, n, 00000000:00:06.0, 580.159.04, 1, [N/A]\n",
		"two drivers":    "0, GPU-x, n, b, 580.159.04, 1, 9.0\n1, GPU-y, n, c, 575.1.2, 1, 9.0\n",
		"memory not int": "0, GPU-x, n, b, 580.159.04, [N/A], 9.0\n",
	} {
		if _, _, err := parseQueryCSV(bad); err == nil {
			t.Errorf("%s: no error for %q", name, bad)
		}
	}
}

func TestParseQAndMerge(t *testing.T) {
	q := parseQ(h200Q)
	if q.CUDAVersion != "13.0" || len(q.PerGPU) != 2 {
		t.Fatalf("parseQ: %+v", q)
	}
	if got := q.PerGPU["00000000:00:06.0"]; got["Minor Number"] != "0" || got["Product Architecture"] != "Hopper" {
		t.Fatalf("first GPU: %v", got)
	}
	gpus, _, _ := parseQueryCSV(h200CSV)
	gpus = append(gpus, fakegpu.GPU{Minor: 2, UUID: "GPU-not-in-q", PCIBusID: "00000000:5D:00.0"})
	mergeQ(gpus, q)
	if gpus[0].Minor != 0 || gpus[0].Brand != "NVIDIA" || gpus[0].Architecture != "Hopper" {
		t.Errorf("gpu 0: %+v", gpus[0])
	}
	if gpus[1].Minor != 3 { // the minor number, not the index, names /dev/nvidiaN
		t.Errorf("gpu 1 minor %d, want 3 from -q", gpus[1].Minor)
	}
	if gpus[2].Minor != 2 || gpus[2].Brand != "" {
		t.Errorf("gpu without -q facts: %+v", gpus[2])
	}
}

// devDir makes a dev dir whose entries are symlinks to /dev/null (a char device, 1:3, everywhere).
func devDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.Symlink("/dev/null", filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHostNodes(t *testing.T) {
	gpus := []fakegpu.GPU{{Minor: 0, UUID: "GPU-a"}, {Minor: 3, UUID: "GPU-b"}}
	dir := devDir(t, "nvidia0", "nvidia3", "nvidiactl", "nvidia-uvm")
	byMinor, control, err := hostNodes(dir, gpus)
	if err != nil {
		t.Fatal(err)
	}
	if n := byMinor[3]; n.Path != "/dev/nvidia3" || n.HostPath != filepath.Join(dir, "nvidia3") || n.Major != 1 || n.Minor != 3 {
		t.Errorf("nvidia3: %+v", n)
	}
	var paths []string
	for _, n := range control {
		paths = append(paths, n.Path)
	}
	if !reflect.DeepEqual(paths, []string{"/dev/nvidiactl", "/dev/nvidia-uvm"}) { // nvidia-uvm-tools absent: left out
		t.Errorf("control nodes %v", paths)
	}
	if _, _, err := hostNodes(devDir(t, "nvidia0", "nvidia3"), gpus); err == nil {
		t.Error("no error without nvidiactl")
	}
	if _, _, err := hostNodes(devDir(t, "nvidia0", "nvidiactl"), gpus); err == nil || !strings.Contains(err.Error(), "minor 3") {
		t.Errorf("missing GPU node: %v", err)
	}
	plain := devDir(t, "nvidiactl")
	os.WriteFile(filepath.Join(plain, "nvidia0"), nil, 0o644)
	if _, _, err := hostNodes(plain, gpus[:1]); err == nil || !strings.Contains(err.Error(), "not a character device") {
		t.Errorf("regular file accepted: %v", err)
	}
}

func TestPcieRootFromSysfs(t *testing.T) {
	sys := t.TempDir()
	dev := filepath.Join(sys, "devices", "pci0000:00", "0000:00:02.0", "0000:06:00.0")
	os.MkdirAll(dev, 0o755)
	os.MkdirAll(filepath.Join(sys, "bus", "pci", "devices"), 0o755)
	os.Symlink("../../../devices/pci0000:00/0000:00:02.0/0000:06:00.0", filepath.Join(sys, "bus", "pci", "devices", "0000:06:00.0"))
	if got := pcieRootFromSysfs(sys, "0000:06:00.0"); got != "pci0000:00" {
		t.Errorf("root %q", got)
	}
	if got := pcieRootFromSysfs(sys, "0000:07:00.0"); got != "" {
		t.Errorf("missing device: %q", got)
	}
}

var rc = &realConfig{
	DriverRoot: "/usr/local/nvidia",
	LibDirs:    []string{"/lib/x86_64-linux-gnu", "/lib64"},
	LDPath:     "/usr/local/nvidia/lib64",
	GPUNodes: map[int]cdiNode{
		0: {Path: "/dev/nvidia0", HostPath: "/dev/nvidia0", Major: 195, Minor: 0},
		1: {Path: "/dev/nvidia1", HostPath: "/dev/nvidia1", Major: 195, Minor: 1},
	},
	Control: []cdiNode{
		{Path: "/dev/nvidiactl", HostPath: "/dev/nvidiactl", Major: 195, Minor: 255},
		{Path: "/dev/nvidia-uvm", HostPath: "/dev/nvidia-uvm", Major: 238, Minor: 0},
	},
}

// realNodes: real mode's nodes are the host's own, at the same path.
func realNodes(c container) []string {
	return sortedNodes(c, func(p string, n fakegpu.CDIDeviceNode) bool { return n.HostPath == p })
}

func TestRealClaimSpec(t *testing.T) {
	uid := "0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
	spec := claimSpec(uid, inv.GPUs[1:], inv.GPUs, specConfig{Real: rc}, false)
	if spec.Kind != "k8s.gpu.nvidia.com/device" || spec.Version != "0.6.0" || len(spec.Devices) != 1 || spec.Devices[0].Name != uid+"-gpu-1" {
		t.Fatalf("spec %+v", spec)
	}
	c := inject(t, spec, []string{claimDeviceID(uid, inv.GPUs[1])})
	if got := realNodes(c); !reflect.DeepEqual(got, []string{"/dev/nvidia-uvm", "/dev/nvidia1", "/dev/nvidiactl"}) {
		t.Errorf("nodes %v", got)
	}
	if n := c.nodes["/dev/nvidia-uvm"]; n.Major != 238 || n.Minor != 0 {
		t.Errorf("uvm %+v", n)
	}
	wantEnv := map[string]string{
		"NVIDIA_VISIBLE_DEVICES": inv.GPUs[1].UUID,
		"PATH":                   "/usr/local/nvidia/bin:" + stdPath,
		"LD_LIBRARY_PATH":        "/usr/local/nvidia/lib64",
	}
	if !reflect.DeepEqual(c.env, wantEnv) {
		t.Errorf("env %v", c.env)
	}
	wantMounts := map[string]string{"/usr/local/nvidia": "/usr/local/nvidia", "/lib/x86_64-linux-gnu": "/lib/x86_64-linux-gnu", "/lib64": "/lib64"}
	if !reflect.DeepEqual(c.mounts, wantMounts) {
		t.Errorf("mounts %v", c.mounts)
	}
	for _, m := range spec.ContainerEdits.Mounts {
		if !reflect.DeepEqual(m.Options, []string{"ro", "nosuid", "nodev", "bind"}) {
			t.Errorf("mount %+v not read-only", m)
		}
	}
	// Two GPUs: both nodes, both UUIDs, env set once.
	spec = claimSpec(uid, inv.GPUs, inv.GPUs, specConfig{Real: rc}, false)
	c = inject(t, spec, []string{claimDeviceID(uid, inv.GPUs[0]), claimDeviceID(uid, inv.GPUs[1])})
	if got := realNodes(c); len(got) != 4 || c.env["NVIDIA_VISIBLE_DEVICES"] != inv.GPUs[0].UUID+","+inv.GPUs[1].UUID {
		t.Errorf("two GPUs: %v %v", got, c.env)
	}
	// Fault all-devices: one GPU allocated, both injected.
	spec = claimSpec(uid, inv.GPUs[:1], inv.GPUs, specConfig{Real: rc}, true)
	c = inject(t, spec, []string{claimDeviceID(uid, inv.GPUs[0])})
	if got := realNodes(c); !reflect.DeepEqual(got, []string{"/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"}) {
		t.Errorf("fault nodes %v", got)
	}
	// No driver root, no library dirs, no LD path: device nodes and the UUIDs only.
	bare := &realConfig{GPUNodes: rc.GPUNodes, Control: rc.Control[:1]}
	spec = claimSpec(uid, inv.GPUs[:1], inv.GPUs, specConfig{Real: bare}, false)
	if len(spec.ContainerEdits.Mounts) != 0 || !reflect.DeepEqual(spec.ContainerEdits.Env, []string{"NVIDIA_VISIBLE_DEVICES=" + inv.GPUs[0].UUID}) {
		t.Errorf("bare spec %+v", spec.ContainerEdits)
	}
}

func TestSliceDevicesReal(t *testing.T) {
	gpus, driver, _ := parseQueryCSV(h200CSV)
	gpus[0].PCIeRoot = "pci0000:00"
	devs := sliceDevices(&fakegpu.Inventory{DriverVersion: driver, GPUs: gpus}) // -q did not answer
	a := devs[0].Attributes
	for _, gone := range []resourceapi.QualifiedName{"brand", "architecture", "cudaDriverVersion"} {
		if _, ok := a[gone]; ok {
			t.Errorf("%s published without -q", gone)
		}
	}
	if *a["productName"].StringValue != "NVIDIA H200" || *a["driverVersion"].VersionValue != "580.159.4" || *a["cudaComputeCapability"].VersionValue != "9.0.0" ||
		*a["resource.kubernetes.io/pciBusID"].StringValue != "0000:00:06.0" || *a["resource.kubernetes.io/pcieRoot"].StringValue != "pci0000:00" {
		t.Errorf("attributes %+v", a)
	}
	if *devs[1].Attributes["resource.kubernetes.io/pcieRoot"].StringValue != "pci0000:2a" { // no sysfs answer: from the bus number
		t.Errorf("derived root %v", *devs[1].Attributes["resource.kubernetes.io/pcieRoot"].StringValue)
	}
	if q := devs[0].Capacity["memory"].Value; q.String() != "143771Mi" {
		t.Errorf("memory %s", q.String())
	}
}

// A stand-in nvidia-smi: answers the query and -q only when LD_LIBRARY_PATH is what --ld-library-path says.
const smiScript = `#!/bin/sh
[ "$LD_LIBRARY_PATH" = "/drv/lib64" ] || { echo "NVIDIA-SMI couldn't find libnvidia-ml.so library in your system." ; exit 12; }
case "$1" in
--query-gpu=index,uuid,name,pci.bus_id,driver_version,memory.total,compute_cap) [ "$2" = "--format=csv,noheader,nounits" ] && printf '%s' "$CSV" && exit 0 ;;
-q) printf '%s' "$QOUT"; exit 0 ;;
esac
echo "bad args: $*"; exit 2
`

func TestSetupReal(t *testing.T) {
	root := t.TempDir()
	smi := filepath.Join(root, "nvidia-smi")
	os.WriteFile(smi, []byte(smiScript), 0o755)
	t.Setenv("CSV", strings.SplitAfter(h200CSV, "\n")[0])
	t.Setenv("QOUT", h200Q)
	dev := devDir(t, "nvidia0", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools")
	f := &flags{
		mode: "real", nodeName: "gpu-node-1", cdiDir: filepath.Join(root, "cdi"), nvidiaSMI: smi, devDir: dev, fault: "none",
		driverRoot: root, hostLibDirs: "/nonexistent-lib," + root, sysfs: filepath.Join(root, "sys"),
		registrationDir: filepath.Join(root, "reg"), pluginDataDir: filepath.Join(root, "plugin"),
	}
	logger := log.New(io.Discard, "", 0)
	if _, _, _, err := setup(f, logger); err == nil || !strings.Contains(err.Error(), "libnvidia-ml") {
		t.Fatalf("no LD_LIBRARY_PATH: %v", err)
	}
	f.ldLibraryPath = "/drv/lib64"
	got, cfg, faultAll, err := setup(f, logger)
	if err != nil || faultAll {
		t.Fatal(err)
	}
	if len(got.GPUs) != 1 || got.CUDAVersion != "13.0" || got.GPUs[0].Architecture != "Hopper" || got.GPUs[0].PCIeRoot != "" {
		t.Fatalf("inventory %+v", got)
	}
	if cfg.Real == nil || len(cfg.Real.Control) != 3 || cfg.Real.LDPath != "/drv/lib64" || !reflect.DeepEqual(cfg.Real.LibDirs, []string{root}) {
		t.Fatalf("config %+v", cfg.Real)
	}
	d := newDriver("gpu-node-1", got, f.cdiDir, cfg, false, logger, nil)
	c := claim("uid-9", "ns", "one", resourceapi.DeviceRequestAllocationResult{Request: "gpu", Driver: driverName, Pool: "gpu-node-1", Device: "gpu-0"})
	res, _ := d.PrepareResourceClaims(context.Background(), []*resourceapi.ResourceClaim{c})
	if res["uid-9"].Err != nil {
		t.Fatal(res["uid-9"].Err)
	}
	data, _ := os.ReadFile(claimSpecFile(f.cdiDir, "uid-9"))
	var spec fakegpu.CDISpec
	if err := json.Unmarshal(data, &spec); err != nil || spec.Devices[0].ContainerEdits.DeviceNodes[0].HostPath != filepath.Join(dev, "nvidia0") ||
		spec.ContainerEdits.Mounts[0].HostPath != root || spec.ContainerEdits.Env[0] != "NVIDIA_VISIBLE_DEVICES="+got.GPUs[0].UUID {
		t.Fatalf("spec file: %s %v", data, err)
	}

	for name, mutate := range map[string]func(*flags){
		"gpus in real mode": func(f *flags) { f.gpus = "x.json" },
		"unknown mode":      func(f *flags) { f.mode = "sim" },
		"no nvidiactl":      func(f *flags) { f.devDir = devDir(t, "nvidia0") },
	} {
		bad := *f
		mutate(&bad)
		if _, _, _, err := setup(&bad, logger); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
