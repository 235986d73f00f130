package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Counter increments sent through {@code executeBatch} add up across clients exactly like single
 * statements do: each batch entry's amount is attributed to the rows that entry changed.
 */
class CounterBatchTest {

    private static final String PG = "CREATE TABLE stock (sku text PRIMARY KEY, qty int)";
    private static final String LOCAL = "CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER)";
    private static final String ROWS = "SELECT sku, qty FROM stock ORDER BY sku";

    @TempDir
    Path dir;

    private static int[] batch(Connection c, Object[][] entries) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE stock SET qty = qty + ? WHERE sku = ?")) {
            for (Object[] e : entries) {
                ps.setInt(1, (Integer) e[0]);
                ps.setString(2, (String) e[1]);
                ps.addBatch();
            }
            return ps.executeBatch();
        }
    }

    @Test
    void batchedIncrementsFromTwoOfflineClientsAddUp() throws Exception {
        try (Cluster cluster = Cluster.start("counterbatch", dir, PG,
                "INSERT INTO stock VALUES ('a', 100), ('b', 100), ('c', 100)")) {
            Client one = cluster.client("one", LOCAL);
            Client two = cluster.client("two", LOCAL);
            cluster.awaitConverged(ROWS, one, two);
            one.offline();
            two.offline();
            // Auto-commit batch on one; a batch inside a manual transaction on two. 'a' is hit twice in one batch.
            assertArrayEquals(new int[] {1, 1, 1, 0},
                    batch(one.connection(), new Object[][] {{5, "a"}, {-2, "b"}, {3, "a"}, {9, "missing"}}));
            two.connection().setAutoCommit(false);
            batch(two.connection(), new Object[][] {{10, "a"}, {7, "c"}});
            two.connection().commit();
            two.connection().setAutoCommit(true);
            one.online();
            two.online();
            one.awaitSynced();
            two.awaitSynced();
            cluster.awaitConverged(ROWS, one, two);
            assertEquals(118, ((Number) cluster.pgRows("SELECT qty FROM stock WHERE sku = 'a'").get(0).get("qty")).intValue());
            assertEquals(98, ((Number) cluster.pgRows("SELECT qty FROM stock WHERE sku = 'b'").get(0).get("qty")).intValue());
            assertEquals(107, ((Number) cluster.pgRows("SELECT qty FROM stock WHERE sku = 'c'").get(0).get("qty")).intValue());
        }
    }

    /** An entry whose counter is NULL (or whose amount is 0) changes nothing and captures nothing: the others add up. */
    @Test
    void aNullCounterOrAZeroAmountInABatchLeavesTheOtherEntriesAddingUp() throws Exception {
        try (Cluster cluster = Cluster.start("counterbatch2", dir, PG, "INSERT INTO stock VALUES ('a', 1), ('n', NULL)")) {
            Client one = cluster.client("one", LOCAL);
            Client two = cluster.client("two", LOCAL);
            cluster.awaitConverged(ROWS, one, two);
            one.offline();
            two.exec("UPDATE stock SET qty = qty + 10 WHERE sku = 'a'");
            two.awaitSynced();
            // qty + 4 on a NULL qty leaves it NULL: the trigger captures no row for that entry, nor for the zero.
            assertArrayEquals(new int[] {1, 1, 1}, batch(one.connection(), new Object[][] {{4, "n"}, {4, "a"}, {0, "a"}}));
            one.online();
            one.awaitSynced();
            cluster.awaitConverged(ROWS, one, two);
            assertEquals(15, ((Number) cluster.pgRows("SELECT qty FROM stock WHERE sku = 'a'").get(0).get("qty")).intValue());
            assertNull(cluster.pgRows("SELECT qty FROM stock WHERE sku = 'n'").get(0).get("qty"));
        }
    }

    /**
     * A batch that fails part way inside the application's transaction leaves its earlier entries written, as
     * sqlite-jdbc does; committed, they add their amounts. Before, their rows carried no amounts and replaced a
     * concurrent increment with their own total.
     */
    @Test
    void aBatchFailingInATransactionKeepsItsEarlierEntriesAsIncrements() throws Exception {
        String checked = "CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER CHECK (qty < 1000))";
        try (Cluster cluster = Cluster.start("counterbatch3", dir, PG, "INSERT INTO stock VALUES ('a', 100), ('b', 100), ('c', 100)")) {
            Client one = cluster.client("one", checked);
            Client two = cluster.client("two", checked);
            cluster.awaitConverged(ROWS, one, two);
            one.offline();
            two.exec("UPDATE stock SET qty = qty + 10 WHERE sku = 'a'");
            two.awaitSynced();
            Connection c = one.connection();
            c.setAutoCommit(false);
            assertThrows(SQLException.class, () -> batch(c, new Object[][] {{5, "a"}, {3, "b"}, {2000, "c"}, {1, "b"}}));
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(105, 103, 100), one.rows(ROWS).stream().map(r -> ((Number) r.get("qty")).intValue()).toList(),
                    "the entries before the failing one stayed, as with sqlite-jdbc");
            one.online();
            one.awaitSynced();
            cluster.awaitConverged(ROWS, one, two);
            assertEquals(List.of(115, 103, 100), cluster.pgRows(ROWS).stream().map(r -> ((Number) r.get("qty")).intValue()).toList());
        }
    }

    /**
     * An application's trigger that writes another row of the same table while a counter statement runs: that row is
     * captured in the statement's range and marked with its amounts, but its counter did not change, so it is sent
     * without them (before, PostgreSQL added the amount to it too).
     */
    @Test
    void aRowAnApplicationTriggerWritesDuringACounterStatementGetsNoAmount() throws Exception {
        try (Cluster cluster = Cluster.start("counterbatch4", dir, "CREATE TABLE stock2 (sku text PRIMARY KEY, qty int, note text)",
                "INSERT INTO stock2 VALUES ('a', 100, NULL), ('b', 100, NULL)")) {
            Client one = cluster.client("one", "CREATE TABLE stock2 (sku TEXT PRIMARY KEY, qty INTEGER, note TEXT)",
                    "CREATE TRIGGER touch AFTER UPDATE OF qty ON stock2 WHEN NEW.sku = 'a'"
                            + " BEGIN UPDATE stock2 SET note = 'touched ' || NEW.qty WHERE sku = 'b'; END");
            String rows = "SELECT sku, qty, note FROM stock2 ORDER BY sku";
            cluster.awaitConverged(rows, one);
            try (PreparedStatement ps = one.connection().prepareStatement("UPDATE stock2 SET qty = qty + ? WHERE sku = ?")) {
                ps.setInt(1, 5);
                ps.setString(2, "a");
                ps.executeUpdate();
            }
            one.awaitSynced();
            cluster.awaitConverged(rows, one);
            assertEquals(List.of(105, 100), cluster.pgRows(rows).stream().map(r -> ((Number) r.get("qty")).intValue()).toList());
            assertEquals("touched 105", cluster.pgRows(rows).get(1).get("note"));
        }
    }
}
