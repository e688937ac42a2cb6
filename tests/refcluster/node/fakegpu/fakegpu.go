// Package fakegpu is what the FAKE GPU node agents share (the stand-ins for the NVIDIA DRA kubelet
// plugin, NVIDIA's k8s-device-plugin, nvidia-smi and the legacy nvidia-container-runtime): the
// node's GPU inventory gpus.json, the naming and numbers of the NVIDIA device nodes, and the CDI
// spec subset the plugins write.  Static and stdlib only, so that nvidia-smi and the runtime that
// import it stay so.
//
// The harness builds it inside the fake-gpu-node tools module as the package
// local/ai-conformance/fake-gpu-node/fakegpu (tests/refcluster/components.yaml, local_packages).
package fakegpu

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
)

const (
	NvidiaMajor    = 195 // char major of /dev/nvidia* (shared/reference/fixtures/h100/dev-nodes.txt)
	NvidiactlMinor = 255
	CtlName        = "nvidiactl"

	EnvVisible = "NVIDIA_VISIBLE_DEVICES"
	// Where a GPU container finds the fake nvidia-smi and the inventory it reads (bind mounts).
	SMIInContainer  = "/usr/bin/nvidia-smi"
	GPUsInContainer = "/usr/local/aic-fake-nvidia/gpus.json"
)

// GPU is one entry of gpus.json (tests/refcluster/fakes/gpus.py runtime_node_inventory).
type GPU struct {
	Minor        int    `json:"minor"`
	UUID         string `json:"uuid"`
	PCIBusID     string `json:"pci_bus_id"`
	Product      string `json:"product"`
	Brand        string `json:"brand"`
	Architecture string `json:"architecture"`
	MemoryMiB    int64  `json:"memory_mib"`
	CCMajor      int    `json:"cc_major"`
	CCMinor      int    `json:"cc_minor"`
	// PCIeRoot is read from sysfs in the DRA plugin's real mode; empty, it is derived from the bus
	// number.  gpus.json does not carry it.
	PCIeRoot string `json:"pcie_root,omitempty"`
}

// Inventory is gpus.json.
type Inventory struct {
	Node          string `json:"node"`
	DriverVersion string `json:"driver_version"`
	CUDAVersion   string `json:"cuda_version"`
	GPUs          []GPU  `json:"gpus"`
}

// ReadInventory reads gpus.json.  An inventory without GPUs is valid here (nvidia-smi then finds
// no devices); a read error is returned as it is, a decoding error names the file.
func ReadInventory(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var inv Inventory
	if err := json.Unmarshal(data, &inv); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &inv, nil
}

// LoadInventory is ReadInventory for the plugins, which refuse an inventory without GPUs.
func LoadInventory(path string) (*Inventory, error) {
	inv, err := ReadInventory(path)
	if err != nil {
		return nil, err
	}
	if len(inv.GPUs) == 0 {
		return nil, fmt.Errorf("%s: no GPUs", path)
	}
	return inv, nil
}

// NodeName is the device node of the GPU with this minor number: "nvidia<minor>" (under /dev).
func NodeName(minor int) string { return fmt.Sprintf("nvidia%d", minor) }

// DevNumbers splits a Linux dev_t (glibc's gnu_dev_major/gnu_dev_minor encoding).
func DevNumbers(rdev uint64) (major, minor uint64) {
	return ((rdev >> 8) & 0xfff) | ((rdev >> 32) &^ 0xfff), (rdev & 0xff) | ((rdev >> 12) &^ 0xff)
}

// StatChar returns a char device's numbers (stat(2), following links).  A missing path gives
// stat's error as it is; another file type "<path> is not a character device".
func StatChar(path string) (major, minor uint64, err error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, 0, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFCHR {
		return 0, 0, fmt.Errorf("%s is not a character device", path)
	}
	major, minor = DevNumbers(uint64(st.Rdev))
	return major, minor, nil
}
