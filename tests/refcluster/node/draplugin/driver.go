// FAKE NVIDIA DRA kubelet plugin (stands in for k8s-dra-driver-gpu's gpu-kubelet-plugin, driver
// gpu.nvidia.com): the kubeletplugin.DRAPlugin implementation.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/dynamic-resource-allocation/kubeletplugin"
	"local/ai-conformance/fake-gpu-node/fakegpu"
)

type driver struct {
	node     string
	inv      *fakegpu.Inventory
	byName   map[string]fakegpu.GPU
	cdiDir   string
	cfg      specConfig
	faultAll bool
	logger   *log.Logger
	// fatal ends the process (cancels its main context) on a non-recoverable background error.
	fatal func(error)
}

var _ kubeletplugin.DRAPlugin = (*driver)(nil)

func newDriver(node string, inv *fakegpu.Inventory, cdiDir string, cfg specConfig, faultAll bool, logger *log.Logger, fatal func(error)) *driver {
	d := &driver{node: node, inv: inv, byName: map[string]fakegpu.GPU{}, cdiDir: cdiDir, cfg: cfg, faultAll: faultAll, logger: logger, fatal: fatal}
	for _, g := range inv.GPUs {
		d.byName[deviceName(g)] = g
	}
	return d
}

// prepareClaim writes the claim's CDI spec and returns the CDI device IDs per allocation result.
func (d *driver) prepareClaim(claim *resourceapi.ResourceClaim) kubeletplugin.PrepareResult {
	if claim.Status.Allocation == nil {
		return kubeletplugin.PrepareResult{Err: fmt.Errorf("claim %s/%s is not allocated", claim.Namespace, claim.Name)}
	}
	uid := string(claim.UID)
	var allocated []fakegpu.GPU
	seen := map[string]bool{}
	devices := []kubeletplugin.Device{}
	for _, r := range claim.Status.Allocation.Devices.Results {
		if r.Driver != driverName || r.Pool != d.node {
			continue
		}
		g, ok := d.byName[r.Device]
		if !ok {
			return kubeletplugin.PrepareResult{Err: fmt.Errorf("claim %s/%s: device %q is not in pool %q", claim.Namespace, claim.Name, r.Device, d.node)}
		}
		if !seen[r.Device] {
			seen[r.Device] = true
			allocated = append(allocated, g)
		}
		devices = append(devices, kubeletplugin.Device{
			Requests:     []string{r.Request},
			PoolName:     r.Pool,
			DeviceName:   r.Device,
			CDIDeviceIDs: []string{claimDeviceID(uid, g)},
		})
	}
	if len(allocated) == 0 {
		d.logger.Printf("prepare claim %s/%s (%s): no devices of %s in pool %s", claim.Namespace, claim.Name, uid, driverName, d.node)
		return kubeletplugin.PrepareResult{Devices: devices}
	}
	spec := claimSpec(uid, allocated, d.inv.GPUs, d.cfg, d.faultAll)
	data, err := json.MarshalIndent(spec, "", "  ")
	if err == nil {
		err = fakegpu.WriteFileAtomic(claimSpecFile(d.cdiDir, uid), data)
	}
	if err != nil {
		return kubeletplugin.PrepareResult{Err: fmt.Errorf("claim %s/%s: write CDI spec: %w", claim.Namespace, claim.Name, err)}
	}
	names := make([]string, len(allocated))
	for i, g := range allocated {
		names[i] = deviceName(g) + "=" + g.UUID
	}
	fault := ""
	if d.faultAll {
		fault = " [fault all-devices: every GPU injected]"
	}
	d.logger.Printf("prepare claim %s/%s (%s): %s%s", claim.Namespace, claim.Name, uid, strings.Join(names, ","), fault)
	return kubeletplugin.PrepareResult{Devices: devices}
}

// PrepareResourceClaims implements kubeletplugin.DRAPlugin.
func (d *driver) PrepareResourceClaims(_ context.Context, claims []*resourceapi.ResourceClaim) (map[types.UID]kubeletplugin.PrepareResult, error) {
	out := make(map[types.UID]kubeletplugin.PrepareResult, len(claims))
	for _, c := range claims {
		out[c.UID] = d.prepareClaim(c)
	}
	return out, nil
}

// UnprepareResourceClaims implements kubeletplugin.DRAPlugin: the claim's CDI spec file goes.
func (d *driver) UnprepareResourceClaims(_ context.Context, claims []kubeletplugin.NamespacedObject) (map[types.UID]error, error) {
	out := make(map[types.UID]error, len(claims))
	for _, c := range claims {
		path := claimSpecFile(d.cdiDir, string(c.UID))
		var names []string
		if data, err := os.ReadFile(path); err == nil {
			var spec fakegpu.CDISpec
			if json.Unmarshal(data, &spec) == nil {
				for _, dev := range spec.Devices {
					names = append(names, strings.TrimPrefix(dev.Name, string(c.UID)+"-"))
				}
			}
		}
		err := os.Remove(path)
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		sort.Strings(names)
		d.logger.Printf("unprepare claim %s/%s (%s): %s", c.Namespace, c.Name, c.UID, strings.Join(names, ","))
		out[c.UID] = err
	}
	return out, nil
}

// HandleError implements kubeletplugin.DRAPlugin: recoverable errors (ResourceSlice publishing) are
// logged; anything else stops the plugin.
func (d *driver) HandleError(_ context.Context, err error, msg string) {
	d.logger.Printf("error: %s: %v", msg, err)
	if !errors.Is(err, kubeletplugin.ErrRecoverable) && d.fatal != nil {
		d.fatal(fmt.Errorf("%s: %w", msg, err))
	}
}

// WatchHealthStatus implements kubeletplugin.DRAPlugin: the fakes report no device health.
func (d *driver) WatchHealthStatus(context.Context, chan<- kubeletplugin.DeviceHealthReport) error {
	return kubeletplugin.ErrHealthNotSupported
}
