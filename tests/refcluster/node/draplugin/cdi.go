// FAKE NVIDIA DRA kubelet plugin (stands in for k8s-dra-driver-gpu's gpu-kubelet-plugin, driver
// gpu.nvidia.com): the ResourceSlice devices and the per-claim CDI spec (pure logic; gpus.json, the
// device nodes and the CDI types are package fakegpu's).
package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"local/ai-conformance/fake-gpu-node/fakegpu"
)

const (
	driverName = "gpu.nvidia.com"

	// CDI naming of the NVIDIA DRA driver (cmd/gpu-kubelet-plugin/cdi.go: vendor "k8s."+driver).
	cdiVendor = "k8s." + driverName
	cdiClass  = "device"
	cdiKind   = cdiVendor + "/" + cdiClass
)

// deviceName is the DRA device name the NVIDIA DRA driver publishes for a full GPU.
func deviceName(g fakegpu.GPU) string { return fmt.Sprintf("gpu-%d", g.Minor) }

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
func sliceDevices(inv *fakegpu.Inventory) []resourceapi.Device {
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
			Name:       deviceName(g),
			Attributes: attrs,
			Capacity: map[resourceapi.QualifiedName]resourceapi.DeviceCapacity{
				"memory": {Value: resource.MustParse(fmt.Sprintf("%dMi", g.MemoryMiB))},
			},
		})
	}
	return devices
}

// specConfig are the host paths a claim's CDI edits refer to.
type specConfig struct {
	fakegpu.HostPaths
	// Real, set in --mode=real, replaces the fake edits with the host's devices and driver files.
	Real *realConfig
}

func joinUUIDs(gpus []fakegpu.GPU) string {
	ids := make([]string, len(gpus))
	for i, g := range gpus {
		ids[i] = g.UUID
	}
	return strings.Join(ids, ",")
}

// claimDeviceName is the CDI device name of one GPU of one claim; the claim UID keeps it unique, so
// that no runtime cache hit can return another claim's device.
func claimDeviceName(claimUID string, g fakegpu.GPU) string {
	return claimUID + "-" + deviceName(g)
}

func claimDeviceID(claimUID string, g fakegpu.GPU) string {
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
func claimSpec(claimUID string, allocated, all []fakegpu.GPU, cfg specConfig, faultAll bool) fakegpu.CDISpec {
	if cfg.Real != nil {
		return realClaimSpec(claimUID, allocated, all, cfg.Real, faultAll)
	}
	spec := fakegpu.CDISpec{Version: fakegpu.CDIVersion, Kind: cdiKind, ContainerEdits: cfg.CommonEdits()}
	for _, g := range allocated {
		spec.Devices = append(spec.Devices, fakegpu.CDIDevice{
			Name:           claimDeviceName(claimUID, g),
			ContainerEdits: fakegpu.CDIEdits{DeviceNodes: []fakegpu.CDIDeviceNode{cfg.GPUNode(g.Minor)}},
		})
	}
	visible := allocated
	if faultAll {
		visible = all
		for _, g := range all {
			spec.ContainerEdits.DeviceNodes = append(spec.ContainerEdits.DeviceNodes, cfg.GPUNode(g.Minor))
		}
	}
	spec.ContainerEdits.Env = []string{fakegpu.EnvVisible + "=" + joinUUIDs(visible)}
	return spec
}
