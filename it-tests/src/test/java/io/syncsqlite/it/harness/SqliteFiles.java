package io.syncsqlite.it.harness;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Copies of SQLite files as a backup tool or a disk clone makes them: the database file with its log and
 * shared-memory index when present (a stale one at the target is removed, or SQLite would read it).
 *
 * <p>Stateless; thread-safe.
 */
public final class SqliteFiles {

    private SqliteFiles() {
    }

    /** The stamped transaction markers of a synced file's outbox, {seq, hlc} in order, read through plain SQLite. */
    public static List<long[]> markers(Path file) throws SQLException {
        List<long[]> out = new ArrayList<>();
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file);
             Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery("SELECT seq, hlc FROM _sync_outbox WHERE hlc IS NOT NULL ORDER BY seq")) {
            while (rs.next()) {
                out.add(new long[] {rs.getLong(1), rs.getLong(2)});
            }
        }
        return out;
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
