package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A client transaction larger than the relay's message limit (`--max-frame-bytes`) travels in parts
 * (docs/DESIGN.md, "Protocol"): it used to be refused with 1009 on every resend and to hold up everything the
 * client wrote after it. It must arrive whole, in one PostgreSQL transaction, exactly once, also when the
 * connection is cut between its parts; one beyond what the relay holds in parts is kept by the client until
 * the limit is raised.
 */
class LargeTransactionTest {

    private static final String PG_ITEM = "CREATE TABLE item (id BIGINT PRIMARY KEY, name TEXT, qty INTEGER)";
    private static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)";
    private static final String ITEMS = "SELECT id, name, qty FROM item ORDER BY id";
    private static final String PAD = "x".repeat(100);

    @TempDir
    Path dir;

    /** One transaction: adds 1 to row 1's counter, then inserts {@code rows} rows from {@code first} named by {@code name}. */
    static void bigTransaction(Client c, int first, int rows, java.util.function.IntFunction<String> name)
            throws SQLException {
        Connection conn = c.connection();
        conn.setAutoCommit(false);
        try {
            try (Statement st = conn.createStatement()) {
                st.executeUpdate("UPDATE item SET qty = qty + 1 WHERE id = 1");
            }
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO item (id, name, qty) VALUES (?, ?, 0)")) {
                for (int i = 0; i < rows; i++) {
                    ps.setInt(1, first + i);
                    ps.setString(2, name.apply(i));
                    ps.executeUpdate();
                }
            }
            conn.commit();
        } finally {
            conn.setAutoCommit(true);
        }
    }

    /** The same, {@code rows} padded rows from 1000. */
    private static void bigTransaction(Client c, int rows) throws SQLException {
        bigTransaction(c, 1000, rows, i -> "row " + i + " " + PAD);
    }

    static long pgLong(Cluster c, String sql) throws SQLException {
        return ((Number) c.pgRows(sql).get(0).values().iterator().next()).longValue();
    }

    @Test
    void aTransactionLargerThanTheMessageLimitArrivesWholeInOnePostgresTransaction() throws Exception {
        try (Cluster c = Cluster.start("large_tx", dir, PG_ITEM)) {
            c.reconfigureRelay(cfg -> cfg.withMaxFrameBytes(64 * 1024));
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            a.exec("INSERT INTO item VALUES (1, 'counter', 10)");
            a.awaitSynced();
            bigTransaction(a, 1000); // about 170 kB: three parts of at most 64 KiB
            a.exec("INSERT INTO item VALUES (2, 'written after it', 0)");
            a.awaitSynced();
            b.awaitSynced();
            assertEquals(1002, pgLong(c, "SELECT count(*) FROM item"));
            assertEquals(1, pgLong(c, "SELECT count(DISTINCT xmin::text) FROM item WHERE id >= 1000"),
                    "the parts are applied in one PostgreSQL transaction");
            assertEquals(List.of(row("qty", 11L)), c.pgRows("SELECT qty FROM item WHERE id = 1"));
            c.awaitConverged(ITEMS, a, b);
        }
    }

    @Test
    void aConnectionCutBetweenPartsAppliesNothingAndTheResendAppliesTheTransactionOnce() throws Exception {
        try (Cluster c = Cluster.start("large_tx_cut", dir, PG_ITEM)) {
            c.reconfigureRelay(cfg -> cfg.withMaxFrameBytes(64 * 1024));
            Client a = c.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item VALUES (1, 'counter', 10)");
            a.awaitSynced();
            a.proxy().latency(1000); // each chunk the proxy reads waits: the parts take seconds to go through
            bigTransaction(a, 1000);
            Thread.sleep(1500);
            a.offline();
            assertEquals(1, pgLong(c, "SELECT count(*) FROM item"), "no part applied before the last one came");
            a.proxy().latency(0);
            a.online();
            a.awaitSynced();
            assertEquals(1001, pgLong(c, "SELECT count(*) FROM item"));
            assertEquals(1, pgLong(c, "SELECT count(DISTINCT xmin::text) FROM item WHERE id >= 1000"));
            assertEquals(List.of(row("qty", 11L)), c.pgRows("SELECT qty FROM item WHERE id = 1"),
                    "the increment counts once");
            c.awaitConverged(ITEMS, a);
        }
    }

    @Test
    void aTransactionBeyondWhatTheRelayHoldsInPartsWaitsUntilTheLimitIsRaised() throws Exception {
        try (Cluster c = Cluster.start("large_tx_over", dir, PG_ITEM)) {
            c.reconfigureRelay(cfg -> cfg.withMaxFrameBytes(16 * 1024)); // parts up to 64 KiB in all
            Client a = c.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item VALUES (1, 'counter', 10)");
            a.awaitSynced();
            bigTransaction(a, 1000); // about 170 kB
            a.exec("INSERT INTO item VALUES (2, 'written after it', 0)");
            Thread.sleep(2000);
            assertEquals(1, pgLong(c, "SELECT count(*) FROM item"), "refused, and what follows waits behind it");
            assertEquals(1002, a.rows("SELECT count(*) AS n FROM item").get(0).get("n") instanceof Number n
                    ? n.intValue() : -1, "the client keeps every row");

            c.reconfigureRelay(cfg -> cfg.withMaxFrameBytes(128 * 1024)); // up to 512 KiB in parts
            a.awaitSynced();
            assertEquals(1002, pgLong(c, "SELECT count(*) FROM item"));
            assertEquals(List.of(row("qty", 11L)), c.pgRows("SELECT qty FROM item WHERE id = 1"));
            c.awaitConverged(ITEMS, a);
        }
    }
}
