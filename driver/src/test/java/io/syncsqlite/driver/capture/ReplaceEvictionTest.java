package io.syncsqlite.driver.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * REPLACE that evicts other rows through a UNIQUE key besides the primary key: SQLite deletes them without
 * firing their delete triggers, so the driver captures those deletes itself (TriggerSql, evictions), and
 * only for statements that resolve conflicts by REPLACE. Outbox rows are read as "op key" (1 insert, 2
 * update, 3 delete).
 */
class ReplaceEvictionTest {

    @TempDir
    Path dir;

    private Connection open() throws SQLException {
        return DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0");
    }

    /** Runs each statement (shared with ReplaceEvictionReviewTest). */
    static void exec(Connection c, String... sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    /** Each row's columns joined by a space (shared with ReplaceEvictionReviewTest). */
    static List<String> query(Connection c, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder b = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    b.append(i > 1 ? " " : "").append(rs.getString(i));
                }
                out.add(b.toString());
            }
        }
        return out;
    }

    /** What the statements after {@code mark} captured, in order. */
    private static List<String> capturedAfter(Connection c, long mark) throws SQLException {
        return query(c, "SELECT op, coalesce(pk, json_object('id', v0)) FROM _sync_outbox WHERE seq > " + mark + " ORDER BY seq");
    }

    /** The outbox's last seq (shared with ReplaceEvictionReviewTest). */
    static long mark(Connection c) throws SQLException {
        return Long.parseLong(query(c, "SELECT coalesce(max(seq), 0) FROM _sync_outbox").get(0));
    }

    @Test
    void insertOrReplaceAndReplaceIntoCaptureTheRowsTheyEvict() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann'), ('u3', 'z@e', 'Cid')");
            long m = mark(c);
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob')");
            try (PreparedStatement ps = c.prepareStatement("REPLACE INTO users VALUES (?, ?, ?)")) {
                ps.setString(1, "u4");
                ps.setString(2, "z@e");
                ps.setString(3, "Dan");
                ps.executeUpdate();
            }
            assertEquals(List.of("3 {\"id\":\"u1\"}", "1 {\"id\":\"u2\"}", "3 {\"id\":\"u3\"}", "1 {\"id\":\"u4\"}"),
                    capturedAfter(c, m));
            assertEquals(List.of("u2 x@e Bob", "u4 z@e Dan"), query(c, "SELECT * FROM users ORDER BY id"));
            assertEquals(List.of("0"), query(c, "SELECT count(*) FROM _sync_replacing"), "the flag is cleared");
        }
    }

    /** A keyless REPLACE into an integer-keyed table: the new row's key is not known before the insert. */
    @Test
    void aKeylessReplaceIntoAnIntegerKeyedTableCapturesTheEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE item (id INTEGER PRIMARY KEY, code TEXT UNIQUE)", "INSERT INTO item VALUES (1, 'a')");
            long m = mark(c);
            exec(c, "INSERT OR REPLACE INTO item (code) VALUES ('a')");
            List<String> rows = query(c, "SELECT id, code FROM item");
            assertEquals(1, rows.size());
            String id = rows.get(0).split(" ")[0];
            assertEquals(List.of("3 {\"id\":1}", "1 {\"id\":" + id + "}"), capturedAfter(c, m));
        }
    }

    /** The same row replaced through its own key is the row itself: captured as its insert, no delete. */
    @Test
    void aReplaceThroughTheKeyAloneCapturesNoDelete() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            long m = mark(c);
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u1', 'x@e', 'Ann B')");
            assertEquals(List.of("1 {\"id\":\"u1\"}"), capturedAfter(c, m));
        }
    }

    /** OR IGNORE and ON CONFLICT DO UPDATE evict nothing: nothing but their own row is captured. */
    @Test
    void otherConflictResolutionsCaptureNoEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            long m = mark(c);
            exec(c, "INSERT OR IGNORE INTO users VALUES ('u2', 'x@e', 'Bob')",
                    "INSERT INTO users VALUES ('u3', 'x@e', 'Cid') ON CONFLICT (email) DO UPDATE SET name = excluded.name");
            assertEquals(List.of("2 {\"id\":\"u1\"}"), capturedAfter(c, m));
            assertThrows(SQLException.class, () -> exec(c, "INSERT INTO users VALUES ('u4', 'x@e', 'Dan')"));
            assertEquals(List.of("2 {\"id\":\"u1\"}"), capturedAfter(c, m));
            assertEquals(List.of("u1 x@e Cid"), query(c, "SELECT * FROM users"));
        }
    }

    /**
     * UPDATE OR REPLACE taking another row's unique value, through a two-column key and a NOCASE unique
     * index, in an application transaction; the application's own delete trigger does not fire (as in SQLite).
     */
    @Test
    void updateOrReplaceThroughACompositeAndACaseInsensitiveKeyInATransaction() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE slot (id INTEGER PRIMARY KEY, room TEXT, hour INTEGER, tag TEXT, UNIQUE (room, hour))",
                    "CREATE UNIQUE INDEX slot_tag ON slot (tag COLLATE NOCASE)",
                    "CREATE TABLE gone (id INTEGER)",
                    "CREATE TRIGGER slot_gone AFTER DELETE ON slot BEGIN INSERT INTO gone VALUES (OLD.id); END",
                    "INSERT INTO slot VALUES (1, 'A', 9, 'one'), (2, 'A', 10, 'two'), (3, 'B', 9, 'three')");
            long m = mark(c);
            c.setAutoCommit(false);
            exec(c, "UPDATE OR REPLACE slot SET hour = 10 WHERE id = 1",
                    "UPDATE OR REPLACE slot SET tag = 'THREE' WHERE id = 1");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("3 {\"id\":2}", "2 {\"id\":1}", "3 {\"id\":3}", "2 {\"id\":1}"), capturedAfter(c, m));
            assertEquals(List.of("1 A 10 THREE"), query(c, "SELECT * FROM slot"));
            assertEquals(List.of(), query(c, "SELECT * FROM gone"), "SQLite fires no delete trigger for evicted rows");
        }
    }

    /** A REPLACE that fails (NOT NULL) captures nothing, and the flag does not outlive it. */
    @Test
    void aFailingReplaceCapturesNothingAndClearsTheFlag() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT NOT NULL)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            long m = mark(c);
            c.setAutoCommit(false);
            assertThrows(SQLException.class, () -> exec(c, "INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', NULL)"));
            assertEquals(List.of("0"), query(c, "SELECT count(*) FROM _sync_replacing"));
            exec(c, "INSERT OR IGNORE INTO users VALUES ('u3', 'x@e', 'Cid')");
            c.commit();
            assertEquals(List.of(), capturedAfter(c, m));
            assertEquals(List.of("u1 x@e Ann"), query(c, "SELECT * FROM users"));
        }
    }

    /**
     * A constraint declared {@code ON CONFLICT REPLACE} makes REPLACE the resolution of plain INSERTs and
     * UPDATEs: their evictions are captured as a REPLACE statement's are, in auto-commit mode and in a
     * transaction, through a column and a table constraint.
     */
    @Test
    void plainWritesToATableWhoseConstraintSaysReplaceCaptureTheirEvictions() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE ON CONFLICT REPLACE, name TEXT)",
                    "CREATE TABLE slot (id INTEGER PRIMARY KEY, room TEXT, hour INTEGER,"
                            + " UNIQUE (room, hour) ON  conflict\nREPLACE)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann'), ('u3', 'z@e', 'Cid')",
                    "INSERT INTO slot VALUES (1, 'A', 9), (2, 'A', 10)");
            long m = mark(c);
            exec(c, "INSERT INTO users VALUES ('u2', 'x@e', 'Bob')", "UPDATE users SET email = 'z@e' WHERE id = 'u2'");
            assertEquals(List.of("3 {\"id\":\"u1\"}", "1 {\"id\":\"u2\"}", "3 {\"id\":\"u3\"}", "2 {\"id\":\"u2\"}"),
                    capturedAfter(c, m));
            assertEquals(List.of("u2 z@e Bob"), query(c, "SELECT * FROM users"));
            m = mark(c);
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO slot VALUES (?, ?, ?)")) {
                ps.setInt(1, 3);
                ps.setString(2, "A");
                ps.setInt(3, 9);
                ps.executeUpdate();
            }
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("3 {\"id\":1}", "1 {\"id\":3}"), capturedAfter(c, m));
            assertEquals(List.of("2 A 10", "3 A 9"), query(c, "SELECT * FROM slot ORDER BY id"));
            assertEquals(List.of("0"), query(c, "SELECT count(*) FROM _sync_replacing"), "the flag is cleared");
        }
    }

    /**
     * A statement's own OR clause overrides the constraint's REPLACE: OR IGNORE evicts nothing and OR ABORT
     * fails; neither leaves a delete captured. An upsert resolves its own conflict.
     */
    @Test
    void anOrClauseOverridesTheConstraintsReplaceAndCapturesNoEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE ON CONFLICT REPLACE, name TEXT)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            long m = mark(c);
            exec(c, "INSERT OR IGNORE INTO users VALUES ('u2', 'x@e', 'Bob')",
                    "INSERT INTO users VALUES ('u3', 'x@e', 'Cid') ON CONFLICT (email) DO UPDATE SET name = excluded.name");
            assertThrows(SQLException.class, () -> exec(c, "INSERT OR ABORT INTO users VALUES ('u4', 'x@e', 'Dan')"));
            assertEquals(List.of("2 {\"id\":\"u1\"}"), capturedAfter(c, m));
            assertEquals(List.of("u1 x@e Cid"), query(c, "SELECT * FROM users"));
        }
    }

    /**
     * Evictions through a constraint's REPLACE by writes the SQL does not show: a batch of plain inserts, and
     * an application trigger's insert into the table, fired by a write to another table.
     */
    @Test
    void batchesAndApplicationTriggersWritingToSuchATableCaptureTheirEvictions() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE ON CONFLICT REPLACE, name TEXT)",
                    "CREATE TABLE signup (id TEXT PRIMARY KEY, email TEXT)",
                    "CREATE TRIGGER signup_user AFTER INSERT ON signup BEGIN"
                            + " INSERT INTO users VALUES (NEW.id, NEW.email, 'new'); END",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann'), ('u2', 'y@e', 'Bob')");
            long m = mark(c);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO users VALUES (?, ?, ?)")) {
                ps.setString(1, "u3");
                ps.setString(2, "x@e");
                ps.setString(3, "Cid");
                ps.addBatch();
                ps.executeBatch();
            }
            exec(c, "INSERT INTO signup VALUES ('u4', 'y@e')");
            // signup's own row is captured first (capture fires before the application's triggers), then the
            // trigger's insert: users' eviction and row.
            assertEquals(List.of("3 {\"id\":\"u1\"}", "1 {\"id\":\"u3\"}", "1 {\"id\":\"u4\"}",
                    "3 {\"id\":\"u2\"}", "1 {\"id\":\"u4\"}"), capturedAfter(c, m));
            assertEquals(List.of("u3 x@e Cid", "u4 y@e new"), query(c, "SELECT * FROM users ORDER BY id"));
        }
    }

    /**
     * INSERT OR REPLACE ... RETURNING through executeQuery in auto-commit mode: SQLite cannot commit while its
     * rows are open, so the driver would have to wrap it and read its rows first to set the eviction flag.
     */
    @org.junit.jupiter.api.Disabled("Known limit (DESIGN.md, known limits, REPLACE): reading the rows into a"
            + " CachedRowSet changed the result set's behaviour for every RETURNING query (ReplaceDefaultReviewTest)")
    @Test
    void aReplaceReturningQueryInAutoCommitModeCapturesTheEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann'), ('u3', 'z@e', 'Cid')");
            long m = mark(c);
            try (PreparedStatement ps = c.prepareStatement("INSERT OR REPLACE INTO users VALUES (?, 'x@e', 'Bob'),"
                    + " ('u4', 'z@e', 'Dan') RETURNING id, name")) {
                ps.setString(1, "u2");
                try (ResultSet rs = ps.executeQuery()) {
                    List<String> returned = new ArrayList<>();
                    while (rs.next()) {
                        returned.add(rs.getString(1) + " " + rs.getString("name"));
                    }
                    assertEquals(List.of("u2 Bob", "u4 Dan"), returned);
                }
            }
            assertEquals(List.of("3 {\"id\":\"u1\"}", "1 {\"id\":\"u2\"}", "3 {\"id\":\"u3\"}", "1 {\"id\":\"u4\"}"),
                    capturedAfter(c, m));
            assertEquals(List.of("u2 x@e Bob", "u4 z@e Dan"), query(c, "SELECT * FROM users ORDER BY id"));
            assertEquals(List.of("0"), query(c, "SELECT count(*) FROM _sync_replacing"), "the flag is cleared");
        }
    }

    /**
     * Several statements in one string, the first an INSERT OR REPLACE evicting u1, the second failing: in
     * auto-commit mode the first stays written, as without the driver, with its eviction captured; in a
     * transaction the eviction is captured too. The other table's row is captured once.
     */
    @Test
    void severalStatementsInOneStringCaptureTheirEvictions() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT)",
                    "CREATE TABLE other (id INTEGER PRIMARY KEY)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann'), ('u3', 'z@e', 'Cid')", "INSERT INTO other VALUES (1)");
            long m = mark(c);
            try (Statement st = c.createStatement()) {
                assertThrows(SQLException.class, () -> st.executeUpdate(
                        "INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob'); INSERT INTO other VALUES (1)"));
            }
            assertEquals(List.of("u2 x@e Bob", "u3 z@e Cid"), query(c, "SELECT * FROM users ORDER BY id"),
                    "the first statement stays written");
            assertEquals(List.of("3 {\"id\":\"u1\"}", "1 {\"id\":\"u2\"}"), capturedAfter(c, m));
            m = mark(c);
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.executeUpdate("INSERT INTO other VALUES (2); REPLACE INTO users VALUES ('u4', 'z@e', 'Dan')");
            }
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("1 {\"id\":2}", "3 {\"id\":\"u3\"}", "1 {\"id\":\"u4\"}"), capturedAfter(c, m));
            assertEquals(List.of("0"), query(c, "SELECT count(*) FROM _sync_replacing"), "the flag is cleared");
        }
    }

    /**
     * A unique index over an expression (emails unique whatever their case) and a partial one (unique among
     * rows not deleted): REPLACE evicts through them, and only rows the index holds, as SQLite does.
     */
    @Test
    void expressionAndPartialUniqueIndexesCaptureTheirEvictions() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, name TEXT, deleted INTEGER NOT NULL DEFAULT 0)",
                    "CREATE UNIQUE INDEX users_email ON users (lower(email))",
                    "CREATE TABLE member (id INTEGER PRIMARY KEY, club TEXT, nick TEXT, gone INTEGER)",
                    "CREATE UNIQUE INDEX member_nick ON member (club, nick COLLATE NOCASE) WHERE gone IS NULL",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann', 0), ('u3', 'z@e', 'Cid', 0)",
                    "INSERT INTO member VALUES (1, 'A', 'kim', NULL), (2, 'A', 'lee', 1), (3, 'B', 'kim', NULL)");
            long m = mark(c);
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u2', 'X@E', 'Bob', 0)",
                    "UPDATE OR REPLACE users SET email = 'Z@e' WHERE id = 'u2'");
            assertEquals(List.of("3 {\"id\":\"u1\"}", "1 {\"id\":\"u2\"}", "3 {\"id\":\"u3\"}", "2 {\"id\":\"u2\"}"),
                    capturedAfter(c, m));
            assertEquals(List.of("u2 Z@e Bob 0"), query(c, "SELECT * FROM users"));
            m = mark(c);
            exec(c, "INSERT OR REPLACE INTO member VALUES (4, 'A', 'KIM', NULL)", // evicts 1, not 3 (another club)
                    "INSERT OR REPLACE INTO member VALUES (5, 'A', 'Lee', NULL)", // 2 is gone: not in the index
                    "INSERT OR REPLACE INTO member VALUES (6, 'A', 'lee', 1)"); // not in the index: evicts nothing
            assertEquals(List.of("3 {\"id\":1}", "1 {\"id\":4}", "1 {\"id\":5}", "1 {\"id\":6}"), capturedAfter(c, m));
            assertEquals(List.of("2 A lee 1", "3 B kim null", "4 A KIM null", "5 A Lee null", "6 A lee 1"),
                    query(c, "SELECT * FROM member ORDER BY id"));
            assertEquals(List.of("0"), query(c, "SELECT count(*) FROM _sync_replacing"), "the flag is cleared");
        }
    }
}
