// Tests of the FAKE nvidia-smi (stands in for NVIDIA's nvidia-smi): visibility rule and output.
// The device-node tests need mknod (root); they are skipped otherwise.
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"local/ai-conformance/fake-gpu-node/fakegpu"
)

// The first GPU is the recorded H100 (tests/refcluster/fixtures/h100-query.csv); the second is
// synthesized like the rest of the refcluster inventory.
var testInventory = fakegpu.Inventory{
	Node:          "refcluster-rt-1",
	DriverVersion: "580.159.04",
	CUDAVersion:   "13.0",
	GPUs: []fakegpu.GPU{
		{Minor: 0, UUID: "GPU-a764fc88-d7a8-ffd6-863f-cdb649c54382", PCIBusID: "00000000:00:06.0", Product: "NVIDIA H100 80GB HBM3", Brand: "NVIDIA", Architecture: "Hopper", MemoryMiB: 81559, CCMajor: 9, CCMinor: 0},
		{Minor: 1, UUID: "GPU-c97cb62a-a463-5026-b2d0-75ec3e263019", PCIBusID: "00000000:2A:00.0", Product: "NVIDIA H100 80GB HBM3", Brand: "NVIDIA", Architecture: "Hopper", MemoryMiB: 81559, CCMajor: 9, CCMinor: 0},
	},
}

func mkdev(t *testing.T, path string, major, minor uint32) {
	t.Helper()
	dev := int((major << 8) | (minor & 0xff) | ((minor &^ 0xff) << 12))
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, dev); err != nil {
		if os.IsPermission(err) || err == syscall.EPERM {
			t.Skipf("mknod not permitted here: %v", err)
		}
		t.Fatalf("mknod %s: %v", path, err)
	}
}

