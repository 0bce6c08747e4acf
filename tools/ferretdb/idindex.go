package main

// FerretDB 1.24's SQLite backend looks documents up by `_ferretdb_sjson->'$._id'`
// but indexes `_ferretdb_sjson->"_id"`. SQLite matches index expressions by
// their text, so every `_id` lookup, and so every update and delete, reads the
// whole table: 250 ms per update at 20,000 records, 1.3 ms with an index on
// the expression the queries use. This file adds that index to every
// collection's table, and to tables created later, until upstream matches them.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB itself uses
)

// keepIDIndexes adds the missing `_id` index to every collection table of every
// database file in dir, now and then every interval, until ctx ends. Files are
// opened per pass: FerretDB deletes a dropped database's file, and a kept
// handle would go on indexing the deleted one.
func keepIDIndexes(ctx context.Context, dir string, interval time.Duration, logger *slog.Logger) {
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			if err := indexFile(ctx, file); err != nil && ctx.Err() == nil {
				logger.Warn("id index: cannot index tables", "file", file, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// indexFile creates the index on the tables of one database that lack it.
func indexFile(ctx context.Context, file string) error {
	// busy_timeout: FerretDB's writers may hold the lock for a moment.
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT c.table_name FROM _ferretdb_collections c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' AND m.name = c.table_name || ?)`, indexSuffix)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil // a database FerretDB has not finished creating
		}
		return err
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			_ = rows.Close()
			return err
		}
		tables = append(tables, table)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, table := range tables {
		// The expression is FerretDB's metadata.IDColumn, character for character.
		stmt := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, table+indexSuffix, table)
		if _, err := db.ExecContext(ctx, stmt); err != nil && !strings.Contains(err.Error(), "no such table") {
			return err // "no such table": dropped since it was listed
		}
	}
	return nil
}

const indexSuffix = "__ota_id_lookup"

// sqliteDir turns FerretDB's `file:dir/` URI into the directory path.
func sqliteDir(uri string) (string, error) {
	dir := strings.TrimPrefix(uri, "file:")
	if i := strings.IndexByte(dir, '?'); i >= 0 {
		dir = dir[:i]
	}
	if dir == uri || dir == "" {
		return "", fmt.Errorf("sqlite url %q: want file:<directory>/", uri)
	}
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return dir, nil
}
