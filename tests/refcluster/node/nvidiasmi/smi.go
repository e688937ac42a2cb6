// FAKE nvidia-smi (stands in for NVIDIA's nvidia-smi): device visibility, arguments and the run
// (the output formats are in output.go; gpus.json and the device node numbers are package fakegpu's).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"local/ai-conformance/fake-gpu-node/fakegpu"
)

const (
	defaultInventory = fakegpu.GPUsInContainer
	defaultDevDir    = "/dev"

	// Exit codes of the real nvidia-smi (its man page, RETURN VALUE).
	exitOK          = 0
	exitBadArgs     = 2
	exitNotFound    = 6
	exitNoDriver    = 9
	exitUnknownNVML = 255

	msgNoDriver   = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
	msgNoDevices  = "No devices were found"
	msgNVMLDenied = "Failed to initialize NVML: Unknown Error"
	msgBadArgs    = "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help."
)

// access says what the process may do with one device node.
type access int

const (
	accessMissing access = iota // absent, or not char device 195:<minor>
	accessDenied                // the device cgroup refuses it (EPERM/EACCES on open)
	accessAllowed               // open succeeds, or fails only because no driver backs it (ENXIO)
)

// openNode opens a device node read-write, as NVML does, and closes it again (a variable so that
// tests can stand in for a device cgroup that refuses the open).
var openNode = func(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err == nil {
		f.Close()
	}
	return err
}

func probeNode(path string, minor uint64) access {
	if ma, mi, err := fakegpu.StatChar(path); err != nil || ma != fakegpu.NvidiaMajor || mi != minor {
		return accessMissing
	}
	if err := openNode(path); errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return accessDenied
	}
	return accessAllowed
}

// visibleGPUs returns the GPUs of the inventory this process can open, in inventory order.
func visibleGPUs(inv *fakegpu.Inventory, devDir string) []fakegpu.GPU {
	var out []fakegpu.GPU
	for _, g := range inv.GPUs {
		if probeNode(filepath.Join(devDir, fakegpu.NodeName(g.Minor)), uint64(g.Minor)) == accessAllowed {
			out = append(out, g)
		}
	}
	return out
}

type options struct {
	list    bool
	table   bool
	query   bool
	details bool // -q
	fields  string
	format  string
	ids     string
	help    bool
	version bool
}

// parseArgs accepts "--opt=value" and "--opt value" as the real tool does.
func parseArgs(args []string) (*options, string) {
	o := &options{}
	seenFormat := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := a, "", false
		if strings.HasPrefix(a, "--") {
			if k, v, ok := strings.Cut(a, "="); ok {
				name, val, hasVal = k, v, true
			}
		}
		needValue := func() bool {
			if hasVal {
				return true
			}
			if i+1 < len(args) {
				i++
				val = args[i]
				return true
			}
			return false
		}
		switch name {
		case "-L", "--list-gpus":
			o.list = true
		case "-q", "--query":
			o.details = true
		case "-h", "--help":
			o.help = true
		case "--version":
			o.version = true
		case "--query-gpu":
			if !needValue() || val == "" {
				return nil, msgBadArgs
			}
			o.query, o.fields = true, val
		case "--format":
			if !needValue() {
				return nil, msgBadArgs
			}
			o.format, seenFormat = val, true
		case "-i", "--id":
			if !needValue() || val == "" {
				return nil, msgBadArgs
			}
			o.ids = val
		default:
			if strings.HasPrefix(a, "-i") && len(a) > 2 { // -i0
				o.ids = a[2:]
				continue
			}
			return nil, fmt.Sprintf("Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n(fake nvidia-smi: unknown or unsupported option %q)", a)
		}
	}
	modes := 0
	for _, m := range []bool{o.list, o.query, o.details} {
		if m {
			modes++
		}
	}
	if modes > 1 || (seenFormat && !o.query) {
		return nil, msgBadArgs
	}
	if o.query && !seenFormat {
		return nil, "\"--format\" option is required with \"--query-gpu\". Please run 'nvidia-smi -h' for help."
	}
	if modes == 0 && !o.help && !o.version {
		o.table = true
	}
	return o, ""
}

