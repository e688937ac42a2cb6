// nvidia-smi: a FAKE of NVIDIA's nvidia-smi (the NVML command-line tool shipped with the GPU
// driver) for the reference cluster's real worker nodes, whose GPUs are fakes.  Static, stdlib only:
// it is bind-mounted into GPU containers (busybox) by the fake DRA kubelet plugin, the fake device
// plugin and the fake legacy nvidia-container-runtime, as the NVIDIA container toolkit mounts the
// real one into GPU containers only.
//
// What it copies from the real tool (see ../README.md):
//   - visibility: NVML sees a GPU when the process can open its device node.  A GPU counts here
//     when /dev/nvidia<minor> exists as char device 195:<minor> and opening it read-write does not
//     fail with EPERM/EACCES (the device cgroup's answer).  ENXIO (no driver on this host) or
//     success mean the cgroup allows it.  NVIDIA_VISIBLE_DEVICES is ignored, as NVML ignores it.
//   - indices are positions among the visible GPUs, as nvidia-smi renumbers inside a container.
//   - output of -L and --query-gpu=... --format=csv[,noheader][,nounits], error messages and exit
//     codes (9: no driver, 6: no devices found, 2: bad arguments).
//
// The GPUs themselves come from the inventory file $AIC_FAKE_NVIDIA_GPUS (default
// /usr/local/aic-fake-nvidia/gpus.json, mounted beside the binary).  AIC_FAKE_NVIDIA_DEV replaces
// /dev in tests only.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout))
}
