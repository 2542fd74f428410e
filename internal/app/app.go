// Package app is the one place that wires Tocsin together: it turns the
// command line into a configuration, opens the store, builds the platform
// clients and the HTTP server, and stops them in reverse order. It is also
// the only package that knows every platform and every store backend.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// ExitError carries a process exit status other than 1 for an error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit statuses.
const (
	exitOK        = 0
	exitFailure   = 1 // an error, or a platform's permanent refusal
	exitUsage     = 2 // bad command line
	exitTemporary = 3 // a passing failure: try again later
)

// ExitCode prints err (if any) to stderr and returns the process exit status.
func ExitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintln(stderr, "tocsin:", err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return exitFailure
}

const usage = `Tocsin: a self-hosted alert notification center for DingTalk, Lark and WeCom.

Usage:
  tocsin serve [flags]                 run the server (tocsin serve -h lists its flags)
  tocsin send --webhook URL [flags] TEXT
                                       send one message to a DingTalk robot and report its verdict
  tocsin fake dingtalk [flags]         run a local DingTalk-compatible robot server, for trying Tocsin out
  tocsin bench storm --url URL --token T [flags]
                                       fire an alert storm at a running Tocsin and report what a
                                       local DingTalk-compatible robot received
  tocsin version                       print the version
`

// Version is set at build time with -ldflags "-X github.com/tocsinhq/tocsin/internal/app.Version=…".
var Version = "dev"

// Run runs the command line args (without the program name). It returns
// when the command is done or ctx is cancelled (for serve: after a graceful
// shutdown).
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &ExitError{Code: exitUsage, Err: errors.New("no command given")}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "send":
		return runSend(ctx, rest, getenv, stdin, stdout, stderr)
	case "fake":
		return runFake(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "tocsin", Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &ExitError{Code: exitUsage, Err: fmt.Errorf("unknown command %q", cmd)}
	}
}

// usageError marks a command-line mistake.
func usageError(format string, args ...any) error {
	return &ExitError{Code: exitUsage, Err: fmt.Errorf(format, args...)}
}
