package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End-to-end review of today's read gate (an auto-commit query holds the sync client's commits back while its
 * result set is open; SyncConnection.read, SyncNode.appRead) with a real relay and PostgreSQL.
 *
 * <p>Found: {@link #lookupThenUpdateEachRowWhileIteratingAnAutoCommitQuery} (fails).
 */
class TodayE2eReviewTest {

    private static final String PG_ITEM = "CREATE TABLE item (id bigserial PRIMARY KEY, name text NOT NULL, worker int)";
    private static final String PG_PRICE = "CREATE TABLE price (id bigint PRIMARY KEY, amount int NOT NULL)";
    private static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, worker INTEGER)";
    private static final String LOCAL_PRICE = "CREATE TABLE price (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)";
    private static final String ITEMS = "SELECT id, name, worker FROM item ORDER BY id";
    private static final int ROWS = 30;

    @TempDir
    Path dir;

    /**
     * ConcurrentAppReviewTest's "for each row of an auto-commit query, update it" (which now passes), with the most
     * common addition: a lookup (a second auto-commit query on the same connection, read and closed) before each
     * update. Plain sqlite-jdbc runs every update: the only other writer is the sync client.
     *
     * <p>FOUND (fails): the lookup is a new auto-commit query, so it meets the gate itself (SyncNode.appRead): when the
     * sync client is waiting for the open outer query, the lookup waits for the sync client, which waits for the outer
     * query, until the sync client's bound (1 s) runs out; the sync client then commits under the open outer query and
     * the next UPDATE fails with SQLITE_BUSY_SNAPSHOT, each such row also stalling more than a second. Cause:
     * SyncConnection.read enters the gate (node.appRead(true)) even when this connection already holds a read
     * ({@code openReads > 0}), so a connection waits on itself. Checks: no update fails, all reach PostgreSQL.
     */
    @Test
    @Timeout(180)
    void lookupThenUpdateEachRowWhileIteratingAnAutoCommitQuery() throws Exception {
        try (Cluster cluster = Cluster.start("rv4_nested", dir, PG_ITEM, PG_PRICE)) {
            cluster.pg("INSERT INTO item (name, worker) SELECT 'r' || g, 0 FROM generate_series(1, " + ROWS + ") g",
                    "INSERT INTO price SELECT g, g * 10 FROM generate_series(1, " + ROWS + ") g");
            Client a = cluster.client("a", LOCAL_ITEM, LOCAL_PRICE);
            cluster.awaitConverged(ITEMS, a);
            cluster.awaitConverged("SELECT id, amount FROM price ORDER BY id", a);
            List<String> errors = new ArrayList<>();
            int updated = 0;
            long started = System.nanoTime();
            Connection c = a.connection();
            try (PreparedStatement q = c.prepareStatement("SELECT id FROM item ORDER BY id");
                 PreparedStatement lookup = c.prepareStatement("SELECT amount FROM price WHERE id = ?");
                 PreparedStatement up = c.prepareStatement("UPDATE item SET worker = worker + ? WHERE id = ?");
                 ResultSet rs = q.executeQuery()) {
                while (rs.next()) {
                    long id = rs.getLong(1);
                    try {
                        int amount;
                        lookup.setLong(1, id);
                        try (ResultSet l = lookup.executeQuery()) {
                            l.next();
                            amount = l.getInt(1);
                        }
                        up.setInt(1, amount > 0 ? 1 : 0);
                        up.setLong(2, id);
                        updated += up.executeUpdate();
                    } catch (SQLException e) {
                        errors.add(e + " [code " + e.getErrorCode() + "]");
                    }
                    Thread.sleep(30);
                }
            }
            long took = (System.nanoTime() - started) / 1_000_000;
            assertTrue(errors.isEmpty(), errors.size() + " of " + ROWS + " updates failed (" + updated + " updated in "
                    + took + " ms): " + errors.subList(0, Math.min(3, errors.size())));
            a.awaitSynced();
            assertEquals((long) ROWS, ((Number) cluster.pgRows("SELECT sum(worker) AS s FROM item").get(0).get("s")).longValue());
        }
    }
}
