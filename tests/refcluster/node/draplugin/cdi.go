// FAKE NVIDIA DRA kubelet plugin (stands in for k8s-dra-driver-gpu's gpu-kubelet-plugin, driver
// gpu.nvidia.com): the inventory, the ResourceSlice devices and the per-claim CDI spec (pure logic).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

const (
	driverName = "gpu.nvidia.com"

	// CDI naming of the NVIDIA DRA driver (cmd/gpu-kubelet-plugin/cdi.go: vendor "k8s."+driver).
	cdiVendor = "k8s." + driverName
	cdiClass  = "device"
	cdiKind   = cdiVendor + "/" + cdiClass
	// 0.6.0: device names may start with a digit (claim UIDs do, 0.5.0) and deviceNodes carry a
	// hostPath (0.5.0); containerd 2.4's CDI library accepts up to 1.0.0.
	cdiVersion = "0.6.0"

	nvidiaMajor     = 195 // /dev/nvidia* (shared/reference/fixtures/h100/dev-nodes.txt)
	nvidiactlMinor  = 255
	smiInContainer  = "/usr/bin/nvidia-smi"
	gpusInContainer = "/usr/local/aic-fake-nvidia/gpus.json"
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
	// PCIeRoot is read from sysfs in real mode; empty, it is derived from the bus number.
	PCIeRoot string `json:"pcie_root,omitempty"`
}

// DeviceName is the DRA device name the NVIDIA DRA driver publishes for a full GPU.
func (g GPU) DeviceName() string { return fmt.Sprintf("gpu-%d", g.Minor) }

// Inventory is gpus.json.
type Inventory struct {
	Node          string `json:"node"`
	DriverVersion string `json:"driver_version"`
	CUDAVersion   string `json:"cuda_version"`
	GPUs          []GPU  `json:"gpus"`
}

func loadInventory(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var inv Inventory
	if err := json.Unmarshal(data, &inv); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(inv.GPUs) == 0 {
		return nil, fmt.Errorf("%s: no GPUs", path)
	}
	return &inv, nil
}

// semver turns NVIDIA versions into DRA version attributes: "580.159.04" -> "580.159.4",
// "13.0" -> "13.0.0" (as tests/refcluster/fakes/dra_driver.py semver()).
func semver(v string) string {
	parts := strings.Split(v, ".")
	out := make([]string, 0, 3)
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			out = append(out, p)
		} else {
			out = append(out, strconv.Itoa(n))
		}
	}
	for len(out) < 3 {
		out = append(out, "0")
	}
	return strings.Join(out[:3], ".")
}

// pciBusID returns the extended BDF form the Python fake publishes: "00000000:18:00.0" ->
// "0000:18:00.0", and the PCIe root "pci0000:18".
func pciBusID(raw string) (bus, root string) {
	bus = strings.ToLower(raw)
	if len(bus) > 12 {
		bus = bus[4:]
	}
	parts := strings.Split(bus, ":")
	if len(parts) > 1 {
		root = "pci0000:" + parts[1]
	}
	return bus, root
}

func str(s string) resourceapi.DeviceAttribute { return resourceapi.DeviceAttribute{StringValue: &s} }
func ver(s string) resourceapi.DeviceAttribute { return resourceapi.DeviceAttribute{VersionValue: &s} }
func num(n int64) resourceapi.DeviceAttribute  { return resourceapi.DeviceAttribute{IntValue: &n} }

// sliceDevices are the devices of this node's pool, with the attribute names and types of the
// kwok-side fake (tests/refcluster/fakes/dra_driver.py slice_for), which copies the NVIDIA DRA
// driver's deviceinfo.go.
func sliceDevices(inv *Inventory) []resourceapi.Device {
	devices := make([]resourceapi.Device, 0, len(inv.GPUs))
	for _, g := range inv.GPUs {
		bus, root := pciBusID(g.PCIBusID)
		if g.PCIeRoot != "" {
			root = g.PCIeRoot
		}
		attrs := map[resourceapi.QualifiedName]resourceapi.DeviceAttribute{
			"type":                            str("gpu"),
			"uuid":                            str(g.UUID),
			"productName":                     str(g.Product),
			"cudaComputeCapability":           ver(fmt.Sprintf("%d.%d.0", g.CCMajor, g.CCMinor)),
			"driverVersion":                   ver(semver(inv.DriverVersion)),
			"index":                           num(int64(g.Minor)),
			"minor":                           num(int64(g.Minor)),
			"resource.kubernetes.io/pciBusID": str(bus),
		}
		// Always set in fake mode; in real mode only when nvidia-smi -q answered.
		for name, v := range map[resourceapi.QualifiedName]string{"brand": g.Brand, "architecture": g.Architecture} {
			if v != "" {
				attrs[name] = str(v)
			}
		}
		if inv.CUDAVersion != "" {
			attrs["cudaDriverVersion"] = ver(semver(inv.CUDAVersion))
		}
		if root != "" {
			attrs["resource.kubernetes.io/pcieRoot"] = str(root)
		}
		devices = append(devices, resourceapi.Device{
			Name:       g.DeviceName(),
			Attributes: attrs,
			Capacity: map[resourceapi.QualifiedName]resourceapi.DeviceCapacity{
				"memory": {Value: resource.MustParse(fmt.Sprintf("%dMi", g.MemoryMiB))},
			},
		})
	}
	return devices
}

