// Real mode of the NVIDIA DRA kubelet plugin stand-in (--mode=real): the GPUs are the host's real
// NVIDIA GPUs, discovered with the driver's nvidia-smi, and a claim's CDI spec injects the real
// device nodes plus the driver's files, as the NVIDIA DRA driver (k8s-dra-driver-gpu,
// cmd/gpu-kubelet-plugin) does through the container toolkit's CDI library.  Differences from the
// real driver are deliberate and listed in ../README.md ("Real mode").  Pure logic only: parsing of
// nvidia-smi output, the device nodes of the host and the per-claim spec.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"local/ai-conformance/fake-gpu-node/fakegpu"
)

// The query the real mode runs (nounits: memory.total in MiB as a bare number).
const realQueryFields = "index,uuid,name,pci.bus_id,driver_version,memory.total,compute_cap"

// stdPath is the PATH of a busybox or Debian image; the driver's bin dir goes first.
const stdPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// realConfig are the host facts a real claim's CDI edits refer to.
type realConfig struct {
	DriverRoot string          // host dir of the driver (bin/nvidia-smi, lib64/libnvidia-ml.so.1), mounted read-only at the same path
	LibDirs    []string        // host library dirs mounted read-only at the same path (glibc for nvidia-smi in a busybox image)
	GPUNodes   map[int]cdiNode // minor -> /dev/nvidia<minor> as found on the host
	Control    []cdiNode       // /dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia-uvm-tools: those present
	LDPath     string          // LD_LIBRARY_PATH inside the container ("" leaves it unset)
}

// cdiNode is a host char device as stat(2) shows it.
type cdiNode struct {
	Path, HostPath string
	Major, Minor   int64
}

func (n cdiNode) spec() fakegpu.CDIDeviceNode {
	return fakegpu.CDIDeviceNode{Path: n.Path, HostPath: n.HostPath, Type: "c", Major: n.Major, Minor: n.Minor}
}

// parseQueryCSV reads the output of nvidia-smi --query-gpu=<realQueryFields>
// --format=csv,noheader,nounits: one GPU per line, cells separated by ", ".
func parseQueryCSV(out string) ([]fakegpu.GPU, string, error) {
	r := csv.NewReader(strings.NewReader(out))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, "", fmt.Errorf("nvidia-smi query output is not CSV: %w", err)
	}
	var gpus []fakegpu.GPU
	driver := ""
	for i, row := range rows {
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		if len(row) != 7 {
			return nil, "", fmt.Errorf("nvidia-smi query line %d has %d fields, want 7 (%s): %q", i+1, len(row), realQueryFields, strings.Join(row, ", "))
		}
		for k := range row {
			row[k] = strings.TrimSpace(row[k])
		}
		idx, err := strconv.Atoi(row[0])
		if err != nil {
			return nil, "", fmt.Errorf("nvidia-smi query line %d: index %q: %v", i+1, row[0], err)
		}
		mem, err := strconv.ParseInt(strings.TrimSuffix(row[5], " MiB"), 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("nvidia-smi query line %d: memory.total %q: %v", i+1, row[5], err)
		}
		ccMajor, ccMinor, ok := strings.Cut(row[6], ".")
		maj, err1 := strconv.Atoi(ccMajor)
		mnr, err2 := strconv.Atoi(ccMinor)
		if !ok || err1 != nil || err2 != nil {
			return nil, "", fmt.Errorf("nvidia-smi query line %d: compute_cap %q is not <major>.<minor>", i+1, row[6])
		}
		if !strings.HasPrefix(row[1], "GPU-") {
			return nil, "", fmt.Errorf("nvidia-smi query line %d: uuid %q does not start with GPU-", i+1, row[1])
		}
		if driver != "" && row[4] != driver {
			return nil, "", fmt.Errorf("nvidia-smi reports two driver versions: %s and %s", driver, row[4])
		}
		driver = row[4]
		gpus = append(gpus, fakegpu.GPU{Minor: idx, UUID: row[1], Product: row[2], PCIBusID: row[3], MemoryMiB: mem, CCMajor: maj, CCMinor: mnr})
	}
	if len(gpus) == 0 {
		return nil, "", fmt.Errorf("nvidia-smi listed no GPU")
	}
	return gpus, driver, nil
}

