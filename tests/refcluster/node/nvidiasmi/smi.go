// FAKE nvidia-smi (stands in for NVIDIA's nvidia-smi): inventory, device visibility and output.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	defaultInventory = "/usr/local/aic-fake-nvidia/gpus.json"
	defaultDevDir    = "/dev"
	nvidiaMajor      = 195 // char major of /dev/nvidia* (fixtures/h100/dev-nodes.txt)

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

// GPU is one entry of gpus.json (tests/refcluster/fakes/gpus.py runtime_node_inventory).
type GPU struct {
	Minor        int    `json:"minor"`
	UUID         string `json:"uuid"`
	PCIBusID     string `json:"pci_bus_id"`
	Product      string `json:"product"`
	Brand        string `json:"brand"`
	Architecture string `json:"architecture"`
	MemoryMiB    int64  `json:"memory_mib"`
	CCMajor      int    `json:"cc_major"`
	CCMinor      int    `json:"cc_minor"`
}

// Inventory is gpus.json.
type Inventory struct {
	Node          string `json:"node"`
	DriverVersion string `json:"driver_version"`
	CUDAVersion   string `json:"cuda_version"`
	GPUs          []GPU  `json:"gpus"`
}

func loadInventory(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var inv Inventory
	if err := json.Unmarshal(data, &inv); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &inv, nil
}

// devNumbers splits a Linux dev_t (glibc's gnu_dev_major/gnu_dev_minor encoding).
func devNumbers(rdev uint64) (major, minor uint64) {
	major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) &^ 0xfff)
	minor = (rdev & 0xff) | ((rdev >> 12) &^ 0xff)
	return major, minor
}

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
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return accessMissing
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFCHR {
		return accessMissing
	}
	if ma, mi := devNumbers(uint64(st.Rdev)); ma != nvidiaMajor || mi != minor {
		return accessMissing
	}
	if err := openNode(path); errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return accessDenied
	}
	return accessAllowed
}

