package io.syncsqlite.driver;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Adversarial review of the tenth session's driver fixes, on plain SQLite files (no relay): each scenario
 * runs once through plain sqlite-jdbc and once through syncsqlite, and the application must see the same.
 * The first two failed against the first REPLACE fix (recursive_triggers around REPLACE statements), which
 * was withdrawn; they stay as guards that the driver leaves SQLite's trigger behaviour as it is.
 */
class SessionFixesReviewTest {

    @TempDir
    Path dir;

    private interface Scenario {
        String run(Connection c) throws SQLException;
    }

    private String plain(String name, Scenario s) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve(name + "-plain.db"))) {
            return s.run(c);
        }
    }

    private String synced(String name, Scenario s) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve(name + "-sync.db") + "?sync.lingerMs=0")) {
            return s.run(c);
        }
    }

    private static void exec(Connection c, String... sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    private static String rows(Connection c, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder b = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    b.append(i > 1 ? "|" : "").append(rs.getString(i));
                }
                out.add(b.toString());
            }
        }
        return out.toString();
    }

    /**
     * A prepared batch of {@code UPDATE OR REPLACE} on a table with a UNIQUE column and an application
     * trigger that updates its own table. The single-statement form is retried without recursive_triggers
     * (CaptureTest); in a batch, sqlite-jdbc has already cleared the batch when the first attempt fails, so
     * the retry runs an empty batch: executeBatch "succeeds" with no update counts and nothing written.
     */
    @Test
    void aReplaceBatchOnATableWithASelfUpdatingTriggerWritesEveryEntry() throws SQLException {
        Scenario s = c -> {
            exec(c, "CREATE TABLE doc (id TEXT PRIMARY KEY, slug TEXT UNIQUE, title TEXT)",
                    "CREATE TRIGGER doc_touch AFTER UPDATE ON doc BEGIN UPDATE doc SET title = upper(NEW.title) WHERE id = NEW.id; END",
                    "INSERT INTO doc VALUES ('d1', 's1', 'one'), ('d2', 's2', 'two'), ('d3', 's3', 'three')");
            String counts;
            try (PreparedStatement ps = c.prepareStatement("UPDATE OR REPLACE doc SET slug = ?, title = ? WHERE id = ?")) {
                ps.setString(1, "s2");
                ps.setString(2, "first");
                ps.setString(3, "d1");
                ps.addBatch();
                ps.setString(1, "s9");
                ps.setString(2, "second");
                ps.setString(3, "d3");
                ps.addBatch();
                counts = Arrays.toString(ps.executeBatch());
            }
            return counts + " " + rows(c, "SELECT id, slug, title FROM doc ORDER BY id");
        };
        String expected = plain("batch", s);
        assertEquals("[1, 1] [d1|s2|FIRST, d3|s9|SECOND]", expected, "plain sqlite-jdbc");
        assertEquals(expected, synced("batch", s), "syncsqlite");
    }

    /**
     * The upsert idiom {@code INSERT OR REPLACE} through the row's own key, on a table that also has a
     * UNIQUE column: SQLite (recursive_triggers off, its default) fires no delete trigger for the replaced
     * row. The driver turns recursive_triggers on for the statement, so the application's own AFTER DELETE
     * trigger now fires too, and here deletes the user's sessions.
     */
    @Test
    void anUpsertByKeyDoesNotFireTheApplicationsDeleteTrigger() throws SQLException {
        Scenario s = c -> {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT)",
                    "CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT)",
                    "CREATE TRIGGER user_gone AFTER DELETE ON users BEGIN DELETE FROM sessions WHERE user_id = OLD.id; END",
                    "INSERT INTO users VALUES ('u1', 'ann@e', 'Ann')",
                    "INSERT INTO sessions VALUES ('s1', 'u1')");
            exec(c, "INSERT OR REPLACE INTO users (id, email, name) VALUES ('u1', 'ann@e', 'Ann B')");
            return rows(c, "SELECT id, email, name FROM users") + " " + rows(c, "SELECT id, user_id FROM sessions");
        };
        String expected = plain("upsert", s);
        assertEquals("[u1|ann@e|Ann B] [s1|u1]", expected, "plain sqlite-jdbc");
        assertEquals(expected, synced("upsert", s), "syncsqlite");
    }

    /**
     * An auto-commit batch whose second entry is stopped by a trigger with {@code RAISE(ROLLBACK)}: with
     * sqlite-jdbc the first entry was committed by itself and stays. The driver wrapped the batch in one
     * transaction, which the RAISE rolled back whole, losing the first entry too; such a schema now runs the
     * batch unwrapped (SyncConnection.runBatch), and the kept entry is captured and stamped.
     */
    @Test
    void anAutoCommitBatchKeepsTheEntriesBeforeOneStoppedByRaiseRollback() throws SQLException {
        Scenario s = c -> {
            exec(c, "CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER)",
                    "CREATE TRIGGER no_negative BEFORE INSERT ON item WHEN NEW.qty < 0 BEGIN SELECT RAISE(ROLLBACK, 'negative qty'); END");
            String failed = "no error";
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO item (id, qty) VALUES (?, ?)")) {
                ps.setInt(1, 1);
                ps.setInt(2, 5);
                ps.addBatch();
                ps.setInt(1, 2);
                ps.setInt(2, -1);
                ps.addBatch();
                ps.executeBatch();
            } catch (SQLException e) {
                failed = "failed";
            }
            return failed + " " + rows(c, "SELECT id, qty FROM item ORDER BY id");
        };
        String expected = plain("raise", s);
        assertEquals("failed [1|5]", expected, "plain sqlite-jdbc");
        assertEquals(expected, synced("raise", s), "syncsqlite");
        assertEquals("[1|1]", captured("raise"), "the kept entry is captured once, and stamped");
    }

    /** The same through a UNIQUE column declared {@code ON CONFLICT ROLLBACK}, a prepared batch of three. */
    @Test
    void anAutoCommitBatchKeepsTheEntriesBeforeOneStoppedByOnConflictRollback() throws SQLException {
        Scenario s = c -> {
            exec(c, "CREATE TABLE item (id INTEGER PRIMARY KEY, code TEXT UNIQUE ON CONFLICT ROLLBACK)");
            String failed = "no error";
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO item (id, code) VALUES (?, ?)")) {
                for (Object[] e : new Object[][] {{1, "a"}, {2, "b"}, {3, "a"}}) {
                    ps.setInt(1, (Integer) e[0]);
                    ps.setString(2, (String) e[1]);
                    ps.addBatch();
                }
                ps.executeBatch();
            } catch (SQLException e) {
                failed = "failed";
            }
            return failed + " " + rows(c, "SELECT id, code FROM item ORDER BY id");
        };
        String expected = plain("onconflict", s);
        assertEquals("failed [1|a, 2|b]", expected, "plain sqlite-jdbc");
        assertEquals(expected, synced("onconflict", s), "syncsqlite");
        assertEquals("[2|1]", captured("onconflict"), "the kept entries are captured once, and stamped");
    }

    /** The same with {@code INSERT OR ROLLBACK} in a Statement batch, on a table that says nothing of it. */
    @Test
    void anAutoCommitStatementBatchOfInsertOrRollbackKeepsTheEntriesBefore() throws SQLException {
        Scenario s = c -> {
            exec(c, "CREATE TABLE item (id INTEGER PRIMARY KEY, code TEXT)");
            String failed = "no error";
            try (Statement st = c.createStatement()) {
                st.addBatch("INSERT OR ROLLBACK INTO item VALUES (1, 'a')");
                st.addBatch("INSERT OR ROLLBACK INTO item VALUES (1, 'b')");
                st.executeBatch();
            } catch (SQLException e) {
                failed = "failed";
            }
            return failed + " " + rows(c, "SELECT id, code FROM item ORDER BY id");
        };
        String expected = plain("orrollback", s);
        assertEquals("failed [1|a]", expected, "plain sqlite-jdbc");
        assertEquals(expected, synced("orrollback", s), "syncsqlite");
        assertEquals("[1|1]", captured("orrollback"), "the kept entry is captured once, and stamped");
    }

    /** The synced file's outbox rows for table item, and how many of them are stamped (end a transaction). */
    private String captured(String name) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve(name + "-sync.db"))) {
            return rows(c, "SELECT count(*), count(hlc) FROM _sync_outbox WHERE tbl = 'item'");
        }
    }
}