// qFacts are what `nvidia-smi -q` adds to the CSV query: the CUDA version the driver supports and,
// per GPU (keyed by PCI bus id, upper case as printed), its minor number, brand and architecture.
type qFacts struct {
	CUDAVersion string
	PerGPU      map[string]map[string]string
}

// parseQ reads `nvidia-smi -q`: the top-level "CUDA Version", then for each "GPU <bus id>" block the
// keys at the first indentation level (4 spaces) only, so nested keys of the same name do not count.
func parseQ(out string) qFacts {
	f := qFacts{PerGPU: map[string]map[string]string{}}
	var cur map[string]string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "GPU ") && !strings.Contains(line, ":  ") && !strings.Contains(line, " : ") {
			cur = map[string]string{}
			f.PerGPU[strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(line, "GPU ")))] = cur
			continue
		}
		key, val, ok := strings.Cut(line, " : ")
		if !ok {
			continue
		}
		indent := len(key) - len(strings.TrimLeft(key, " "))
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case indent == 0 && key == "CUDA Version":
			f.CUDAVersion = val
		case indent == 4 && cur != nil:
			cur[key] = val
		}
	}
	return f
}

// mergeQ completes the CSV's GPUs with -q's facts: the minor number (the CSV gives only the index),
// brand and architecture.  A GPU -q does not describe keeps minor = index and no brand/architecture.
func mergeQ(gpus []fakegpu.GPU, q qFacts) {
	for i := range gpus {
		facts := q.PerGPU[strings.ToUpper(gpus[i].PCIBusID)]
		if facts == nil {
			continue
		}
		if m, err := strconv.Atoi(facts["Minor Number"]); err == nil {
			gpus[i].Minor = m
		}
		gpus[i].Brand = facts["Product Brand"]
		gpus[i].Architecture = facts["Product Architecture"]
	}
}

