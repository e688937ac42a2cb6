// Tests of what the FAKE GPU node agents share: gpus.json, device node numbers, the common CDI edits.
package fakegpu

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDevNumbers(t *testing.T) {
	for _, c := range []struct{ major, minor uint64 }{{195, 0}, {195, 255}, {195, 1}, {238, 0}, {4095, 1 << 19}} {
		rdev := (c.major&0xfff)<<8 | (c.major&^0xfff)<<32 | (c.minor & 0xff) | (c.minor&^0xff)<<12
		if ma, mi := DevNumbers(rdev); ma != c.major || mi != c.minor {
			t.Errorf("DevNumbers(%#x) = %d:%d, want %d:%d", rdev, ma, mi, c.major, c.minor)
		}
	}
}

func TestStatChar(t *testing.T) {
	dir := t.TempDir()
	null := filepath.Join(dir, "null")
	if err := os.Symlink("/dev/null", null); err != nil {
		t.Fatal(err)
	}
	if ma, mi, err := StatChar(null); err != nil || ma != 1 || mi != 3 {
		t.Errorf("/dev/null: %d:%d %v", ma, mi, err)
	}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)
	if _, _, err := StatChar(plain); err == nil || err.Error() != plain+" is not a character device" {
		t.Errorf("regular file: %v", err)
	}
	if _, _, err := StatChar(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing: %v", err)
	}
}

func TestReadAndLoadInventory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	full := write("gpus.json", `{"node": "n1", "driver_version": "580.159.04", "cuda_version": "13.0", "source": "ignored",
		"gpus": [{"minor": 1, "uuid": "GPU-a", "pci_bus_id": "00000000:2A:00.0", "product": "NVIDIA H100 80GB HBM3",
		"brand": "NVIDIA", "architecture": "Hopper", "memory_mib": 81559, "cc_major": 9, "cc_minor": 0}]}`)
	inv, err := LoadInventory(full)
	want := &Inventory{Node: "n1", DriverVersion: "580.159.04", CUDAVersion: "13.0", GPUs: []GPU{
		{Minor: 1, UUID: "GPU-a", PCIBusID: "00000000:2A:00.0", Product: "NVIDIA H100 80GB HBM3", Brand: "NVIDIA", Architecture: "Hopper", MemoryMiB: 81559, CCMajor: 9},
	}}
	if err != nil || !reflect.DeepEqual(inv, want) {
		t.Fatalf("LoadInventory: %+v %v", inv, err)
	}
	empty := write("empty.json", `{"node": "n1", "gpus": []}`)
	if inv, err := ReadInventory(empty); err != nil || len(inv.GPUs) != 0 {
		t.Errorf("ReadInventory of no GPUs: %+v %v", inv, err)
	}
	if _, err := LoadInventory(empty); err == nil || err.Error() != empty+": no GPUs" {
		t.Errorf("LoadInventory of no GPUs: %v", err)
	}
	bad := write("bad.json", `{"gpus": [`)
	if _, err := ReadInventory(bad); err == nil || !strings.HasPrefix(err.Error(), bad+": ") {
		t.Errorf("bad JSON: %v", err)
	}
	if _, err := ReadInventory(filepath.Join(dir, "missing.json")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

func TestCommonEditsAndGPUNode(t *testing.T) {
	h := HostPaths{DevDir: "/state/dev", NvidiaSMI: "/bin/nvidia-smi", GPUsJSON: "/state/gpus.json"}
	data, _ := json.Marshal(CDIEdits{DeviceNodes: append(h.CommonEdits().DeviceNodes, h.GPUNode(3)), Mounts: h.CommonEdits().Mounts})
	want := `{"deviceNodes":[` +
		`{"path":"/dev/nvidiactl","hostPath":"/state/dev/nvidiactl","type":"c","major":195,"minor":255},` +
		`{"path":"/dev/nvidia3","hostPath":"/state/dev/nvidia3","type":"c","major":195,"minor":3}],` +
		`"mounts":[{"hostPath":"/bin/nvidia-smi","containerPath":"/usr/bin/nvidia-smi","type":"bind","options":["ro","nosuid","nodev","bind"]},` +
		`{"hostPath":"/state/gpus.json","containerPath":"/usr/local/aic-fake-nvidia/gpus.json","type":"bind","options":["ro","nosuid","nodev","bind"]}]}`
	if string(data) != want {
		t.Errorf("edits JSON\n%s\nwant\n%s", data, want)
	}
	// A spec without spec-level edits leaves containerEdits out; a device keeps its own.
	data, _ = json.Marshal(CDISpec{Version: CDIVersion, Kind: "k/c", Devices: []CDIDevice{{Name: "d"}}})
	if string(data) != `{"cdiVersion":"0.6.0","kind":"k/c","devices":[{"name":"d","containerEdits":{}}]}` {
		t.Errorf("spec JSON %s", data)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "spec.json")
	for _, text := range []string{"one", "two"} {
		if err := WriteFileAtomic(p, []byte(text)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != text {
			t.Errorf("content %q, want %q", got, text)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "no-such-dir", "x.json"), nil); err == nil {
		t.Error("no error for a missing directory")
	}
}
