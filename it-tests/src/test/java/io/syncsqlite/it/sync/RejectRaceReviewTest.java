package io.syncsqlite.it.sync;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Review of races between a rejection's logged images and other writers of the same rows (after af8e061, which
 * locks the rows a rejection logs before reading them). A relay transaction is held inside its COMMIT, after it drew
 * its commit mark, by a deferred constraint trigger that sleeps while a flag row exists in schema side. Two cases
 * failed on af8e061 and were fixed the same session: a rejected transaction naming a key PostgreSQL refuses as data
 * lost every lock of its rejection (the savepoint rolled back for the refused key released them all), and its other
 * rows' stale images reached the feed after the newer ones.
 */
class RejectRaceReviewTest {

    /**
     * A parent and its child table, and a deferred trigger holding the relay's parent restoration (node
     * ~compensation) inside its COMMIT while side.stall has a row. The CHECK lets a transaction be rejected.
     */
    private static final String[] RESTORE_DDL = {
        "CREATE TABLE p (id int PRIMARY KEY, v int CHECK (v >= 0))",
        "CREATE TABLE ch (id int PRIMARY KEY, pid int REFERENCES p (id))",
        "CREATE SCHEMA side",
        "CREATE TABLE side.stall (on_ boolean)",
        "CREATE FUNCTION side.hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                + " WHILE coalesce(current_setting('syncsqlite.node', true), '') = '~compensation'"
                + " AND EXISTS (SELECT FROM side.stall) LOOP PERFORM pg_sleep(0.05); END LOOP; RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER hold AFTER INSERT ON p DEFERRABLE INITIALLY DEFERRED"
                + " FOR EACH ROW EXECUTE FUNCTION side.hold()",
    };

    private static String[] ddl(String holdNode) {
        return new String[] {
            "CREATE TABLE t (id varchar(5) PRIMARY KEY, v int)",
            "CREATE SCHEMA side",
            "CREATE TABLE side.stall (on_ boolean)",
            "CREATE FUNCTION side.hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    + " WHILE coalesce(current_setting('syncsqlite.node', true), '') = '" + holdNode + "'"
                    + " AND EXISTS (SELECT FROM side.stall) LOOP PERFORM pg_sleep(0.05); END LOOP; RETURN NULL; END $$",
            "CREATE CONSTRAINT TRIGGER hold AFTER INSERT OR UPDATE ON t DEFERRABLE INITIALLY DEFERRED"
                    + " FOR EACH ROW EXECUTE FUNCTION side.hold()",
        };
    }

    /**
     * A rejected transaction that names a key PostgreSQL refuses as data (a text key longer than the varchar(5)
     * column: SQLite has no such limit) and a row another client is updating. lockForRead's key-lock step fails on
     * the bad key, its savepoint is rolled back and NO row is locked, so the rejection reads row x under B's
     * transaction (which drew its commit mark first) and logs the old image after B's newer one.
     */
    @Test
    void aRejectionNamingAKeyTooLongReadsItsOtherRowsWithoutLocks() {
        try (RelayFixture f = RelayFixture.start("rjrace1", ddl("rr1-b"))) {
            f.execute("INSERT INTO t VALUES ('x', 0)");
            long hlc = Hlc.ofMillis(System.currentTimeMillis());
            try (TestClient c = f.client("rr1-c", 0);
                 TestClient b = f.client("rr1-b", 0);
                 TestClient a = f.client("rr1-a", 0)) {
                f.execute("INSERT INTO side.stall VALUES (true)");
                b.push(tx(1, hlc + 1, update("t", obj("id", "x"), obj("v", 1))));
                awaitHeldInCommit(f);
                a.push(tx(1, hlc + 2, update("t", obj("id", "x"), obj("v", 2)),
                        insert("t", obj("id", "toolongkey"), obj("v", 9))));
                // A's rejection waits for B's commit mark (advisory lock) after reading its rows.
                await().atMost(Duration.ofSeconds(20)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                        + " WHERE datname = current_database() AND wait_event_type = 'Lock'") >= 1
                        || a.messages().stream().anyMatch(m -> m instanceof Message.Reject));
                f.execute("DELETE FROM side.stall");
                b.awaitAck(1);
                Message.Reject r = a.awaitReject(1);
                assertEquals("1", f.query("SELECT v FROM t WHERE id = 'x'").get(0).get(0));
                c.awaitCursor(f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log"));
                assertEquals(1, lastV(c.entries(), "x"), "observer's x after the feed (PostgreSQL has 1)");
                assertEquals(1, lastV(r.current(), "x"), "the rejected client's revert image of x (PostgreSQL has 1)");
            }
        }
    }

