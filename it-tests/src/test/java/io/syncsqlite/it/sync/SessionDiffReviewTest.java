package io.syncsqlite.it.sync;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.PGConnection;

import java.io.StringReader;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Review (2026-12-06) of the twenty-fourth session's changes: the commit mark on syncsqlite.change, the relay's plain
 * inserts, CREATE TRIGGER read as one statement, and SyncNode refusing a second set of sync options. Two cases
 * failed and were fixed the same session (a CREATE TRIGGER followed by an INSERT in one executeUpdate string: the
 * trigger's write was captured first, PostgreSQL refused the transaction and the device reverted its committed row);
 * one is disabled as a documented limit (a DataSource without options opened first keeps a configured pool out).
 */
class SessionDiffReviewTest {

    private static final String PG_NOTE = "CREATE TABLE note (id int PRIMARY KEY, title text)";
    private static final String LOCAL_NOTE = "CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT)";
    private static final String PG_ITEM = "CREATE TABLE item (id bigserial PRIMARY KEY, note_id int REFERENCES note ON DELETE CASCADE, label text)";
    private static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, note_id INTEGER, label TEXT)";
    private static final String NOTES = "SELECT id, title FROM note ORDER BY id";
    private static final String ITEMS = "SELECT id, note_id, label FROM item ORDER BY id";

    @TempDir
    Path dir;

    private static void pgTx(Cluster c, String... sql) throws Exception {
        try (Connection conn = c.pg()) {
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                for (String s : sql) {
                    st.execute(s);
                }
            }
            conn.commit();
        }
    }

    /** Every transaction with change rows has exactly one commit mark, and no mark has two rows. */
    private static void assertOneMarkPerWritingTransaction(Cluster c, String step) throws Exception {
        assertEquals(List.of(row("n", 0L)), c.pgRows("SELECT count(*) AS n FROM (SELECT DISTINCT xid FROM syncsqlite.change) AS ch"
                + " WHERE NOT EXISTS (SELECT FROM syncsqlite.commit_log AS l WHERE l.xid = ch.xid)"), step + ": unmarked writes");
        assertEquals(List.of(row("n", 0L)), c.pgRows("SELECT count(*) - count(DISTINCT xid) AS n FROM syncsqlite.commit_log"),
                step + ": a transaction marked twice");
    }

    private static long marks(Cluster c) throws Exception {
        return ((Number) c.pgRows("SELECT count(*) AS n FROM syncsqlite.commit_log").get(0).get("n")).longValue();
    }

    // -------------------------------------------------------------------------------------------------------------
    // 1. The commit mark on syncsqlite.change.

    @Test
    void everyKindOfDirectTransactionIsMarkedOnceAndReachesTheClient() throws Exception {
        try (Cluster c = Cluster.start("sd_kinds", dir, PG_NOTE, PG_ITEM, "INSERT INTO note VALUES (1, 'one'), (2, 'two')")) {
            Client a = c.client("a", LOCAL_NOTE, LOCAL_ITEM);
            c.awaitConverged(NOTES, a);

            // A savepoint rolled back after the first write, then another write.
            pgTx(c, "SAVEPOINT s", "INSERT INTO note VALUES (3, 'rolled back')", "ROLLBACK TO SAVEPOINT s",
                    "INSERT INTO note VALUES (4, 'after rollback to')");
            c.awaitConverged(NOTES, a);
            assertOneMarkPerWritingTransaction(c, "savepoint");
            // A savepoint rolled back after the second write: the first write's mark must stay.
            pgTx(c, "INSERT INTO note VALUES (5, 'kept')", "SAVEPOINT s", "UPDATE note SET title = 'gone' WHERE id = 5",
                    "ROLLBACK TO SAVEPOINT s");
            c.awaitConverged(NOTES, a);
            assertOneMarkPerWritingTransaction(c, "savepoint 2");
            // Nested savepoints, the inner released, the outer rolled back, then a write.
            pgTx(c, "SAVEPOINT o", "SAVEPOINT i", "INSERT INTO note VALUES (6, 'x')", "RELEASE SAVEPOINT i",
                    "ROLLBACK TO SAVEPOINT o", "UPDATE note SET title = 'nested' WHERE id = 1");
            c.awaitConverged(NOTES, a);
            assertOneMarkPerWritingTransaction(c, "nested savepoints");
            // SET CONSTRAINTS ALL IMMEDIATE, then writes, then DEFERRED again and more writes.
            pgTx(c, "SET CONSTRAINTS ALL IMMEDIATE", "INSERT INTO note VALUES (7, 'imm')",
                    "UPDATE note SET title = 'imm2' WHERE id = 7", "SET CONSTRAINTS ALL DEFERRED", "INSERT INTO note VALUES (8, 'def')");
            c.awaitConverged(NOTES, a);
            assertOneMarkPerWritingTransaction(c, "set constraints");
            // The first write's event fired early inside a savepoint that is then rolled back: PostgreSQL queues it
            // again, while the flag set by the first write stays; released instead, then more writes.
            pgTx(c, "INSERT INTO note VALUES (20, 'sp imm')", "SAVEPOINT s", "SET CONSTRAINTS ALL IMMEDIATE",
                    "ROLLBACK TO SAVEPOINT s", "UPDATE note SET title = 'sp imm 2' WHERE id = 20");
            c.awaitConverged(NOTES, a);
            assertOneMarkPerWritingTransaction(c, "immediate in a rolled back savepoint");
            pgTx(c, "INSERT INTO note VALUES (21, 'sp rel')", "SAVEPOINT s", "SET CONSTRAINTS ALL IMMEDIATE",
                    "RELEASE SAVEPOINT s", "UPDATE note SET title = 'sp rel 2' WHERE id = 21");
            c.awaitConverged(NOTES, a);
            assertOneMarkPerWritingTransaction(c, "immediate in a released savepoint");
            // A write that captures nothing, then a real write.
            long before = marks(c);
            pgTx(c, "UPDATE note SET title = 'none' WHERE id = 999");
            assertEquals(before, marks(c), "an update of no row marks a commit");
            pgTx(c, "UPDATE note SET title = 'none' WHERE id = 999", "UPDATE note SET title = 'real' WHERE id = 2");
            c.awaitConverged(NOTES, a);
            // Writes, then TRUNCATE ... CASCADE RESTART IDENTITY, then writes, in one transaction.
            pgTx(c, "INSERT INTO item (note_id, label) VALUES (1, 'i1'), (2, 'i2')");
            c.awaitConverged(ITEMS, a);
            pgTx(c, "INSERT INTO item (note_id, label) VALUES (4, 'i3')", "UPDATE note SET title = 'pre-trunc' WHERE id = 4",
                    "TRUNCATE note RESTART IDENTITY CASCADE", "INSERT INTO note VALUES (10, 'ten')",
                    "INSERT INTO item (note_id, label) VALUES (10, 'after')");
            c.awaitConverged(NOTES, a);
            c.awaitConverged(ITEMS, a);
            assertEquals(List.of(row("id", 10, "title", "ten")), a.rows(NOTES));
            assertOneMarkPerWritingTransaction(c, "truncate cascade");
            // Writes from a PL/pgSQL function and a DO block.
            c.pg("CREATE FUNCTION add_note(i int, t text) RETURNS void LANGUAGE plpgsql AS $$BEGIN"
                    + " INSERT INTO note VALUES (i, t); UPDATE note SET title = t || '+' WHERE id = i; END$$");
            pgTx(c, "SELECT add_note(11, 'fn')", "DO $$BEGIN PERFORM add_note(12, 'do'); END$$");
            c.awaitConverged(NOTES, a);
            assertOneMarkPerWritingTransaction(c, "plpgsql");
            // COPY FROM.
            try (Connection pg = c.pg()) {
                pg.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY note (id, title) FROM STDIN",
                        new StringReader("13\tcopied\n14\tcopied too\n"));
            }
            c.awaitConverged(NOTES, a);
            assertOneMarkPerWritingTransaction(c, "copy");
            assertEquals(5, a.rows(NOTES).size(), a.rows(NOTES).toString());
        }
    }

    /** Two direct transactions committing in the opposite order of their first writes, on the same and other rows. */
    @Test
    void concurrentDirectTransactionsCommittingOutOfOrderBothReachTheClient() throws Exception {
        try (Cluster c = Cluster.start("sd_order", dir, PG_NOTE, "INSERT INTO note VALUES (1, 'one')")) {
            Client a = c.client("a", LOCAL_NOTE);
            c.awaitConverged(NOTES, a);
            try (Connection t1 = c.pg(); Connection t2 = c.pg()) {
                t1.setAutoCommit(false);
                t2.setAutoCommit(false);
                try (Statement s1 = t1.createStatement(); Statement s2 = t2.createStatement()) {
                    s1.execute("INSERT INTO note VALUES (2, 'first writer')");
                    s2.execute("INSERT INTO note VALUES (3, 'second writer')");
                    s2.execute("UPDATE note SET title = 'by second' WHERE id = 1");
                    s1.execute("INSERT INTO note VALUES (4, 'first writer again')");
                    t2.commit();
                    t1.commit();
                }
            }
            c.awaitConverged(NOTES, a);
            assertEquals(4, a.rows(NOTES).size());
            assertOneMarkPerWritingTransaction(c, "concurrent");
        }
    }

    /**
     * Now that the commit mark is off the synced tables, a transaction that wrote a table may also ALTER it (PostgreSQL
     * refused that with a pending trigger event on the table): add a column and fill it, drop a column written before.
     */
    @Test
    void writeThenAlterTheTableInOneTransaction() throws Exception {
        try (Cluster c = Cluster.start("sd_alter", dir, "CREATE TABLE note (id int PRIMARY KEY, title text, extra text)",
                "INSERT INTO note VALUES (1, 'one', 'e1')")) {
            Client a = c.client("a", "CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT, extra TEXT)");
            c.awaitConverged(NOTES, a);
            pgTx(c, "INSERT INTO note VALUES (2, 'two', 'e2')", "UPDATE note SET extra = 'gone soon' WHERE id = 1",
                    "ALTER TABLE note DROP COLUMN extra", "UPDATE note SET title = 'one after drop' WHERE id = 1");
            c.awaitConverged(NOTES, a);
            pgTx(c, "UPDATE note SET title = 'two before add' WHERE id = 2", "ALTER TABLE note ADD COLUMN more text",
                    "UPDATE note SET more = 'm', title = 'two after add' WHERE id = 2", "INSERT INTO note VALUES (3, 'three', 'm3')");
            c.awaitConverged(NOTES, a);
            a.exec("UPDATE note SET title = 'from client' WHERE id = 3");
            a.awaitSynced();
            c.awaitConverged(NOTES, a);
            assertEquals(List.of(row("id", 1, "title", "one after drop"), row("id", 2, "title", "two after add"),
                    row("id", 3, "title", "from client")), c.pgRows(NOTES));
        }
    }

    /**
     * The only synced write of a transaction made at commit, by an application's deferred constraint trigger (on a
     * temporary table, which is not synced): the commit-mark event is queued while deferred events fire.
     */
    @Test
    void aSyncedWriteMadeOnlyAtCommitByADeferredTrigger() throws Exception {
        try (Cluster c = Cluster.start("sd_deferred", dir, PG_NOTE, "INSERT INTO note VALUES (1, 'one')",
                "CREATE FUNCTION at_commit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN"
                        + " INSERT INTO public.note VALUES (NEW.id, 'at commit'); RETURN NULL; END$$")) {
            Client a = c.client("a", LOCAL_NOTE);
            c.awaitConverged(NOTES, a);
            try (Connection pg = c.pg()) {
                try (Statement st = pg.createStatement()) {
                    st.execute("CREATE TEMP TABLE src (id int)");
                    st.execute("CREATE CONSTRAINT TRIGGER later AFTER INSERT ON src DEFERRABLE INITIALLY DEFERRED"
                            + " FOR EACH ROW EXECUTE FUNCTION at_commit()");
                }
                pg.setAutoCommit(false);
                try (Statement st = pg.createStatement()) {
                    st.execute("INSERT INTO src VALUES (30)");
                }
                pg.commit();
            }
            c.awaitConverged(NOTES, a);
            assertEquals(2, a.rows(NOTES).size());
            assertOneMarkPerWritingTransaction(c, "deferred");
        }
    }

    /** Retention's deletes from the change log must not draw a commit mark. */
    @Test
    void deletingChangeRowsMarksNoCommit() throws Exception {
        try (Cluster c = Cluster.start("sd_ret", dir, PG_NOTE, "INSERT INTO note VALUES (1, 'one'), (2, 'two')")) {
            long before = marks(c);
            pgTx(c, "DELETE FROM syncsqlite.change WHERE id = (SELECT min(id) FROM syncsqlite.change)");
            assertEquals(before, marks(c));
        }
    }

    /** An upgrade from the previous version: a commit trigger with WHEN on each synced table, and syncsqlite.truncation. */
    @Test
    void upgradeFromThePerTableCommitTriggerWithWhen() throws Exception {
        try (Cluster c = Cluster.start("sd_upgrade", dir, PG_NOTE, "INSERT INTO note VALUES (1, 'one'), (2, 'two')")) {
            Client a = c.client("a", LOCAL_NOTE);
            c.awaitConverged(NOTES, a);
            String when = "CASE WHEN coalesce(current_setting('syncsqlite.queued', true), '') = ''"
                    + " THEN set_config('syncsqlite.queued', '1', true) = '1' ELSE false END";
            c.stopRelay();
            c.pg("DROP TRIGGER syncsqlite_commit ON syncsqlite.change",
                    "CREATE CONSTRAINT TRIGGER syncsqlite_commit AFTER INSERT OR UPDATE OR DELETE ON note DEFERRABLE"
                            + " INITIALLY DEFERRED FOR EACH ROW WHEN (" + when + ") EXECUTE FUNCTION syncsqlite.commit_mark_trigger()",
                    "CREATE TABLE syncsqlite.truncation (xid xid8 PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())",
                    "CREATE CONSTRAINT TRIGGER syncsqlite_commit AFTER INSERT OR UPDATE OR DELETE ON syncsqlite.truncation DEFERRABLE"
                            + " INITIALLY DEFERRED FOR EACH ROW WHEN (" + when + ") EXECUTE FUNCTION syncsqlite.commit_mark_trigger()");
            c.startRelay();
            assertEquals(List.of(row("n", 1L)), c.pgRows("SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'syncsqlite_commit'"));
            pgTx(c, "UPDATE note SET title = 'w' WHERE id = 1", "TRUNCATE note", "INSERT INTO note VALUES (3, 'three')");
            c.awaitConverged(NOTES, a);
            assertEquals(List.of(row("id", 3, "title", "three")), a.rows(NOTES));
            assertOneMarkPerWritingTransaction(c, "upgrade");
        }
    }

    // -------------------------------------------------------------------------------------------------------------
    // 2. Plain inserts.

    /**
     * A PostgreSQL trigger on one synced table inserts the key a client's transaction inserts next into another
     * synced table whose primary key constraint has a name needing quotes; a unique index that is no constraint
     * refuses a later client row (a rejection, not a stuck client).
     */
    @Test
    void oddlyNamedPrimaryKeyAndUniqueIndexThatIsNoConstraint() throws Exception {
        try (Cluster c = Cluster.start("sd_odd", dir, PG_NOTE,
                "CREATE TABLE tag (id int, label text, CONSTRAINT \"Tag's Key\" PRIMARY KEY (id))",
                "CREATE UNIQUE INDEX \"Label Once\" ON tag (lower(label))",
                "CREATE FUNCTION mk_tag() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN"
                        + " INSERT INTO tag VALUES (NEW.id, 'auto' || NEW.id); RETURN NULL; END$$",
                "CREATE TRIGGER mk AFTER INSERT ON note FOR EACH ROW EXECUTE FUNCTION mk_tag()")) {
            String tags = "SELECT id, label FROM tag ORDER BY id";
            Client a = c.client("a", LOCAL_NOTE, "CREATE TABLE tag (id INTEGER PRIMARY KEY, label TEXT)");
            a.transaction("INSERT INTO note VALUES (1, 'n')", "INSERT INTO tag VALUES (1, 'client')");
            a.awaitSynced();
            c.awaitConverged(tags, a);
            c.awaitConverged(NOTES, a);
            assertEquals(1, c.pgRows(tags).size());
            // A label only the expression index refuses.
            String taken = String.valueOf(c.pgRows(tags).get(0).get("label"));
            a.exec("INSERT INTO tag VALUES (50, ?)", taken.toUpperCase());
            a.exec("INSERT INTO tag VALUES (51, 'fine')");
            a.awaitSynced();
            c.awaitConverged(tags, a);
            assertEquals(List.of(row("id", 1, "label", c.pgRows(tags).get(0).get("label")), row("id", 51, "label", "fine")),
                    c.pgRows(tags));
        }
    }

    // -------------------------------------------------------------------------------------------------------------
    // 3. CREATE TRIGGER as one statement.

    private static final String TRG = "CREATE TRIGGER bang AFTER INSERT ON note WHEN CASE WHEN NEW.title IS NULL THEN 0 ELSE 1 END"
            + " BEGIN UPDATE note SET title = NEW.title || CASE WHEN NEW.id > 100 THEN '!!' ELSE '!' END WHERE id = NEW.id;"
            + " INSERT OR REPLACE INTO item (id, note_id, label) VALUES (NEW.id, NEW.id, 'auto'); END";

    private void triggerThenInsert(String name, SqlRun run) throws Exception {
        try (Cluster c = Cluster.start("sd_trg_" + name, dir, PG_NOTE, PG_ITEM)) {
            Client a = c.client("a", LOCAL_NOTE, LOCAL_ITEM);
            run.run(a.connection());
            assertEquals(List.of(row("id", 1, "title", "x!")), a.rows(NOTES), name + ": local rows right after");
            a.awaitSynced();
            c.awaitConverged(NOTES, a);
            c.awaitConverged(ITEMS, a);
            assertEquals(List.of(row("id", 1, "title", "x!")), c.pgRows(NOTES), name);
            assertEquals(List.of(row("id", 1, "note_id", 1, "label", "auto")), c.pgRows(ITEMS), name);
        }
    }

    interface SqlRun {
        void run(Connection c) throws Exception;
    }

    @Test
    void createTriggerThenInsertInATransaction() throws Exception {
        triggerThenInsert("tx", conn -> {
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                assertEquals(0, st.executeUpdate(TRG));
                assertEquals(1, st.executeUpdate("INSERT INTO note VALUES (1, 'x')"));
            }
            conn.commit();
            conn.setAutoCommit(true);
        });
    }

    @Test
    void createTriggerThroughAPreparedStatementThenInsert() throws Exception {
        triggerThenInsert("ps", conn -> {
            try (PreparedStatement ps = conn.prepareStatement(TRG)) {
                ps.executeUpdate(); // the count is sqlite3_changes(), stale after DDL, as with sqlite-jdbc
            }
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO note VALUES (?, ?)")) {
                ps.setInt(1, 1);
                ps.setString(2, "x");
                assertEquals(1, ps.executeUpdate());
            }
        });
    }

    @Test
    void aBatchCreatingATriggerThenWritingInATransaction() throws Exception {
        triggerThenInsert("batch", conn -> {
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                st.addBatch(TRG);
                st.addBatch("INSERT INTO note VALUES (1, 'x')");
                int[] counts = st.executeBatch();
                assertEquals(2, counts.length);
                assertEquals(1, counts[1]);
            }
            conn.commit();
            conn.setAutoCommit(true);
        });
    }

    /**
     * executeUpdate runs every statement of a string (sqlite-jdbc's execute runs only the first). A string creating
     * the trigger and then inserting: found failing, the client's insert was rejected and reverted on the client.
     */
    @Test
    void createTriggerAndInsertInOneString() throws Exception {
        triggerThenInsert("onestring", conn -> {
            try (Statement st = conn.createStatement()) {
                st.executeUpdate(TRG + "; INSERT INTO note VALUES (1, 'x');");
            }
        });
    }

    @Test
    void createTriggerAndInsertInOneStringInATransaction() throws Exception {
        triggerThenInsert("onestringtx", conn -> {
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                st.executeUpdate(TRG + ";\nINSERT INTO note VALUES (1, 'x')");
            }
            conn.commit();
            conn.setAutoCommit(true);
        });
    }

    /** A trigger created in a transaction that rolls back: gone, and the capture still works after. */
    @Test
    void createTriggerInARolledBackTransactionThenWrite() throws Exception {
        triggerThenInsert("rolledback", conn -> {
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                st.execute(TRG.replace("bang", "other").replace("'auto'", "'rolled'"));
                st.execute("INSERT INTO note VALUES (7, 'x')");
            }
            conn.rollback();
            conn.setAutoCommit(true);
            try (Statement st = conn.createStatement()) {
                st.execute(TRG);
                st.execute("INSERT INTO note VALUES (1, 'x')");
            }
        });
    }

    /** The same statements through plain sqlite-jdbc and through the driver give the same counts and errors. */
    @Test
    void raiseRollbackTriggerBehavesAsInSqlite() throws Exception {
        String raise = "CREATE TRIGGER no_neg BEFORE INSERT ON note WHEN NEW.id < 0 BEGIN SELECT RAISE(ROLLBACK, 'negative'); END";
        List<String> plain = raiseScript(DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("plain.db")), raise);
        try (Cluster c = Cluster.start("sd_raise", dir, PG_NOTE, PG_ITEM)) {
            Client a = c.client("a", LOCAL_NOTE, LOCAL_ITEM);
            Connection conn = DriverManager.getConnection(a.url());
            List<String> synced = raiseScript(conn, raise);
            assertEquals(plain, synced);
            a.awaitSynced();
            c.awaitConverged(NOTES, a);
            assertEquals(List.of(row("id", 3, "title", "after")), c.pgRows(NOTES));
        }
    }

    private static List<String> raiseScript(Connection conn, String raise) throws SQLException {
        List<String> out = new ArrayList<>();
        try (conn) {
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, title TEXT)");
                out.add("create " + st.executeUpdate(raise));
            }
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                out.add("ins " + st.executeUpdate("INSERT INTO note VALUES (2, 'in rolled back tx')"));
                try {
                    st.executeUpdate("INSERT INTO note VALUES (-1, 'neg')");
                    out.add("no error");
                } catch (SQLException e) {
                    out.add("error " + e.getMessage().contains("negative"));
                }
            }
            try {
                conn.rollback();
                out.add("rolled back");
            } catch (SQLException e) {
                out.add("rollback error " + e.getMessage());
            }
            try {
                conn.setAutoCommit(true);
                out.add("auto");
            } catch (SQLException e) {
                out.add("auto error " + e.getMessage());
            }
            try (Statement st = conn.createStatement()) {
                out.add("ins " + st.executeUpdate("INSERT INTO note VALUES (3, 'after')"));
            }
            try (Statement st = conn.createStatement(); var rs = st.executeQuery("SELECT group_concat(id) FROM note")) {
                rs.next();
                out.add("ids " + rs.getString(1));
            }
        }
        return out;
    }

    /** executeUpdate of CREATE TRIGGER: the count plain sqlite-jdbc gives, by Statement and PreparedStatement. */
    @Test
    void createTriggerUpdateCountsAsInSqlite() throws Exception {
        List<String> plain = triggerCounts(DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("plain2.db")));
        try (Cluster c = Cluster.start("sd_counts", dir, PG_NOTE, PG_ITEM)) {
            Client a = c.client("a", LOCAL_NOTE, LOCAL_ITEM);
            List<String> synced = triggerCounts(DriverManager.getConnection(a.url()));
            assertEquals(plain, synced);
        }
    }

    private static List<String> triggerCounts(Connection conn) throws SQLException {
        List<String> out = new ArrayList<>();
        try (conn) {
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, title TEXT)");
                st.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, note_id INTEGER, label TEXT)");
                out.add("st fresh " + st.executeUpdate("CREATE TRIGGER t1 AFTER INSERT ON note BEGIN SELECT 1; END"));
            }
            try (PreparedStatement ps = conn.prepareStatement("CREATE TRIGGER t2 AFTER INSERT ON note BEGIN SELECT 2; END")) {
                out.add("ps fresh " + ps.executeUpdate());
            }
            try (Statement st = conn.createStatement()) {
                out.add("ins " + st.executeUpdate("INSERT INTO note VALUES (1, 'a'), (2, 'b')"));
                out.add("st after insert " + st.executeUpdate("CREATE TRIGGER t3 AFTER UPDATE ON note BEGIN SELECT 3; END"));
                out.add("temp " + st.executeUpdate("CREATE TEMP TRIGGER t4 AFTER DELETE ON note BEGIN SELECT 4; END"));
            }
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                out.add("tx ins " + st.executeUpdate("INSERT INTO note VALUES (3, 'c'), (4, 'd'), (5, 'e')"));
                out.add("tx st " + st.executeUpdate("CREATE TRIGGER t5 AFTER DELETE ON note BEGIN SELECT 5; END"));
            }
            conn.commit();
            conn.setAutoCommit(true);
        }
        return out;
    }

    /**
     * Batches mixing trigger creation and writes, in auto-commit mode, with a failing entry after the trigger (a
     * duplicate key) and with a failing CREATE TRIGGER (it exists): the same counts, rows and triggers as sqlite-jdbc,
     * and PostgreSQL gets the file's rows.
     */
    @Test
    void failingBatchesWithTriggerCreationAsInSqlite() throws Exception {
        List<String> plain = failingBatches(DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("plain3.db")));
        try (Cluster c = Cluster.start("sd_batchfail", dir, PG_NOTE, PG_ITEM)) {
            Client a = c.client("a", LOCAL_NOTE, LOCAL_ITEM);
            List<String> synced = failingBatches(DriverManager.getConnection(a.url()));
            assertEquals(plain, synced);
            a.awaitSynced();
            c.awaitConverged(NOTES, a);
            c.awaitConverged(ITEMS, a);
        }
    }

    private static List<String> failingBatches(Connection conn) throws SQLException {
        List<String> out = new ArrayList<>();
        try (conn) {
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, title TEXT)");
                st.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, note_id INTEGER, label TEXT)");
            }
            for (int round = 0; round < 2; round++) {
                try (Statement st = conn.createStatement()) {
                    st.addBatch("INSERT INTO note VALUES (" + (10 * round + 1) + ", 'x')");
                    st.addBatch("CREATE TRIGGER tb AFTER INSERT ON note BEGIN INSERT INTO item (note_id, label) VALUES (NEW.id,"
                            + " CASE WHEN NEW.id % 2 = 0 THEN 'even' ELSE 'odd' END); END");
                    st.addBatch("INSERT INTO note VALUES (" + (10 * round + 2) + ", 'y')");
                    st.addBatch("INSERT INTO note VALUES (" + (10 * round + 2) + ", 'dup')");
                    st.addBatch("INSERT INTO note VALUES (" + (10 * round + 3) + ", 'z')");
                    try {
                        out.add("counts " + java.util.Arrays.toString(st.executeBatch()));
                    } catch (java.sql.BatchUpdateException e) {
                        out.add("batch error " + java.util.Arrays.toString(e.getUpdateCounts()));
                    }
                }
                out.add("autocommit " + conn.getAutoCommit());
                try (Statement st = conn.createStatement();
                     var rs = st.executeQuery("SELECT (SELECT group_concat(id || title) FROM note), (SELECT group_concat(note_id || label) FROM item),"
                             + " (SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'tb')")) {
                    rs.next();
                    out.add(rs.getString(1) + " | " + rs.getString(2) + " | " + rs.getInt(3));
                }
            }
            try (Statement st = conn.createStatement()) {
                st.execute("INSERT INTO note VALUES (100, 'last')");
            }
        }
        return out;
    }

    // -------------------------------------------------------------------------------------------------------------
    // 4. One set of sync options per file.

    /**
     * A Spring-like application: a DataSource without sync options (a migration tool's, or a plain JdbcTemplate's)
     * that stays open, and the application's pool with sync.server. "One giving none joins" reads as: a connection
     * without options asks nothing of the sync; but opened first, it fixes the node to no sync and the pool is refused.
     */
    @Test
    @Disabled("Known limit (DESIGN.md, Known limits): the first open connection's sync options are the file's; a"
            + " connection with other options while it is open is refused (22023), also when the first gave none")
    void aPlainDataSourceOpenedFirstDoesNotLockOutTheConfiguredPool() throws Exception {
        try (Cluster c = Cluster.start("sd_plainfirst", dir, PG_NOTE)) {
            Path file = c.file("app", LOCAL_NOTE);
            try (Connection plain = DriverManager.getConnection("jdbc:syncsqlite:" + file)) {
                plain.createStatement().execute("INSERT INTO note VALUES (1, 'by the plain one')");
                try (Connection pc = DriverManager.getConnection(c.url("app", file, c.proxy()))) {
                    pc.createStatement().execute("INSERT INTO note VALUES (2, 'by the pool')");
                    Cluster.eventually(() -> c.pgRows(NOTES).size(), n -> n == 2);
                }
            }
        }
    }

    /**
     * Two Hikari pools on one file (an application's and a second DataSource), one with its options in the URL and one
     * through data source properties (an Integer among them), writing from several threads; the first pool closes
     * mid-way. Every row reaches PostgreSQL.
     */
    @Test
    void twoPoolsOnOneFileWithTheSameOptionsGivenTwoWays() throws Exception {
        try (Cluster c = Cluster.start("sd_pools", dir, PG_NOTE)) {
            Path file = c.file("pools", LOCAL_NOTE);
            String url = c.url("pools", file, c.proxy());
            HikariConfig h1 = new HikariConfig();
            h1.setJdbcUrl(url);
            h1.setMaximumPoolSize(3);
            h1.setConnectionTimeout(5000);
            HikariConfig h2 = new HikariConfig();
            int q = url.indexOf('?');
            h2.setJdbcUrl(url.substring(0, q));
            for (String pair : url.substring(q + 1).split("&")) {
                String[] kv = pair.split("=", 2);
                if (kv[0].equals("sync.lingerMs") || kv[0].equals("sync.reconnectMaxMs")) {
                    h2.addDataSourceProperty(kv[0], Integer.parseInt(kv[1]));
                } else {
                    h2.addDataSourceProperty(kv[0], kv[1]);
                }
            }
            h2.setMaximumPoolSize(3);
            h2.setConnectionTimeout(5000);
            ExecutorService ex = Executors.newFixedThreadPool(4);
            try (HikariDataSource p2 = new HikariDataSource(h2)) {
                List<Future<?>> fs = new ArrayList<>();
                try (HikariDataSource p1 = new HikariDataSource(h1)) {
                    for (int t = 0; t < 4; t++) {
                        int base = t * 100;
                        HikariDataSource ds = t % 2 == 0 ? p1 : p2;
                        fs.add(ex.submit((Callable<Void>) () -> {
                            for (int i = 0; i < 20; i++) {
                                try (Connection conn = ds.getConnection(); Statement st = conn.createStatement()) {
                                    st.execute("INSERT INTO note VALUES (" + (base + i) + ", 'p')");
                                }
                            }
                            return null;
                        }));
                    }
                    for (Future<?> f : fs) {
                        f.get(60, TimeUnit.SECONDS);
                    }
                }
                try (Connection conn = p2.getConnection(); Statement st = conn.createStatement()) {
                    st.execute("INSERT INTO note VALUES (999, 'after the first pool closed')");
                }
                Cluster.eventually(() -> c.pgRows(NOTES).size(), n -> n == 81);
            } finally {
                ex.shutdownNow();
            }
        }
    }

    /**
     * A node lingering (relay unreachable, writes unsynced) is closed for a connection with other options, whose
     * node must sync those writes. Several threads open connections at once, some with the new options, some with
     * none, some with a third set: every one either works or is refused with 22023, and nothing is lost.
     */
    @Test
    void lingeringNodeReplacedUnderConcurrentOpensLosesNothing() throws Exception {
        try (Cluster c = Cluster.start("sd_linger", dir, PG_NOTE)) {
            Path file = c.file("lin", LOCAL_NOTE);
            String good = c.url("lin", file, c.proxy()).replace("sync.lingerMs=0", "sync.lingerMs=60000");
            String offline = "jdbc:syncsqlite:" + file + "?sync.server=ws://127.0.0.1:1/sync&sync.node=lin&sync.lingerMs=60000&sync.reconnectMaxMs=300";
            try (Connection off = DriverManager.getConnection(offline)) {
                off.createStatement().execute("INSERT INTO note VALUES (1, 'written while offline')");
            }
            // The node lingers 60 s with the unreachable server. Now many threads.
            String third = good.replace("sync.reconnectMaxMs=300", "sync.reconnectMaxMs=400");
            String none = "jdbc:syncsqlite:" + file;
            ExecutorService pool = Executors.newFixedThreadPool(6);
            List<Connection> held = new ArrayList<>();
            try {
                List<Future<String>> results = new ArrayList<>();
                for (int i = 0; i < 12; i++) {
                    String url = i % 3 == 0 ? good : i % 3 == 1 ? none : third;
                    int id = 100 + i;
                    results.add(pool.submit((Callable<String>) () -> {
                        try {
                            Connection conn = DriverManager.getConnection(url);
                            synchronized (held) {
                                held.add(conn);
                            }
                            conn.createStatement().execute("INSERT INTO note VALUES (" + id + ", 't')");
                            return "ok";
                        } catch (SQLException e) {
                            return "22023".equals(e.getSQLState()) ? "refused" : "error " + e.getSQLState() + " " + e.getMessage();
                        }
                    }));
                }
                List<String> outcomes = new ArrayList<>();
                for (Future<String> f : results) {
                    outcomes.add(f.get(60, TimeUnit.SECONDS));
                }
                assertTrue(outcomes.stream().allMatch(o -> o.equals("ok") || o.equals("refused")), outcomes.toString());
                long ok = outcomes.stream().filter("ok"::equals).count();
                // Close all, then a connection with the good options must end with everything written in PostgreSQL.
                synchronized (held) {
                    for (Connection h : held) {
                        h.close();
                    }
                }
                try (Connection last = DriverManager.getConnection(good.replace("sync.lingerMs=60000", "sync.lingerMs=0"))) {
                    long local;
                    try (var rs = last.createStatement().executeQuery("SELECT count(*) FROM note")) {
                        rs.next();
                        local = rs.getLong(1);
                    }
                    assertEquals(1 + ok, local);
                    Cluster.eventually(() -> c.pgRows(NOTES).size(), n -> n == local);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** sync.lingerMs=0: a connection with other options right after the last one closed, from another thread. */
    @Test
    void closeAndOpenWithOtherOptionsRaceLosesNothing() throws Exception {
        try (Cluster c = Cluster.start("sd_race", dir, PG_NOTE)) {
            Path file = c.file("race", LOCAL_NOTE);
            String u1 = c.url("race", file, c.proxy());
            String u2 = u1.replace("sync.reconnectMaxMs=300", "sync.reconnectMaxMs=350");
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                for (int round = 0; round < 10; round++) {
                    int r = round;
                    Future<String> x = pool.submit(() -> write(u1, 1000 + 2 * r));
                    Future<String> y = pool.submit(() -> write(u2, 1001 + 2 * r));
                    String rx = x.get(60, TimeUnit.SECONDS);
                    String ry = y.get(60, TimeUnit.SECONDS);
                    assertTrue((rx + ry).replace("ok", "").replace("refused", "").isEmpty(), rx + " / " + ry);
                }
                try (Connection last = DriverManager.getConnection(u1)) {
                    long local;
                    try (var rs = last.createStatement().executeQuery("SELECT count(*) FROM note")) {
                        rs.next();
                        local = rs.getLong(1);
                    }
                    assertTrue(local >= 10, "rows " + local);
                    Cluster.eventually(() -> c.pgRows(NOTES).size(), n -> n == local);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static String write(String url, int id) {
        try (Connection conn = DriverManager.getConnection(url)) {
            conn.createStatement().execute("INSERT INTO note VALUES (" + id + ", 'r')");
            return "ok";
        } catch (SQLException e) {
            return "22023".equals(e.getSQLState()) ? "refused" : "[error " + e.getSQLState() + " " + e.getMessage() + "]";
        }
    }
}
