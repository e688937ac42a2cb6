// FAKE nvidia-smi (stands in for NVIDIA's nvidia-smi): its output formats, -L, --query-gpu, -q and
// the default table.
package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"local/ai-conformance/fake-gpu-node/fakegpu"
)

// queryField is one --query-gpu property: header as the real tool prints it, unit suffix of
// values ("" for none), value.
type queryField struct {
	header string
	unit   string
	value  func(inv *fakegpu.Inventory, g fakegpu.GPU, index, count int) string
}

func fieldFor(name string) (queryField, bool) {
	switch name {
	case "index":
		return queryField{"index", "", func(_ *fakegpu.Inventory, _ fakegpu.GPU, i, _ int) string { return strconv.Itoa(i) }}, true
	case "uuid", "gpu_uuid":
		return queryField{name, "", func(_ *fakegpu.Inventory, g fakegpu.GPU, _, _ int) string { return g.UUID }}, true
	case "name", "gpu_name":
		return queryField{name, "", func(_ *fakegpu.Inventory, g fakegpu.GPU, _, _ int) string { return g.Product }}, true
	case "driver_version":
		return queryField{name, "", func(inv *fakegpu.Inventory, _ fakegpu.GPU, _, _ int) string { return inv.DriverVersion }}, true
	case "pci.bus_id", "gpu_bus_id":
		return queryField{name, "", func(_ *fakegpu.Inventory, g fakegpu.GPU, _, _ int) string { return g.PCIBusID }}, true
	case "memory.total":
		return queryField{"memory.total [MiB]", "MiB", func(_ *fakegpu.Inventory, g fakegpu.GPU, _, _ int) string { return strconv.FormatInt(g.MemoryMiB, 10) }}, true
	case "compute_cap":
		return queryField{name, "", func(_ *fakegpu.Inventory, g fakegpu.GPU, _, _ int) string {
			return fmt.Sprintf("%d.%d", g.CCMajor, g.CCMinor)
		}}, true
	case "count":
		return queryField{name, "", func(_ *fakegpu.Inventory, _ fakegpu.GPU, _, n int) string { return strconv.Itoa(n) }}, true
	}
	return queryField{}, false
}

func writeQuery(w io.Writer, inv *fakegpu.Inventory, visible []fakegpu.GPU, sel []int, fieldList, format string) int {
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

func writeList(w io.Writer, visible []fakegpu.GPU, sel []int) {
	for _, i := range sel {
		fmt.Fprintf(w, "GPU %d: %s (UUID: %s)\n", i, visible[i].Product, visible[i].UUID)
	}
}

// writeDetails prints a reduced `nvidia-smi -q` (the identity part of fixtures/h100/nvidia-smi-q.txt,
// with its key column).
func writeDetails(w io.Writer, inv *fakegpu.Inventory, visible []fakegpu.GPU, sel []int, now time.Time) {
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
func writeTable(w io.Writer, inv *fakegpu.Inventory, visible []fakegpu.GPU, sel []int, now time.Time) {
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
