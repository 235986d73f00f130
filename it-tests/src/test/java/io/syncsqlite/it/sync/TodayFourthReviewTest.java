package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.TcpProxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Types;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static io.syncsqlite.it.harness.Rows.row;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of today's fourth batch: TRUNCATE capture, the retaken-key check, {@code coalesce(?n, slot)} keys, the
 * RETURNING nudge at the end of its result set, and null-safe counters.
 */
class TodayFourthReviewTest {

    @TempDir
    Path dir;

    private static final String PG_NOTE = "CREATE TABLE note (id int PRIMARY KEY, title text)";
    private static final String LOCAL_NOTE = "CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT)";
    private static final String NOTES = "SELECT id, title FROM note ORDER BY id";
    private static final String PG_ITEM = "CREATE TABLE item (id bigserial PRIMARY KEY, label text)";
    private static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, label TEXT)";
    private static final String LABELS = "SELECT label FROM item ORDER BY label";

    private static void syncAll(Client... clients) throws Exception {
        for (Client c : clients) {
            c.awaitSynced();
        }
        for (Client c : clients) {
            c.awaitSynced();
        }
    }

    private static List<Map<String, Object>> labels(String... labels) {
        return java.util.Arrays.stream(labels).sorted().map(l -> row("label", l)).toList();
    }

    /**
     * A demanding user runs maintenance in a REPEATABLE READ transaction (pg_dump-style consistency, or a framework
     * default) and truncates a synced table. PostgreSQL would empty the table whatever the snapshot, but the capture
     * can only read the snapshot: a row another writer committed after it would stay on every client for good. So
     * the truncate is refused with a clear error (0A000) and nothing is lost: the transaction rolls back, and
     * PostgreSQL and the clients keep both rows. (Found by this review: the truncate used to run and leave row 2 on
     * the client.)
     */
    @Test
    void truncateInARepeatableReadTransactionIsRefusedAndLosesNothing() throws Exception {
        try (Cluster c = Cluster.start("r4_trunc_rr", dir, PG_NOTE, "INSERT INTO note VALUES (1, 'one')")) {
            Client a = c.client("a", LOCAL_NOTE);
            c.awaitConverged(NOTES, a);
            try (Connection t = c.pg()) {
                t.setAutoCommit(false);
                t.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
                try (Statement st = t.createStatement()) {
                    try (ResultSet rs = st.executeQuery("SELECT count(*) FROM note")) {
                        rs.next(); // the transaction's snapshot is taken here
                    }
                    a.exec("INSERT INTO note VALUES (2, 'two')");
                    a.awaitSynced(); // committed in PostgreSQL by the relay, after the snapshot
                    java.sql.SQLException e = org.junit.jupiter.api.Assertions.assertThrows(java.sql.SQLException.class,
                            () -> st.execute("TRUNCATE note"));
                    assertEquals("0A000", e.getSQLState(), e.getMessage());
                    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("READ COMMITTED"), e.getMessage());
                }
                t.rollback();
            }
            assertEquals(List.of(row("id", 1, "title", "one"), row("id", 2, "title", "two")), c.pgRows(NOTES));
            c.awaitConverged(NOTES, a);
        }
    }

    /**
     * {@code TRUNCATE ... RESTART IDENTITY} is the usual way to empty a table (test cleaners, ETL reloads), and the
     * docs say truncates reach clients. The relay hands out client keys from that same sequence: after the restart a
     * user expects a device's new rows and new psql rows to stay distinct rows, not to collide on keys the device
     * already held.
     */
    @Test
    void truncateRestartIdentityDoesNotMakeDirectInsertsCollideWithKeysADeviceHolds() throws Exception {
        try (Cluster c = Cluster.start("r4_trunc_restart", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item (label) VALUES ('a-before')");
            a.awaitSynced();
            c.awaitConverged(LABELS, a);
            c.pg("TRUNCATE item RESTART IDENTITY");
            c.pg("INSERT INTO item (label) VALUES ('pg-1'), ('pg-2'), ('pg-3')");
            c.awaitConverged(LABELS, a);
            a.exec("INSERT INTO item (label) VALUES ('a-after-1')");
            a.exec("INSERT INTO item (label) VALUES ('a-after-2')");
            a.awaitSynced();
            c.awaitConverged(LABELS, a);
            assertEquals(labels("a-after-1", "a-after-2", "pg-1", "pg-2", "pg-3"), c.pgRows(LABELS));
        }
    }

    /**
     * A transaction that edits a row and then truncates its table (an ETL step that touches, then reloads) is plain
     * PostgreSQL and runs without the relay; now that TRUNCATE is captured, it must still run once the table is
     * synced, and clients must end with PostgreSQL's rows.
     */
    @Test
    void aTransactionThatWritesATableAndThenTruncatesItStillRuns() throws Exception {
        try (Cluster c = Cluster.start("r4_trunc_after_write", dir, PG_NOTE, "INSERT INTO note VALUES (1, 'one'), (2, 'two')")) {
            Client a = c.client("a", LOCAL_NOTE);
            c.awaitConverged(NOTES, a);
            DirectCascadeMoveReviewTest.pgTx(c, "UPDATE note SET title = 'edited' WHERE id = 1", "TRUNCATE note",
                    "INSERT INTO note VALUES (3, 'three')");
            c.awaitConverged(NOTES, a);
            assertEquals(List.of(row("id", 3, "title", "three")), a.rows(NOTES));
        }
    }

    /**
     * One statement truncating two synced tables, one keyed by numeric (its clock key is normalised), inside a
     * transaction that writes after it (refills, one with a key spelled differently, then an edit of a refilled row):
     * the clients must end with exactly PostgreSQL's rows.
     */
    @Test
    void truncateOfTwoTablesOneNumericKeyedThenWritesInTheSameTransaction() throws Exception {
        String pgPrice = "CREATE TABLE price (k numeric PRIMARY KEY, label text)";
        String localPrice = "CREATE TABLE price (k NUMERIC PRIMARY KEY, label TEXT)";
        String prices = "SELECT k, label FROM price ORDER BY k";
        try (Cluster c = Cluster.start("r4_trunc_two", dir, PG_NOTE, pgPrice,
                "INSERT INTO note VALUES (1, 'one'), (2, 'two')", "INSERT INTO price VALUES (1.50, 'a'), (2.25, 'b')")) {
            Client a = c.client("a", LOCAL_NOTE, localPrice);
            Client b = c.client("b", LOCAL_NOTE, localPrice);
            c.awaitConverged(NOTES, a, b);
            c.awaitConverged(prices, a, b);
            DirectCascadeMoveReviewTest.pgTx(c, "TRUNCATE note, price", "INSERT INTO price VALUES (1.5, 'again')",
                    "INSERT INTO note VALUES (2, 'two again')", "UPDATE price SET label = 'again, edited' WHERE k = 1.500");
            c.awaitConverged(NOTES, a, b);
            c.awaitConverged(prices, a, b);
            assertEquals(List.of(row("id", 2, "title", "two again")), c.pgRows(NOTES));
            assertEquals(List.of(row("k", 1.5, "label", "again, edited")), a.rows(prices));
        }
    }

    /**
     * The retaken-key check reads the table with jsonb_populate_record(NULL::table, key). A direct transaction that
     * inserts a row and then updates it, and one that updates a row and then deletes it (an ORM flushing twice, a
     * psql session), must work on a table with a NOT NULL domain column as they do without the relay.
     */
    @Test
    void directInsertThenUpdateOnATableWithANotNullDomainColumn() throws Exception {
        String q = "SELECT id, qty, label FROM stock ORDER BY id";
        try (Cluster c = Cluster.start("r4_domain", dir, "CREATE DOMAIN qty_t AS int NOT NULL",
                "CREATE TABLE stock (id int PRIMARY KEY, qty qty_t, label text)", "INSERT INTO stock VALUES (9, 1, 'nine')")) {
            Client a = c.client("a", "CREATE TABLE stock (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, label TEXT)");
            c.awaitConverged(q, a);
            DirectCascadeMoveReviewTest.pgTx(c, "INSERT INTO stock VALUES (1, 5, 'a')",
                    "UPDATE stock SET label = 'b' WHERE id = 1");
            DirectCascadeMoveReviewTest.pgTx(c, "UPDATE stock SET label = 'gone soon' WHERE id = 9",
                    "DELETE FROM stock WHERE id = 9");
            c.awaitConverged(q, a);
            assertEquals(List.of(row("id", 1, "qty", 5, "label", "b")), a.rows(q));
        }
    }

    /**
     * An application that binds its own integer keys needs no key stock ("give the key explicitly", SY004's own
     * message), so it works on a device that has never reached the relay. Binding the key with setObject(i, x,
     * Types.INTEGER, 0) or setString must keep working as setLong does: the new {@code coalesce(?n, slot)} rewrite
     * must not ask the stock for a key the application supplied.
     */
    @Test
    void aKeyBoundByTheApplicationNeedsNoStockWhateverTheSetter() throws Exception {
        try (Cluster c = Cluster.start("r4_key_nostock", dir, PG_ITEM)) {
            Path file = c.file("fresh", LOCAL_ITEM);
            TcpProxy proxy = c.proxy();
            proxy.online(false);
            Client x = c.open("fresh", file, proxy);
            try (PreparedStatement ps = x.connection().prepareStatement("INSERT INTO item (id, label) VALUES (?, ?)")) {
                ps.setObject(1, 42, Types.INTEGER, 0);
                ps.setString(2, "set-object-4");
                ps.executeUpdate();
                ps.setString(1, "43");
                ps.setString(2, "set-string");
                ps.executeUpdate();
            }
            proxy.online(true);
            x.awaitSynced();
            c.awaitConverged("SELECT id, label FROM item ORDER BY id", x);
            assertEquals(List.of(row("id", 42, "label", "set-object-4"), row("id", 43, "label", "set-string")),
                    c.pgRows("SELECT id, label FROM item ORDER BY id"));
        }
    }

    /**
     * Two offline devices insert through one prepared {@code VALUES (?, ?)} in a batch mixing a bound key, a key
     * bound by setObject(i, null), and one bound by setNull after clearParameters, then one more single execution
     * with a NULL key: every row bound NULL must get a key of its own (no merge across devices), and the bound keys
     * must stay as given.
     */
    @Test
    void loneKeyParameterInABatchMixingBoundAndNullKeysOnTwoOfflineDevices() throws Exception {
        try (Cluster c = Cluster.start("r4_key_batch", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            for (Client d : List.of(a, b)) {
                d.exec("INSERT INTO item (label) VALUES (?)", d.name() + "-seed"); // a contact that fills the stock
            }
            syncAll(a, b);
            a.offline();
            b.offline();
            int n = 0;
            for (Client d : List.of(a, b)) {
                n++;
                try (PreparedStatement ps = d.connection().prepareStatement("INSERT INTO item (id, label) VALUES (?, ?)")) {
                    ps.setLong(1, 1_000_000 + n);
                    ps.setString(2, d.name() + "-explicit");
                    ps.addBatch();
                    ps.setObject(1, null);
                    ps.setString(2, d.name() + "-null1");
                    ps.addBatch();
                    ps.clearParameters();
                    ps.setNull(1, Types.INTEGER);
                    ps.setString(2, d.name() + "-null2");
                    ps.addBatch();
                    ps.executeBatch();
                    ps.setNull(1, Types.BIGINT);
                    ps.setString(2, d.name() + "-single");
                    ps.executeUpdate();
                }
            }
            a.online();
            b.online();
            syncAll(a, b);
            c.awaitConverged("SELECT id, label FROM item ORDER BY id", a, b);
            assertEquals(labels("a-seed", "a-explicit", "a-null1", "a-null2", "a-single",
                    "b-seed", "b-explicit", "b-null1", "b-null2", "b-single"), c.pgRows(LABELS));
            assertEquals(List.of(row("id", 1_000_001, "label", "a-explicit"), row("id", 1_000_002, "label", "b-explicit")),
                    c.pgRows("SELECT id, label FROM item WHERE id > 999999 ORDER BY id"));
        }
    }

    /**
     * A multi-row {@code VALUES (?, ?), (?, ?)} whose first row's key is bound and second's bound NULL, on two offline
     * devices: each NULL-keyed row gets its own key (the guard of row 2 is parameter 3), the bound keys stay.
     */
    @Test
    void multiRowValuesWithOneBoundAndOneNullKeyOnTwoOfflineDevices() throws Exception {
        try (Cluster c = Cluster.start("r4_key_multirow", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            for (Client d : List.of(a, b)) {
                d.exec("INSERT INTO item (label) VALUES (?)", d.name() + "-seed");
            }
            syncAll(a, b);
            a.offline();
            b.offline();
            int n = 0;
            for (Client d : List.of(a, b)) {
                n++;
                try (PreparedStatement ps = d.connection().prepareStatement(
                        "INSERT INTO item (id, label) VALUES (?, ?), (?, ?)")) {
                    ps.setLong(1, 2_000_000 + n);
                    ps.setString(2, d.name() + "-bound");
                    ps.setNull(3, Types.BIGINT);
                    ps.setString(4, d.name() + "-null");
                    assertEquals(2, ps.executeUpdate());
                }
            }
            a.online();
            b.online();
            syncAll(a, b);
            c.awaitConverged("SELECT id, label FROM item ORDER BY id", a, b);
            assertEquals(labels("a-seed", "a-bound", "a-null", "b-seed", "b-bound", "b-null"), c.pgRows(LABELS));
            assertEquals(List.of(row("id", 2_000_001, "label", "a-bound"), row("id", 2_000_002, "label", "b-bound")),
                    c.pgRows("SELECT id, label FROM item WHERE id > 1999999 ORDER BY id"));
        }
    }

    /**
     * An upsert that adds to a counter with its key as a lone parameter (now rewritten to coalesce(?1, slot)) run
     * once on each of two offline devices against an existing row: both amounts must count (one VALUES row is the
     * documented supported shape).
     */
    @Test
    void upsertIncrementWithALoneKeyParameterAddsUpAcrossDevices() throws Exception {
        String pg = "CREATE TABLE stock (id bigint PRIMARY KEY, qty int NOT NULL)";
        String local = "CREATE TABLE stock (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL)";
        String q = "SELECT id, qty FROM stock ORDER BY id";
        try (Cluster c = Cluster.start("r4_upsert_key", dir, pg, "INSERT INTO stock VALUES (1, 100)")) {
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            c.awaitConverged(q, a, b);
            a.offline();
            b.offline();
            for (Client d : List.of(a, b)) {
                try (PreparedStatement ps = d.connection().prepareStatement(
                        "INSERT INTO stock (id, qty) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty")) {
                    ps.setLong(1, 1);
                    ps.setInt(2, 5);
                    assertEquals(1, ps.executeUpdate());
                }
            }
            a.online();
            b.online();
            syncAll(a, b);
            c.awaitConverged(q, a, b);
            assertEquals(List.of(row("id", 1, "qty", 110)), c.pgRows(q));
        }
    }

    /**
     * Null-safe counters with negative amounts: {@code coalesce(bal, 0) - ?} bound -5 on one offline device and
     * {@code ifnull(bal, 0) + ?} bound -3 on another, from a NULL balance: the amounts add up to 2 everywhere.
     */
    @Test
    void nullSafeCountersWithNegativeAmountsAddUpAcrossDevices() throws Exception {
        String pg = "CREATE TABLE acct (id bigint PRIMARY KEY, bal int)";
        String local = "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER)";
        String q = "SELECT id, bal FROM acct ORDER BY id";
        try (Cluster c = Cluster.start("r4_coalesce_neg", dir, pg, "INSERT INTO acct VALUES (1, NULL)")) {
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            c.awaitConverged(q, a, b);
            a.offline();
            b.offline();
            a.exec("UPDATE acct SET bal = coalesce(bal, 0) - ? WHERE id = 1", -5);
            b.exec("UPDATE acct SET bal = ifnull(bal, 0) + ? WHERE id = 1", -3);
            a.online();
            b.online();
            syncAll(a, b);
            c.awaitConverged(q, a, b);
            assertEquals(List.of(row("id", 1, "bal", 2)), c.pgRows(q));
        }
    }

    /**
     * An auto-commit INSERT ... RETURNING through a plain Statement whose result set is read and then closed on
     * another thread (a reactive pipeline): the row must reach PostgreSQL promptly, well before the 10 s heartbeat.
     */
    @Test
    void returningResultSetClosedOnAnotherThreadStillNudgesTheSyncClient() throws Exception {
        try (Cluster c = Cluster.start("r4_returning", dir, PG_NOTE)) {
            Client a = c.client("a", LOCAL_NOTE);
            a.awaitSynced();
            Statement st = a.connection().createStatement();
            ResultSet rs = st.executeQuery("INSERT INTO note (id, title) VALUES (7, 'returned') RETURNING id");
            assertTrue(rs.next());
            assertEquals(7, rs.getInt(1));
            Thread closer = new Thread(() -> {
                try {
                    rs.close();
                    st.close();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            closer.start();
            closer.join();
            await("the RETURNING row in PostgreSQL within 5 s").atMost(Duration.ofSeconds(5))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> c.pgRows(NOTES).equals(List.of(row("id", 7, "title", "returned"))));
        }
    }
}
