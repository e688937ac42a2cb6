// FAKE nvidia-container-runtime (stands in for NVIDIA's nvidia-container-runtime in legacy mode):
// the pure part, choosing GPUs from NVIDIA_VISIBLE_DEVICES and patching the OCI runtime spec.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"local/ai-conformance/fake-gpu-node/fakegpu"
)

// Config is the runtime's own configuration file (<binary>.json or $AIC_FAKE_NVCR_CONFIG).
type Config struct {
	Runc      string `json:"runc"`       // the real runc to exec
	GPUs      string `json:"gpus"`       // the node's gpus.json
	DevDir    string `json:"dev_dir"`    // where the node's fake /dev/nvidia* nodes are
	NvidiaSMI string `json:"nvidia_smi"` // host path of the fake nvidia-smi
	Log       string `json:"log"`        // optional: append one line per injection here
}

// visibleDevicesEnv returns the value of the last NVIDIA_VISIBLE_DEVICES in process.env.
func visibleDevicesEnv(spec map[string]any) (string, bool) {
	proc, _ := spec["process"].(map[string]any)
	env, _ := proc["env"].([]any)
	val, found := "", false
	for _, e := range env {
		s, _ := e.(string)
		if k, v, ok := strings.Cut(s, "="); ok && k == fakegpu.EnvVisible {
			val, found = v, true
		}
	}
	return val, found
}

// selectGPUs interprets NVIDIA_VISIBLE_DEVICES as the legacy toolkit does: unset, "", "void" and
// "none" inject nothing; "all" injects every GPU; otherwise a comma-separated list of UUIDs or
// indices (the index is the GPU's minor number in this inventory).
func selectGPUs(value string, set bool, inv *fakegpu.Inventory) ([]fakegpu.GPU, error) {
	value = strings.TrimSpace(value)
	if !set || value == "" || value == "void" || value == "none" {
		return nil, nil
	}
	if value == "all" {
		return append([]fakegpu.GPU(nil), inv.GPUs...), nil
	}
	var out []fakegpu.GPU
	seen := map[int]bool{}
	for _, id := range strings.Split(value, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		found := -1
		for i, g := range inv.GPUs {
			if g.UUID == id || strconv.Itoa(g.Minor) == id {
				found = i
				break
			}
		}
		if found < 0 {
			// The real nvidia-container-cli's wording.
			return nil, fmt.Errorf("nvidia-container-cli: device error: %s: unknown device", id)
		}
		if !seen[found] {
			seen[found] = true
			out = append(out, inv.GPUs[found])
		}
	}
	return out, nil
}

func childMap(m map[string]any, key string) map[string]any {
	c, ok := m[key].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

// patchSpec adds the device nodes of gpus plus /dev/nvidiactl, their device-cgroup allow rules and
// the nvidia-smi/gpus.json bind mounts to an OCI runtime spec decoded into maps (unknown fields
// are kept).  Entries already present (same path / same destination) are replaced, not doubled.
func patchSpec(spec map[string]any, gpus []fakegpu.GPU, cfg *Config) {
	if len(gpus) == 0 {
		return
	}
	type node struct {
		path  string
		minor int
	}
	nodes := make([]node, 0, len(gpus)+1)
	for _, g := range gpus {
		nodes = append(nodes, node{"/dev/" + fakegpu.NodeName(g.Minor), g.Minor})
	}
	nodes = append(nodes, node{"/dev/" + fakegpu.CtlName, fakegpu.NvidiactlMinor})

	linux := childMap(spec, "linux")
	devs, _ := linux["devices"].([]any)
	for _, n := range nodes {
		kept := devs[:0]
		for _, d := range devs {
			if dm, ok := d.(map[string]any); ok && dm["path"] == n.path {
				continue
			}
			kept = append(kept, d)
		}
		devs = append(kept, map[string]any{
			"path": n.path, "type": "c", "major": fakegpu.NvidiaMajor, "minor": n.minor,
			"fileMode": 0o666, "uid": 0, "gid": 0,
		})
	}
	linux["devices"] = devs

	res := childMap(linux, "resources")
	rules, _ := res["devices"].([]any)
	for _, n := range nodes {
		rules = append(rules, map[string]any{"allow": true, "type": "c", "major": fakegpu.NvidiaMajor, "minor": n.minor, "access": "rwm"})
	}
	res["devices"] = rules

	var ro []any
	for _, o := range fakegpu.ReadOnlyBind() {
		ro = append(ro, o)
	}
	mounts, _ := spec["mounts"].([]any)
	for _, m := range [][2]string{{cfg.NvidiaSMI, fakegpu.SMIInContainer}, {cfg.GPUs, fakegpu.GPUsInContainer}} {
		kept := mounts[:0]
		for _, x := range mounts {
			if xm, ok := x.(map[string]any); ok && xm["destination"] == m[1] {
				continue
			}
			kept = append(kept, x)
		}
		mounts = append(kept, map[string]any{
			"destination": m[1], "type": "bind", "source": m[0],
			"options": ro,
		})
	}
	spec["mounts"] = mounts
}

// decodeSpec keeps numbers as written (json.Number), so that re-encoding changes nothing else.
func decodeSpec(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var spec map[string]any
	if err := dec.Decode(&spec); err != nil {
		return nil, err
	}
	return spec, nil
}

// runcCommand finds the subcommand and the bundle directory in a runc argv (without argv[0]).
// runc's global options that take a value are skipped with their value.
func runcCommand(args []string) (cmd, bundle string) {
	globalWithValue := map[string]bool{"root": true, "log": true, "log-format": true, "criu": true, "rootless": true}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if globalWithValue[name] {
			i++
		}
	}
	if i >= len(args) {
		return "", ""
	}
	cmd = args[i]
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--bundle" || a == "-bundle" || a == "-b":
			if j+1 < len(rest) {
				bundle = rest[j+1]
			}
			j++
		case strings.HasPrefix(a, "--bundle="), strings.HasPrefix(a, "-bundle="), strings.HasPrefix(a, "-b="):
			_, bundle, _ = strings.Cut(a, "=")
		}
	}
	return cmd, bundle
}
