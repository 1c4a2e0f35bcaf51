//go:build !unix

package testenv

import "os/exec"

// PyKMIP is a Debian package; elsewhere the process is killed alone.
func ownProcessGroup(*exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
