package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteConnection;

import java.lang.reflect.Field;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code getGeneratedKeys()} through the driver, which reads SQLite's last_insert_rowid() itself instead of
 * letting sqlite-jdbc run its keys query after every INSERT ({@link GeneratedKeys}), gives what sqlite-jdbc
 * gives: each test runs the same operations on a plain {@code jdbc:sqlite:} file and on a
 * {@code jdbc:syncsqlite:} one and compares what the application sees. The four "findings" failed against
 * a first version that read the keys only when asked for (or before the next statement): keys brought back after a later UPDATE, a leaked statement that made
 * VACUUM fail, the capture bookkeeping's rowid, and a failed INSERT's rolled-back rowid.
 */
class GeneratedKeysTest {

    @TempDir
    Path dir;

    private static final String ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE)";
    private static final String TAG = "CREATE TABLE tag (id INTEGER PRIMARY KEY, label TEXT)";

    interface Script {
        void run(Connection c, List<String> out) throws Exception;
    }

    private List<String> on(boolean synced, String name, String params, Script script) throws Exception {
        String file = dir.resolve((synced ? "s-" : "p-") + name + ".db").toString();
        String url = synced
                ? "jdbc:syncsqlite:" + file + "?sync.lingerMs=0" + (params.isEmpty() ? "" : "&" + params)
                : "jdbc:sqlite:" + file + "?journal_mode=WAL" + (params.isEmpty() ? "" : "&" + params);
        List<String> out = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url)) {
            try (Statement st = c.createStatement()) {
                st.execute(ITEM);
                st.execute(TAG);
            }
            script.run(c, out);
        }
        return out;
    }

    private void differential(String name, String params, Script script) throws Exception {
        List<String> plain = on(false, name, params, script);
        List<String> synced = on(true, name, params, script);
        assertEquals(plain, synced, "jdbc:sqlite: vs jdbc:syncsqlite:");
    }

    private static String keys(Statement s) throws SQLException {
        ResultSet rs = s.getGeneratedKeys();
        List<Long> ids = new ArrayList<>();
        while (rs.next()) {
            ids.add(rs.getLong(1));
        }
        return ids.toString();
    }

    /** Statements sqlite-jdbc holds open (prepared and not finalized) on the connection. */
    private static int openStatements(Connection c) throws Exception {
        Object db = c.unwrap(SQLiteConnection.class).getDatabase();
        Field f = org.sqlite.core.DB.class.getDeclaredField("stmts");
        f.setAccessible(true);
        return ((Set<?>) f.get(db)).size();
    }

    @Test
    void oneScriptReadsTheSameKeysThroughBothDrivers() throws Exception {
        differential("script", "", (c, out) -> {
            try (PreparedStatement item = c.prepareStatement("INSERT INTO item (name) VALUES (?)");
                 PreparedStatement tag = c.prepareStatement("INSERT INTO tag (label) VALUES (?)");
                 PreparedStatement read = c.prepareStatement("SELECT count(*) FROM item");
                 Statement st = c.createStatement()) {
                // Not asked for with RETURN_GENERATED_KEYS: sqlite-jdbc gives them anyway, and applications rely on it.
                item.setString(1, "a");
                item.executeUpdate();
                out.add("after one insert " + keys(item));
                out.add("read twice " + keys(item));
                item.setString(1, "b");
                item.executeUpdate();
                item.setString(1, "c");
                item.executeUpdate();
                out.add("after two more " + keys(item));

                // Another statement inserts before the first one's keys are read.
                item.setString(1, "d");
                item.executeUpdate();
                tag.setString(1, "t1");
                tag.executeUpdate();
                tag.setString(1, "t2");
                tag.executeUpdate();
                out.add("item after tag inserts " + keys(item));
                out.add("tag " + keys(tag));

                // A query and a batch in between.
                item.setString(1, "e");
                item.executeUpdate();
                try (ResultSet rs = read.executeQuery()) {
                    rs.next();
                    out.add("count " + rs.getLong(1));
                }
                tag.setString(1, "t3");
                tag.addBatch();
                tag.setString(1, "t4");
                tag.addBatch();
                tag.executeBatch();
                out.add("item after query and batch " + keys(item));
                out.add("tag after its batch " + keys(tag));

                // A failed insert in between (UNIQUE), then a plain statement's insert and update.
                item.setString(1, "f");
                item.executeUpdate();
                tag.setString(1, "t5");
                tag.executeUpdate();
                item.setString(1, "a");
                assertThrows(SQLException.class, item::executeUpdate);
                out.add("item after its failed insert " + keys(item));
                out.add("tag after item's failure " + keys(tag));
                st.executeUpdate("INSERT INTO tag (label) VALUES ('s1')");
                out.add("statement insert " + keys(st));
                st.executeUpdate("UPDATE tag SET label = 'x' WHERE label = 's1'");
                out.add("statement update " + keys(st));
                st.executeUpdate("REPLACE INTO item (id, name) VALUES (500, 'r')");
                out.add("replace " + keys(st));
                st.executeUpdate("WITH v(n) AS (SELECT 'w') INSERT INTO item (name) SELECT n FROM v");
                out.add("with insert " + keys(st));
                out.add("tag still " + keys(tag));

                // Inside a JDBC transaction, and once it committed.
                c.setAutoCommit(false);
                item.setString(1, "g");
                item.executeUpdate();
                tag.setString(1, "t6");
                tag.executeUpdate();
                out.add("in transaction " + keys(item) + " " + keys(tag));
                item.setString(1, "h");
                item.executeUpdate();
                c.commit();
                out.add("after commit " + keys(item));
                c.setAutoCommit(true);

                // A statement closed with its keys unread does not hold the next one's.
                PreparedStatement closing = c.prepareStatement("INSERT INTO tag (label) VALUES ('z')");
                closing.executeUpdate();
                closing.close();
                item.setString(1, "i");
                item.executeUpdate();
                out.add("after a closed statement " + keys(item));
                out.add("keys setting left alone " + c.unwrap(SQLiteConnection.class).getConnectionConfig().isGetGeneratedKeys());
            }
        });
    }

    // ---------------------------------------------------------------- findings (fail at f76699f)

    /**
     * A Statement inserts (keys pending), then runs an UPDATE: sqlite-jdbc clears its keys. The driver's
     * GeneratedKeys.executed() clears its own state but leaves the connection's pendingKeys pointing at it,
     * so the next execution on the connection "reads" it again: the UPDATE's statement now reports the
     * earlier INSERT's rowid.
     */
    @Test
    void keysClearedByANonInsertAreNotBroughtBackByTheNextStatement() throws Exception {
        differential("stale", "", (c, out) -> {
            try (Statement a = c.createStatement(); Statement b = c.createStatement()) {
                a.executeUpdate("INSERT INTO item (name) VALUES ('x')");
                a.executeUpdate("UPDATE item SET name = 'y' WHERE name = 'x'");
                out.add("right after the update " + keys(a));
                b.executeQuery("SELECT 1").close();
                out.add("after another statement ran " + keys(a));
                a.executeQuery("SELECT 2").close();
                out.add("after its own query " + keys(a));
            }
        });
    }

    /**
     * The same stale pendingKeys on a statement that is then closed: the next execution on the connection
     * runs SELECT last_insert_rowid() for the closed statement, in a raw statement nobody will close. Each
     * INSERT-then-UPDATE-then-close leaks one native statement, left stepped (active) until the connection
     * closes, and an active statement makes VACUUM fail ("SQL statements in progress").
     */
    @Test
    void aClosedStatementLeavesNoOpenStatementBehind() throws Exception {
        Script script = (c, out) -> {
            for (int i = 0; i < 20; i++) {
                try (Statement s = c.createStatement()) {
                    s.executeUpdate("INSERT INTO item (name) VALUES ('n" + i + "')");
                    s.executeUpdate("UPDATE item SET name = 'm" + i + "' WHERE name = 'n" + i + "'");
                }
            }
            int before = openStatements(c);
            for (int i = 20; i < 40; i++) {
                try (Statement s = c.createStatement()) {
                    s.executeUpdate("INSERT INTO item (name) VALUES ('n" + i + "')");
                    s.executeUpdate("UPDATE item SET name = 'm" + i + "' WHERE name = 'n" + i + "'");
                }
            }
            out.add("statements left open by 20 more insert+update+close " + (openStatements(c) - before));
            try (Statement s = c.createStatement()) {
                s.execute("VACUUM");
                out.add("vacuum ok");
            } catch (SQLException e) {
                out.add("vacuum failed");
            }
        };
        differential("leak", "", script);
    }

    /**
     * SQL the classifier cannot classify (here two statements) has its keys read at once, correctly; but
     * if the statement had keys pending from an earlier INSERT, the connection still points at it, and the
     * next statement reads last_insert_rowid() again, after the driver's capture refresh inserted into
     * _sync_tables (a rowid table): the statement reports the rowid of the driver's bookkeeping row. The
     * first read's statement is also overwritten without being closed.
     */
    @Test
    void keysReadAtOnceAreNotReadAgainAfterTheCaptureRefresh() throws Exception {
        differential("unknown", "", (c, out) -> {
            try (Statement a = c.createStatement(); Statement b = c.createStatement()) {
                a.executeUpdate("INSERT INTO item (name) VALUES ('x')");
                a.executeUpdate("INSERT INTO tag (id, label) VALUES (100, 'm'); CREATE TABLE t3 (id INTEGER PRIMARY KEY, v TEXT)");
                b.executeUpdate("INSERT INTO tag (label) VALUES ('t')");
                out.add("multi-statement, read after another insert " + keys(a) + " " + keys(b));
            }
        });
    }

    /**
     * An INSERT that fails after SQLite inserted some of its rows (a later row of a multi-row VALUES, an
     * immediate foreign key, an AFTER trigger's RAISE) leaves last_insert_rowid() at the rolled-back row.
     * sqlite-jdbc keeps the keys of the statement's last successful execution (it read them then); the
     * driver, whose keys for that execution are still pending, reads the rolled-back rowid.
     */
    @Test
    void aFailedInsertLeavesTheKeysOfTheLastSuccessfulOne() throws Exception {
        differential("failed", "foreign_keys=true", (c, out) -> {
            try (Statement st = c.createStatement()) {
                st.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, item INTEGER REFERENCES item (id))");
                st.execute("CREATE TABLE audited (id INTEGER PRIMARY KEY, v INTEGER)");
                st.execute("CREATE TRIGGER no_negatives AFTER INSERT ON audited WHEN new.v < 0"
                        + " BEGIN SELECT RAISE(ABORT, 'negative'); END");
                st.executeUpdate("INSERT INTO item (name) VALUES ('a')");
            }
            try (Statement a = c.createStatement()) {
                a.executeUpdate("INSERT INTO item (name) VALUES ('p')");
                try {
                    a.executeUpdate("INSERT INTO item (name) VALUES ('q'), ('a')");
                    out.add("multi-row insert succeeded?");
                } catch (SQLException e) {
                    out.add("multi-row insert failed");
                }
                out.add("statement after its multi-row failure " + keys(a));
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO child (item) VALUES (?)")) {
                ps.setLong(1, 1);
                ps.executeUpdate();
                ps.setLong(1, 999);
                try {
                    ps.executeUpdate();
                    out.add("foreign key not enforced?");
                } catch (SQLException e) {
                    out.add("foreign key failed");
                }
                out.add("prepared after its foreign key failure " + keys(ps));
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO audited (v) VALUES (?)")) {
                ps.setLong(1, 1);
                ps.executeUpdate();
                ps.setLong(1, -1);
                try {
                    ps.executeUpdate();
                    out.add("trigger did not abort?");
                } catch (SQLException e) {
                    out.add("trigger aborted");
                }
                out.add("prepared after its trigger abort " + keys(ps));
            }
        });
    }

    // ---------------------------------------------------------------- behaviour pinned (passes)

    /** Execution paths and transaction boundaries GeneratedKeysTest does not run, compared one by one. */
    @Test
    void otherPathsGiveSqliteJdbcsKeys() throws Exception {
        differential("paths", "", (c, out) -> {
            try (Statement st = c.createStatement(); Statement other = c.createStatement()) {
                st.execute("INSERT INTO item (name) VALUES ('e1')", Statement.RETURN_GENERATED_KEYS);
                out.add("execute(sql, RETURN_GENERATED_KEYS) " + keys(st));
                st.executeUpdate("INSERT INTO item (name) VALUES ('e2')", Statement.RETURN_GENERATED_KEYS);
                out.add("executeUpdate(sql, RETURN_GENERATED_KEYS) " + keys(st));
                st.executeLargeUpdate("INSERT INTO item (name) VALUES ('e3')");
                out.add("executeLargeUpdate " + keys(st));
                st.execute("replace INTO item (id, name) VALUES (77, 'e4')");
                out.add("lower-case replace " + keys(st));
                st.execute("  \n INSERT INTO item (name) VALUES ('e5')");
                out.add("leading whitespace " + keys(st));
                st.execute("/* c */ INSERT INTO item (name) VALUES ('e6')");
                out.add("leading comment " + keys(st));

                // INSERT ... RETURNING through execute (keys pending while its rows are read) and executeQuery.
                st.execute("INSERT INTO item (name) VALUES ('r1'), ('r2') RETURNING id");
                try (ResultSet rs = st.getResultSet()) {
                    while (rs.next()) {
                        out.add("returned " + rs.getLong(1));
                    }
                }
                out.add("execute returning " + keys(st));
                st.executeUpdate("INSERT INTO item (name) VALUES ('r3')");
                try (ResultSet rs = st.executeQuery("INSERT INTO item (name) VALUES ('r4') RETURNING id")) {
                    rs.next();
                    out.add("executeQuery returning " + rs.getLong(1));
                }
                out.add("keys after executeQuery returning " + keys(st));

                // A batch after an unread insert, on the same statement and on another.
                st.executeUpdate("INSERT INTO item (name) VALUES ('b0')");
                st.addBatch("INSERT INTO item (name) VALUES ('b1')");
                st.addBatch("INSERT INTO item (name) VALUES ('b2')");
                st.executeBatch();
                out.add("statement after its batch " + keys(st));

                // A failed statement elsewhere, then one with a syntax error, with keys unread.
                st.executeUpdate("INSERT INTO item (name) VALUES ('f0')");
                try {
                    other.executeUpdate("INSERT INTO item (name) VALUES ('f0')");
                } catch (SQLException e) {
                    out.add("other failed");
                }
                try {
                    other.executeUpdate("INSERT INTO nowhere VALUES (1)");
                } catch (SQLException e) {
                    out.add("syntax failed");
                }
                out.add("after others failed " + keys(st) + " " + keys(other));

                // An application trigger that inserts elsewhere: SQLite restores the rowid after it.
                other.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT)");
                other.execute("CREATE TRIGGER logged AFTER INSERT ON tag BEGIN INSERT INTO log (what) VALUES (new.label);"
                        + " INSERT INTO log (what) VALUES (new.label); END");
                st.executeUpdate("INSERT INTO tag (id, label) VALUES (40, 'trig')");
                out.add("with trigger " + keys(st));
            }

            // Hibernate-style: prepareStatement(sql, RETURN_GENERATED_KEYS), executeUpdate, read, close.
            for (int i = 0; i < 3; i++) {
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO tag (label) VALUES (?)",
                        Statement.RETURN_GENERATED_KEYS)) {
                    ps.setString(1, "h" + i);
                    ps.executeUpdate();
                    try (ResultSet rs = ps.getGeneratedKeys()) {
                        rs.next();
                        out.add("hibernate " + rs.getLong(1));
                    }
                }
            }

            // Transactions: JDBC rollback, savepoint rollback, DDL then JDBC commit, SQL BEGIN/COMMIT.
            try (PreparedStatement item = c.prepareStatement("INSERT INTO item (name) VALUES (?)");
                 Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                item.setString(1, "t1");
                item.executeUpdate();
                c.rollback();
                out.add("after rollback " + keys(item));
                item.setString(1, "t2");
                item.executeUpdate();
                Savepoint sp = c.setSavepoint();
                item.setString(1, "t3");
                item.executeUpdate();
                c.rollback(sp);
                out.add("after savepoint rollback " + keys(item));
                st.execute("CREATE TABLE t5 (id INTEGER PRIMARY KEY, v TEXT)");
                item.setString(1, "t4");
                item.executeUpdate();
                c.commit();
                out.add("after a commit with DDL " + keys(item));
                item.setString(1, "t5");
                item.executeUpdate();
                c.setAutoCommit(true);
                out.add("after setAutoCommit(true) " + keys(item));
                st.execute("BEGIN");
                item.setString(1, "t6");
                item.executeUpdate();
                st.execute("COMMIT");
                out.add("after SQL COMMIT " + keys(item) + " " + keys(st));
                st.execute("SAVEPOINT s1");
                item.setString(1, "t7");
                item.executeUpdate();
                st.execute("RELEASE s1");
                out.add("after RELEASE " + keys(item));
            }
        });
    }

    /** A second connection to the same file inserting in between does not change the first one's keys. */
    @Test
    void keysBelongToTheirConnection() throws Exception {
        for (boolean synced : new boolean[] {false, true}) {
            String file = dir.resolve((synced ? "s" : "p") + "-two.db").toString();
            String url = synced ? "jdbc:syncsqlite:" + file + "?sync.lingerMs=0" : "jdbc:sqlite:" + file + "?journal_mode=WAL";
            try (Connection one = DriverManager.getConnection(url); Connection two = DriverManager.getConnection(url)) {
                one.createStatement().execute(ITEM);
                PreparedStatement a = one.prepareStatement("INSERT INTO item (name) VALUES (?)");
                PreparedStatement b = two.prepareStatement("INSERT INTO item (name) VALUES (?)");
                a.setString(1, "a");
                a.executeUpdate();
                b.setString(1, "b");
                b.executeUpdate();
                assertEquals("[1]", keys(a), synced ? "syncsqlite" : "sqlite");
                assertEquals("[2]", keys(b), synced ? "syncsqlite" : "sqlite");
            }
        }
    }

    /** An application that turned sqlite-jdbc's keys off in the URL gets none, as from sqlite-jdbc. */
    @Test
    void keysTurnedOffInTheUrlStayOff() throws Exception {
        differential("off", "jdbc.get_generated_keys=false", (c, out) -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO item (name) VALUES (?)");
                 Statement st = c.createStatement()) {
                ps.setString(1, "a");
                ps.executeUpdate();
                out.add("prepared " + keys(ps));
                st.executeUpdate("INSERT INTO item (name) VALUES ('b')");
                out.add("statement " + keys(st));
                out.add("setting " + c.unwrap(SQLiteConnection.class).getConnectionConfig().isGetGeneratedKeys());
            }
        });
    }

    /** Statements with keys pending, read or not, close cleanly after their connection closed. */
    @Test
    void statementsWithKeysCloseAfterTheirConnection() throws Exception {
        Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("close.db") + "?sync.lingerMs=0");
        c.createStatement().execute(ITEM);
        PreparedStatement unread = c.prepareStatement("INSERT INTO item (name) VALUES ('a')");
        PreparedStatement read = c.prepareStatement("INSERT INTO item (name) VALUES ('b')");
        unread.executeUpdate();
        read.executeUpdate();
        assertEquals("[2]", keys(read));
        c.close();
        unread.close();
        read.close();
        assertTrue(unread.isClosed() && read.isClosed());
    }
}
