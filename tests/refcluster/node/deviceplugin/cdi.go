// FAKE NVIDIA device plugin (stands in for NVIDIA's k8s-device-plugin, resource nvidia.com/gpu,
// CDI device-list strategy): the static CDI spec and the Allocate answer (pure logic; gpus.json,
// the device nodes and the CDI types are package fakegpu's).
package main

import (
	"fmt"
	"strings"

	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
	"local/ai-conformance/fake-gpu-node/fakegpu"
)

const (
	// The spec the NVIDIA container toolkit generates for the host (nvidia-ctk cdi generate):
	// kind nvidia.com/gpu, devices named by UUID, index or "all".
	cdiKind         = "nvidia.com/gpu"
	cdiSpecFileName = "nvidia.com-gpu.json"
)

// staticSpec is one device per GPU (its device node).  The spec-level edits, applied once to any
// container that gets at least one of these devices, add /dev/nvidiactl and the read-only mounts of
// the fake nvidia-smi and gpus.json.  No NVIDIA_VISIBLE_DEVICES here: Allocate sets it once.
func staticSpec(inv *fakegpu.Inventory, host fakegpu.HostPaths) fakegpu.CDISpec {
	spec := fakegpu.CDISpec{Version: fakegpu.CDIVersion, Kind: cdiKind, ContainerEdits: host.CommonEdits()}
	for _, g := range inv.GPUs {
		spec.Devices = append(spec.Devices, fakegpu.CDIDevice{
			Name:           g.UUID,
			ContainerEdits: fakegpu.CDIEdits{DeviceNodes: []fakegpu.CDIDeviceNode{host.GPUNode(g.Minor)}},
		})
	}
	return spec
}

// allocate answers one container's request: CDI devices nvidia.com/gpu=<uuid> and
// NVIDIA_VISIBLE_DEVICES=<uuids> (the real plugin's envvar + cdi-cri strategies).  With faultAll
// every GPU of the node is returned, whatever was asked.
func allocate(inv *fakegpu.Inventory, ids []string, faultAll bool) (*pluginapi.ContainerAllocateResponse, error) {
	known := map[string]bool{}
	for _, g := range inv.GPUs {
		known[g.UUID] = true
	}
	for _, id := range ids {
		if !known[id] {
			return nil, fmt.Errorf("invalid allocation request for %q: unknown device: %s", "nvidia.com/gpu", id)
		}
	}
	if faultAll {
		ids = ids[:0:0]
		for _, g := range inv.GPUs {
			ids = append(ids, g.UUID)
		}
	}
	resp := &pluginapi.ContainerAllocateResponse{Envs: map[string]string{fakegpu.EnvVisible: strings.Join(ids, ",")}}
	for _, id := range ids {
		resp.CdiDevices = append(resp.CdiDevices, &pluginapi.CDIDevice{Name: cdiKind + "=" + id})
	}
	return resp, nil
}

// socketName is the plugin's socket in the device-plugin directory, as the real plugin names it
// ("nvidia-" + the resource name's last part + ".sock": nvidia-gpu.sock).
func socketName(resourceName string) string {
	short := resourceName
	if i := strings.LastIndex(short, "/"); i >= 0 {
		short = short[i+1:]
	}
	return "nvidia-" + short + ".sock"
}
