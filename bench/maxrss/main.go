// Command maxrss runs a command and prints its peak resident memory in
// bytes on stderr's last line.
//
// The benchmark cannot read a child's ru_maxrss itself: Go starts children
// with vfork, and Linux carries the parent's high-water mark into the
// child's at exec, so every child would seem as large as the test binary.
// This small program is the parent instead; its own few MiB are the floor.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "maxrss %d\n", cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss*1024)
	os.Exit(cmd.ProcessState.ExitCode())
}