// env writes the inventory and returns an environment with a fresh dev dir.
func env(t *testing.T) (func(string) string, string) {
	t.Helper()
	dir := t.TempDir()
	dev := filepath.Join(dir, "dev")
	if err := os.Mkdir(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(testInventory)
	inv := filepath.Join(dir, "gpus.json")
	if err := os.WriteFile(inv, data, 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"AIC_FAKE_NVIDIA_GPUS": inv, "AIC_FAKE_NVIDIA_DEV": dev}
	return func(k string) string { return vars[k] }, dev
}

// envWith is env with /dev/nvidiactl and the nodes of the GPUs with these minors made, each with
// its real numbers.
func envWith(t *testing.T, minors ...int) (func(string) string, string) {
	t.Helper()
	getenv, dev := env(t)
	mkdev(t, filepath.Join(dev, fakegpu.CtlName), fakegpu.NvidiaMajor, fakegpu.NvidiactlMinor)
	for _, m := range minors {
		mkdev(t, filepath.Join(dev, fakegpu.NodeName(m)), fakegpu.NvidiaMajor, uint32(m))
	}
	return getenv, dev
}

func smi(getenv func(string) string, args ...string) (string, int) {
	var out bytes.Buffer
	rc := run(args, getenv, &out)
	return out.String(), rc
}

func TestOnlyOpenableCharDevicesAreVisible(t *testing.T) {
	getenv, dev := envWith(t, 0)

	out, rc := smi(getenv, "-L")
	want := "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-a764fc88-d7a8-ffd6-863f-cdb649c54382)\n"
	if rc != 0 || out != want {
		t.Fatalf("-L = %q rc %d, want %q rc 0", out, rc, want)
	}

	// A regular file, or a char device with the wrong numbers, is no GPU.
	if err := os.WriteFile(filepath.Join(dev, "nvidia1"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if out, _ := smi(getenv, "-L"); strings.Count(out, "GPU ") != 1 {
		t.Fatalf("regular file counted as a GPU: %q", out)
	}
	os.Remove(filepath.Join(dev, "nvidia1"))
	mkdev(t, filepath.Join(dev, "nvidia1"), 195, 7)
	if out, _ := smi(getenv, "-L"); strings.Count(out, "GPU ") != 1 {
		t.Fatalf("195:7 counted as GPU minor 1: %q", out)
	}
	os.Remove(filepath.Join(dev, "nvidia1"))
	mkdev(t, filepath.Join(dev, "nvidia1"), 195, 1)
	if out, _ := smi(getenv, "-L"); strings.Count(out, "GPU ") != 2 {
		t.Fatalf("want 2 GPUs: %q", out)
	}
}

func TestDeniedDevicesAreInvisibleAndIndicesRenumbered(t *testing.T) {
	getenv, dev := envWith(t, 0, 1)

	saved := openNode
	defer func() { openNode = saved }()
	denied := map[string]error{filepath.Join(dev, "nvidia0"): syscall.EPERM}
	openNode = func(p string) error {
		if err, ok := denied[p]; ok {
			return &os.PathError{Op: "open", Path: p, Err: err}
		}
		return &os.PathError{Op: "open", Path: p, Err: syscall.ENXIO} // no driver: still allowed
	}
	out, rc := smi(getenv, "--query-gpu=index,uuid", "--format=csv,noheader")
	if rc != 0 || out != "0, GPU-c97cb62a-a463-5026-b2d0-75ec3e263019\n" {
		t.Fatalf("got %q rc %d", out, rc)
	}

	denied[filepath.Join(dev, "nvidia1")] = syscall.EACCES
	if out, rc := smi(getenv, "-L"); rc != exitNotFound || out != "No devices were found\n" {
		t.Fatalf("all denied: %q rc %d", out, rc)
	}

	denied[filepath.Join(dev, "nvidiactl")] = syscall.EPERM
	if out, rc := smi(getenv, "-L"); rc != exitUnknownNVML || out != msgNVMLDenied+"\n" {
		t.Fatalf("nvidiactl denied: %q rc %d", out, rc)
	}
}

func TestNoDriver(t *testing.T) {
	getenv, dev := env(t)
	mkdev(t, filepath.Join(dev, "nvidia0"), 195, 0)
	if out, rc := smi(getenv, "-L"); rc != exitNoDriver || out != msgNoDriver+"\n" {
		t.Fatalf("without nvidiactl: %q rc %d", out, rc)
	}
	mkdev(t, filepath.Join(dev, "nvidiactl"), 195, 255)
	broken := func(k string) string {
		if k == "AIC_FAKE_NVIDIA_GPUS" {
			return filepath.Join(dev, "missing.json")
		}
		return getenv(k)
	}
	if out, rc := smi(broken); rc != exitNoDriver || out != msgNoDriver+"\n" {
		t.Fatalf("without inventory: %q rc %d", out, rc)
	}
}

func TestNoDevices(t *testing.T) {
	getenv, _ := envWith(t)
	if out, rc := smi(getenv, "--query-gpu=name", "--format=csv"); rc != exitNotFound || out != "No devices were found\n" {
		t.Fatalf("%q rc %d", out, rc)
	}
}

// Header and values as the recorded query.csv prints them.
func TestQueryFormatMatchesRecording(t *testing.T) {
	getenv, _ := envWith(t, 0)

	fields := []string{"index", "uuid", "name", "pci.bus_id", "driver_version", "memory.total [MiB]", "compute_cap"}
	want := map[string]string{
		"index": "0", "uuid": "GPU-a764fc88-d7a8-ffd6-863f-cdb649c54382", "name": "NVIDIA H100 80GB HBM3",
		"pci.bus_id": "00000000:00:06.0", "driver_version": "580.159.04", "memory.total [MiB]": "81559 MiB", "compute_cap": "9.0",
	}
	// Cross-check against the recording when the repository's fixture is reachable.
	for _, p := range []string{os.Getenv("AIC_FIXTURE_QUERY_CSV"), "../../fixtures/h100-query.csv"} {
		if p == "" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		hs, vs := strings.Split(lines[0], ", "), strings.Split(lines[1], ", ")
		for i, h := range hs {
			if _, ok := want[h]; ok && want[h] != vs[i] {
				t.Fatalf("test expectation %s=%q differs from recording %q", h, want[h], vs[i])
			}
		}
		t.Logf("cross-checked against %s", p)
		break
	}

	out, rc := smi(getenv, "--query-gpu=index,uuid,name,pci.bus_id,driver_version,memory.total,compute_cap", "--format=csv")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, out)
	}
	vals := make([]string, len(fields))
	for i, f := range fields {
		vals[i] = want[f]
	}
	exp := strings.Join(fields, ", ") + "\n" + strings.Join(vals, ", ") + "\n"
	if out != exp {
		t.Fatalf("got\n%s\nwant\n%s", out, exp)
	}

	out, _ = smi(getenv, "--query-gpu", "memory.total,count", "--format", "csv,noheader,nounits")
	if out != "81559, 1\n" {
		t.Fatalf("nounits/noheader: %q", out)
	}
	out, _ = smi(getenv, "--query-gpu=memory.total", "--format=csv,nounits")
	if out != "memory.total [MiB]\n81559\n" {
		t.Fatalf("nounits keeps the header unit: %q", out)
	}
}

func TestSelectByID(t *testing.T) {
	getenv, _ := envWith(t, 0, 1)
	out, rc := smi(getenv, "-L", "-i", "1")
	if rc != 0 || !strings.HasPrefix(out, "GPU 1: ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("-i 1: %q", out)
	}
	out, _ = smi(getenv, "--query-gpu=index", "--format=csv,noheader", "--id=GPU-a764fc88-d7a8-ffd6-863f-cdb649c54382")
	if out != "0\n" {
		t.Fatalf("-i uuid: %q", out)
	}
	if out, rc := smi(getenv, "-L", "-i", "2"); rc != exitNotFound || out != "No devices were found\n" {
		t.Fatalf("-i 2: %q rc %d", out, rc)
	}
}

func TestBadArguments(t *testing.T) {
	getenv, _ := envWith(t, 0)
	for _, args := range [][]string{{"--bogus"}, {"-x"}, {"--query-gpu=name"}, {"-L", "--format=csv"}, {"-i"}} {
		if out, rc := smi(getenv, args...); rc != exitBadArgs || !strings.Contains(out, "nvidia-smi -h") {
			t.Errorf("%v: %q rc %d", args, out, rc)
		}
	}
	if out, rc := smi(getenv, "--query-gpu=nope", "--format=csv"); rc != exitBadArgs || out != "Field \"nope\" is not a valid field to query.\n\n" {
		t.Errorf("bad field: %q rc %d", out, rc)
	}
}

func TestDefaultTableAndDetails(t *testing.T) {
	getenv, _ := envWith(t, 1)
	out, rc := smi(getenv)
	if rc != 0 || !strings.Contains(out, "Driver Version: 580.159.04") || !strings.Contains(out, "00000000:2A:00.0") {
		t.Fatalf("table: %s", out)
	}
	width := -1
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "|") || strings.HasPrefix(l, "+") {
			if width < 0 {
				width = len(l)
			} else if len(l) != width {
				t.Errorf("ragged table line (%d != %d): %q", len(l), width, l)
			}
		}
	}
	out, rc = smi(getenv, "-q")
	if rc != 0 || !strings.Contains(out, "    GPU UUID                                           : GPU-c97cb62a-a463-5026-b2d0-75ec3e263019\n") {
		t.Fatalf("-q: %s", out)
	}
}