    /**
     * Compensation restores a deleted parent (client A's child refers to it) in a transaction of its own that takes
     * no relay key lock. Held in its COMMIT after drawing its commit mark, its inserted parent is invisible to
     * client B's transaction on that parent (an update older than the delete, which loses), which reads the parent
     * as absent unless something serializes it (a guard: passes, B's attempt waits on the restore's row_clock lock).
     */
    @Test
    void aRestoredParentRacingALosingUpdateOfItConverges() {
        restoreRace("rjrace2", update("p", obj("id", 1), obj("v", 20)));
    }

    /** As above, B deleting the (already deleted) parent again. */
    @Test
    void aRestoredParentRacingASecondDeleteOfItConverges() {
        restoreRace("rjrace3", io.syncsqlite.it.support.Json.delete("p", obj("id", 1)));
    }

    private static void restoreRace(String db, io.syncsqlite.protocol.RowChange bOp) {
        try (RelayFixture f = RelayFixture.start(db, RESTORE_DDL)) {
            long old = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
            f.execute("INSERT INTO p VALUES (1, 10)");
            f.execute("DELETE FROM p WHERE id = 1");
            long hlc = Hlc.ofMillis(System.currentTimeMillis() + 1000);
            try (TestClient c = f.client("rr2-c", 0);
                 TestClient b = f.client("rr2-b", 0);
                 TestClient a = f.client("rr2-a", 0)) {
                f.execute("INSERT INTO side.stall VALUES (true)");
                a.push(tx(1, hlc, insert("ch", obj("id", 1), obj("pid", 1))));
                awaitHeldInCommit(f);
                b.push(tx(1, old, bOp));
                await().atMost(Duration.ofSeconds(20)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                        + " WHERE datname = current_database() AND wait_event_type = 'Lock'") >= 1
                        || b.messages().stream().anyMatch(m -> m instanceof Message.Ack));
                f.execute("DELETE FROM side.stall");
                a.awaitAck(1);
                b.awaitOutcome(1);
                List<List<String>> pg = f.query("SELECT id, v FROM p");
                c.awaitCursor(f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log"));
                FeedEntry last = c.entries().stream().filter(e -> "p".equals(e.table()) && e.pk().get("id").asInt() == 1)
                        .reduce((x, y) -> y).orElseThrow();
                assertEquals(pg.isEmpty() ? "absent" : "v=" + pg.get(0).get(1),
                        last.row() == null ? "absent" : "v=" + last.row().get("v").asInt(),
                        "observer's parent 1 after the feed against PostgreSQL's");
                assertEquals(List.of(List.of("1", "10")), pg, "the restored parent in PostgreSQL");
                assertEquals(1, f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl = 'p' AND alive"),
                        "the restored parent's clock row is alive");
            }
        }
    }