// visibleGPUs returns the GPUs of the inventory this process can open, in inventory order.
func visibleGPUs(inv *Inventory, devDir string) []GPU {
	var out []GPU
	for _, g := range inv.GPUs {
		if probeNode(filepath.Join(devDir, fmt.Sprintf("nvidia%d", g.Minor)), uint64(g.Minor)) == accessAllowed {
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
func selectIDs(gpus []GPU, ids string) ([]int, bool) {
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

// queryField is one --query-gpu property: header as the real tool prints it, unit suffix of
// values ("" for none), value.
type queryField struct {
	header string
	unit   string
	value  func(inv *Inventory, g GPU, index, count int) string
}

func fieldFor(name string) (queryField, bool) {
	switch name {
	case "index":
		return queryField{"index", "", func(_ *Inventory, _ GPU, i, _ int) string { return strconv.Itoa(i) }}, true
	case "uuid", "gpu_uuid":
		return queryField{name, "", func(_ *Inventory, g GPU, _, _ int) string { return g.UUID }}, true
	case "name", "gpu_name":
		return queryField{name, "", func(_ *Inventory, g GPU, _, _ int) string { return g.Product }}, true
	case "driver_version":
		return queryField{name, "", func(inv *Inventory, _ GPU, _, _ int) string { return inv.DriverVersion }}, true
	case "pci.bus_id", "gpu_bus_id":
		return queryField{name, "", func(_ *Inventory, g GPU, _, _ int) string { return g.PCIBusID }}, true
	case "memory.total":
		return queryField{"memory.total [MiB]", "MiB", func(_ *Inventory, g GPU, _, _ int) string { return strconv.FormatInt(g.MemoryMiB, 10) }}, true
	case "compute_cap":
		return queryField{name, "", func(_ *Inventory, g GPU, _, _ int) string { return fmt.Sprintf("%d.%d", g.CCMajor, g.CCMinor) }}, true
	case "count":
		return queryField{name, "", func(_ *Inventory, _ GPU, _, n int) string { return strconv.Itoa(n) }}, true
	}
	return queryField{}, false
}

func writeQuery(w io.Writer, inv *Inventory, visible []GPU, sel []int, fieldList, format string) int {
	header, units := true, true
	for _, f := range strings.Split(format, ",") {
		switch strings.TrimSpace(f) {
		case "csv":
		case "noheader":
			header = false
		case "nounits":
			units = false
		default:
			fmt.Fprintf(w, "\"%s\" is not a valid format.\n", strings.TrimSpace(f))
			return exitBadArgs
		}
	}
	var fields []queryField
	for _, name := range strings.Split(fieldList, ",") {
		name = strings.TrimSpace(name)
		f, ok := fieldFor(name)
		if !ok {
			fmt.Fprintf(w, "Field \"%s\" is not a valid field to query.\n\n", name)
			return exitBadArgs
		}
		fields = append(fields, f)
	}
	if header {
		hs := make([]string, len(fields))
		for i, f := range fields {
			hs[i] = f.header
		}
		fmt.Fprintln(w, strings.Join(hs, ", "))
	}
	for _, i := range sel {
		vs := make([]string, len(fields))
		for k, f := range fields {
			v := f.value(inv, visible[i], i, len(visible))
			if units && f.unit != "" {
				v += " " + f.unit
			}
			vs[k] = v
		}
		fmt.Fprintln(w, strings.Join(vs, ", "))
	}
	return exitOK
}

func writeList(w io.Writer, visible []GPU, sel []int) {
	for _, i := range sel {
		fmt.Fprintf(w, "GPU %d: %s (UUID: %s)\n", i, visible[i].Product, visible[i].UUID)
	}
}

// writeDetails prints a reduced `nvidia-smi -q` (the identity part of fixtures/h100/nvidia-smi-q.txt,
// with its key column).
func writeDetails(w io.Writer, inv *Inventory, visible []GPU, sel []int, now time.Time) {
	kv := func(indent int, key, val string) {
		k := strings.Repeat(" ", indent) + key
		fmt.Fprintf(w, "%-55s: %s\n", k, val)
	}
	fmt.Fprintf(w, "\n==============NVSMI LOG==============\n\n")
	kv(0, "Timestamp", now.Format("Mon Jan  2 15:04:05 2006"))
	kv(0, "Driver Version", inv.DriverVersion)
	kv(0, "CUDA Version", inv.CUDAVersion)
	fmt.Fprintln(w)
	kv(0, "Attached GPUs", strconv.Itoa(len(visible)))
	for _, i := range sel {
		g := visible[i]
		fmt.Fprintf(w, "GPU %s\n", g.PCIBusID)
		kv(4, "Product Name", g.Product)
		kv(4, "Product Brand", g.Brand)
		kv(4, "Product Architecture", g.Architecture)
		kv(4, "GPU UUID", g.UUID)
		kv(4, "Minor Number", strconv.Itoa(g.Minor))
		fmt.Fprintln(w, "    FB Memory Usage")
		kv(8, "Total", fmt.Sprintf("%d MiB", g.MemoryMiB))
		kv(8, "Used", "0 MiB")
		kv(8, "Free", fmt.Sprintf("%d MiB", g.MemoryMiB))
		fmt.Fprintln(w)
	}
}

// writeTable prints an approximation of the default nvidia-smi summary table (driver 580 layout;
// the telemetry columns are static, the fakes have none).
func writeTable(w io.Writer, inv *Inventory, visible []GPU, sel []int, now time.Time) {
	const c1, c2, c3 = 41, 24, 22
	full := c1 + c2 + c3 + 2
	sep := func(fill string) string {
		edge := "+"
		if fill == "=" {
			edge = "|"
		}
		return edge + strings.Repeat(fill, c1) + "+" + strings.Repeat(fill, c2) + "+" + strings.Repeat(fill, c3) + edge
	}
	row := func(a, b, c string) string { return fmt.Sprintf("|%-*s|%*s|%*s|", c1, a, c2, b, c3, c) }
	line := func(s string) string { return fmt.Sprintf("|%-*s|", full, s) }
	fmt.Fprintf(w, "%s       \n", now.Format("Mon Jan  2 15:04:05 2006"))
	fmt.Fprintln(w, "+"+strings.Repeat("-", full)+"+")
	fmt.Fprintln(w, line(fmt.Sprintf(" NVIDIA-SMI %-22s Driver Version: %-14s CUDA Version: %-9s", inv.DriverVersion, inv.DriverVersion, inv.CUDAVersion)))
	fmt.Fprintln(w, sep("-"))
	fmt.Fprintln(w, row(" GPU  Name                 Persistence-M ", " Bus-Id          Disp.A ", " Volatile Uncorr. ECC "))
	fmt.Fprintln(w, row(" Fan  Temp   Perf          Pwr:Usage/Cap ", "           Memory-Usage ", " GPU-Util  Compute M. "))
	fmt.Fprintln(w, row("", "", "               MIG M. "))
	fmt.Fprintln(w, sep("="))
	for _, i := range sel {
		g := visible[i]
		fmt.Fprintln(w, row(fmt.Sprintf(" %3d  %-29s  On  ", i, g.Product), fmt.Sprintf("   %s Off ", g.PCIBusID), "0 "))
		fmt.Fprintln(w, row(" N/A   34C    P0            123W /  700W ", fmt.Sprintf("%8dMiB / %6dMiB ", 0, g.MemoryMiB), "     0%      Default "))
		fmt.Fprintln(w, row("", "", "Disabled "))
		fmt.Fprintln(w, sep("-"))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "+"+strings.Repeat("-", full)+"+")
	fmt.Fprintln(w, line(" Processes:"))
	fmt.Fprintln(w, line("  GPU   GI   CI              PID   Type   Process name                        GPU Memory "))
	fmt.Fprintln(w, line("        ID   ID                                                               Usage      "))
	fmt.Fprintln(w, "|"+strings.Repeat("=", full)+"|")
	fmt.Fprintln(w, line("  No running processes found"))
	fmt.Fprintln(w, "+"+strings.Repeat("-", full)+"+")
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
	inv, err := loadInventory(invPath)
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
	switch probeNode(filepath.Join(devDir, "nvidiactl"), 255) {
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
