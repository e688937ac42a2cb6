// Tests of the FAKE legacy nvidia-container-runtime (stands in for nvidia-container-runtime in
// legacy mode): GPU selection, runc argv parsing and OCI spec patching.
package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"local/ai-conformance/fake-gpu-node/fakegpu"
)

var inv = &fakegpu.Inventory{GPUs: []fakegpu.GPU{
	{Minor: 0, UUID: "GPU-55bbd2d4-03e9-5704-bcb9-fcde5b99afc7"},
	{Minor: 1, UUID: "GPU-c97cb62a-a463-5026-b2d0-75ec3e263019"},
}}

func uuids(gs []fakegpu.GPU) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.UUID)
	}
	return out
}

func TestSelectGPUs(t *testing.T) {
	all := uuids(inv.GPUs)
	for _, c := range []struct {
		value string
		set   bool
		want  []string
		err   bool
	}{
		{"", false, nil, false},
		{"", true, nil, false},
		{"void", true, nil, false},
		{"none", true, nil, false},
		{"all", true, all, false},
		{"1", true, all[1:], false},
		{"GPU-55bbd2d4-03e9-5704-bcb9-fcde5b99afc7", true, all[:1], false},
		{"1, 0,1", true, []string{all[1], all[0]}, false},
		{"7", true, nil, true},
		{"GPU-nope", true, nil, true},
	} {
		got, err := selectGPUs(c.value, c.set, inv)
		if (err != nil) != c.err || !reflect.DeepEqual(uuids(got), c.want) {
			t.Errorf("selectGPUs(%q, %v) = %v, %v; want %v, err=%v", c.value, c.set, uuids(got), err, c.want, c.err)
		}
	}
}

func TestRuncCommand(t *testing.T) {
	for _, c := range []struct {
		args        string
		cmd, bundle string
	}{
		{"--root /run/containerd/runc/k8s.io --log /x/log.json --log-format json create --bundle /b/1 --pid-file /b/1/init.pid abc", "create", "/b/1"},
		{"--root=/r --systemd-cgroup create -b /b/2 abc", "create", "/b/2"},
		{"--debug run --bundle=/b/3 --detach abc", "run", "/b/3"},
		{"--root /r create abc", "create", ""},
		{"--root /r --log /l --log-format json delete --force abc", "delete", ""},
		{"--root /r state abc", "state", ""},
		{"--version", "", ""},
	} {
		cmd, bundle := runcCommand(strings.Fields(c.args))
		if cmd != c.cmd || bundle != c.bundle {
			t.Errorf("runcCommand(%q) = %q, %q; want %q, %q", c.args, cmd, bundle, c.cmd, c.bundle)
		}
	}
}

// A trimmed CRI-generated config.json: a large number, fields this runtime does not know, an
// existing device-cgroup deny-all rule.
const criSpec = `{
  "ociVersion": "1.2.1",
  "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "env": ["PATH=/bin", "NVIDIA_VISIBLE_DEVICES=all"], "oomScoreAdj": 1000},
  "root": {"path": "rootfs"},
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}, {"destination": "/usr/bin/nvidia-smi", "type": "bind", "source": "/elsewhere", "options": ["rbind"]}],
  "annotations": {"io.kubernetes.cri.container-type": "container"},
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}], "memory": {"limit": 9223372036854771712}},
    "devices": [{"path": "/dev/nvidia0", "type": "c", "major": 195, "minor": 0}],
    "futureField": {"x": [1, 2.5, "y"]}
  }
}`

