package io.syncsqlite.driver;

import io.syncsqlite.driver.capture.OutboxDecoder;
import io.syncsqlite.driver.jdbc.SyncConnection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Review findings on the driver's transaction tracking, against real SQLite files. */
class ReviewFindingsTest {

    @TempDir
    Path dir;

    private Connection open(String extra) throws SQLException {
        Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0" + extra);
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, title TEXT)");
        }
        return c;
    }

    /** Outbox rows as "pk:S" (stamped marker) or "pk:-", in seq order. */
    private static List<String> outbox(Connection c) throws SQLException {
        List<String> out = new ArrayList<>();
        OutboxDecoder decoder = new OutboxDecoder(c);
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT hlc IS NOT NULL, " + OutboxDecoder.COLUMNS + " FROM _sync_outbox ORDER BY seq")) {
            while (rs.next()) {
                out.add(decoder.decode(rs, 2).pk() + (rs.getBoolean(1) ? ":S" : ":-"));
            }
        }
        return out;
    }

    @Test
    void executeOfAReturningWriteInAutoCommitWorksAndLeavesTheConnectionUsable() throws Exception {
        try (Connection c = open(""); Statement st = c.createStatement()) {
            // Plain sqlite-jdbc accepts this; the wrap's COMMIT fails with SQLITE_BUSY (statement in progress)
            // and the ROLLBACK fails the same way, so the write lock stays held.
            assertDoesNotThrow(() -> st.execute("INSERT INTO item (id, title) VALUES (1, 'a') RETURNING id"));
            assertDoesNotThrow(() -> st.executeUpdate("INSERT INTO item (id, title) VALUES (2, 'b')"));
            // The RETURNING write is committed by SQLite unstamped; the next stamp covers it (a transaction is
            // the outbox range up to its marker), so nothing is left unstamped.
            assertEquals(List.of("{\"id\":1}:-", "{\"id\":2}:S"), outbox(c));
        }
    }

    @Test
    void aMultiStatementStringThatBeginsATransactionIsTrackedUntilItsCommit() throws Exception {
        try (Connection c = open(""); Statement st = c.createStatement()) {
            assertDoesNotThrow(() -> st.executeUpdate("BEGIN; INSERT INTO item (id, title) VALUES (1, 'a')"));
            assertDoesNotThrow(() -> st.executeUpdate("INSERT INTO item (id, title) VALUES (2, 'b')"));
            st.execute("COMMIT");
            assertEquals(List.of("{\"id\":1}:-", "{\"id\":2}:S"), outbox(c), "one transaction, stamped at its COMMIT");
        }
    }

    @Test
    void releasingAnInnerSavepointWithTheOuterNameDoesNotEndTheTransaction() throws Exception {
        try (Connection c = open(""); Statement st = c.createStatement()) {
            st.execute("SAVEPOINT a");
            st.executeUpdate("INSERT INTO item (id, title) VALUES (1, 'a')");
            st.execute("SAVEPOINT a");
            st.executeUpdate("INSERT INTO item (id, title) VALUES (2, 'b')");
            st.execute("RELEASE a"); // releases the inner one only: the transaction is still open
            assertDoesNotThrow(() -> st.executeUpdate("INSERT INTO item (id, title) VALUES (3, 'c')"));
            st.execute("RELEASE a");
            assertEquals(List.of("{\"id\":1}:-", "{\"id\":2}:-", "{\"id\":3}:S"), outbox(c));
        }
    }

    @Test
    void afterSqliteRolledBackASqlTransactionAutoCommitWritesAreStampedAgain() throws Exception {
        try (Connection c = open(""); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO item (id, title) VALUES (1, 'a')");
            st.execute("BEGIN");
            st.executeUpdate("INSERT INTO item (id, title) VALUES (2, 'b')");
            try {
                st.executeUpdate("INSERT OR ROLLBACK INTO item (id, title) VALUES (1, 'x')");
            } catch (SQLException expected) {
                // SQLite rolled the whole transaction back
            }
            try {
                st.execute("COMMIT"); // "no transaction is active"
            } catch (SQLException expected) {
                // as with plain sqlite-jdbc
            }
            st.executeUpdate("INSERT INTO item (id, title) VALUES (4, 'd')");
            List<String> rows = outbox(c);
            assertEquals("{\"id\":4}:S", rows.get(rows.size() - 1), "an auto-commit write is stamped in its own commit: " + rows);
        }
    }

    @Test
    void aRolledBackDropTableKeepsTheTableSynced() throws Exception {
        try (Connection c = open(""); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("DROP TABLE item");
            c.rollback();
            c.setAutoCommit(true);
            // the table and its triggers are back, but the sync client no longer applies feed rows for it
            assertTrue(((SyncConnection) c).node().syncedTables().containsKey("item"),
                    "synced tables: " + ((SyncConnection) c).node().syncedTables().keySet());
        }
    }

    private long openHandlesTo(Path file) throws IOException {
        String prefix = file.toRealPath().toString();
        long n = 0;
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    if (Files.readSymbolicLink(fd).toString().startsWith(prefix)) {
                        n++;
                    }
                } catch (IOException ignored) {
                    // closed meanwhile
                }
            }
        }
        return n;
    }

    @Test
    void closingTheLastConnectionClosesTheSyncClientsSqliteConnection() throws Exception {
        Path file = dir.resolve("app.db");
        Connection c = open("&sync.server=ws://127.0.0.1:9/");
        c.close(); // lingerMs=0: the node closes now and stops its client (joined)
        Thread.sleep(300);
        assertEquals(0, openHandlesTo(file), "file handles left open on " + file);
    }
}
