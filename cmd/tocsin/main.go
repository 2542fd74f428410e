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
	err := app.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(app.ExitCode(err, os.Stderr))
}
