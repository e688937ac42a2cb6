// Tests of the FAKE NVIDIA device plugin (stands in for NVIDIA's k8s-device-plugin): static CDI spec,
// Allocate, and registration with a stand-in kubelet (also after a kubelet restart).
package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
	"local/ai-conformance/fake-gpu-node/fakegpu"
)

var inv = &fakegpu.Inventory{Node: "refcluster-rt-1", GPUs: []fakegpu.GPU{
	{Minor: 0, UUID: "GPU-55bbd2d4-03e9-5704-bcb9-fcde5b99afc7"},
	{Minor: 1, UUID: "GPU-c97cb62a-a463-5026-b2d0-75ec3e263019"},
}}

func TestStaticSpec(t *testing.T) {
	cfg := fakegpu.HostPaths{DevDir: "/state/dev", NvidiaSMI: "/bin/nvidia-smi", GPUsJSON: "/state/gpus.json"}
	data, _ := json.Marshal(staticSpec(inv, cfg))
	var got map[string]any
	json.Unmarshal(data, &got)
	want := map[string]any{
		"cdiVersion": "0.6.0",
		"kind":       "nvidia.com/gpu",
		"devices": []any{
			map[string]any{"name": inv.GPUs[0].UUID, "containerEdits": map[string]any{"deviceNodes": []any{
				map[string]any{"path": "/dev/nvidia0", "hostPath": "/state/dev/nvidia0", "type": "c", "major": 195.0, "minor": 0.0}}}},
			map[string]any{"name": inv.GPUs[1].UUID, "containerEdits": map[string]any{"deviceNodes": []any{
				map[string]any{"path": "/dev/nvidia1", "hostPath": "/state/dev/nvidia1", "type": "c", "major": 195.0, "minor": 1.0}}}},
		},
		"containerEdits": map[string]any{
			"deviceNodes": []any{map[string]any{"path": "/dev/nvidiactl", "hostPath": "/state/dev/nvidiactl", "type": "c", "major": 195.0, "minor": 255.0}},
			"mounts": []any{
				map[string]any{"hostPath": "/bin/nvidia-smi", "containerPath": "/usr/bin/nvidia-smi", "type": "bind", "options": []any{"ro", "nosuid", "nodev", "bind"}},
				map[string]any{"hostPath": "/state/gpus.json", "containerPath": "/usr/local/aic-fake-nvidia/gpus.json", "type": "bind", "options": []any{"ro", "nosuid", "nodev", "bind"}},
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		out, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("spec:\n%s", out)
	}
}

func cdiNames(r *pluginapi.ContainerAllocateResponse) []string {
	var out []string
	for _, d := range r.CdiDevices {
		out = append(out, d.Name)
	}
	return out
}

func TestAllocate(t *testing.T) {
	r, err := allocate(inv, []string{inv.GPUs[1].UUID}, false)
	if err != nil || !reflect.DeepEqual(cdiNames(r), []string{"nvidia.com/gpu=" + inv.GPUs[1].UUID}) || !reflect.DeepEqual(r.Envs, map[string]string{"NVIDIA_VISIBLE_DEVICES": inv.GPUs[1].UUID}) {
		t.Fatalf("allocate: %+v %v", r, err)
	}
	ids := []string{inv.GPUs[1].UUID}
	r, err = allocate(inv, ids, true)
	all := inv.GPUs[0].UUID + "," + inv.GPUs[1].UUID
	if err != nil || len(r.CdiDevices) != 2 || r.Envs["NVIDIA_VISIBLE_DEVICES"] != all {
		t.Fatalf("fault allocate: %+v %v", r, err)
	}
	if ids[0] != inv.GPUs[1].UUID {
		t.Fatalf("request slice modified: %v", ids)
	}
	if _, err := allocate(inv, []string{"GPU-unknown"}, false); err == nil {
		t.Fatal("unknown device allocated")
	}
	if socketName("nvidia.com/gpu") != "nvidia-gpu.sock" {
		t.Fatal(socketName("nvidia.com/gpu"))
	}
}

type fakeKubelet struct {
	pluginapi.UnimplementedRegistrationServer
	got chan *pluginapi.RegisterRequest
}

func (k *fakeKubelet) Register(_ context.Context, r *pluginapi.RegisterRequest) (*pluginapi.Empty, error) {
	k.got <- r
	return &pluginapi.Empty{}, nil
}

func startKubelet(t *testing.T, dir string, k *fakeKubelet) *grpc.Server {
	t.Helper()
	lis, err := net.Listen("unix", filepath.Join(dir, "kubelet.sock"))
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	pluginapi.RegisterRegistrationServer(g, k)
	go g.Serve(lis)
	return g
}

func waitRegister(t *testing.T, k *fakeKubelet) *pluginapi.RegisterRequest {
	t.Helper()
	select {
	case r := <-k.got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no registration")
	}
	return nil
}

func TestRegistersServesAndReregisters(t *testing.T) {
	dir, err := os.MkdirTemp("", "dp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ready := filepath.Join(dir, "ready")
	k := &fakeKubelet{got: make(chan *pluginapi.RegisterRequest, 4)}
	kubelet := startKubelet(t, dir, k)

	s := &server{dir: dir, socket: socketName("nvidia.com/gpu"), resource: "nvidia.com/gpu", inv: inv, logger: log.New(io.Discard, "", 0)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.loop(ctx, ready, 50*time.Millisecond); s.stop(); close(done) }()

	r := waitRegister(t, k)
	if r.Version != "v1beta1" || r.Endpoint != "nvidia-gpu.sock" || r.ResourceName != "nvidia.com/gpu" {
		t.Fatalf("register %+v", r)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(ready); err != nil {
		t.Fatalf("ready file: %v", err)
	}

	conn, err := grpc.NewClient("unix://"+filepath.Join(dir, "nvidia-gpu.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pluginapi.NewDevicePluginClient(conn)
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	stream, err := client.ListAndWatch(cctx, &pluginapi.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	lw, err := stream.Recv()
	if err != nil || len(lw.Devices) != 2 || lw.Devices[0].ID != inv.GPUs[0].UUID || lw.Devices[0].Health != "Healthy" {
		t.Fatalf("ListAndWatch: %+v %v", lw, err)
	}
	ar, err := client.Allocate(cctx, &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: []string{inv.GPUs[0].UUID}}}})
	if err != nil || len(ar.ContainerResponses) != 1 || ar.ContainerResponses[0].CdiDevices[0].Name != "nvidia.com/gpu="+inv.GPUs[0].UUID {
		t.Fatalf("Allocate: %+v %v", ar, err)
	}

	// Kubelet restart: it stops, clears the directory and serves a new kubelet.sock.
	kubelet.Stop()
	os.Remove(filepath.Join(dir, "kubelet.sock"))
	os.Remove(filepath.Join(dir, "nvidia-gpu.sock"))
	time.Sleep(200 * time.Millisecond)
	kubelet = startKubelet(t, dir, k)
	defer kubelet.Stop()
	if r := waitRegister(t, k); r.Endpoint != "nvidia-gpu.sock" {
		t.Fatalf("re-register %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "nvidia-gpu.sock")); err != nil {
		t.Fatalf("plugin socket not served again: %v", err)
	}

	cancel()
	<-done
	if _, err := os.Stat(filepath.Join(dir, "nvidia-gpu.sock")); err == nil {
		t.Fatal("plugin socket left after stop")
	}
}
