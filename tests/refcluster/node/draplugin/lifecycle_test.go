// Lifecycle test of the FAKE NVIDIA DRA kubelet plugin (stands in for k8s-dra-driver-gpu's kubelet
// plugin): a stand-in kubelet registers it through plugins_registry and calls NodePrepareResources /
// NodeUnprepareResources on dra.sock; the API server is client-go's fake clientset.
package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	drapb "k8s.io/kubelet/pkg/apis/dra/v1"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
	"local/ai-conformance/fake-gpu-node/fakegpu"
)

func dial(t *testing.T, path string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLifecycle(t *testing.T) {
	root, err := os.MkdirTemp("", "dra")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(root)
	devDir := filepath.Join(root, "dev")
	os.Mkdir(devDir, 0o755)
	for _, n := range []string{"nvidia0", "nvidia1", "nvidiactl"} {
		os.WriteFile(filepath.Join(devDir, n), nil, 0o644) // stands in for the char devices here
	}
	gpus := filepath.Join(root, "gpus.json")
	data, _ := json.Marshal(inv)
	os.WriteFile(gpus, data, 0o644)
	smi := filepath.Join(root, "nvidia-smi")
	os.WriteFile(smi, nil, 0o755)
	f := &flags{
		nodeName: "refcluster-rt-1", gpus: gpus, devDir: devDir, cdiDir: filepath.Join(root, "cdi"), nvidiaSMI: smi,
		registrationDir: filepath.Join(root, "reg"), pluginDataDir: filepath.Join(root, "plugin"), fault: "none",
		readyFile: filepath.Join(root, "ready"),
	}
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() {
		logger = log.New(os.Stderr, "plugin: ", log.Lmicroseconds)
	}
	invLoaded, cfg, faultAll, err := setup(f, logger)
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "refcluster-rt-1", UID: "node-uid"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, f, invLoaded, cfg, faultAll, client, logger) }()

	// The kubelet's plugin watcher: GetInfo, then NotifyRegistrationStatus.
	regSock := filepath.Join(f.registrationDir, "gpu.nvidia.com-reg.sock")
	waitFor(t, "registration socket", func() bool { _, err := os.Stat(regSock); return err == nil })
	reg := registerapi.NewRegistrationClient(dial(t, regSock))
	info, err := reg.GetInfo(ctx, &registerapi.InfoRequest{})
	if err != nil || info.Type != "DRAPlugin" || info.Name != "gpu.nvidia.com" || info.Endpoint != filepath.Join(f.pluginDataDir, "dra.sock") {
		t.Fatalf("GetInfo: %+v %v", info, err)
	}
	if _, err := os.Stat(f.readyFile); err == nil {
		t.Fatal("ready before registration")
	}
	if _, err := reg.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{PluginRegistered: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready file", func() bool { _, err := os.Stat(f.readyFile); return err == nil })

	slices, err := client.ResourceV1().ResourceSlices().List(ctx, metav1.ListOptions{})
	if err != nil || len(slices.Items) != 1 {
		t.Fatalf("slices: %+v %v", slices, err)
	}
	s := slices.Items[0].Spec
	if s.Driver != driverName || s.NodeName == nil || *s.NodeName != "refcluster-rt-1" || s.Pool.Name != "refcluster-rt-1" || len(s.Devices) != 2 || s.Devices[1].Name != "gpu-1" {
		t.Fatalf("slice spec %+v", s)
	}
	if owner := slices.Items[0].OwnerReferences; len(owner) != 1 || owner[0].Kind != "Node" || owner[0].UID != "node-uid" {
		t.Fatalf("slice owner %+v", owner)
	}

	claim := &resourceapi.ResourceClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gpu-claim", UID: "8a4b0c1d-0000-4000-8000-000000000001"},
		Status: resourceapi.ResourceClaimStatus{Allocation: &resourceapi.AllocationResult{Devices: resourceapi.DeviceAllocationResult{
			Results: []resourceapi.DeviceRequestAllocationResult{
				{Request: "gpus", Driver: driverName, Pool: "refcluster-rt-1", Device: "gpu-0"},
				{Request: "gpus", Driver: driverName, Pool: "refcluster-rt-1", Device: "gpu-1"},
			},
		}}},
	}
	if _, err := client.ResourceV1().ResourceClaims("ns").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dra := drapb.NewDRAPluginClient(dial(t, info.Endpoint))
	ref := &drapb.Claim{Namespace: "ns", Name: "gpu-claim", Uid: string(claim.UID)}
	prep, err := dra.NodePrepareResources(ctx, &drapb.NodePrepareResourcesRequest{Claims: []*drapb.Claim{ref}})
	if err != nil {
		t.Fatal(err)
	}
	got := prep.Claims[string(claim.UID)]
	if got == nil || got.Error != "" || len(got.Devices) != 2 ||
		got.Devices[1].CdiDeviceIds[0] != "k8s.gpu.nvidia.com/device=8a4b0c1d-0000-4000-8000-000000000001-gpu-1" ||
		got.Devices[1].PoolName != "refcluster-rt-1" || got.Devices[1].RequestNames[0] != "gpus" {
		t.Fatalf("NodePrepareResources: %+v", prep)
	}
	specFile := claimSpecFile(f.cdiDir, string(claim.UID))
	spec, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	var parsed fakegpu.CDISpec
	if err := json.Unmarshal(spec, &parsed); err != nil || parsed.ContainerEdits.Env[0] != "NVIDIA_VISIBLE_DEVICES="+inv.GPUs[0].UUID+","+inv.GPUs[1].UUID ||
		parsed.ContainerEdits.Mounts[0].HostPath != smi || parsed.Devices[0].ContainerEdits.DeviceNodes[0].HostPath != filepath.Join(devDir, "nvidia0") {
		t.Fatalf("CDI spec: %s", spec)
	}
	if _, err := dra.NodeUnprepareResources(ctx, &drapb.NodeUnprepareResourcesRequest{Claims: []*drapb.Claim{ref}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(specFile); !os.IsNotExist(err) {
		t.Fatalf("CDI spec left after unprepare: %v", err)
	}

	cancel() // SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("plugin did not stop")
	}
	slices, _ = client.ResourceV1().ResourceSlices().List(context.Background(), metav1.ListOptions{})
	if len(slices.Items) != 0 {
		t.Fatalf("ResourceSlices left: %d", len(slices.Items))
	}
	if _, err := os.Stat(f.readyFile); err == nil {
		t.Fatal("ready file left")
	}
	if _, err := os.Stat(regSock); err == nil {
		t.Fatal("registration socket left")
	}
}
