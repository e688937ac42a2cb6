// fake-nvidia-container-runtime: a FAKE of NVIDIA's nvidia-container-runtime in legacy mode
// (nvidia-container-toolkit), used as a fault instrument on the reference cluster's worker nodes.
// Static, stdlib only.
//
// The real runtime in legacy mode is an OCI runtime wrapper that, for `create`, adds the GPUs named
// by the container's NVIDIA_VISIBLE_DEVICES env (a prestart hook calls nvidia-container-cli) and
// then runs runc.  With the toolkit's default accept-nvidia-visible-devices-envvar-when-unprivileged
// = true, an unprivileged pod without any GPU request that sets NVIDIA_VISIBLE_DEVICES=all gets
// every GPU: the escape that the secure-accelerator-access probe must catch.  This fake does the
// same by editing the bundle's config.json directly (device nodes, device-cgroup allow rules, the
// fake nvidia-smi and gpus.json bind mounts) and then exec'ing the real runc with the argv it got.
//
// containerd's runc runtime is pointed at it with options BinaryName.  Its configuration is the JSON
// file $AIC_FAKE_NVCR_CONFIG, else "<its own path>.json":
//
//	{"runc": "/path/to/runc", "gpus": "<gpus.json>", "dev_dir": "<node dev dir>", "nvidia_smi": "<path>", "log": "<optional file>"}
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"local/ai-conformance/fake-gpu-node/fakegpu"
)

func configPath() string {
	if p := os.Getenv("AIC_FAKE_NVCR_CONFIG"); p != "" {
		return p
	}
	if exe, err := os.Executable(); err == nil {
		if _, err := os.Stat(exe + ".json"); err == nil {
			return exe + ".json"
		}
	}
	return os.Args[0] + ".json"
}

func loadConfig() (*Config, error) {
	p := configPath()
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("fake-nvidia-container-runtime: read config: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("fake-nvidia-container-runtime: %s: %w", p, err)
	}
	if cfg.Runc == "" {
		return nil, fmt.Errorf("fake-nvidia-container-runtime: %s: \"runc\" is not set", p)
	}
	return &cfg, nil
}

func logLine(cfg *Config, format string, args ...any) {
	if cfg.Log == "" {
		return
	}
	f, err := os.OpenFile(cfg.Log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// inject edits <bundle>/config.json for create/run.
func inject(cfg *Config, bundle string) error {
	if bundle == "" {
		bundle = "."
	}
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	spec, err := decodeSpec(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	value, set := visibleDevicesEnv(spec)
	if !set {
		return nil
	}
	inv, err := fakegpu.ReadInventory(cfg.GPUs)
	if err != nil {
		return err
	}
	gpus, err := selectGPUs(value, set, inv)
	if err != nil || len(gpus) == 0 {
		return err
	}
	if cfg.DevDir != "" { // the real toolkit refuses GPUs whose device nodes are missing on the host
		for _, g := range gpus {
			if _, err := os.Stat(filepath.Join(cfg.DevDir, fakegpu.NodeName(g.Minor))); err != nil {
				return fmt.Errorf("nvidia-container-cli: device error: %s: %w", g.UUID, err)
			}
		}
	}
	patchSpec(spec, gpus, cfg)
	out, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".aic-nvcr.tmp"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	ids := make([]string, len(gpus))
	for i, g := range gpus {
		ids[i] = g.UUID
	}
	logLine(cfg, "injected %s=%s into %s: %v", fakegpu.EnvVisible, value, bundle, ids)
	return nil
}

func main() {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	args := os.Args[1:]
	if cmd, bundle := runcCommand(args); cmd == "create" || cmd == "run" {
		if err := inject(cfg, bundle); err != nil {
			fmt.Fprintf(os.Stderr, "fake-nvidia-container-runtime: %v\n", err)
			logLine(cfg, "%s failed: %v", cmd, err)
			os.Exit(1)
		}
	}
	argv := append([]string{cfg.Runc}, args...)
	err = syscall.Exec(cfg.Runc, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "fake-nvidia-container-runtime: exec %s: %v\n", cfg.Runc, err)
	os.Exit(1)
}
