package io.syncsqlite.it.harness;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Copies of SQLite files as a backup tool or a disk clone makes them: the database file with its log and
 * shared-memory index when present (a stale one at the target is removed, or SQLite would read it).
 *
 * <p>Stateless; thread-safe.
 */
public final class SqliteFiles {

    private SqliteFiles() {
    }

    /** Copies {@code from} (and its {@code -wal}, {@code -shm}) to {@code to}; returns {@code to}. */
    public static Path copy(Path from, Path to) throws IOException {
        Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        for (String suffix : new String[] {"-wal", "-shm"}) {
            Path side = Path.of(from + suffix);
            Path target = Path.of(to + suffix);
            if (Files.exists(side)) {
                Files.copy(side, target, StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.deleteIfExists(target);
            }
        }
        return to;
    }
}
