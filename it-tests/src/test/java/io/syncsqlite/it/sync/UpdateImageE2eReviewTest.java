package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Review of be2ad50 end to end: an update's capture holds the key and the changed columns only. PostgreSQL and
 * every client must end with the rows the writers made: concurrent edits of different columns both survive, of
 * the same column the later one wins, NULLs written sync, counters add up, a rejected update is reverted in every
 * column.
 */
class UpdateImageE2eReviewTest {

    private static final String PG = "CREATE TABLE task (id text PRIMARY KEY, title text, priority int,"
            + " score double precision, data bytea, note text)";
    private static final String LOCAL = "CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT, priority INTEGER,"
            + " score REAL, data BLOB, note TEXT)";
    private static final String ALL = "SELECT id, title, priority, score, data, note FROM task ORDER BY id";

    @TempDir
    Path dir;

    private static void seed(Cluster c, Client a, Client b) throws Exception {
        a.exec("INSERT INTO task (id, title, priority, score, data, note) VALUES ('t1', 'start', 1, 1.5, x'0A0B', 'n')");
        a.awaitSynced();
        b.awaitSynced();
        c.awaitConverged(ALL, a, b);
    }

    /** Both clients back online, everything synced, and the same rows as PostgreSQL on both. */
    private static void bothOnlineAndConverged(Cluster c, Client a, Client b) throws Exception {
        a.online();
        b.online();
        a.awaitSynced();
        b.awaitSynced();
        c.awaitConverged(ALL, a, b);
    }

    @Test
    void concurrentEditsOfDifferentColumnsMergeAndTheLaterEditOfOneColumnWins() throws Exception {
        try (Cluster c = Cluster.start("upd_img_merge", dir, PG)) {
            Client a = c.client("a", LOCAL);
            Client b = c.client("b", LOCAL);
            seed(c, a, b);
            a.offline();
            b.offline();
            a.exec("UPDATE task SET title = 'from a', note = NULL, score = 2.5 WHERE id = 't1'");
            Thread.sleep(20); // not a wait: b's clock must read a later millisecond, so that b's score is the later one
            b.exec("UPDATE task SET priority = 7, data = x'FF', score = 3.5 WHERE id = 't1'");
            bothOnlineAndConverged(c, a, b);
            assertEquals(List.of(row("id", "t1", "title", "from a", "priority", 7, "score", 3.5, "data", "ff", "note", null)),
                    c.pgRows(ALL));
        }
    }

    @Test
    void manyUpdatesOfOneRowOfflineEndWithTheWritersRow() throws Exception {
        try (Cluster c = Cluster.start("upd_img_many", dir, PG)) {
            Client a = c.client("a", LOCAL);
            Client b = c.client("b", LOCAL);
            seed(c, a, b);
            a.offline();
            a.transaction("UPDATE task SET title = 'x1' WHERE id = 't1'",
                    "UPDATE task SET title = NULL, priority = 2 WHERE id = 't1'",
                    "UPDATE task SET note = '', data = NULL WHERE id = 't1'");
            a.exec("UPDATE task SET title = 'x2' WHERE id = 't1'");
            a.exec("UPDATE task SET score = NULL, priority = priority WHERE id = 't1'");
            a.exec("UPDATE task SET data = x'', note = NULL WHERE id = 't1'");
            a.exec("UPDATE task SET note = 'last' WHERE id = 't1'");
            List<Map<String, Object>> written = a.rows(ALL);
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(ALL, a, b);
            assertEquals(written, a.rows(ALL));
            assertEquals(written, c.pgRows(ALL));
        }
    }