// selectIDs applies -i: visible indices, UUIDs or PCI bus ids, comma separated.
func selectIDs(gpus []fakegpu.GPU, ids string) ([]int, bool) {
	if ids == "" {
		idx := make([]int, len(gpus))
		for i := range gpus {
			idx[i] = i
		}
		return idx, true
	}
	var out []int
	for _, id := range strings.Split(ids, ",") {
		id = strings.TrimSpace(id)
		found := -1
		if n, err := strconv.Atoi(id); err == nil {
			if n >= 0 && n < len(gpus) {
				found = n
			}
		} else {
			for i, g := range gpus {
				if strings.EqualFold(g.UUID, id) || strings.EqualFold(g.PCIBusID, id) {
					found = i
				}
			}
		}
		if found < 0 {
			return nil, false
		}
		out = append(out, found)
	}
	return out, true
}

const usage = `NVIDIA System Management Interface -- FAKE for the ai_conformance reference cluster

nvidia-smi [OPTION1 [ARG1]] [OPTION2 [ARG2]] ...

    -h,   --help                Print usage information and exit.
          --version             Print version information and exit.
    -L,   --list-gpus           Display a list of GPUs connected to the system.
    -q,   --query               Display GPU or Unit info (reduced).
    -i,   --id=                 Target a specific GPU (index, UUID or PCI bus ID).
    --query-gpu=                Information about GPU: index, uuid, name, driver_version,
                                pci.bus_id, memory.total, compute_cap, count.
    --format=                   csv[,noheader][,nounits]
`

// run is the whole tool: args without argv[0], environment lookup, stdout; returns the exit code.
func run(args []string, getenv func(string) string, w io.Writer) int {
	o, msg := parseArgs(args)
	if o == nil {
		fmt.Fprintln(w, msg)
		return exitBadArgs
	}
	if o.help {
		fmt.Fprint(w, usage)
		return exitOK
	}
	invPath := getenv("AIC_FAKE_NVIDIA_GPUS")
	if invPath == "" {
		invPath = defaultInventory
	}
	devDir := getenv("AIC_FAKE_NVIDIA_DEV")
	if devDir == "" {
		devDir = defaultDevDir
	}
	inv, err := fakegpu.ReadInventory(invPath)
	if err != nil {
		fmt.Fprintln(w, msgNoDriver)
		return exitNoDriver
	}
	if o.version {
		nvml := inv.DriverVersion
		if parts := strings.Split(nvml, "."); len(parts) >= 2 {
			nvml = parts[0] + "." + parts[1]
		}
		fmt.Fprintf(w, "NVIDIA-SMI version  : %s\nNVML version        : %s\nDRIVER version      : %s\nCUDA Version        : %s\n",
			inv.DriverVersion, nvml, inv.DriverVersion, inv.CUDAVersion)
		return exitOK
	}
	switch probeNode(filepath.Join(devDir, fakegpu.CtlName), fakegpu.NvidiactlMinor) {
	case accessMissing:
		fmt.Fprintln(w, msgNoDriver)
		return exitNoDriver
	case accessDenied:
		fmt.Fprintln(w, msgNVMLDenied)
		return exitUnknownNVML
	}
	visible := visibleGPUs(inv, devDir)
	if len(visible) == 0 {
		fmt.Fprintln(w, msgNoDevices)
		return exitNotFound
	}
	sel, ok := selectIDs(visible, o.ids)
	if !ok {
		fmt.Fprintln(w, msgNoDevices)
		return exitNotFound
	}
	now := time.Now()
	switch {
	case o.list:
		writeList(w, visible, sel)
	case o.query:
		return writeQuery(w, inv, visible, sel, o.fields, o.format)
	case o.details:
		writeDetails(w, inv, visible, sel, now)
	default:
		writeTable(w, inv, visible, sel, now)
	}
	return exitOK
}