// runSMI runs the driver's nvidia-smi with LD_LIBRARY_PATH set when ldPath is given.
func runSMI(smi, ldPath string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, smi, args...)
	cmd.Env = os.Environ()
	if ldPath != "" {
		cmd.Env = append(cmd.Env, "LD_LIBRARY_PATH="+ldPath)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", smi, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// discoverGPUs is the real inventory: the CSV query, completed by -q when it answers (-q failing
// only leaves brand, architecture and the CUDA version out, and minor = index).
func discoverGPUs(smi, ldPath string) (*fakegpu.Inventory, error) {
	out, err := runSMI(smi, ldPath, "--query-gpu="+realQueryFields, "--format=csv,noheader,nounits")
	if err != nil {
		return nil, err
	}
	gpus, driver, err := parseQueryCSV(out)
	if err != nil {
		return nil, err
	}
	inv := &fakegpu.Inventory{DriverVersion: driver, GPUs: gpus}
	if qout, err := runSMI(smi, ldPath, "-q"); err == nil {
		q := parseQ(qout)
		mergeQ(inv.GPUs, q)
		inv.CUDAVersion = q.CUDAVersion
	}
	return inv, nil
}

// hostNodes finds the device nodes under devDir (the host's /dev): /dev/nvidia<minor> of every GPU
// (required) and the control nodes (nvidiactl required; nvidia-uvm and nvidia-uvm-tools when present).
func hostNodes(devDir string, gpus []fakegpu.GPU) (map[int]cdiNode, []cdiNode, error) {
	node := func(name string) (cdiNode, error) {
		host := filepath.Join(devDir, name)
		ma, mi, err := fakegpu.StatChar(host)
		return cdiNode{Path: "/dev/" + name, HostPath: host, Major: int64(ma), Minor: int64(mi)}, err
	}
	byMinor := map[int]cdiNode{}
	for _, g := range gpus {
		n, err := node(fakegpu.NodeName(g.Minor))
		if err != nil {
			return nil, nil, fmt.Errorf("GPU %s (minor %d): %w", g.UUID, g.Minor, err)
		}
		byMinor[g.Minor] = n
	}
	var control []cdiNode
	for _, name := range []string{fakegpu.CtlName, "nvidia-uvm", "nvidia-uvm-tools"} {
		n, err := node(name)
		if err != nil {
			if name == fakegpu.CtlName {
				return nil, nil, err
			}
			continue
		}
		control = append(control, n)
	}
	return byMinor, control, nil
}

// pcieRootFromSysfs reads the PCIe root complex of a GPU the way k8s.io/dynamic-resource-allocation
// deviceattribute does: the first path element of /sys/bus/pci/devices/<bdf>'s target below
// /sys/devices ("pci0000:00").  "" when sysfs does not answer.
func pcieRootFromSysfs(sysfs, bdf string) string {
	target, err := filepath.EvalSymlinks(filepath.Join(sysfs, "bus", "pci", "devices", bdf))
	if err != nil {
		return ""
	}
	rel, err := filepath.Rel(filepath.Join(sysfs, "devices"), target)
	if err != nil || strings.HasPrefix(rel, "..") {
		return ""
	}
	first := strings.Split(rel, string(filepath.Separator))[0]
	if !strings.HasPrefix(first, "pci") {
		return ""
	}
	return first
}

// realClaimSpec is the CDI spec of one claim in real mode.  Like claimSpec, each allocated GPU is a
// device holding its own device node, and the spec-level edits (applied once) hold what every GPU
// container needs: the control nodes, read-only mounts of the driver dir and of the host library
// dirs, PATH and LD_LIBRARY_PATH so that nvidia-smi resolves, and NVIDIA_VISIBLE_DEVICES with the
// claim's UUIDs.  faultAll adds every GPU of the node, as in fake mode.
func realClaimSpec(claimUID string, allocated, all []fakegpu.GPU, rc *realConfig, faultAll bool) fakegpu.CDISpec {
	ro := fakegpu.ReadOnlyBind()
	edits := fakegpu.CDIEdits{}
	for _, n := range rc.Control {
		edits.DeviceNodes = append(edits.DeviceNodes, n.spec())
	}
	for _, dir := range append([]string{rc.DriverRoot}, rc.LibDirs...) {
		if dir != "" {
			edits.Mounts = append(edits.Mounts, fakegpu.CDIMount{HostPath: dir, ContainerPath: dir, Type: "bind", Options: ro})
		}
	}
	spec := fakegpu.CDISpec{Version: fakegpu.CDIVersion, Kind: cdiKind}
	for _, g := range allocated {
		spec.Devices = append(spec.Devices, fakegpu.CDIDevice{
			Name:           claimDeviceName(claimUID, g),
			ContainerEdits: fakegpu.CDIEdits{DeviceNodes: []fakegpu.CDIDeviceNode{rc.GPUNodes[g.Minor].spec()}},
		})
	}
	visible := allocated
	if faultAll {
		visible = all
		for _, g := range all {
			edits.DeviceNodes = append(edits.DeviceNodes, rc.GPUNodes[g.Minor].spec())
		}
	}
	edits.Env = []string{fakegpu.EnvVisible + "=" + joinUUIDs(visible)}
	if rc.DriverRoot != "" {
		edits.Env = append(edits.Env, "PATH="+filepath.Join(rc.DriverRoot, "bin")+":"+stdPath)
	}
	if rc.LDPath != "" {
		edits.Env = append(edits.Env, "LD_LIBRARY_PATH="+rc.LDPath)
	}
	spec.ContainerEdits = edits
	return spec
}
