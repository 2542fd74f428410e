//go:build unix

package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// owner is the user the cluster runs as: the current user, or the postgres
// user when that is root, since initdb and postgres refuse to run as root
// (as tests do in CI containers).
type owner struct {
	cred *syscall.Credential // nil: the current user
}

func clusterOwner() (owner, error) {
	if os.Geteuid() != 0 {
		return owner{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return owner{}, fmt.Errorf("%w: running as root, which initdb refuses, and there is no postgres user to run it as: %v", errUnavailable, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return owner{}, fmt.Errorf("postgres user id %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return owner{}, fmt.Errorf("postgres group id %q: %w", u.Gid, err)
	}
	return owner{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}}, nil
}

// own hands dir (made by os.MkdirTemp, mode 0700) to the owner.
func (o owner) own(dir string) error {
	if o.cred == nil {
		return nil
	}
	return os.Chown(dir, int(o.cred.Uid), int(o.cred.Gid))
}

func (o owner) setCredential(cmd *exec.Cmd) {
	if o.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	}
}
