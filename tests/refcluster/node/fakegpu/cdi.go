// The CDI spec subset the FAKE DRA kubelet plugin and the FAKE device plugin write
// (github.com/cncf-tags/container-device-interface SPEC.md), and the edits they have in common.
package fakegpu

import (
	"os"
	"path/filepath"
)

// CDIVersion: device names may start with a digit (claim UIDs do, 0.5.0) and deviceNodes carry a
// hostPath (0.5.0); containerd 2.4's CDI library accepts up to 1.0.0.
const CDIVersion = "0.6.0"

type CDISpec struct {
	Version        string      `json:"cdiVersion"`
	Kind           string      `json:"kind"`
	Devices        []CDIDevice `json:"devices"`
	ContainerEdits CDIEdits    `json:"containerEdits,omitzero"`
}

type CDIDevice struct {
	Name           string   `json:"name"`
	ContainerEdits CDIEdits `json:"containerEdits"`
}

type CDIEdits struct {
	Env         []string        `json:"env,omitempty"`
	DeviceNodes []CDIDeviceNode `json:"deviceNodes,omitempty"`
	Mounts      []CDIMount      `json:"mounts,omitempty"`
}

type CDIDeviceNode struct {
	Path     string `json:"path"`
	HostPath string `json:"hostPath,omitempty"`
	Type     string `json:"type,omitempty"`
	Major    int64  `json:"major,omitempty"`
	Minor    int64  `json:"minor"`
}

type CDIMount struct {
	HostPath      string   `json:"hostPath"`
	ContainerPath string   `json:"containerPath"`
	Type          string   `json:"type,omitempty"`
	Options       []string `json:"options,omitempty"`
}

// ReadOnlyBind are the options of every read-only bind mount the fakes add.
func ReadOnlyBind() []string { return []string{"ro", "nosuid", "nodev", "bind"} }

// HostPaths are the host files a fake GPU container's CDI edits refer to.
type HostPaths struct {
	DevDir    string // the node's dev dir holding nvidia<minor> and nvidiactl
	NvidiaSMI string // host path of the fake nvidia-smi
	GPUsJSON  string // host path of gpus.json
}

// GPUNode is the fake /dev/nvidia<minor> of one GPU, char device 195:<minor> from the node's dev dir.
func (h HostPaths) GPUNode(minor int) CDIDeviceNode {
	name := NodeName(minor)
	return CDIDeviceNode{Path: "/dev/" + name, HostPath: filepath.Join(h.DevDir, name), Type: "c", Major: NvidiaMajor, Minor: int64(minor)}
}

// CommonEdits are what every fake GPU container gets once: /dev/nvidiactl, the fake nvidia-smi and
// the inventory it reads.  The real toolkit likewise injects nvidia-smi only into GPU containers.
func (h HostPaths) CommonEdits() CDIEdits {
	ro := ReadOnlyBind()
	return CDIEdits{
		DeviceNodes: []CDIDeviceNode{{Path: "/dev/" + CtlName, HostPath: filepath.Join(h.DevDir, CtlName), Type: "c", Major: NvidiaMajor, Minor: NvidiactlMinor}},
		Mounts: []CDIMount{
			{HostPath: h.NvidiaSMI, ContainerPath: SMIInContainer, Type: "bind", Options: ro},
			{HostPath: h.GPUsJSON, ContainerPath: GPUsInContainer, Type: "bind", Options: ro},
		},
	}
}

// WriteFileAtomic writes through a hidden temporary name that CDI caches ignore (they only load
// *.json and *.yaml), then renames.
func WriteFileAtomic(path string, data []byte) error {
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
