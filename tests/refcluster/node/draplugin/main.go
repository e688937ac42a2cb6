// fake-gpu-kubelet-plugin: a FAKE of the NVIDIA DRA driver's kubelet plugin (k8s-dra-driver-gpu,
// cmd/gpu-kubelet-plugin, driver gpu.nvidia.com) for the reference cluster's real worker nodes,
// whose GPUs are fakes (harmless char device nodes 195:<minor>, no driver).
//
// Like the real plugin it is built on k8s.io/dynamic-resource-allocation/kubeletplugin: it registers
// with the kubelet through plugins_registry, publishes one ResourceSlice pool named after the node
// with devices gpu-<minor>, and in NodePrepareResources writes one CDI spec per claim whose devices
// the kubelet hands to containerd.  A container that gets a claim sees exactly its GPUs' device
// nodes, /dev/nvidiactl, NVIDIA_VISIBLE_DEVICES and the fake nvidia-smi; other containers see none.
//
// --fault=all-devices turns it into a broken driver that gives every claim all the node's GPUs.
//
// --mode=real (default fake) drives the host's real NVIDIA GPUs instead: it discovers them with the
// driver's nvidia-smi and writes CDI specs that inject the real device nodes and the driver's files
// (real.go; run by tests/gpu/start_node.py on the GPU machine).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/dynamic-resource-allocation/kubeletplugin"
	"k8s.io/dynamic-resource-allocation/resourceslice"
	"k8s.io/klog/v2"
	"local/ai-conformance/fake-gpu-node/fakegpu"
)

type flags struct {
	nodeName, kubeconfig, gpus, devDir, cdiDir, nvidiaSMI string
	registrationDir, pluginDataDir, fault, readyFile      string
	verbosity                                             int
	// real mode
	mode, driverRoot, ldLibraryPath, hostLibDirs, sysfs string
}

func parseFlags() *flags {
	f := &flags{}
	flag.StringVar(&f.nodeName, "node-name", "", "name of this node (required); also the pool name")
	flag.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig to reach the API server (required)")
	flag.StringVar(&f.mode, "mode", "fake", "fake (the node's fake GPUs from --gpus) | real (the host's NVIDIA GPUs, found with the driver's nvidia-smi)")
	flag.StringVar(&f.gpus, "gpus", "", "this node's gpus.json (required in fake mode)")
	flag.StringVar(&f.devDir, "dev-dir", "", "host directory holding nvidia<minor> and nvidiactl (required in fake mode; real mode: /dev)")
	flag.StringVar(&f.cdiDir, "cdi-dir", "", "directory containerd reads CDI specs from (required)")
	flag.StringVar(&f.nvidiaSMI, "nvidia-smi", "", "host path of nvidia-smi: the fake binary (required in fake mode); real mode: <driver-root>/bin/nvidia-smi")
	flag.StringVar(&f.driverRoot, "driver-root", "/usr/local/nvidia", "real mode: the driver's directory (bin/, lib64/), mounted read-only into GPU containers")
	flag.StringVar(&f.ldLibraryPath, "ld-library-path", "", "real mode: LD_LIBRARY_PATH for running nvidia-smi here and in GPU containers (default: <driver-root>/lib64 in containers when present)")
	flag.StringVar(&f.hostLibDirs, "host-lib-dirs", "/lib/x86_64-linux-gnu,/lib64", "real mode: host library dirs mounted read-only into GPU containers, comma-separated (glibc for nvidia-smi in a busybox image); empty: none")
	flag.StringVar(&f.sysfs, "sysfs", "/sys", "real mode: sysfs root, for the GPUs' PCIe root complex")
	flag.StringVar(&f.registrationDir, "plugin-registration-dir", kubeletplugin.KubeletRegistryDir, "kubelet plugin registration directory")
	flag.StringVar(&f.pluginDataDir, "plugin-data-dir", filepath.Join(kubeletplugin.KubeletPluginsDir, driverName), "directory of the plugin's dra.sock")
	flag.StringVar(&f.fault, "fault", "none", "none | all-devices (every claim gets all the node's GPUs)")
	flag.StringVar(&f.readyFile, "ready-file", "", "written once registered with the kubelet and the ResourceSlice is published")
	flag.IntVar(&f.verbosity, "v", 0, "klog verbosity of the kubeletplugin helper")
	flag.Parse()
	return f
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fake-gpu-kubelet-plugin: "+format+"\n", args...)
	os.Exit(2)
}

