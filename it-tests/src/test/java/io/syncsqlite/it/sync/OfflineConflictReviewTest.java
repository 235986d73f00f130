package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.syncsqlite.it.harness.Rows.row;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Review of offline clients, conflicts and convergence (BACKGROUND.md properties 1, 2, 3, 4, 5): clients go
 * offline, make conflicting changes and come back in different orders; PostgreSQL and every client must end
 * on the same rows, following the merge rules of DESIGN.md, and nothing a client committed may be dropped
 * without the application being told.
 */
class OfflineConflictReviewTest {

    // Shared with MergeThroughDeleteReviewTest.
    static final String PG_ITEM = "CREATE TABLE item (id BIGINT PRIMARY KEY, title TEXT, qty INTEGER, note TEXT)";
    static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER, note TEXT)";
    static final String ITEMS = "SELECT id, title, qty, note FROM item ORDER BY id";

    static final String[] TOURNAMENT = {
        "CREATE TABLE tournament (id TEXT PRIMARY KEY, title TEXT NOT NULL)",
        "CREATE TABLE player (id TEXT PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE enrolment (tournament_id TEXT NOT NULL REFERENCES tournament (id) ON DELETE CASCADE,"
                + " player_id TEXT NOT NULL REFERENCES player (id), PRIMARY KEY (tournament_id, player_id))",
        "CREATE TABLE score (tournament_id TEXT NOT NULL, player_id TEXT NOT NULL, round INTEGER NOT NULL,"
                + " points INTEGER NOT NULL, PRIMARY KEY (tournament_id, player_id, round),"
                + " FOREIGN KEY (tournament_id, player_id) REFERENCES enrolment (tournament_id, player_id) ON DELETE CASCADE)",
    };
    static final String TOURNAMENTS = "SELECT id, title FROM tournament ORDER BY id";
    static final String ENROLMENTS = "SELECT tournament_id, player_id FROM enrolment ORDER BY 1, 2";
    static final String SCORES = "SELECT tournament_id, player_id, round, points FROM score ORDER BY 1, 2, 3";

    @TempDir
    Path dir;

    private static Map<String, Object> item(long id, String title, Long qty, String note) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("title", title);
        m.put("qty", qty);
        m.put("note", note);
        return m;
    }

    /**
     * Property 2: a transaction PostgreSQL refuses is reported to the application. The client pushes it
     * and loses its connection after the relay decided (and recorded) the rejection but before the
     * {@code reject} reached it, a phone leaving coverage right after a commit. At reconnect the relay's
     * welcome counts the transaction as applied, so the client settles it as if it had been accepted: the
     * row disappears through the feed, and the application is never told why its committed write vanished.
     */
    @Test
    void aRejectionLostWithTheConnectionIsStillReportedToTheApplication() throws Exception {
        try (Cluster c = Cluster.start("rv3_lost_reject", dir,
                "CREATE TABLE item (id BIGINT PRIMARY KEY, title TEXT, qty INTEGER CHECK (qty >= 0), note TEXT)")) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            List<Rejection> rejections = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(rejections::add);
            a.exec("INSERT INTO item (id, title, qty) VALUES (1, 'kept', 1)");
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);

            // Replies now take 1.5 s to come back through the proxy; the push is decided long before that.
            a.proxy().latency(1500);
            a.exec("INSERT INTO item (id, title, qty) VALUES (2, 'negative stock', -5)");
            Cluster.eventually(() -> c.pgRows("SELECT 1 FROM syncsqlite.change WHERE tbl = 'item' AND pk ->> 'id' = '2'"),
                    rows -> !rows.isEmpty());
            a.offline(); // the reject is still in flight: cut with the connection
            a.proxy().latency(0);
            a.online();
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);
            assertEquals(List.of(item(1, "kept", 1L, null)), c.pgRows(ITEMS));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertEquals(1, rejections.size(),
                    "the application must learn that its committed insert of item 2 was refused (23514), not see it vanish"));
            assertEquals("23514", rejections.get(0).sqlState());
        }
    }

    /**
     * Property 5 and order independence: client a enrols a player in tournament t1 while client b, both
     * offline, deletes t1 (b never saw the enrolment). TournamentCompensationTest covers b's delete arriving
     * first: the tournament is restored and the enrolment kept. Here a syncs first: the same two concurrent
     * operations must end the same way, but b's later delete cascades a's enrolment away in PostgreSQL, so
     * the outcome depends on which device found coverage first, and a's committed enrolment is lost
     * without any rejection.
     */
    @Test
    void aDeletedParentAndAConcurrentChildEndTheSameWhoeverSyncsFirst() throws Exception {
        try (Cluster c = Cluster.start("rv3_child_first", dir, TOURNAMENT)) {
            Client a = c.client("a", TOURNAMENT);
            Client b = c.client("b", TOURNAMENT);
            List<Rejection> rejections = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(rejections::add);
            a.exec("INSERT INTO tournament VALUES ('t1', 'Spring Open')");
            a.exec("INSERT INTO player VALUES ('p1', 'Ann')");
            a.awaitSynced();
            c.awaitConverged(TOURNAMENTS, a, b);
            c.awaitConverged("SELECT id, name FROM player", a, b);

            a.offline();
            b.offline();
            a.exec("INSERT INTO enrolment VALUES ('t1', 'p1')");
            b.exec("DELETE FROM tournament WHERE id = 't1'");
            // a finds coverage first, b later
            a.online();
            a.awaitSynced();
            assertEquals(List.of(row("tournament_id", "t1", "player_id", "p1")), c.pgRows(ENROLMENTS));
            b.online();
            b.awaitSynced();
            a.awaitSynced();
            c.awaitConverged(TOURNAMENTS, a, b);
            c.awaitConverged(ENROLMENTS, a, b);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", "t1", "title", "Spring Open")), c.pgRows(TOURNAMENTS),
                    "as when the delete arrives first (TournamentCompensationTest), the tournament stays");
            assertEquals(List.of(row("tournament_id", "t1", "player_id", "p1")), c.pgRows(ENROLMENTS),
                    "a's enrolment, committed while offline, must not be lost to a delete that never saw it");
        }
    }

    /**
     * Property 5 one level further: client a, offline, records a score for an enrolment while client b
     * deletes the tournament, which PostgreSQL cascades to the enrolment. The score's parent (the enrolment)
     * was deleted concurrently and has a tombstone with its image, so compensation should restore it, and
     * its own deleted parent, the tournament. The restore of the enrolment fails on its own foreign key (the
     * tournament is deleted too) and the relay rejects the score instead.
     */
    @Test
    void aGrandchildInsertedOfflineRestoresTheWholeDeletedChain() throws Exception {
        try (Cluster c = Cluster.start("rv3_grandchild", dir, TOURNAMENT)) {
            Client a = c.client("a", TOURNAMENT);
            Client b = c.client("b", TOURNAMENT);
            List<Rejection> rejections = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(rejections::add);
            a.script("INSERT INTO tournament VALUES ('t1', 'Spring Open')", "INSERT INTO player VALUES ('p1', 'Ann')",
                    "INSERT INTO enrolment VALUES ('t1', 'p1')");
            a.awaitSynced();
            c.awaitConverged(ENROLMENTS, a, b);

            a.offline();
            a.exec("INSERT INTO score VALUES ('t1', 'p1', 1, 42)");
            b.exec("DELETE FROM tournament WHERE id = 't1'");
            b.awaitSynced();
            assertEquals(List.of(), c.pgRows(ENROLMENTS), "PostgreSQL cascaded the delete to the enrolment");

            a.online();
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(TOURNAMENTS, a, b);
            c.awaitConverged(ENROLMENTS, a, b);
            c.awaitConverged(SCORES, a, b);
            assertEquals(List.of(), rejections.stream().map(r -> r.sqlState() + " " + r.reason()).toList(),
                    "the score's parent existed and was deleted concurrently: restored, not a rejection");
            assertEquals(List.of(row("tournament_id", "t1", "player_id", "p1", "round", 1L, "points", 42L)), c.pgRows(SCORES));
            assertEquals(List.of(row("tournament_id", "t1", "player_id", "p1")), c.pgRows(ENROLMENTS));
            assertEquals(List.of(row("id", "t1", "title", "Spring Open")), c.pgRows(TOURNAMENTS));
        }
    }

    /**
     * A UNIQUE conflict resolved locally with INSERT OR REPLACE while offline: SQLite deletes the row that
     * holds the email and inserts the new one, and fires no trigger for that delete (recursive_triggers is
     * off). The review found the client reverting the insert and keeping row 1 deleted, alone: the replicas
     * diverged for good. Then the rejection (23505) carried row 1's image back. Now the driver captures the
     * eviction (DESIGN.md, "REPLACE evictions"), so every replica ends with what the writer holds, unrefused.
     */
    @Test
    void anOfflineInsertOrReplaceOverAUniqueValueConverges() throws Exception {
        String pg = "CREATE TABLE account (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT)";
        String local = "CREATE TABLE account (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT)";
        String all = "SELECT id, email, name FROM account ORDER BY id";
        try (Cluster c = Cluster.start("rv3_replace_unique", dir, pg)) {
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            List<Rejection> rejections = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(rejections::add);
            a.exec("INSERT INTO account VALUES (1, 'ann@example.com', 'Ann')");
            a.awaitSynced();
            c.awaitConverged(all, a, b);

            a.offline();
            a.exec("INSERT OR REPLACE INTO account (id, email, name) VALUES (2, 'ann@example.com', 'Ann (new account)')");
            assertEquals(List.of(row("id", 2L, "email", "ann@example.com", "name", "Ann (new account)")), a.rows(all));
            a.online();
            a.awaitSynced();
            c.awaitConverged(all, a, b);
            assertEquals(List.of(row("id", 2L, "email", "ann@example.com", "name", "Ann (new account)")), c.pgRows(all));
            assertEquals(List.of(), rejections);
        }
    }

    /**
     * Three clients offline at once, each reopening or not, the relay restarted while they are away, and
     * coming back in an order different from the order they wrote in. Per row: different columns from
     * different clients all survive, the same column ends with the latest write, counter increments from
     * all three add up, delete wins over a concurrent update, and an offline insert of the same key on two
     * clients ends with the later one.
     */
    @Test
    void threeOfflineClientsWithReopenAndRelayRestartConverge() throws Exception {
        try (Cluster c = Cluster.start("rv3_three", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            Client cc = c.client("c", LOCAL_ITEM);
            a.script("INSERT INTO item VALUES (1, 'one', 100, 'n1')", "INSERT INTO item VALUES (2, 'two', 0, 'n2')",
                    "INSERT INTO item VALUES (3, 'three', 0, 'n3')");
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b, cc);

            a.offline();
            b.offline();
            cc.offline();
            // row 1: different columns and counters from all three
            a.exec("UPDATE item SET title = 'title by a' WHERE id = 1");
            b.exec("UPDATE item SET note = 'note by b' WHERE id = 1");
            cc.exec("UPDATE item SET qty = qty + 5 WHERE id = 1");
            a.exec("UPDATE item SET qty = qty + 1 WHERE id = 1");
            b.exec("UPDATE item SET qty = qty + 10 WHERE id = 1");
            cc.exec("UPDATE item SET qty = qty - 2 WHERE id = 1");
            // row 2: one column, three writers; c writes last
            a.exec("UPDATE item SET title = 'two by a' WHERE id = 2");
            Thread.sleep(5); // distinct milliseconds of the wall clock
            b.exec("UPDATE item SET title = 'two by b' WHERE id = 2");
            Thread.sleep(5);
            cc.exec("UPDATE item SET title = 'two by c' WHERE id = 2");
            // row 3: a deletes, b updates later: the delete wins
            a.exec("DELETE FROM item WHERE id = 3");
            Thread.sleep(5);
            b.exec("UPDATE item SET note = 'edited after the delete' WHERE id = 3");
            // row 4: created offline on a and, later, on c
            a.exec("INSERT INTO item VALUES (4, 'four by a', 1, NULL)");
            Thread.sleep(5);
            cc.exec("INSERT INTO item VALUES (4, 'four by c', 2, 'c')");

            b.reopen(); // the application restarts while offline, with pending writes
            b.exec("UPDATE item SET qty = qty + 100 WHERE id = 1");
            c.restartRelay();

            cc.online();
            cc.awaitSynced();
            b.online();
            b.awaitSynced();
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            cc.awaitSynced();
            c.awaitConverged(ITEMS, a, b, cc);
            assertEquals(List.of(item(1, "title by a", 214L, "note by b"), item(2, "two by c", 0L, "n2"),
                    item(4, "four by c", 2L, "c")), c.pgRows(ITEMS));
        }
    }

    /**
     * A long time apart: thousands of changes in hundreds of transactions on two offline clients over the same 400 rows (each
     * updating its own column, one column written by both, a is earlier), deletes on one side against
     * updates on the other, and new rows on both sides, then both come back.
     */
    @Test
    void thousandsOfOfflineChangesOnBothSidesConverge() throws Exception {
        try (Cluster c = Cluster.start("rv3_long", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            Connection ac = a.connection();
            ac.setAutoCommit(false);
            try (PreparedStatement ps = ac.prepareStatement("INSERT INTO item VALUES (?, ?, 0, 'start')")) {
                for (int i = 1; i <= 400; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, "row " + i);
                    ps.executeUpdate();
                }
            }
            ac.commit();
            ac.setAutoCommit(true);
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);

            a.offline();
            b.offline();
            // a: 4 passes of titles and notes, one transaction per 5 rows (320 transactions, 1600 updates): the
            // catch-up spans several feed batches
            write(a, "UPDATE item SET title = ?, note = ? WHERE id = ?", (ps, pass, i) -> {
                ps.setString(1, "a" + pass + " " + i);
                ps.setString(2, "a note " + pass);
                ps.setInt(3, i);
            });
            // a deletes rows 1..40, inserts 1001..1300
            a.connection().setAutoCommit(false);
            a.exec("DELETE FROM item WHERE id <= 40");
            a.connection().commit();
            for (int i = 1001; i <= 1300; i++) {
                a.exec("INSERT INTO item VALUES (?, ?, ?, 'new on a')", i, "a new " + i, i);
                if (i % 50 == 0) {
                    a.connection().commit();
                }
            }
            a.connection().commit();
            a.connection().setAutoCommit(true);
            Thread.sleep(5);
            // b, later: 4 passes of qty and notes (notes: b is later, b wins), inserts 2001..2300
            write(b, "UPDATE item SET qty = ?, note = ? WHERE id = ?", (ps, pass, i) -> {
                ps.setInt(1, pass * 1000 + i);
                ps.setString(2, "b note " + pass);
                ps.setInt(3, i);
            });
            b.connection().setAutoCommit(false);
            for (int i = 2001; i <= 2300; i++) {
                b.exec("INSERT INTO item VALUES (?, ?, ?, 'new on b')", i, "b new " + i, i);
                if (i % 50 == 0) {
                    b.connection().commit();
                }
            }
            b.connection().commit();
            b.connection().setAutoCommit(true);

            b.online();
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);
            List<Map<String, Object>> expected = new ArrayList<>();
            for (int i = 41; i <= 400; i++) {
                expected.add(item(i, "a3 " + i, 3000L + i, "b note 3"));
            }
            for (int i = 1001; i <= 1300; i++) {
                expected.add(item(i, "a new " + i, (long) i, "new on a"));
            }
            for (int i = 2001; i <= 2300; i++) {
                expected.add(item(i, "b new " + i, (long) i, "new on b"));
            }
            assertEquals(expected, c.pgRows(ITEMS));
        }
    }

    /**
     * Order independence of delete-then-recreate against a concurrent update. Row 1: a deletes it and
     * creates it again, b later updates its note. Row 2: the same with the roles swapped (b recreates, a
     * updates later). a syncs first, then b, so row 1's recreate arrives before the update and row 2's
     * after it. The same situation must end the same way on both rows. The relay compares a delete only
     * with the row's existence clock, not with its newer column clocks; a recreate used to drop every
     * column clock, so an update that arrived before an older delete-and-recreate was lost and one that
     * arrived after it survived. The tombstone's column clocks and image now carry the later update into
     * the recreated row.
     */
    @Test
    void aRecreatedRowAndAConcurrentLaterUpdateEndTheSameWhateverTheArrivalOrder() throws Exception {
        try (Cluster c = Cluster.start("rv3_recreate", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            a.script("INSERT INTO item VALUES (1, 'one', 1, 'n1')", "INSERT INTO item VALUES (2, 'two', 2, 'n2')");
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);

            a.offline();
            b.offline();
            a.transaction("DELETE FROM item WHERE id = 1", "INSERT INTO item VALUES (1, 'one again', 10, 'recreated by a')");
            b.transaction("DELETE FROM item WHERE id = 2", "INSERT INTO item VALUES (2, 'two again', 20, 'recreated by b')");
            Thread.sleep(5); // the updates are later than both recreates in wall-clock time
            b.exec("UPDATE item SET note = 'later update by b' WHERE id = 1");
            a.exec("UPDATE item SET note = 'later update by a' WHERE id = 2");

            a.online();
            a.awaitSynced();
            b.online();
            b.awaitSynced();
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);
            List<Map<String, Object>> pg = c.pgRows(ITEMS);
            assertEquals(List.of(item(1, "one again", 10L, "later update by b"), item(2, "two again", 20L, "later update by a")),
                    pg, "the later update of the note survives the earlier recreate on both rows, whichever arrived first");
        }
    }

    /**
     * A client loses its connection in the middle of a push: once while a large transaction (with a
     * counter increment) is still being sent, once after the relay applied a transaction but before its
     * acknowledgement came back. Nothing is lost and no increment counts twice.
     */
    @Test
    void aConnectionLostDuringAPushLosesAndDoublesNothing() throws Exception {
        try (Cluster c = Cluster.start("rv3_mid_push", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            Client b = c.client("b", LOCAL_ITEM);
            a.exec("INSERT INTO item VALUES (1, 'counter', 100, NULL)");
            a.awaitSynced();
            c.awaitConverged(ITEMS, a, b);

            String pad = "x".repeat(200);
            a.proxy().latency(300); // each 64 KiB chunk waits: the transaction's frame takes seconds
            Connection ac = a.connection();
            ac.setAutoCommit(false);
            try (PreparedStatement ps = ac.prepareStatement("INSERT INTO item VALUES (?, 'bulk', 0, ?)")) {
                for (int i = 2; i <= 3001; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, pad + i);
                    ps.executeUpdate();
                }
            }
            a.exec("UPDATE item SET qty = qty + 7 WHERE id = 1");
            ac.commit();
            ac.setAutoCommit(true);
            Thread.sleep(700); // positions the cut inside the frame; the assertions do not depend on it
            a.offline();
            a.proxy().latency(0);
            a.online();
            a.awaitSynced();

            a.proxy().latency(1500);
            a.exec("UPDATE item SET qty = qty + 3 WHERE id = 1");
            Cluster.eventually(() -> c.pgRows("SELECT qty FROM item WHERE id = 1"),
                    rows -> rows.equals(List.of(row("qty", 110L))));
            a.offline(); // applied, the acknowledgement still in flight
            a.proxy().latency(0);
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(ITEMS, a, b);
            assertEquals(List.of(row("n", 3001L, "q", 110L)),
                    c.pgRows("SELECT count(*) AS n, sum(qty) AS q FROM item"));
        }
    }

    /**
     * Property 4 offline: three clients, all offline, "create the category or add to it" with the same new
     * name; one of them restarts its application while offline, the relay restarts, and they come back one
     * by one. Every amount counts once.
     */
    @Test
    void threeOfflineClientsCreatingTheSameCounterRowAddUp() throws Exception {
        String table = "CREATE TABLE categories (name TEXT PRIMARY KEY, count INTEGER NOT NULL)";
        String upsert = "INSERT INTO categories(name, count) VALUES ('Food', ?)"
                + " ON CONFLICT(name) DO UPDATE SET count = count + excluded.count";
        String all = "SELECT name, count FROM categories ORDER BY name";
        try (Cluster c = Cluster.start("rv3_categories", dir, table)) {
            Client a = c.client("a", table);
            Client b = c.client("b", table);
            Client cc = c.client("c", table);
            a.offline();
            b.offline();
            cc.offline();
            a.exec(upsert, 1);
            b.exec(upsert, 10);
            cc.exec(upsert, 100);
            a.exec(upsert, 2);
            b.exec(upsert, -3);
            b.reopen();
            b.exec(upsert, 20);
            cc.exec(upsert, 200);
            c.restartRelay();
            b.online();
            b.awaitSynced();
            cc.online();
            cc.awaitSynced();
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            cc.awaitSynced();
            c.awaitConverged(all, a, b, cc);
            assertEquals(List.of(row("name", "Food", "count", 330L)), c.pgRows(all));
        }
    }

    /**
     * The same key created offline on two clients, where the key compares without case on both sides
     * (citext in PostgreSQL, COLLATE NOCASE in SQLite, the usual pairing for tags, user names, e-mails):
     * 'Urgent' on a, later 'urgent' on b. PostgreSQL holds one row; every replica must hold that same row,
     * with the later writer's colour.
     */
    @Disabled("Known limit (DESIGN.md, known limits): a key PostgreSQL stores in another spelling (citext case) comes back as another row")
    @Test
    void theSameCaseInsensitiveKeyCreatedOfflineOnTwoClientsConverges() throws Exception {
        String local = "CREATE TABLE tag (name TEXT COLLATE NOCASE PRIMARY KEY, color TEXT)";
        String all = "SELECT CAST(name AS TEXT) AS name, color FROM tag ORDER BY 1";
        try (Cluster c = Cluster.start("rv3_citext", dir, "CREATE EXTENSION IF NOT EXISTS citext",
                "CREATE TABLE tag (name citext PRIMARY KEY, color TEXT)")) {
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            a.offline();
            b.offline();
            a.exec("INSERT INTO tag VALUES ('Urgent', 'red')");
            Thread.sleep(5);
            b.exec("INSERT INTO tag VALUES ('urgent', 'blue')");
            a.online();
            a.awaitSynced();
            b.online();
            b.awaitSynced();
            a.awaitSynced();
            c.awaitConverged(all, a, b);
            List<Map<String, Object>> pg = c.pgRows(all);
            assertEquals(1, pg.size(), "one row: the keys are equal to PostgreSQL and to SQLite");
            assertEquals("blue", pg.get(0).get("color"), "the later insert wins the colour");
        }
    }

    private interface Binder {
        void bind(PreparedStatement ps, int pass, int id) throws Exception;
    }

    private static void write(Client cl, String sql, Binder binder) throws Exception {
        Connection conn = cl.connection();
        conn.setAutoCommit(false);
        try (PreparedStatement ps = conn.prepareStatement(sql)) {
            for (int pass = 0; pass < 4; pass++) {
                for (int i = 1; i <= 400; i++) {
                    binder.bind(ps, pass, i);
                    ps.executeUpdate();
                    if (i % 5 == 0) {
                        conn.commit();
                    }
                }
            }
        }
        conn.commit();
        conn.setAutoCommit(true);
    }
}
