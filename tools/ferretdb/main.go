// Command ferretdb runs FerretDB v1.24 (SQLite backend) as the embedded
// MongoDB-compatible database. `go install` of FerretDB's own command panics
// outside its release build (it needs generated version files), so this main
// uses FerretDB's embeddable package, which builds from the Go module proxy.
// It also keeps the `_id` index FerretDB's own queries can use (idindex.go).
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URI, ending with a slash")
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Parse()

	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: *sqliteURL,
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := sqliteDir(*sqliteURL)
	if err != nil {
		log.Fatal(err)
	}
	go keepIDIndexes(ctx, dir, time.Second, logger)
	log.Printf("ferretdb listening on %s (sqlite %s)", *listen, *sqliteURL)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