// publishedDevices counts the devices of this driver in ResourceSlices of the node.
func publishedDevices(ctx context.Context, client kubernetes.Interface, node string) (int, []string, error) {
	list, err := client.ResourceV1().ResourceSlices().List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return 0, nil, err
	}
	n := 0
	var names []string
	for _, s := range list.Items {
		if s.Spec.Driver == driverName {
			n += len(s.Spec.Devices)
			names = append(names, s.Name)
		}
	}
	return n, names, nil
}

func deleteSlices(client kubernetes.Interface, node string, logger *log.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, names, err := publishedDevices(ctx, client, node)
		if err == nil && len(names) == 0 {
			return
		}
		for _, name := range names {
			if err := client.ResourceV1().ResourceSlices().Delete(ctx, name, metav1.DeleteOptions{}); err == nil {
				logger.Printf("deleted ResourceSlice %s", name)
			}
		}
		if err != nil {
			logger.Printf("listing ResourceSlices of %s: %v", node, err)
		}
		select {
		case <-ctx.Done():
			logger.Printf("gave up deleting the ResourceSlices of %s: %v", node, ctx.Err())
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// setup checks the flags and prepares the directories; it returns the inventory and the edits'
// host paths.  Errors are usage errors.
func setup(f *flags, logger *log.Logger) (*fakegpu.Inventory, specConfig, bool, error) {
	var faultAll bool
	switch f.fault {
	case "none":
	case "all-devices":
		faultAll = true
	default:
		return nil, specConfig{}, false, fmt.Errorf("--fault must be none or all-devices, not %q", f.fault)
	}
	if f.nodeName == "" || f.cdiDir == "" {
		return nil, specConfig{}, false, fmt.Errorf("--node-name and --cdi-dir are required")
	}
	switch f.mode {
	case "", "fake":
	case "real":
		inv, cfg, err := setupReal(f, logger)
		if err == nil {
			err = makeDirs(f)
		}
		return inv, cfg, faultAll, err
	default:
		return nil, specConfig{}, false, fmt.Errorf("--mode must be fake or real, not %q", f.mode)
	}
	var cfg specConfig
	for _, p := range []struct {
		name, val string
		dst       *string
	}{{"gpus", f.gpus, &cfg.GPUsJSON}, {"nvidia-smi", f.nvidiaSMI, &cfg.NvidiaSMI}, {"dev-dir", f.devDir, &cfg.DevDir}} {
		if p.val == "" {
			return nil, cfg, false, fmt.Errorf("--%s is required", p.name)
		}
		abs, err := filepath.Abs(p.val)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			return nil, cfg, false, fmt.Errorf("--%s: %w", p.name, err)
		}
		*p.dst = abs
	}
	inv, err := fakegpu.LoadInventory(cfg.GPUsJSON)
	if err != nil {
		return nil, cfg, false, fmt.Errorf("--gpus: %w", err)
	}
	for _, g := range inv.GPUs {
		if _, err := os.Stat(filepath.Join(cfg.DevDir, fakegpu.NodeName(g.Minor))); err != nil {
			logger.Printf("warning: %v", err)
		}
	}
	if err := makeDirs(f); err != nil {
		return nil, cfg, false, err
	}
	return inv, cfg, faultAll, nil
}

func makeDirs(f *flags) error {
	for _, dir := range []string{f.cdiDir, f.registrationDir, f.pluginDataDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// setupReal discovers the host's GPUs and device nodes (--mode=real).
func setupReal(f *flags, logger *log.Logger) (*fakegpu.Inventory, specConfig, error) {
	if f.gpus != "" {
		return nil, specConfig{}, fmt.Errorf("--gpus is for --mode=fake: real mode asks nvidia-smi")
	}
	smi := f.nvidiaSMI
	if smi == "" {
		smi = filepath.Join(f.driverRoot, "bin", "nvidia-smi")
	}
	devDir := f.devDir
	if devDir == "" {
		devDir = "/dev"
	}
	inv, err := discoverGPUs(smi, f.ldLibraryPath)
	if err != nil {
		return nil, specConfig{}, fmt.Errorf("discover GPUs: %w", err)
	}
	for i, g := range inv.GPUs {
		bus, _ := pciBusID(g.PCIBusID)
		inv.GPUs[i].PCIeRoot = pcieRootFromSysfs(f.sysfs, bus)
	}
	rc := &realConfig{DriverRoot: f.driverRoot, LDPath: f.ldLibraryPath}
	if rc.GPUNodes, rc.Control, err = hostNodes(devDir, inv.GPUs); err != nil {
		return nil, specConfig{}, fmt.Errorf("device nodes: %w", err)
	}
	if rc.LDPath == "" {
		if st, err := os.Stat(filepath.Join(f.driverRoot, "lib64")); err == nil && st.IsDir() {
			rc.LDPath = filepath.Join(f.driverRoot, "lib64")
		}
	}
	for _, dir := range strings.Split(f.hostLibDirs, ",") {
		if dir = strings.TrimSpace(dir); dir == "" {
			continue
		}
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			rc.LibDirs = append(rc.LibDirs, dir)
		} else {
			logger.Printf("warning: --host-lib-dirs: %s is not a directory here: not mounted", dir)
		}
	}
	found, _ := json.Marshal(inv)
	logger.Printf("real mode: %s", found)
	return inv, specConfig{HostPaths: fakegpu.HostPaths{DevDir: devDir, NvidiaSMI: smi}, Real: rc}, nil
}

// run is the plugin's life: start the kubeletplugin helper, publish the pool, write the ready file
// once registered and published, and on ctx's end stop and delete the node's ResourceSlices.  It
// returns an error only for a fatal one.
func run(ctx context.Context, f *flags, inv *fakegpu.Inventory, cfg specConfig, faultAll bool, client kubernetes.Interface, logger *log.Logger) error {
	if f.readyFile != "" {
		os.Remove(f.readyFile)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var fatalErr atomic.Pointer[error]
	fatal := func(err error) {
		fatalErr.CompareAndSwap(nil, &err)
		cancel(err)
	}
	drv := newDriver(f.nodeName, inv, f.cdiDir, cfg, faultAll, logger, fatal)
	helper, err := kubeletplugin.Start(ctx, drv,
		kubeletplugin.DriverName(driverName),
		kubeletplugin.NodeName(f.nodeName),
		kubeletplugin.KubeClient(client),
		kubeletplugin.RegistrarDirectoryPath(f.registrationDir),
		kubeletplugin.PluginDataDirectoryPath(f.pluginDataDir),
		kubeletplugin.HealthService(false),
	)
	if err != nil {
		return fmt.Errorf("start kubelet plugin: %w", err)
	}
	pool := resourceslice.Pool{Slices: []resourceslice.Slice{{Devices: sliceDevices(inv)}}}
	if err := helper.PublishResources(ctx, resourceslice.DriverResources{Pools: map[string]resourceslice.Pool{f.nodeName: pool}}); err != nil {
		helper.Stop()
		return fmt.Errorf("publish ResourceSlice: %w", err)
	}
	logger.Printf("started on node %s (%s mode): %d GPUs, fault=%s, cdi dir %s, registration dir %s", f.nodeName, modeName(f), len(inv.GPUs), f.fault, f.cdiDir, f.registrationDir)

	go func() {
		registered, published := false, false
		for {
			if !registered {
				if st := helper.RegistrationStatus(); st != nil && st.PluginRegistered {
					registered = true
					logger.Printf("registered with the kubelet")
				}
			}
			if !published {
				if n, names, err := publishedDevices(ctx, client, f.nodeName); err == nil && n == len(inv.GPUs) {
					published = true
					logger.Printf("ResourceSlice published: %v", names)
				}
			}
			if registered && published {
				if f.readyFile != "" {
					if err := os.WriteFile(f.readyFile, []byte("ready\n"), 0o644); err != nil {
						logger.Printf("write --ready-file: %v", err)
					}
				}
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()

	<-ctx.Done()
	logger.Printf("stopping: %v", context.Cause(ctx))
	helper.Stop()
	deleteSlices(client, f.nodeName, logger)
	if f.readyFile != "" {
		os.Remove(f.readyFile)
	}
	if p := fatalErr.Load(); p != nil {
		return *p
	}
	return nil
}

func modeName(f *flags) string {
	if f.mode == "real" {
		return "real"
	}
	return "fake"
}

func main() {
	f := parseFlags()
	logger := log.New(os.Stderr, "fake-gpu-kubelet-plugin: ", log.LstdFlags|log.Lmicroseconds)
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("v", strconv.Itoa(f.verbosity))

	inv, cfg, faultAll, err := setup(f, logger)
	if err != nil {
		fail("%v", err)
	}
	if f.kubeconfig == "" {
		fail("--kubeconfig is required")
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		fail("--kubeconfig: %v", err)
	}
	restConfig.UserAgent = "fake-gpu-kubelet-plugin/" + f.nodeName
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		fail("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, f, inv, cfg, faultAll, client, logger); err != nil {
		logger.Printf("fatal: %v", err)
		stop()
		os.Exit(1)
	}
}
