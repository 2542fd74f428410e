// Command tocsin is the Tocsin alert notification center: `tocsin serve`
// runs the server; other subcommands send test messages and help scripts.
// main only turns the OS into Go values; internal/app does the rest.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // IANA zones even on machines without /usr/share/zoneinfo

	"github.com/tocsinhq/tocsin/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills the process at once
	// instead of waiting for the graceful shutdown.
	context.AfterFunc(ctx, stop)
	err := app.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(app.ExitCode(err, os.Stderr))
}
