// fake-gpu-device-plugin: a FAKE of NVIDIA's k8s-device-plugin (resource nvidia.com/gpu) with the
// CDI device-list strategy, for the reference cluster's real worker nodes whose GPUs are fakes
// (harmless char device nodes 195:<minor>, no driver).
//
// It writes a static CDI spec (kind nvidia.com/gpu, one device per GPU named by its UUID), serves
// the kubelet device plugin API v1beta1 on a socket in the device-plugin directory, registers with
// kubelet.sock and registers again whenever the kubelet restarts (kubelet.sock is re-created).
// Device IDs are the GPU UUIDs, all Healthy; Allocate answers with the CDI device IDs and
// NVIDIA_VISIBLE_DEVICES.  --fault=all-devices gives every container all the node's GPUs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
	"local/ai-conformance/fake-gpu-node/fakegpu"
)

type plugin struct {
	pluginapi.UnimplementedDevicePluginServer
	inv      *fakegpu.Inventory
	faultAll bool
	logger   *log.Logger
	stop     chan struct{} // closed when this server instance stops
}

// GetDevicePluginOptions implements the device plugin API: no PreStartContainer, no preferred
// allocation.
func (p *plugin) GetDevicePluginOptions(context.Context, *pluginapi.Empty) (*pluginapi.DevicePluginOptions, error) {
	return &pluginapi.DevicePluginOptions{}, nil
}

// ListAndWatch sends the GPUs once (all Healthy) and holds the stream open.
func (p *plugin) ListAndWatch(_ *pluginapi.Empty, stream grpc.ServerStreamingServer[pluginapi.ListAndWatchResponse]) error {
	devs := make([]*pluginapi.Device, 0, len(p.inv.GPUs))
	for _, g := range p.inv.GPUs {
		devs = append(devs, &pluginapi.Device{ID: g.UUID, Health: pluginapi.Healthy})
	}
	if err := stream.Send(&pluginapi.ListAndWatchResponse{Devices: devs}); err != nil {
		return err
	}
	select {
	case <-stream.Context().Done():
	case <-p.stop:
	}
	return nil
}

// Allocate implements the device plugin API.
func (p *plugin) Allocate(_ context.Context, req *pluginapi.AllocateRequest) (*pluginapi.AllocateResponse, error) {
	out := &pluginapi.AllocateResponse{}
	for _, c := range req.ContainerRequests {
		resp, err := allocate(p.inv, c.DevicesIds, p.faultAll)
		if err != nil {
			p.logger.Printf("allocate %v: %v", c.DevicesIds, err)
			return nil, err
		}
		names := make([]string, len(resp.CdiDevices))
		for i, d := range resp.CdiDevices {
			names[i] = d.Name
		}
		fault := ""
		if p.faultAll {
			fault = " [fault all-devices: every GPU injected]"
		}
		p.logger.Printf("allocate %v: %s%s", c.DevicesIds, strings.Join(names, ","), fault)
		out.ContainerResponses = append(out.ContainerResponses, resp)
	}
	return out, nil
}

// PreStartContainer is not requested (GetDevicePluginOptions), but answered.
func (p *plugin) PreStartContainer(context.Context, *pluginapi.PreStartContainerRequest) (*pluginapi.PreStartContainerResponse, error) {
	return &pluginapi.PreStartContainerResponse{}, nil
}

// fileID identifies one incarnation of a file (a re-created kubelet.sock differs).
type fileID struct {
	ino  uint64
	ctim syscall.Timespec
}

func statID(path string) (fileID, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, false
	}
	return fileID{st.Ino, st.Ctim}, true
}

type server struct {
	dir, socket, resource string
	inv                   *fakegpu.Inventory
	faultAll              bool
	logger                *log.Logger
	grpc                  *grpc.Server
	impl                  *plugin
}

func (s *server) start() error {
	path := filepath.Join(s.dir, s.socket)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	s.impl = &plugin{inv: s.inv, faultAll: s.faultAll, logger: s.logger, stop: make(chan struct{})}
	s.grpc = grpc.NewServer()
	pluginapi.RegisterDevicePluginServer(s.grpc, s.impl)
	go func(g *grpc.Server) {
		if err := g.Serve(lis); err != nil {
			s.logger.Printf("gRPC server: %v", err)
		}
	}(s.grpc)
	return nil
}

func (s *server) stop() {
	if s.grpc == nil {
		return
	}
	close(s.impl.stop)
	s.grpc.Stop()
	s.grpc, s.impl = nil, nil
	os.Remove(filepath.Join(s.dir, s.socket))
}

func (s *server) register(ctx context.Context) error {
	conn, err := grpc.NewClient("unix://"+filepath.Join(s.dir, "kubelet.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = pluginapi.NewRegistrationClient(conn).Register(ctx, &pluginapi.RegisterRequest{
		Version:      pluginapi.Version,
		Endpoint:     s.socket,
		ResourceName: s.resource,
		Options:      &pluginapi.DevicePluginOptions{},
	})
	return err
}

