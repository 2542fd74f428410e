//go:build !unix

package pgtest

import "os/exec"

// owner is the user the cluster runs as: always the current user here.
type owner struct{}

func clusterOwner() (owner, error) { return owner{}, nil }

func (owner) own(string) error { return nil }

func (owner) setCredential(*exec.Cmd) {}