// CDI spec, the subset written here (github.com/cncf-tags/container-device-interface SPEC.md).
type cdiSpec struct {
	Version        string      `json:"cdiVersion"`
	Kind           string      `json:"kind"`
	Devices        []cdiDevice `json:"devices"`
	ContainerEdits cdiEdits    `json:"containerEdits,omitzero"`
}

type cdiDevice struct {
	Name           string   `json:"name"`
	ContainerEdits cdiEdits `json:"containerEdits"`
}

type cdiEdits struct {
	Env         []string        `json:"env,omitempty"`
	DeviceNodes []cdiDeviceNode `json:"deviceNodes,omitempty"`
	Mounts      []cdiMount      `json:"mounts,omitempty"`
}

type cdiDeviceNode struct {
	Path     string `json:"path"`
	HostPath string `json:"hostPath,omitempty"`
	Type     string `json:"type,omitempty"`
	Major    int64  `json:"major,omitempty"`
	Minor    int64  `json:"minor"`
}

type cdiMount struct {
	HostPath      string   `json:"hostPath"`
	ContainerPath string   `json:"containerPath"`
	Type          string   `json:"type,omitempty"`
	Options       []string `json:"options,omitempty"`
}

// specConfig are the host paths a claim's CDI edits refer to.
type specConfig struct {
	DevDir    string // the node's dev dir holding nvidia<minor> and nvidiactl
	NvidiaSMI string // host path of the fake nvidia-smi
	GPUsJSON  string // host path of gpus.json
	// Real, set in --mode=real, replaces the fake edits with the host's devices and driver files.
	Real *realConfig
}

func gpuNode(devDir string, minor int) cdiDeviceNode {
	name := fmt.Sprintf("nvidia%d", minor)
	return cdiDeviceNode{Path: "/dev/" + name, HostPath: filepath.Join(devDir, name), Type: "c", Major: nvidiaMajor, Minor: int64(minor)}
}

// commonEdits are what every GPU container gets once: /dev/nvidiactl, the fake nvidia-smi and the
// inventory it reads.  The real toolkit likewise injects nvidia-smi only into GPU containers.
func commonEdits(cfg specConfig) cdiEdits {
	ro := []string{"ro", "nosuid", "nodev", "bind"}
	return cdiEdits{
		DeviceNodes: []cdiDeviceNode{{Path: "/dev/nvidiactl", HostPath: filepath.Join(cfg.DevDir, "nvidiactl"), Type: "c", Major: nvidiaMajor, Minor: nvidiactlMinor}},
		Mounts: []cdiMount{
			{HostPath: cfg.NvidiaSMI, ContainerPath: smiInContainer, Type: "bind", Options: ro},
			{HostPath: cfg.GPUsJSON, ContainerPath: gpusInContainer, Type: "bind", Options: ro},
		},
	}
}

func joinUUIDs(gpus []GPU) string {
	ids := make([]string, len(gpus))
	for i, g := range gpus {
		ids[i] = g.UUID
	}
	return strings.Join(ids, ",")
}

// claimDeviceName is the CDI device name of one GPU of one claim; the claim UID keeps it unique, so
// that no runtime cache hit can return another claim's device.
func claimDeviceName(claimUID string, g GPU) string {
	return claimUID + "-" + g.DeviceName()
}

func claimDeviceID(claimUID string, g GPU) string {
	return cdiKind + "=" + claimDeviceName(claimUID, g)
}

func claimSpecFile(cdiDir, claimUID string) string {
	// cdiapi.GenerateTransientSpecName(vendor, class, claimUID) + ".json"
	return filepath.Join(cdiDir, fmt.Sprintf("%s-%s_%s.json", cdiVendor, cdiClass, claimUID))
}

// claimSpec is the CDI spec of one claim.  Each allocated GPU is a device whose edits hold its own
// device node.  The spec-level edits (applied once to a container that gets any device of this
// spec) hold /dev/nvidiactl, the mounts and NVIDIA_VISIBLE_DEVICES with the UUIDs of all the
// claim's GPUs, so two devices of one claim cannot overwrite each other's env.
//
// With fault all-devices (the broken driver the fault test must catch) the spec-level edits add the
// device nodes of every GPU of the node and name all of them in NVIDIA_VISIBLE_DEVICES.
func claimSpec(claimUID string, allocated, all []GPU, cfg specConfig, faultAll bool) cdiSpec {
	if cfg.Real != nil {
		return realClaimSpec(claimUID, allocated, all, cfg.Real, faultAll)
	}
	spec := cdiSpec{Version: cdiVersion, Kind: cdiKind, ContainerEdits: commonEdits(cfg)}
	for _, g := range allocated {
		spec.Devices = append(spec.Devices, cdiDevice{
			Name:           claimDeviceName(claimUID, g),
			ContainerEdits: cdiEdits{DeviceNodes: []cdiDeviceNode{gpuNode(cfg.DevDir, g.Minor)}},
		})
	}
	visible := allocated
	if faultAll {
		visible = all
		for _, g := range all {
			spec.ContainerEdits.DeviceNodes = append(spec.ContainerEdits.DeviceNodes, gpuNode(cfg.DevDir, g.Minor))
		}
	}
	spec.ContainerEdits.Env = []string{"NVIDIA_VISIBLE_DEVICES=" + joinUUIDs(visible)}
	return spec
}

// writeFileAtomic writes through a hidden temporary name that CDI caches ignore (they only load
// *.json and *.yaml), then renames.
func writeFileAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