    @Test
    void aRejectedUpdateIsRevertedInEveryColumn() throws Exception {
        try (Cluster c = Cluster.start("upd_img_reject", dir, PG,
                "ALTER TABLE task ADD CONSTRAINT small_priority CHECK (priority < 100)")) {
            Client a = c.client("a", LOCAL);
            Client b = c.client("b", LOCAL);
            List<Rejection> told = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(told::add);
            seed(c, a, b);
            a.offline();
            a.exec("UPDATE task SET priority = 500, title = 'refused', data = NULL WHERE id = 't1'");
            // Meanwhile b changes a column the refused update did not touch, and writes another row: a's
            // reconnection brings a feed batch as well as the answer to its push.
            b.exec("UPDATE task SET note = 'from b' WHERE id = 't1'");
            b.exec("INSERT INTO task (id, title) VALUES ('t2', 'other')");
            b.awaitSynced();
            a.online();
            Cluster.eventually(told::size, n -> n >= 1);
            a.awaitSynced();
            c.awaitConverged(ALL, a, b);
            assertEquals(1, told.size());
            assertEquals(row("id", "t1", "title", "start", "priority", 1, "score", 1.5, "data", "0a0b", "note", "from b"),
                    a.rows(ALL).get(0));
        }
    }

    @Test
    void rejectedUpdatesAreRevertedWhileAnotherClientKeepsWriting() throws Exception {
        try (Cluster c = Cluster.start("upd_img_reject3", dir, PG,
                "ALTER TABLE task ADD CONSTRAINT small_priority CHECK (priority < 100)")) {
            Client a = c.client("a", LOCAL);
            Client b = c.client("b", LOCAL);
            List<Rejection> told = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(told::add);
            int n = 8;
            for (int i = 0; i < n; i++) {
                a.exec("INSERT INTO task (id, title, priority, score, data, note) VALUES (?, 'start', 1, 1.5, x'0A0B', 'n')",
                        "r" + i);
            }
            a.awaitSynced();
            b.awaitSynced();
            // b writes all the time, so a's feed brings batches while a's refused transactions wait for their answer.
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread writer = new Thread(() -> {
                int k = 0;
                while (!stop.get()) {
                    try {
                        b.exec("INSERT INTO task (id, title) VALUES (?, 'bg')", "bg" + k++);
                        Thread.sleep(2);
                    } catch (Exception e) {
                        return;
                    }
                }
            });
            writer.start();
            try {
                for (int i = 0; i < n; i++) {
                    a.exec("UPDATE task SET priority = 500, title = 'refused' WHERE id = ?", "r" + i);
                    Thread.sleep(60);
                }
                Cluster.eventually(told::size, x -> x >= n);
            } finally {
                stop.set(true);
                writer.join();
            }
            a.awaitSynced();
            b.awaitSynced();
            String refusedRows = "SELECT id, title, priority FROM task WHERE id LIKE 'r%' ORDER BY id";
            assertEquals(c.pgRows(refusedRows), a.rows(refusedRows), "a's refused rows vs PostgreSQL");
            c.awaitConverged(ALL, a, b);
        }
    }