    /**
     * Not a rejection: the apply path's logUntouchedRows. Client A deletes (with an old clock) a key that is absent
     * in PostgreSQL, while a direct writer re-creates that key and is inside its COMMIT, its commit mark drawn (a
     * deferred constraint trigger of the application holds it there; any commit has that window). The relay reads
     * the key as absent (nothing to lock), logs that image for A, and draws its mark after the direct writer's: A
     * hears the insert, then "absent", unless the row_clock lock serializes them (a guard: passes, it does).
     */
    @Test
    void aDirectInsertCommittingWhileAClientDeletesTheAbsentKeyConverges() throws Exception {
        String[] ddl = {
            "CREATE TABLE t (id int PRIMARY KEY, v int)",
            "CREATE SCHEMA side",
            "CREATE TABLE side.stall (on_ boolean)",
            "CREATE TABLE side.tick (x int)",
            "CREATE FUNCTION side.hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    + " WHILE EXISTS (SELECT FROM side.stall) LOOP PERFORM pg_sleep(0.05); END LOOP; RETURN NULL; END $$",
            // Fires at COMMIT after the commit-mark event (queued by the earlier insert into t).
            "CREATE CONSTRAINT TRIGGER hold AFTER INSERT ON side.tick DEFERRABLE INITIALLY DEFERRED"
                    + " FOR EACH ROW EXECUTE FUNCTION side.hold()",
        };
        try (RelayFixture f = RelayFixture.start("rjrace4", ddl)) {
            try (TestClient c = f.client("rr4-c", 0);
                 TestClient a = f.client("rr4-a", 0)) {
                f.execute("INSERT INTO t VALUES (1, 5)");
                f.execute("DELETE FROM t WHERE id = 1");
                long old = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
                f.execute("INSERT INTO side.stall VALUES (true)");
                java.util.concurrent.CompletableFuture<Void> psql = java.util.concurrent.CompletableFuture.runAsync(() -> {
                    try (java.sql.Connection pc = f.connection()) {
                        pc.setAutoCommit(false);
                        try (java.sql.Statement st = pc.createStatement()) {
                            st.execute("INSERT INTO t VALUES (1, 7)");
                            st.execute("INSERT INTO side.tick VALUES (1)");
                        }
                        pc.commit();
                    } catch (java.sql.SQLException e) {
                        throw new RuntimeException(e);
                    }
                });
                awaitHeldInCommit(f);
                a.push(tx(1, old, io.syncsqlite.it.support.Json.delete("t", obj("id", 1))));
                await().atMost(Duration.ofSeconds(20)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                        + " WHERE datname = current_database() AND wait_event_type = 'Lock'") >= 1
                        || a.messages().stream().anyMatch(m -> m instanceof Message.Ack || m instanceof Message.Reject));
                f.execute("DELETE FROM side.stall");
                psql.get(20, java.util.concurrent.TimeUnit.SECONDS);
                a.awaitOutcome(1);
                List<List<String>> pg = f.query("SELECT v FROM t WHERE id = 1");
                long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
                c.awaitCursor(head);
                a.awaitCursor(head);
                String want = pg.isEmpty() ? "absent" : "v=" + pg.get(0).get(0);
                assertEquals(want, show(lastRow(c.entries(), "t", 1)), "observer's row 1 against PostgreSQL's");
                assertEquals(want, show(lastRow(a.entries(), "t", 1)), "client A's row 1 against PostgreSQL's");
                assertEquals(pg.size(), f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl = 't' AND alive"),
                        "row_clock's alive rows against the table");
            }
        }
    }

    static FeedEntry lastRow(List<FeedEntry> entries, String table, int id) {
        return entries.stream().filter(e -> table.equals(e.table()) && e.pk().get("id").asInt() == id)
                .reduce((x, y) -> y).orElse(null);
    }

    static String show(FeedEntry e) {
        return e == null || e.row() == null ? "absent" : "v=" + e.row().get("v").asInt();
    }

    /**
     * The same with the refused key in another table: a text key holding U+0000 (SQLite stores it, PostgreSQL's
     * text cannot), in a log table written in the same transaction as row x. One such key anywhere in the
     * transaction leaves every row of its rejection unlocked.
     */
    @Test
    void aKeyWithANulCharacterInAnotherTableLeavesTheRejectionsRowsUnlocked() {
        String[] ddl = java.util.stream.Stream.concat(java.util.Arrays.stream(ddl("rr5-b")),
                java.util.stream.Stream.of("CREATE TABLE log (k text PRIMARY KEY, note text)")).toArray(String[]::new);
        try (RelayFixture f = RelayFixture.start("rjrace5", ddl)) {
            f.execute("INSERT INTO t VALUES ('x', 0)");
            long hlc = Hlc.ofMillis(System.currentTimeMillis());
            try (TestClient c = f.client("rr5-c", 0);
                 TestClient b = f.client("rr5-b", 0);
                 TestClient a = f.client("rr5-a", 0)) {
                f.execute("INSERT INTO side.stall VALUES (true)");
                b.push(tx(1, hlc + 1, update("t", obj("id", "x"), obj("v", 1))));
                awaitHeldInCommit(f);
                a.push(tx(1, hlc + 2, update("t", obj("id", "x"), obj("v", 2)),
                        insert("log", obj("k", "a\u0000b"), obj("note", "n"))));
                await().atMost(Duration.ofSeconds(20)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                        + " WHERE datname = current_database() AND wait_event_type = 'Lock'") >= 1
                        || a.messages().stream().anyMatch(m -> m instanceof Message.Reject));
                f.execute("DELETE FROM side.stall");
                b.awaitAck(1);
                a.awaitReject(1);
                assertEquals("1", f.query("SELECT v FROM t WHERE id = 'x'").get(0).get(0));
                c.awaitCursor(f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log"));
                assertEquals(1, lastV(c.entries(), "x"), "observer's x after the feed (PostgreSQL has 1)");
            }
        }
    }

    /**
     * As the restore races above, but B's transaction is rejected (a CHECK violation on another row). The
     * rejection's locks (key locks, FOR UPDATE) cannot see the restore, which takes no relay key lock: the parent,
     * inserted but not yet committed, is read as absent and logged so for B after the restore's commit, and B
     * deletes the parent for good while PostgreSQL has it, unless B's failed attempt already waited for the
     * restore (a guard: passes, the attempt's clock read waits on the restore's row_clock lock).
     */
    @Test
    void aRejectionNamingAParentTheRestoreIsCommittingConverges() {
        try (RelayFixture f = RelayFixture.start("rjrace6", RESTORE_DDL)) {
            long old = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
            f.execute("INSERT INTO p VALUES (1, 10)");
            f.execute("DELETE FROM p WHERE id = 1");
            long hlc = Hlc.ofMillis(System.currentTimeMillis() + 1000);
            try (TestClient c = f.client("rr6-c", 0);
                 TestClient b = f.client("rr6-b", 0);
                 TestClient a = f.client("rr6-a", 0)) {
                f.execute("INSERT INTO side.stall VALUES (true)");
                a.push(tx(1, hlc, insert("ch", obj("id", 1), obj("pid", 1))));
                awaitHeldInCommit(f);
                b.push(tx(1, old, update("p", obj("id", 1), obj("v", 20)), insert("p", obj("id", 2), obj("v", -1))));
                await().atMost(Duration.ofSeconds(20)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                        + " WHERE datname = current_database() AND wait_event_type = 'Lock'") >= 1
                        || b.messages().stream().anyMatch(m -> m instanceof Message.Reject));
                f.execute("DELETE FROM side.stall");
                a.awaitAck(1);
                b.awaitReject(1);
                List<List<String>> pg = f.query("SELECT v FROM p WHERE id = 1");
                assertEquals(List.of(List.of("10")), pg, "the restored parent in PostgreSQL");
                long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
                c.awaitCursor(head);
                b.awaitCursor(head);
                assertEquals("v=10", show(lastRow(c.entries(), "p", 1)), "observer's parent 1 (PostgreSQL has v=10)");
                assertEquals("v=10", show(lastRow(b.entries(), "p", 1)), "client B's parent 1 (PostgreSQL has v=10)");
            }
        }
    }

    static void awaitHeldInCommit(RelayFixture f) {
        await().atMost(Duration.ofSeconds(20)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                + " WHERE datname = current_database() AND wait_event = 'PgSleep'") >= 1);
    }

    static int lastV(List<FeedEntry> entries, String id) {
        FeedEntry last = entries.stream().filter(e -> "t".equals(e.table()) && id.equals(e.pk().get("id").asText()))
                .reduce((x, y) -> y).orElseThrow();
        return last.row() == null ? -1 : last.row().get("v").asInt();
    }
}
