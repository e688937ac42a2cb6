// aic-pause: the pod sandbox's process for the reference cluster's worker nodes, a static Go
// stand-in for Kubernetes' pause (build/pause/linux/pause.c) so that no image has to be pulled.
//
// Like pause.c it holds the pod's namespaces open, exits 0 on SIGINT or SIGTERM, and, being PID 1
// of the pod's PID namespace when the pod shares it, reaps every zombie child on SIGCHLD; otherwise
// it blocks forever.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const version = "3.10"

func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}

func main() {
	for _, a := range os.Args[1:] {
		if a == "-v" || a == "--version" {
			fmt.Printf("aic-pause %s (ai-conformance reference cluster, Kubernetes pause semantics)\n", version)
			return
		}
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	reap() // children inherited before the handler was installed
	for sig := range sigs {
		switch sig {
		case syscall.SIGCHLD:
			reap()
		default:
			fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", sig)
			os.Exit(0)
		}
	}
}