    @Test
    void aRejectedUpdateIsRevertedWhenAFeedBatchCameBeforeItsAnswer() throws Exception {
        try (Cluster c = Cluster.start("upd_img_reject4", dir, PG,
                "ALTER TABLE task ADD CONSTRAINT small_priority CHECK (priority < 100)")) {
            Client a = c.client("a", LOCAL);
            Client b = c.client("b", LOCAL);
            List<Rejection> told = new CopyOnWriteArrayList<>();
            List<String> seenWhenTold = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(r -> {
                // Rejection's contract: told after the transaction was reverted, its rows showing the server's values.
                try (java.sql.Connection raw = java.sql.DriverManager.getConnection("jdbc:sqlite:" + a.file());
                     java.sql.Statement st = raw.createStatement();
                     java.sql.ResultSet rs = st.executeQuery("SELECT title, priority, hex(data) FROM task WHERE id = 't1'")) {
                    rs.next();
                    seenWhenTold.add(rs.getString(1) + "|" + rs.getObject(2) + "|" + rs.getString(3));
                } catch (java.sql.SQLException e) {
                    seenWhenTold.add(e.toString());
                }
                told.add(r);
            });
            seed(c, a, b);
            // A back-office transaction holds t1: the relay's apply of a's push waits for it.
            try (java.sql.Connection lock = c.pg()) {
                lock.setAutoCommit(false);
                try (java.sql.Statement st = lock.createStatement()) {
                    st.execute("SELECT 1 FROM task WHERE id = 't1' FOR UPDATE");
                }
                a.exec("UPDATE task SET priority = 500, title = 'refused', data = NULL WHERE id = 't1'");
                // the relay's apply of a's push is waiting for the lock
                Cluster.eventually(() -> c.pgRows("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        + " AND datname = current_database()").get(0).get("n"), n -> ((Number) n).intValue() > 0);
                // Meanwhile PostgreSQL gets another row directly: a's feed brings it before the answer to its push.
                try (java.sql.Connection direct = c.pg(); java.sql.Statement st = direct.createStatement()) {
                    st.execute("SET statement_timeout = '5s'");
                    st.execute("INSERT INTO task (id, title) VALUES ('t9', 'direct')");
                }
                // the case under test: a's feed brings the direct row before the answer to a's push
                Cluster.eventually(() -> a.rows("SELECT id FROM task WHERE id = 't9'").size(), n -> n == 1);
                assertEquals(0, told.size(), "answered before the lock was released");
                lock.commit();
            }
            Cluster.eventually(told::size, n -> n >= 1);
            a.awaitSynced();
            b.awaitSynced();
            assertEquals(List.of("start|1|0A0B"), seenWhenTold, "t1 when a's listener was told");
            assertEquals(row("id", "t1", "title", "start", "priority", 1, "score", 1.5, "data", "0a0b", "note", "n"),
                    a.rows(ALL).get(0), "a's refused row");
            c.awaitConverged(ALL, a, b);
        }
    }

    @Test
    void aRejectedUpdateIsRevertedInEveryColumnWithoutOtherTraffic() throws Exception {
        try (Cluster c = Cluster.start("upd_img_reject2", dir, PG,
                "ALTER TABLE task ADD CONSTRAINT small_priority CHECK (priority < 100)")) {
            Client a = c.client("a", LOCAL);
            Client b = c.client("b", LOCAL);
            List<Rejection> told = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(told::add);
            seed(c, a, b);
            a.exec("UPDATE task SET priority = 500, title = 'refused', note = NULL WHERE id = 't1'");
            Cluster.eventually(told::size, n -> n >= 1);
            a.awaitSynced();
            c.awaitConverged(ALL, a, b);
            assertEquals(row("id", "t1", "title", "start", "priority", 1, "score", 1.5, "data", "0a0b", "note", "n"),
                    a.rows(ALL).get(0));
        }
    }

    @Test
    void aCaseOnlyChangeInANocaseColumnReachesPostgres() throws Exception {
        try (Cluster c = Cluster.start("upd_img_nocase", dir, "CREATE TABLE person (id text PRIMARY KEY, name text, code text)")) {
            String local = "CREATE TABLE person (id TEXT PRIMARY KEY, name TEXT COLLATE NOCASE, code TEXT COLLATE RTRIM)";
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            a.exec("INSERT INTO person (id, name, code) VALUES ('p1', 'bob', 'x')");
            a.awaitSynced();
            a.exec("UPDATE person SET name = 'Bob', code = 'x  ' WHERE id = 'p1'");
            a.awaitSynced();
            b.awaitSynced();
            String sql = "SELECT id, name, code FROM person ORDER BY id";
            assertEquals(List.of(row("id", "p1", "name", "Bob", "code", "x  ")), a.rows(sql));
            c.awaitConverged(sql, a, b);
        }
    }

    @Test
    void countersAddUpAlongsideOtherColumnChanges() throws Exception {
        try (Cluster c = Cluster.start("upd_img_counter", dir, PG).clientParams("&sync.counters=task.priority")) {
            Client a = c.client("a", LOCAL);
            Client b = c.client("b", LOCAL);
            seed(c, a, b);
            a.offline();
            b.offline();
            for (int i = 0; i < 3; i++) {
                a.exec("UPDATE task SET priority = priority + 1, title = ? WHERE id = 't1'", "a" + i);
            }
            b.exec("UPDATE task SET priority = priority + 10, note = NULL WHERE id = 't1'");
            b.exec("UPDATE task SET data = x'01' WHERE id = 't1'");
            bothOnlineAndConverged(c, a, b);
            assertEquals(List.of(row("id", "t1", "title", "a2", "priority", 14, "score", 1.5, "data", "01", "note", null)),
                    c.pgRows(ALL));
        }
    }

    @Test
    void anApplicationTriggerWritingAnotherColumnSyncs() throws Exception {
        String trigger = "CREATE TRIGGER app_note AFTER UPDATE OF title ON task"
                + " WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) BEGIN"
                + " UPDATE task SET note = 'seen ' || NEW.title WHERE id = NEW.id; END";
        try (Cluster c = Cluster.start("upd_img_trigger", dir, PG)) {
            Client a = c.client("a", LOCAL, trigger);
            Client b = c.client("b", LOCAL, trigger);
            seed(c, a, b);
            a.offline();
            a.exec("UPDATE task SET title = 'one', priority = 2 WHERE id = 't1'");
            a.exec("PRAGMA recursive_triggers = ON");
            a.exec("UPDATE task SET title = 'two' WHERE id = 't1'");
            b.exec("UPDATE task SET score = 9.5 WHERE id = 't1'");
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(ALL, a, b);
            assertEquals(List.of(row("id", "t1", "title", "two", "priority", 2, "score", 9.5, "data", "0a0b",
                    "note", "seen two")), c.pgRows(ALL));
        }
    }

    @Test
    void wideTablesSyncTheColumnsAnUpdateChanged() throws Exception {
        int n = 60;
        StringJoiner pg = new StringJoiner(", ", "CREATE TABLE wide (id bigint PRIMARY KEY, ", ")");
        StringJoiner local = new StringJoiner(", ", "CREATE TABLE wide (id INTEGER PRIMARY KEY, ", ")");
        StringJoiner pg20 = new StringJoiner(", ", "CREATE TABLE wide20 (id bigint PRIMARY KEY, ", ")");
        StringJoiner local20 = new StringJoiner(", ", "CREATE TABLE wide20 (id INTEGER PRIMARY KEY, ", ")");
        StringJoiner cols = new StringJoiner(", ");
        StringJoiner vals = new StringJoiner(", ");
        for (int i = 1; i < n; i++) {
            pg.add("c" + i + " text");
            local.add("c" + i + " TEXT");
            if (i < 20) {
                pg20.add("c" + i + " text");
                local20.add("c" + i + " TEXT");
            }
        }
        for (int i = 1; i < 20; i++) {
            cols.add("c" + i);
            vals.add("'v" + i + "'");
        }
        try (Cluster c = Cluster.start("upd_img_wide", dir, pg.toString(), pg20.toString())) {
            Client a = c.client("a", local.toString(), local20.toString());
            Client b = c.client("b", local.toString(), local20.toString());
            for (String t : List.of("wide", "wide20")) {
                a.exec("INSERT INTO " + t + " (id, " + cols + ") VALUES (1, " + vals + ")");
            }
            a.awaitSynced();
            b.awaitSynced();
            a.offline();
            b.offline();
            for (String t : List.of("wide", "wide20")) {
                a.exec("UPDATE " + t + " SET c3 = 'a', c4 = NULL WHERE id = 1");
                b.exec("UPDATE " + t + " SET c5 = 'b', c19 = NULL WHERE id = 1");
            }
            a.exec("UPDATE wide SET c59 = 'last' WHERE id = 1");
            a.online();
            b.online();
            a.awaitSynced();
            b.awaitSynced();
            for (String t : List.of("wide", "wide20")) {
                c.awaitConverged("SELECT * FROM " + t + " ORDER BY id", a, b);
                Map<String, Object> r = c.pgRows("SELECT * FROM " + t).get(0);
                assertEquals("a", r.get("c3"), t);
                assertEquals(null, r.get("c4"), t);
                assertEquals("b", r.get("c5"), t);
                assertEquals(null, r.get("c19"), t);
                assertEquals("v1", r.get("c1"), t);
            }
            assertEquals("last", c.pgRows("SELECT c59 FROM wide").get(0).get("c59"));
        }
    }
}