// loop serves and registers while kubelet.sock exists, and again each time the kubelet re-creates
// it (a kubelet restart also removes the plugin's socket), until ctx ends.  The ready file is
// written after the first registration.
func (s *server) loop(ctx context.Context, readyFile string, poll time.Duration) {
	logger, dir, resource, inv := s.logger, s.dir, s.resource, s.inv
	kubeletSock := filepath.Join(dir, "kubelet.sock")
	var registeredWith fileID
	registered, ready := false, false
	for ctx.Err() == nil {
		kid, kubeletUp := statID(kubeletSock)
		_, ownUp := statID(filepath.Join(dir, s.socket))
		if registered && (!kubeletUp || kid != registeredWith || !ownUp) {
			logger.Printf("kubelet.sock re-created or plugin socket removed (kubelet restart): serving and registering again")
			s.stop()
			registered = false
		}
		if !registered && kubeletUp {
			if s.grpc == nil {
				if err := s.start(); err != nil {
					logger.Printf("serve %s: %v", filepath.Join(dir, s.socket), err)
				}
			}
			if s.grpc != nil {
				if err := s.register(ctx); err != nil {
					logger.Printf("register with %s: %v", kubeletSock, err)
				} else {
					registered, registeredWith = true, kid
					logger.Printf("registered %s with the kubelet (endpoint %s, %d devices)", resource, s.socket, len(inv.GPUs))
					if !ready && readyFile != "" {
						if err := os.WriteFile(readyFile, []byte("ready\n"), 0o644); err != nil {
							logger.Printf("write --ready-file: %v", err)
						}
					}
					ready = true
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fake-gpu-device-plugin: "+format+"\n", args...)
	os.Exit(2)
}

func absExisting(name, path string) string {
	if path == "" {
		fail("--%s is required", name)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		fail("--%s: %v", name, err)
	}
	if _, err := os.Stat(abs); err != nil {
		fail("--%s: %v", name, err)
	}
	return abs
}

func main() {
	var gpus, devDir, cdiDir, smi, pluginDir, resource, fault, readyFile string
	flag.StringVar(&gpus, "gpus", "", "this node's gpus.json (required)")
	flag.StringVar(&devDir, "dev-dir", "", "host directory holding nvidia<minor> and nvidiactl (required)")
	flag.StringVar(&cdiDir, "cdi-dir", "", "directory containerd reads CDI specs from (required)")
	flag.StringVar(&smi, "nvidia-smi", "", "host path of the fake nvidia-smi binary (required)")
	flag.StringVar(&pluginDir, "device-plugin-dir", pluginapi.DevicePluginPath, "kubelet device plugin directory (holds kubelet.sock)")
	flag.StringVar(&resource, "resource-name", "nvidia.com/gpu", "extended resource name")
	flag.StringVar(&fault, "fault", "none", "none | all-devices (every container gets all the node's GPUs)")
	flag.StringVar(&readyFile, "ready-file", "", "written once registered with the kubelet")
	flag.Parse()

	logger := log.New(os.Stderr, "fake-gpu-device-plugin: ", log.LstdFlags|log.Lmicroseconds)
	var faultAll bool
	switch fault {
	case "none":
	case "all-devices":
		faultAll = true
	default:
		fail("--fault must be none or all-devices, not %q", fault)
	}
	gpusPath := absExisting("gpus", gpus)
	smiPath := absExisting("nvidia-smi", smi)
	devPath := absExisting("dev-dir", devDir)
	if cdiDir == "" {
		fail("--cdi-dir is required")
	}
	dir, err := filepath.Abs(pluginDir)
	if err != nil {
		fail("--device-plugin-dir: %v", err)
	}
	inv, err := fakegpu.LoadInventory(gpusPath)
	if err != nil {
		fail("--gpus: %v", err)
	}
	for _, d := range []string{cdiDir, dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fail("%v", err)
		}
	}
	if readyFile != "" {
		os.Remove(readyFile)
	}

	specPath := filepath.Join(cdiDir, cdiSpecFileName)
	data, _ := json.MarshalIndent(staticSpec(inv, fakegpu.HostPaths{DevDir: devPath, NvidiaSMI: smiPath, GPUsJSON: gpusPath}), "", "  ")
	if err := fakegpu.WriteFileAtomic(specPath, data); err != nil {
		fail("write CDI spec: %v", err)
	}
	logger.Printf("wrote CDI spec %s (%s, %d devices); fault=%s", specPath, cdiKind, len(inv.GPUs), fault)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	s := &server{dir: dir, socket: socketName(resource), resource: resource, inv: inv, faultAll: faultAll, logger: logger}
	s.loop(ctx, readyFile, time.Second)
	logger.Printf("stopping")
	s.stop()
	os.Remove(specPath)
	if readyFile != "" {
		os.Remove(readyFile)
	}
}
