package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.RowChange;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

import static io.syncsqlite.it.harness.Rows.row;
import static io.syncsqlite.it.support.Json.delete;
import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Review of two changes: a recreated row keeps the columns its deleted version had written later than the
 * recreate (TxRun.recreate, DESIGN.md "A row deleted and created again"), and a child moved under another
 * parent records when it took its place (install.sql capture_rows, DESIGN.md "A delete removes what its
 * writer had seen"). Every scenario asks for the same final state whatever the arrival order, equal on
 * PostgreSQL and every client.
 */
class MergeThroughDeleteReviewTest {

    private static final String PG_ITEM = OfflineConflictReviewTest.PG_ITEM;
    private static final String LOCAL_ITEM = OfflineConflictReviewTest.LOCAL_ITEM;
    private static final String ITEMS = OfflineConflictReviewTest.ITEMS;

    /** Lists with tasks (ON DELETE CASCADE) and people they are assigned to (SET NULL); shared with DirectCascadeMoveReviewTest. */
    static final String[] LISTS_SCHEMA = {
        "CREATE TABLE list (id TEXT PRIMARY KEY, title TEXT NOT NULL)",
        "CREATE TABLE person (id TEXT PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE task (id TEXT PRIMARY KEY, list_id TEXT NOT NULL REFERENCES list (id) ON DELETE CASCADE,"
                + " assignee_id TEXT REFERENCES person (id) ON DELETE SET NULL, title TEXT NOT NULL)",
    };
    static final String LISTS = "SELECT id, title FROM list ORDER BY id";
    private static final String TASKS = "SELECT id, list_id, assignee_id, title FROM task ORDER BY id";

    private static final String[] TOURNAMENT = OfflineConflictReviewTest.TOURNAMENT;
    private static final String TOURNAMENTS = OfflineConflictReviewTest.TOURNAMENTS;
    private static final String ENROLMENTS = OfflineConflictReviewTest.ENROLMENTS;
    private static final String SCORES = OfflineConflictReviewTest.SCORES;

    @TempDir
    Path dir;

    private static Map<String, Object> item(long id, String title, Long qty, String note) {
        return row("id", id, "title", title, "qty", qty, "note", note);
    }

    private static Map<String, Object> task(String id, String list, String assignee, String title) {
        return row("id", id, "list_id", list, "assignee_id", assignee, "title", title);
    }

    private static void pause() throws InterruptedException {
        Thread.sleep(30); // the next write's HLC is later than the previous one's on every device
    }

    private static List<Rejection> listen(Client... clients) throws Exception {
        List<Rejection> rejections = new CopyOnWriteArrayList<>();
        for (Client x : clients) {
            x.node().addRejectionListener(rejections::add);
        }
        return rejections;
    }

    /** Brings {@code one} online and synced, then {@code two}, then waits until both are settled. */
    private static void syncInOrder(Client one, Client two) throws Exception {
        one.online();
        one.awaitSynced();
        two.online();
        two.awaitSynced();
        one.awaitSynced();
    }

    // ------------------------------------------------------------------------------------------------
    // Recreate (TxRun.recreate)
    // ------------------------------------------------------------------------------------------------

    /**
     * DESIGN: "Device A deletes a row and creates it again (one transaction or two); device B, offline,
     * updates a column of the old row later than A's insert ... Both orders end with B's value." With two
     * transactions there are three orders. a deletes row 1 online (synced at once), then, offline, creates it
     * again; b, offline since before the delete, updates the old row's note later than a's recreate.
     * "recreateFirst": a's recreate reaches the relay before b's update; "updateBetween": b's update arrives
     * after the delete but before the recreate. The update is later than the recreate in both.
     */
    @ParameterizedTest
    @ValueSource(strings = {"recreateFirst", "updateBetween"})
    void anUpdateArrivingBetweenTheDeleteAndTheRecreateSurvivesAsInTheOtherOrders(String order) throws Exception {
        try (Cluster c = Cluster.start("mtd_between_" + order.toLowerCase(), dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            List<Rejection> rejections = listen(a, b);
            a.exec("INSERT INTO item VALUES (1, 'one', 1, 'n1')");
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);

            b.offline();
            a.exec("DELETE FROM item WHERE id = 1");
            a.awaitSynced();
            a.offline();
            a.exec("INSERT INTO item VALUES (1, 'one again', 10, 'recreated by a')");
            pause();
            b.exec("UPDATE item SET note = 'later update by b' WHERE id = 1");

            if (order.equals("recreateFirst")) {
                syncInOrder(a, b);
            } else {
                syncInOrder(b, a);
            }
            c.awaitConverged(ITEMS, a, b);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(item(1, "one again", 10L, "later update by b")), c.pgRows(ITEMS),
                    "b's note is later than a's recreate: it must survive whether it arrives before, between or after"
                            + " a's delete and recreate (order " + order + ")");
        }
    }

    /**
     * Three devices, a's delete and recreate in ONE transaction: c deletes row 1 online (a and b offline,
     * not having seen it), a deletes and recreates the row (one transaction), b later updates the old row's
     * note. In the order c, a, b the note is b's (the update wins on the recreated row); it must be b's also
     * in the order c, b, a.
     */
    @ParameterizedTest
    @ValueSource(strings = {"recreateFirst", "updateFirst"})
    void aThirdDevicesEarlierDeleteDoesNotLoseTheLaterUpdateOfARecreatedRow(String order) throws Exception {
        try (Cluster c = Cluster.start("mtd_three_" + order.toLowerCase(), dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            Client d = c.client("c", LOCAL_ITEM);
            List<Rejection> rejections = listen(a, b, d);
            a.exec("INSERT INTO item VALUES (1, 'one', 1, 'n1')");
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b, d);

            a.offline();
            b.offline();
            d.exec("DELETE FROM item WHERE id = 1");
            d.awaitSynced();
            pause();
            a.transaction("DELETE FROM item WHERE id = 1", "INSERT INTO item VALUES (1, 'one again', 10, 'recreated by a')");
            pause();
            b.exec("UPDATE item SET note = 'later update by b' WHERE id = 1");

            if (order.equals("recreateFirst")) {
                syncInOrder(a, b);
            } else {
                syncInOrder(b, a);
            }
            d.awaitSynced();
            c.awaitConverged(ITEMS, a, b, d);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(item(1, "one again", 10L, "later update by b")), c.pgRows(ITEMS),
                    "order " + order);
        }
    }

    /**
     * A counter (inferred from {@code SET qty = qty + 1}) against a delete-and-recreate. Row 1: a recreates
     * it with qty 0, b later increments it; row 2: the roles swapped. a syncs first, so row 1's recreate
     * arrives before the increment and row 2's after it. DESIGN: "Counter columns start afresh". Both rows
     * must end alike.
     */
    @Disabled("Known limit (DESIGN.md, Counters; A row deleted and created again): a recreate against a concurrent"
            + " increment depends on arrival order, as a column both set and incremented does")
    @Test
    void aCounterIncrementedAfterARecreateEndsTheSameInBothOrders() throws Exception {
        try (Cluster c = Cluster.start("mtd_counter", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            List<Rejection> rejections = listen(a, b);
            a.script("INSERT INTO item VALUES (1, 'one', 5, 'n1')", "INSERT INTO item VALUES (2, 'two', 5, 'n2')");
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);

            a.offline();
            b.offline();
            a.transaction("DELETE FROM item WHERE id = 1", "INSERT INTO item VALUES (1, 'one again', 0, 'recreated')");
            b.transaction("DELETE FROM item WHERE id = 2", "INSERT INTO item VALUES (2, 'two again', 0, 'recreated')");
            pause();
            b.exec("UPDATE item SET qty = qty + 1 WHERE id = 1");
            a.exec("UPDATE item SET qty = qty + 1 WHERE id = 2");

            syncInOrder(a, b);
            c.awaitConverged(ITEMS, a, b);
            assertEquals(List.of(), rejections);
            List<Map<String, Object>> pg = c.pgRows(ITEMS);
            assertEquals(pg.get(0).get("qty"), pg.get(1).get("qty"),
                    "the same recreate-then-increment ends with the same count in both arrival orders: " + pg);
        }
    }

    /**
     * Delete, recreate and update of the row all in one client transaction, against a later update on the
     * other device; rows 1 and 2 swap roles, so each order is covered.
     */
    @Test
    void aDeleteRecreateAndUpdateInOneTransactionKeepTheLaterUpdateInBothOrders() throws Exception {
        try (Cluster c = Cluster.start("mtd_one_tx", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            List<Rejection> rejections = listen(a, b);
            a.script("INSERT INTO item VALUES (1, 'one', 1, 'n1')", "INSERT INTO item VALUES (2, 'two', 2, 'n2')");
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);

            a.offline();
            b.offline();
            a.transaction("DELETE FROM item WHERE id = 1", "INSERT INTO item VALUES (1, 'one again', 10, 'recreated by a')",
                    "UPDATE item SET title = 'one edited', note = 'edited by a' WHERE id = 1");
            b.transaction("DELETE FROM item WHERE id = 2", "INSERT INTO item VALUES (2, 'two again', 20, 'recreated by b')",
                    "UPDATE item SET title = 'two edited', note = 'edited by b' WHERE id = 2");
            pause();
            b.exec("UPDATE item SET note = 'later update by b', qty = 11 WHERE id = 1");
            a.exec("UPDATE item SET note = 'later update by a', qty = 22 WHERE id = 2");

            syncInOrder(a, b);
            c.awaitConverged(ITEMS, a, b);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(item(1, "one edited", 11L, "later update by b"), item(2, "two edited", 22L, "later update by a")),
                    c.pgRows(ITEMS));
        }
    }

    /**
     * A wide table (70 columns and more: the capture trigger's "wide" path) with a generated column: row 1
     * recreated by a and updated later by b in three far-apart columns, row 2 the other way round.
     */
    @Test
    void aWideRowRecreatedAgainstALaterUpdateEndsTheSameInBothOrders() throws Exception {
        StringBuilder pgCols = new StringBuilder();
        StringBuilder localCols = new StringBuilder();
        StringBuilder names = new StringBuilder();
        for (int i = 1; i <= 70; i++) {
            pgCols.append(", c").append(i).append(" TEXT");
            localCols.append(", c").append(i).append(" TEXT");
            names.append(", c").append(i);
        }
        String pg = "CREATE TABLE wide (id BIGINT PRIMARY KEY" + pgCols + ")";
        String local = "CREATE TABLE wide (id INTEGER PRIMARY KEY" + localCols + ")";
        String view = "SELECT id" + names + " FROM wide ORDER BY id";
        try (Cluster c = Cluster.start("mtd_wide", dir, pg)) {
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            List<Rejection> rejections = listen(a, b);
            a.script(wideInsert(1, "old"), wideInsert(2, "old"));
            a.awaitSynced();
            c.awaitConverged(view, a, b);

            a.offline();
            b.offline();
            a.transaction("DELETE FROM wide WHERE id = 1", wideInsert(1, "again"));
            b.transaction("DELETE FROM wide WHERE id = 2", wideInsert(2, "again"));
            pause();
            b.exec("UPDATE wide SET c1 = 'late b', c35 = 'late b', c70 = 'late b' WHERE id = 1");
            a.exec("UPDATE wide SET c2 = 'late a', c64 = 'late a', c65 = 'late a' WHERE id = 2");

            syncInOrder(a, b);
            c.awaitConverged(view, a, b);
            assertEquals(List.of(), rejections);
            List<Map<String, Object>> rows = c.pgRows(view);
            for (int i = 1; i <= 70; i++) {
                String col = "c" + i;
                assertEquals(i == 1 || i == 35 || i == 70 ? "late b" : "again", rows.get(0).get(col), "row 1 " + col);
                assertEquals(i == 2 || i == 64 || i == 65 ? "late a" : "again", rows.get(1).get(col), "row 2 " + col);
            }
        }
    }

    private static String wideInsert(int id, String v) {
        StringBuilder cols = new StringBuilder("id");
        StringBuilder vals = new StringBuilder(Integer.toString(id));
        for (int i = 1; i <= 70; i++) {
            cols.append(", c").append(i);
            vals.append(", '").append(v).append("'");
        }
        return "INSERT INTO wide (" + cols + ") VALUES (" + vals + ")";
    }

    /**
     * A bulk transaction (over TxRun.BULK_KEYS rows of one table, so the relay locks the table) deletes and
     * recreates 1,100 rows; the other device later updates three of them. Rows 1..1100: a's bulk, b's
     * updates; rows 2001..3100: b's bulk, a's updates. a syncs first.
     */
    @Test
    void aBulkDeleteAndRecreateKeepsLaterUpdatesInBothOrders() throws Exception {
        try (Cluster c = Cluster.start("mtd_bulk", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            List<Rejection> rejections = listen(a, b);
            bulk(a, "INSERT INTO item VALUES (?, 'old', ?, 'old')", 1, 1100, false);
            bulk(a, "INSERT INTO item VALUES (?, 'old', ?, 'old')", 2001, 3100, false);
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);

            a.offline();
            b.offline();
            bulk(a, "INSERT INTO item VALUES (?, 'again', ?, 'again')", 1, 1100, true);
            bulk(b, "INSERT INTO item VALUES (?, 'again', ?, 'again')", 2001, 3100, true);
            pause();
            b.exec("UPDATE item SET note = 'late b' WHERE id IN (1, 550, 1100)");
            a.exec("UPDATE item SET note = 'late a' WHERE id IN (2001, 2550, 3100)");

            syncInOrder(a, b);
            c.awaitConverged(ITEMS, a, b);
            assertEquals(List.of(), rejections);
            List<Map<String, Object>> late = c.pgRows("SELECT id, note FROM item WHERE note LIKE 'late%' ORDER BY id");
            assertEquals(List.of(row("id", 1L, "note", "late b"), row("id", 550L, "note", "late b"),
                    row("id", 1100L, "note", "late b"), row("id", 2001L, "note", "late a"),
                    row("id", 2550L, "note", "late a"), row("id", 3100L, "note", "late a")), late);
            assertEquals(2200L, ((Number) c.pgRows("SELECT count(*) AS n FROM item WHERE title = 'again'").get(0).get("n")).longValue());
        }
    }

    /** Inserts rows from..to in one transaction, first deleting them when {@code replace}. */
    private static void bulk(Client x, String insert, int from, int to, boolean replace) throws Exception {
        Connection conn = x.connection();
        conn.setAutoCommit(false);
        try {
            if (replace) {
                try (PreparedStatement del = conn.prepareStatement("DELETE FROM item WHERE id BETWEEN ? AND ?")) {
                    del.setInt(1, from);
                    del.setInt(2, to);
                    del.executeUpdate();
                }
            }
            try (PreparedStatement ps = conn.prepareStatement(insert)) {
                for (int i = from; i <= to; i++) {
                    ps.setInt(1, i);
                    ps.setInt(2, i);
                    ps.executeUpdate();
                }
            }
            conn.commit();
        } finally {
            conn.setAutoCommit(true);
        }
    }

    /**
     * A child deleted by PostgreSQL's ON DELETE CASCADE (a's delete of the tournament, in relay mode) and
     * created again in the same transaction, against a later update of the child's points on the other
     * device. Tournament t1: a recreates, b updates later; t2: the roles swapped. a syncs first.
     */
    @Test
    void aCascadeDeletedChildRecreatedKeepsALaterUpdateInBothOrders() throws Exception {
        try (Cluster c = Cluster.start("mtd_cascade_child", dir, TOURNAMENT)) {
            Client a = c.client("a", TOURNAMENT);
            Client b = c.client("b", TOURNAMENT);
            List<Rejection> rejections = listen(a, b);
            a.script("INSERT INTO tournament VALUES ('t1', 'one')", "INSERT INTO tournament VALUES ('t2', 'two')",
                    "INSERT INTO player VALUES ('p1', 'Ann')",
                    "INSERT INTO enrolment VALUES ('t1', 'p1')", "INSERT INTO enrolment VALUES ('t2', 'p1')",
                    "INSERT INTO score VALUES ('t1', 'p1', 1, 10)", "INSERT INTO score VALUES ('t2', 'p1', 1, 20)");
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(SCORES, a, b);

            a.offline();
            b.offline();
            a.transaction("DELETE FROM tournament WHERE id = 't1'", "INSERT INTO tournament VALUES ('t1', 'one again')",
                    "INSERT OR REPLACE INTO enrolment VALUES ('t1', 'p1')", "INSERT OR REPLACE INTO score VALUES ('t1', 'p1', 1, 0)");
            b.transaction("DELETE FROM tournament WHERE id = 't2'", "INSERT INTO tournament VALUES ('t2', 'two again')",
                    "INSERT OR REPLACE INTO enrolment VALUES ('t2', 'p1')", "INSERT OR REPLACE INTO score VALUES ('t2', 'p1', 1, 0)");
            pause();
            b.exec("UPDATE score SET points = 99 WHERE tournament_id = 't1'");
            a.exec("UPDATE score SET points = 77 WHERE tournament_id = 't2'");

            syncInOrder(a, b);
            c.awaitConverged(TOURNAMENTS, a, b);
            c.awaitConverged(ENROLMENTS, a, b);
            c.awaitConverged(SCORES, a, b);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", "t1", "title", "one again"), row("id", "t2", "title", "two again")), c.pgRows(TOURNAMENTS));
            assertEquals(List.of(row("tournament_id", "t1", "player_id", "p1", "round", 1L, "points", 99L),
                    row("tournament_id", "t2", "player_id", "p1", "round", 1L, "points", 77L)), c.pgRows(SCORES));
        }
    }

    /**
     * A psql update of the row while a, offline, had deleted and recreated it earlier: the psql write is
     * later, so its column survives a's recreate arriving afterwards, as it would had a synced first.
     */
    @Test
    void aDirectUpdateLaterThanAnOfflineRecreateSurvivesIt() throws Exception {
        try (Cluster c = Cluster.start("mtd_psql_update", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            List<Rejection> rejections = listen(a, b);
            a.exec("INSERT INTO item VALUES (1, 'one', 1, 'n1')");
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);

            a.offline();
            a.transaction("DELETE FROM item WHERE id = 1", "INSERT INTO item VALUES (1, 'one again', 10, 'recreated by a')");
            pause();
            c.pg("UPDATE item SET note = 'psql later' WHERE id = 1");
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(ITEMS, a, b);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(item(1, "one again", 10L, "psql later")), c.pgRows(ITEMS));
        }
    }

    /**
     * A CHECK constraint across two columns (lo <= hi). The old row is (1, 4). One device deletes and
     * recreates it as (5, 10); the other, later, sets hi = 3 on the old row (valid there). Row 1: a
     * recreates, b updates; row 2: swapped; a syncs first. Before the recreate kept columns, both orders
     * ended with the recreated (5, 10) (the update onto it is refused in one order and lost in the other).
     * Now, when the update comes first, the recreate takes hi = 3 from the tombstone and is itself refused:
     * the rows end differently.
     */
    @Disabled("Known limit (DESIGN.md, A row deleted and created again): per-column merge can combine a recreate"
            + " with a later update into a row that breaks a CHECK over several columns; PostgreSQL refuses it")
    @Test
    void aRecreateAgainstALaterUpdateUnderACheckConstraintEndsTheSameInBothOrders() throws Exception {
        String pg = "CREATE TABLE rng (id BIGINT PRIMARY KEY, lo INTEGER NOT NULL, hi INTEGER NOT NULL, CHECK (lo <= hi))";
        String local = "CREATE TABLE rng (id INTEGER PRIMARY KEY, lo INTEGER NOT NULL, hi INTEGER NOT NULL)";
        String view = "SELECT id, lo, hi FROM rng ORDER BY id";
        try (Cluster c = Cluster.start("mtd_check", dir, pg)) {
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            List<Rejection> rejections = listen(a, b);
            a.script("INSERT INTO rng VALUES (1, 1, 4)", "INSERT INTO rng VALUES (2, 1, 4)");
            a.awaitSynced();
            c.awaitConverged(view, a, b);

            a.offline();
            b.offline();
            a.transaction("DELETE FROM rng WHERE id = 1", "INSERT INTO rng VALUES (1, 5, 10)");
            b.transaction("DELETE FROM rng WHERE id = 2", "INSERT INTO rng VALUES (2, 5, 10)");
            pause();
            b.exec("UPDATE rng SET hi = 3 WHERE id = 1");
            a.exec("UPDATE rng SET hi = 3 WHERE id = 2");

            syncInOrder(a, b);
            c.awaitConverged(view, a, b);
            List<Map<String, Object>> rows = c.pgRows(view);
            assertEquals(List.of(row("lo", rows.get(0).get("lo"), "hi", rows.get(0).get("hi"))),
                    List.of(row("lo", rows.get(1).get("lo"), "hi", rows.get(1).get("hi"))),
                    "row 1 (recreate first) and row 2 (update first) must end alike: " + rows + "; rejected: "
                            + rejections.stream().map(r -> r.sqlState() + " " + r.reason()).toList());
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Moves (capture_rows: row_clock.born on an update of a cascading foreign key)
    // ------------------------------------------------------------------------------------------------

    private record World(Cluster cluster, Client a, Client b, List<Rejection> rejections) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            cluster.close();
        }
    }

    private World lists(String name, String... setup) throws Exception {
        Cluster cl = Cluster.start(name, dir, LISTS_SCHEMA);
        Client a = cl.client("a", LISTS_SCHEMA);
        Client b = cl.client("b", LISTS_SCHEMA);
        List<Rejection> rejections = listen(a, b);
        a.script(setup);
        a.awaitSynced();
        b.awaitSynced();
        cl.awaitConverged(LISTS, a, b);
        cl.awaitConverged(TASKS, a, b);
        a.offline();
        b.offline();
        return new World(cl, a, b, rejections);
    }

    private static void settle(World w) throws Exception {
        syncInOrder(w.a(), w.b());
        w.cluster().awaitConverged(LISTS, w.a(), w.b());
        w.cluster().awaitConverged(TASKS, w.a(), w.b());
        w.cluster().awaitConverged("SELECT id, name FROM person ORDER BY id", w.a(), w.b());
    }

    /**
     * task has two foreign keys: list_id (ON DELETE CASCADE) and assignee_id (ON DELETE SET NULL). Reassigning
     * a task to another person moves it under nothing a list delete cares about, yet the trigger counts an
     * update of any acting foreign key as a move and stamps row_clock.born. a reassigns k1 while b, which
     * saw k1 in L1, deletes L1; and swapped on L2/k2. a syncs first, so L1's delete comes after the
     * reassignment and L2's before it. b saw k1, a saw k2: both lists go with their tasks, as L2 does.
     */
    @Test
    void reassigningATaskThroughAnotherForeignKeyIsNotAMoveUnderItsList() throws Exception {
        try (World w = lists("mtd_two_fks",
                "INSERT INTO list VALUES ('L1', 'one')", "INSERT INTO list VALUES ('L2', 'two')",
                "INSERT INTO person VALUES ('P1', 'Ann')", "INSERT INTO person VALUES ('P2', 'Bob')",
                "INSERT INTO task VALUES ('k1', 'L1', 'P1', 'milk')", "INSERT INTO task VALUES ('k2', 'L2', 'P1', 'bread')")) {
            w.a().exec("UPDATE task SET assignee_id = 'P2' WHERE id = 'k1'");
            w.b().exec("DELETE FROM list WHERE id = 'L1'");
            w.b().exec("UPDATE task SET assignee_id = 'P2' WHERE id = 'k2'");
            w.a().exec("DELETE FROM list WHERE id = 'L2'");
            settle(w);
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(), w.cluster().pgRows(LISTS),
                    "L1 (reassignment first) must go like L2 (delete first): the deleting device saw the task in it; tasks "
                            + w.cluster().pgRows(TASKS));
            assertEquals(List.of(), w.cluster().pgRows(TASKS));
        }
    }

    /**
     * The same reassignment written in psql while b was offline: it moves k1 under no other list, so b's
     * delete of L1 (b saw k1 in it) still takes L1 and k1.
     */
    @Test
    void aDirectReassignmentIsNotAMoveUnderTheList() throws Exception {
        try (World w = lists("mtd_two_fks_psql",
                "INSERT INTO list VALUES ('L1', 'one')",
                "INSERT INTO person VALUES ('P1', 'Ann')", "INSERT INTO person VALUES ('P2', 'Bob')",
                "INSERT INTO task VALUES ('k1', 'L1', 'P1', 'milk')")) {
            w.cluster().pg("UPDATE task SET assignee_id = 'P2' WHERE id = 'k1'");
            w.b().exec("DELETE FROM list WHERE id = 'L1'");
            settle(w);
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(), w.cluster().pgRows(LISTS), "tasks " + w.cluster().pgRows(TASKS));
            assertEquals(List.of(), w.cluster().pgRows(TASKS));
        }
    }

    /**
     * a moves k1 out of L1 into L3 while b, which saw k1 in L1, deletes L1; swapped on L2/k2 (b moves k2 to
     * L4, a deletes L2). a syncs first: L1's delete arrives after the move (k1 is no longer below it and
     * stays in L3), L2's before it (k2 goes with L2's cascade and b's move is then dropped). The same
     * concurrent move must end the same way.
     */
    @Test
    void aTaskMovedOutOfAListDeletedConcurrentlyEndsTheSameInBothOrders() throws Exception {
        try (World w = lists("mtd_move_out",
                "INSERT INTO list VALUES ('L1', 'one')", "INSERT INTO list VALUES ('L2', 'two')",
                "INSERT INTO list VALUES ('L3', 'three')", "INSERT INTO list VALUES ('L4', 'four')",
                "INSERT INTO task VALUES ('k1', 'L1', NULL, 'milk')", "INSERT INTO task VALUES ('k2', 'L2', NULL, 'bread')")) {
            w.a().exec("UPDATE task SET list_id = 'L3' WHERE id = 'k1'");
            w.b().exec("DELETE FROM list WHERE id = 'L1'");
            w.b().exec("UPDATE task SET list_id = 'L4' WHERE id = 'k2'");
            w.a().exec("DELETE FROM list WHERE id = 'L2'");
            settle(w);
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(row("id", "L3", "title", "three"), row("id", "L4", "title", "four")), w.cluster().pgRows(LISTS));
            assertEquals(List.of(task("k1", "L3", null, "milk"), task("k2", "L4", null, "bread")), w.cluster().pgRows(TASKS),
                    "k1 (move first) stays in L3, so k2 (delete first) must stay in L4");
        }
    }

    /**
     * The delete written in psql: b, offline, moves k1 out of L1 into L3 while someone deletes L1 in psql, whose
     * cascade takes k1. Had b synced first, k1 would have been in L3 when L1 went, so b's move brings it back.
     * k2, deleted by name in psql (its list L2 stays), and k3, deleted by name in a transaction before the one
     * that deletes its list L4, stay deleted against b's moves: a delete wins over a concurrent update. (A row
     * deleted by name in the same transaction as its parent counts as gone with it: DESIGN.md.)
     */
    @Test
    void aTaskMovedOutOfAListDeletedInPostgresComesBackButNotOneDeletedByName() throws Exception {
        try (World w = lists("mtd_move_out_psql",
                "INSERT INTO list VALUES ('L1', 'one')", "INSERT INTO list VALUES ('L2', 'two')",
                "INSERT INTO list VALUES ('L3', 'three')", "INSERT INTO list VALUES ('L4', 'four')",
                "INSERT INTO task VALUES ('k1', 'L1', NULL, 'milk')", "INSERT INTO task VALUES ('k2', 'L2', NULL, 'bread')",
                "INSERT INTO task VALUES ('k3', 'L4', NULL, 'eggs')")) {
            w.b().exec("UPDATE task SET list_id = 'L3' WHERE id IN ('k1', 'k2', 'k3')");
            w.cluster().pg("DELETE FROM list WHERE id = 'L1'");
            w.cluster().pg("DELETE FROM task WHERE id = 'k2'");
            w.cluster().pg("DELETE FROM task WHERE id = 'k3'", "DELETE FROM list WHERE id = 'L4'");
            settle(w);
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(row("id", "L2", "title", "two"), row("id", "L3", "title", "three")), w.cluster().pgRows(LISTS));
            assertEquals(List.of(task("k1", "L3", null, "milk")), w.cluster().pgRows(TASKS),
                    "k1 went with L1 and was moved out of it; k2 and k3 were deleted by name");
        }
    }

    /**
     * The same through a two-column integer foreign key: b, offline, moves book 1 from shelf (1, 1) to (1, 2)
     * and book 2 from (1, 3) to (1, 2) while psql deletes shelf (1, 1), whose cascade takes book 1, and deletes
     * book 2 by name before deleting shelf (1, 3) in a later transaction. Book 1 comes back on (1, 2); book 2
     * stays deleted.
     */
    @Test
    void aBookMovedOutOfAShelfDeletedInPostgresComesBackThroughATwoColumnKey() throws Exception {
        String[] schema = {
            "CREATE TABLE shelf (site INTEGER NOT NULL, num INTEGER NOT NULL, label TEXT, PRIMARY KEY (site, num))",
            "CREATE TABLE book (id INTEGER PRIMARY KEY, site INTEGER NOT NULL, num INTEGER NOT NULL, title TEXT,"
                    + " FOREIGN KEY (site, num) REFERENCES shelf (site, num) ON DELETE CASCADE)",
        };
        String books = "SELECT id, site, num, title FROM book ORDER BY id";
        try (Cluster c = Cluster.start("mtd_move_out_psql_2col", dir, schema)) {
            Client b = c.client("b", schema);
            List<Rejection> rejections = listen(b);
            b.script("INSERT INTO shelf VALUES (1, 1, 'a')", "INSERT INTO shelf VALUES (1, 2, 'b')",
                    "INSERT INTO shelf VALUES (1, 3, 'c')",
                    "INSERT INTO book VALUES (1, 1, 1, 'Emma')", "INSERT INTO book VALUES (2, 1, 3, 'Persuasion')");
            b.awaitSynced();
            c.awaitConverged(books, b);
            b.offline();
            b.exec("UPDATE book SET num = 2 WHERE id IN (1, 2)");
            c.pg("DELETE FROM shelf WHERE site = 1 AND num = 1");
            c.pg("DELETE FROM book WHERE id = 2", "DELETE FROM shelf WHERE site = 1 AND num = 3");
            b.online();
            b.awaitSynced();
            c.awaitConverged(books, b);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", 1L, "site", 1L, "num", 2L, "title", "Emma")), c.pgRows(books));
        }
    }

    /**
     * A move and a move back (two transactions): a moves k1 from L1 to L3 and back to L1, while b, which saw
     * k1 in L1, deletes L1; swapped on L2/k2. a syncs first. Whatever the answer, both must end alike.
     */
    @Test
    void aMoveAndMoveBackEndsTheSameInBothOrders() throws Exception {
        try (World w = lists("mtd_move_back",
                "INSERT INTO list VALUES ('L1', 'one')", "INSERT INTO list VALUES ('L2', 'two')",
                "INSERT INTO list VALUES ('L3', 'three')", "INSERT INTO list VALUES ('L4', 'four')",
                "INSERT INTO task VALUES ('k1', 'L1', NULL, 'milk')", "INSERT INTO task VALUES ('k2', 'L2', NULL, 'bread')")) {
            w.a().exec("UPDATE task SET list_id = 'L3' WHERE id = 'k1'");
            w.a().exec("UPDATE task SET list_id = 'L1' WHERE id = 'k1'");
            w.b().exec("DELETE FROM list WHERE id = 'L1'");
            w.b().exec("UPDATE task SET list_id = 'L4' WHERE id = 'k2'");
            w.b().exec("UPDATE task SET list_id = 'L2' WHERE id = 'k2'");
            w.a().exec("DELETE FROM list WHERE id = 'L2'");
            settle(w);
            assertEquals(List.of(), w.rejections());
            List<Map<String, Object>> lists = w.cluster().pgRows(LISTS);
            List<Map<String, Object>> tasks = w.cluster().pgRows(TASKS);
            boolean l1 = lists.stream().anyMatch(r -> r.get("id").equals("L1"));
            boolean l2 = lists.stream().anyMatch(r -> r.get("id").equals("L2"));
            boolean k1 = tasks.stream().anyMatch(r -> r.get("id").equals("k1"));
            boolean k2 = tasks.stream().anyMatch(r -> r.get("id").equals("k2"));
            assertEquals(List.of(l1, k1), List.of(l2, k2),
                    "L1/k1 (moves first) and L2/k2 (delete first) must end alike: lists " + lists + ", tasks " + tasks);
        }
    }

    /**
     * A task moved to another list in the same transaction that recreates it... covered by the kept values:
     * b moves k1 from L1 to L2 (later), a deletes k1 and creates it again in L1. Both orders end in L2
     * (b's later column), without rejection.
     */
    @Test
    void aRecreatedTaskKeepsALaterMoveInBothOrders() throws Exception {
        try (World w = lists("mtd_recreate_move",
                "INSERT INTO list VALUES ('L1', 'one')", "INSERT INTO list VALUES ('L2', 'two')",
                "INSERT INTO task VALUES ('k1', 'L1', NULL, 'milk')", "INSERT INTO task VALUES ('k2', 'L1', NULL, 'bread')")) {
            w.a().transaction("DELETE FROM task WHERE id = 'k1'", "INSERT INTO task VALUES ('k1', 'L1', NULL, 'milk again')");
            w.b().transaction("DELETE FROM task WHERE id = 'k2'", "INSERT INTO task VALUES ('k2', 'L1', NULL, 'bread again')");
            pause();
            w.b().exec("UPDATE task SET list_id = 'L2' WHERE id = 'k1'");
            w.a().exec("UPDATE task SET list_id = 'L2' WHERE id = 'k2'");
            settle(w);
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(task("k1", "L2", null, "milk again"), task("k2", "L2", null, "bread again")),
                    w.cluster().pgRows(TASKS));
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Relay level, exact clocks
    // ------------------------------------------------------------------------------------------------

    @Nested
    class ExactClocks {

        private final AtomicLong txA = new AtomicLong();
        private final AtomicLong txB = new AtomicLong();

        private long at(long millis) {
            return Hlc.ofMillis(1_000_000 + millis);
        }

        private void push(TestClient client, AtomicLong ids, long hlc, RowChange... changes) {
            ClientTx t = tx(ids.incrementAndGet(), hlc, changes);
            client.push(t);
            client.awaitAck(t.id());
        }

        /**
         * MergeTest's scenario (A deletes at 1910 and recreates at 1920, B updates at 1950) in the one order
         * it leaves out: A's delete, then B's update, then A's recreate. MergeTest's row 20 (B first) ends
         * with ("again", "late", "9").
         */
        @Test
        void anUpdateBetweenADeleteAndItsRecreateIsKept() {
            try (RelayFixture f = RelayFixture.start("mtd_exact_between",
                    "CREATE TABLE doc (id int PRIMARY KEY, title text, body text, n int)")) {
                TestClient a = f.client("node-a", 0);
                TestClient b = f.client("node-b", 0);
                push(a, txA, at(1900), insert("doc", obj("id", 1), obj("title", "t0", "body", "b0", "n", 0)));
                push(a, txA, at(1910), delete("doc", obj("id", 1)));
                push(b, txB, at(1950), update("doc", obj("id", 1), obj("body", "late", "n", 9)));
                push(a, txA, at(1920), insert("doc", obj("id", 1), obj("title", "again", "body", "again")));
                assertEquals(List.of(List.of("again", "late", "9")), f.query("SELECT title, body, n FROM doc WHERE id = 1"));
            }
        }

        /**
         * Pre-existing, not from the reviewed commits: a table with an identity column that is not its key,
         * GENERATED ALWAYS. A device's insert carries every column of its SQLite table, the relay's insert
         * statement adds OVERRIDING SYSTEM VALUE, but its ON CONFLICT DO UPDATE SET also names the identity
         * column, which PostgreSQL refuses (428C9) for every insert, new row or not.
         */
        @Test
        void anInsertIntoATableWithANonKeyAlwaysIdentityColumnIsAccepted() {
            try (RelayFixture f = RelayFixture.start("mtd_exact_identity",
                    "CREATE TABLE g (id int PRIMARY KEY, seq int GENERATED ALWAYS AS IDENTITY, note text)")) {
                TestClient a = f.client("node-a", 0);
                push(a, txA, at(1900), insert("g", obj("id", 1), obj("seq", 101, "note", "n0")));
                assertEquals(List.of(List.of("1", "101", "n0")), f.query("SELECT id, seq, note FROM g"));
            }
        }

        /**
         * A generated column and an identity column (not the key, BY DEFAULT) on a recreated row whose later
         * update arrived first: the kept value goes back into the insert, the generated column is recomputed.
         */
        @Test
        void aRecreateKeepsLaterValuesOnATableWithGeneratedAndIdentityColumns() {
            try (RelayFixture f = RelayFixture.start("mtd_exact_generated",
                    "CREATE TABLE g (id int PRIMARY KEY, seq int GENERATED BY DEFAULT AS IDENTITY, price int, qty int,"
                            + " total int GENERATED ALWAYS AS (price * qty) STORED, note text)")) {
                TestClient a = f.client("node-a", 0);
                TestClient b = f.client("node-b", 0);
                for (int id = 1; id <= 2; id++) {
                    push(a, txA, at(1900), insert("g", obj("id", id), obj("seq", 100 + id, "price", 2, "qty", 3, "note", "n0")));
                }
                // Row 1: B's later update first; row 2: A's recreate first.
                push(b, txB, at(1950), update("g", obj("id", 1), obj("qty", 7, "note", "late")));
                push(a, txA, at(1920), delete("g", obj("id", 1)),
                        insert("g", obj("id", 1), obj("seq", 201, "price", 5, "qty", 1, "note", "again")));
                push(a, txA, at(1920), delete("g", obj("id", 2)),
                        insert("g", obj("id", 2), obj("seq", 202, "price", 5, "qty", 1, "note", "again")));
                push(b, txB, at(1950), update("g", obj("id", 2), obj("qty", 7, "note", "late")));
                assertEquals(List.of(List.of("1", "5", "7", "35", "late"), List.of("2", "5", "7", "35", "late")),
                        f.query("SELECT id, price, qty, total, note FROM g ORDER BY id"));
            }
        }

        /**
         * Types whose to_jsonb text is PostgreSQL's, not a device's (bytea, timestamptz, numeric, an array,
         * jsonb): a recreate that takes them from the tombstone's image must store what the update wrote.
         */
        @Test
        void aRecreateKeepsLaterValuesOfEveryType() {
            try (RelayFixture f = RelayFixture.start("mtd_exact_types",
                    "CREATE TABLE t (id int PRIMARY KEY, title text, bin bytea, ts timestamptz, amount numeric(12, 3),"
                            + " tags text[], doc jsonb, d date, iv interval)")) {
                TestClient a = f.client("node-a", 0);
                TestClient b = f.client("node-b", 0);
                push(a, txA, at(1900), insert("t", obj("id", 1), obj("title", "t0")));
                push(b, txB, at(1950), update("t", obj("id", 1), obj("bin", "\\x00ff10", "ts", "2026-03-04T05:06:07.123+02:00",
                        "amount", "12.500", "tags", "[\"a\",\"b c\"]", "doc", "{\"k\": [1, \"x\"]}", "d", "2026-02-28",
                        "iv", "1 day 02:00:00")));
                String expected = f.query("SELECT bin::text, ts::text, amount::text, tags::text, doc::text, d::text, iv::text"
                        + " FROM t WHERE id = 1").get(0).toString();
                push(a, txA, at(1920), delete("t", obj("id", 1)), insert("t", obj("id", 1), obj("title", "again")));
                assertEquals(List.of(List.of("again")), f.query("SELECT title FROM t WHERE id = 1"));
                assertEquals(expected, f.query("SELECT bin::text, ts::text, amount::text, tags::text, doc::text, d::text,"
                        + " iv::text FROM t WHERE id = 1").get(0).toString());
            }
        }
    }

}
