package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.protocol.Hlc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A snapshot row carries its row's newest clock (the relay joins each row with {@code syncsqlite.row_clock} on its
 * key's text), and a new client's clock moves past it: its first write to the row is then newer than the one it
 * replaces. A numeric key is looked up by its clock key, trimmed of trailing zeros ({@code 1.50} is stored under
 * {@code 1.5}), not by the key text the entry carries.
 */
class SnapshotClockReviewTest {

    private static final String LOCAL_NOTE = "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)";
    private static final String LOCAL_PRICE = "CREATE TABLE price (id NUMERIC PRIMARY KEY, body TEXT)";

    @TempDir
    Path dir;

    @Test
    void aNewClientsClockPassesTheClocksOfTheRowsItsSnapshotBrought() throws Exception {
        try (Cluster c = Cluster.start("snapclock", dir,
                "CREATE TABLE note (id text PRIMARY KEY, body text)",
                "CREATE TABLE price (id numeric PRIMARY KEY, body text)")) {
            // Written directly in PostgreSQL, so the relay's trigger records each row's clock.
            c.pg("INSERT INTO note VALUES ('n1', 'a note')", "INSERT INTO price VALUES (1.50, 'a price')");
            assertEquals(2, c.pgRows("SELECT tbl FROM syncsqlite.row_clock WHERE tbl IN ('note', 'price')").size());
            // Clocks ahead of every node's, as a node with a fast clock leaves them (within the 5 minutes a node's
            // clock may follow, HybridClock.MAX_OBSERVED_AHEAD_MS): only the snapshot can tell the new client.
            long twoMinutesAhead = Hlc.ofMillis(System.currentTimeMillis() + TimeUnit.MINUTES.toMillis(2));
            long fourMinutesAhead = Hlc.ofMillis(System.currentTimeMillis() + TimeUnit.MINUTES.toMillis(4));
            c.pg("UPDATE syncsqlite.row_clock SET alive_hlc = " + twoMinutesAhead + " WHERE tbl = 'price'");
            assertTrue(clockOfFreshClient(c, "b") >= twoMinutesAhead, "the numeric key's row brought its clock");

            c.pg("UPDATE syncsqlite.row_clock SET alive_hlc = " + fourMinutesAhead + " WHERE tbl = 'note'");
            assertTrue(clockOfFreshClient(c, "c") >= fourMinutesAhead, "the text key's row brought its clock");
        }
    }

    /** Starts client {@code name} on a new file, waits for its snapshot, and returns the clock its file recorded. */
    private static long clockOfFreshClient(Cluster c, String name) throws Exception {
        Path file = c.client(name, LOCAL_NOTE, LOCAL_PRICE).file();
        await().atMost(30, TimeUnit.SECONDS)
                .until(() -> single(file, "SELECT (SELECT count(*) FROM note) + (SELECT count(*) FROM price)") == 2);
        return single(file, "SELECT v FROM _sync_state WHERE k = 'hlc'");
    }

    /** The one number {@code sql} reads from {@code file} (0 when it finds no row). */
    private static long single(Path file, String sql) throws SQLException {
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file);
             Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }
}