func TestPatchSpec(t *testing.T) {
	spec, err := decodeSpec([]byte(criSpec))
	if err != nil {
		t.Fatal(err)
	}
	value, set := visibleDevicesEnv(spec)
	gpus, err := selectGPUs(value, set, inv)
	if err != nil || len(gpus) != 2 {
		t.Fatalf("selectGPUs: %v %v", gpus, err)
	}
	cfg := &Config{NvidiaSMI: "/host/bin/nvidia-smi", GPUs: "/host/gpus.json"}
	patchSpec(spec, gpus, cfg)
	out, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	// Round-trip through the typed shape runc reads.
	var got struct {
		Mounts []struct {
			Destination, Type, Source string
			Options                   []string
		}
		Annotations map[string]string
		Linux       struct {
			Devices []struct {
				Path, Type   string
				Major, Minor int64
				FileMode     *uint32 `json:"fileMode"`
			}
			Resources struct {
				Devices []struct {
					Allow        bool
					Type, Access string
					Major, Minor *int64
				}
				Memory struct{ Limit int64 }
			}
			FutureField json.RawMessage `json:"futureField"`
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Linux.Resources.Memory.Limit != 9223372036854771712 {
		t.Errorf("large number changed: %d", got.Linux.Resources.Memory.Limit)
	}
	if string(got.Linux.FutureField) != `{"x":[1,2.5,"y"]}` || got.Annotations["io.kubernetes.cri.container-type"] != "container" {
		t.Errorf("unknown fields not kept: %s", out)
	}
	var paths []string
	for _, d := range got.Linux.Devices {
		paths = append(paths, d.Path)
		if d.Type != "c" || d.Major != 195 || d.FileMode == nil || *d.FileMode != 0o666 {
			t.Errorf("device %+v", d)
		}
	}
	if !reflect.DeepEqual(paths, []string{"/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"}) {
		t.Errorf("devices %v (a node already present must not be doubled)", paths)
	}
	rules := got.Linux.Resources.Devices
	if len(rules) != 4 || rules[0].Allow {
		t.Fatalf("rules %+v", rules)
	}
	for i, minor := range []int64{0, 1, 255} {
		r := rules[i+1]
		if !r.Allow || r.Type != "c" || *r.Major != 195 || *r.Minor != minor || r.Access != "rwm" {
			t.Errorf("rule %d: %+v", i+1, r)
		}
	}
	mounts := map[string]string{}
	for _, m := range got.Mounts {
		if _, dup := mounts[m.Destination]; dup {
			t.Errorf("mount %s twice", m.Destination)
		}
		mounts[m.Destination] = m.Source
		if m.Destination != "/proc" && (m.Type != "bind" || !reflect.DeepEqual(m.Options, []string{"ro", "nosuid", "nodev", "bind"})) {
			t.Errorf("mount %+v", m)
		}
	}
	if mounts["/usr/bin/nvidia-smi"] != "/host/bin/nvidia-smi" || mounts["/usr/local/aic-fake-nvidia/gpus.json"] != "/host/gpus.json" {
		t.Errorf("mounts %v", mounts)
	}
}

func TestInjectLeavesOtherContainersAlone(t *testing.T) {
	dir := t.TempDir()
	invPath := filepath.Join(dir, "gpus.json")
	data, _ := json.Marshal(inv)
	os.WriteFile(invPath, data, 0o644)
	cfg := &Config{GPUs: invPath, NvidiaSMI: "/x/nvidia-smi"}
	for _, env := range []string{`"PATH=/bin"`, `"NVIDIA_VISIBLE_DEVICES=void"`, `"NVIDIA_VISIBLE_DEVICES="`} {
		spec := `{"process": {"env": [` + env + `]}, "linux": {"x": 1}}`
		p := filepath.Join(dir, "config.json")
		os.WriteFile(p, []byte(spec), 0o600)
		if err := inject(cfg, dir); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.ReadFile(p); string(after) != spec {
			t.Errorf("env %s: config.json rewritten: %s", env, after)
		}
	}
	spec := `{"process": {"env": ["NVIDIA_VISIBLE_DEVICES=1"]}}`
	p := filepath.Join(dir, "config.json")
	os.WriteFile(p, []byte(spec), 0o600)
	if err := inject(cfg, dir); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(p)
	if !strings.Contains(string(after), `"/dev/nvidia1"`) || strings.Contains(string(after), `"/dev/nvidia0"`) {
		t.Errorf("NVIDIA_VISIBLE_DEVICES=1: %s", after)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode changed: %v", st.Mode())
	}
}
