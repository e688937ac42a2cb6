// FAKE NVIDIA device plugin (stands in for NVIDIA's k8s-device-plugin, resource nvidia.com/gpu,
// CDI device-list strategy): the inventory, the static CDI spec and the Allocate answer (pure logic).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

const (
	// The spec the NVIDIA container toolkit generates for the host (nvidia-ctk cdi generate):
	// kind nvidia.com/gpu, devices named by UUID, index or "all".
	cdiKind         = "nvidia.com/gpu"
	cdiVersion      = "0.6.0" // deviceNodes with hostPath need 0.5.0
	cdiSpecFileName = "nvidia.com-gpu.json"

	nvidiaMajor     = 195 // /dev/nvidia* (shared/reference/fixtures/h100/dev-nodes.txt)
	nvidiactlMinor  = 255
	smiInContainer  = "/usr/bin/nvidia-smi"
	gpusInContainer = "/usr/local/aic-fake-nvidia/gpus.json"
	envVisible      = "NVIDIA_VISIBLE_DEVICES"
)

// GPU is one entry of gpus.json (tests/refcluster/fakes/gpus.py runtime_node_inventory).
type GPU struct {
	Minor int    `json:"minor"`
	UUID  string `json:"uuid"`
}

// Inventory is gpus.json (only what this plugin needs).
type Inventory struct {
	Node string `json:"node"`
	GPUs []GPU  `json:"gpus"`
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

// specConfig are the host paths the CDI edits refer to.
type specConfig struct {
	DevDir    string
	NvidiaSMI string
	GPUsJSON  string
}

// staticSpec is one device per GPU (its device node).  The spec-level edits, applied once to any
// container that gets at least one of these devices, add /dev/nvidiactl and the read-only mounts of
// the fake nvidia-smi and gpus.json.  No NVIDIA_VISIBLE_DEVICES here: Allocate sets it once.
func staticSpec(inv *Inventory, cfg specConfig) cdiSpec {
	ro := []string{"ro", "nosuid", "nodev", "bind"}
	spec := cdiSpec{
		Version: cdiVersion,
		Kind:    cdiKind,
		ContainerEdits: cdiEdits{
			DeviceNodes: []cdiDeviceNode{{Path: "/dev/nvidiactl", HostPath: filepath.Join(cfg.DevDir, "nvidiactl"), Type: "c", Major: nvidiaMajor, Minor: nvidiactlMinor}},
			Mounts: []cdiMount{
				{HostPath: cfg.NvidiaSMI, ContainerPath: smiInContainer, Type: "bind", Options: ro},
				{HostPath: cfg.GPUsJSON, ContainerPath: gpusInContainer, Type: "bind", Options: ro},
			},
		},
	}
	for _, g := range inv.GPUs {
		name := fmt.Sprintf("nvidia%d", g.Minor)
		spec.Devices = append(spec.Devices, cdiDevice{
			Name: g.UUID,
			ContainerEdits: cdiEdits{DeviceNodes: []cdiDeviceNode{
				{Path: "/dev/" + name, HostPath: filepath.Join(cfg.DevDir, name), Type: "c", Major: nvidiaMajor, Minor: int64(g.Minor)},
			}},
		})
	}
	return spec
}

// allocate answers one container's request: CDI devices nvidia.com/gpu=<uuid> and
// NVIDIA_VISIBLE_DEVICES=<uuids> (the real plugin's envvar + cdi-cri strategies).  With faultAll
// every GPU of the node is returned, whatever was asked.
func allocate(inv *Inventory, ids []string, faultAll bool) (*pluginapi.ContainerAllocateResponse, error) {
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
	resp := &pluginapi.ContainerAllocateResponse{Envs: map[string]string{envVisible: strings.Join(ids, ",")}}
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
