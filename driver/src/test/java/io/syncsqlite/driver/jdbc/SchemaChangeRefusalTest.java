package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** DDL on a synced table that sync cannot follow fails clearly, leaves the table as it was, and costs nothing else. */
class SchemaChangeRefusalTest {

    @TempDir
    Path dir;

    private Connection open() throws SQLException {
        Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("app.db")
                + "?sync.lingerMs=0&sync.tables=item");
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS item (id TEXT PRIMARY KEY, title TEXT, note TEXT)");
            st.execute("CREATE TABLE IF NOT EXISTS scratch (id TEXT PRIMARY KEY, tmp TEXT)");
        }
        return c;
    }

    /** The columns of {@code table}, in order (shared with the review tests of this area). */
    static List<String> columns(Connection c, String table) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT name FROM pragma_table_info('" + table + "') ORDER BY cid")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    @Test
    void droppingOrRenamingOnASyncedTableIsRefused() throws Exception {
        try (Connection c = open(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO item (id, title, note) VALUES ('1', 'a', 'n')");
            for (String ddl : List.of("ALTER TABLE item DROP COLUMN note", "alter table main.item drop note",
                    "ALTER TABLE \"item\" RENAME COLUMN note TO remark", "ALTER TABLE item RENAME TO items")) {
                SQLException e = assertThrows(SQLException.class, () -> st.execute(ddl), ddl);
                assertEquals("SY002", e.getSQLState(), ddl);
                assertTrue(e.getMessage().contains("item"), e.getMessage());
            }
            c.setAutoCommit(false);
            assertThrows(SQLException.class, () -> st.execute("ALTER TABLE item DROP COLUMN note"));
            st.executeUpdate("UPDATE item SET title = 'b' WHERE id = '1'");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("id", "title", "note"), columns(c, "item"));
            try (ResultSet rs = st.executeQuery("SELECT title, note FROM item")) {
                rs.next();
                assertEquals("b", rs.getString(1), "the transaction went on after the refused statement");
                assertEquals("n", rs.getString(2));
            }
        }
    }

    @Test
    void addingAColumnAndAlteringUnsyncedTablesStillWork() throws Exception {
        try (Connection c = open(); Statement st = c.createStatement()) {
            assertDoesNotThrow(() -> st.execute("ALTER TABLE item ADD COLUMN extra INTEGER"));
            assertDoesNotThrow(() -> st.execute("ALTER TABLE scratch DROP COLUMN tmp"));
            assertDoesNotThrow(() -> st.execute("ALTER TABLE scratch RENAME TO scratch2"));
            assertEquals(List.of("id", "title", "note", "extra"), columns(c, "item"));
        }
    }

    private static String title(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT title FROM item WHERE id = '1'")) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    @Test
    void aRefusedAlterAmongSeveralStatementsRunsNoneOfThem() throws Exception {
        try (Connection c = open(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO item (id, title, note) VALUES ('1', 'a', 'n')");
            // executeUpdate runs every statement of the string (sqlite-jdbc's sqlite3_exec): each ALTER is checked.
            for (String sql : List.of(
                    "UPDATE item SET title = 'b' WHERE id = '1'; ALTER TABLE item DROP COLUMN note",
                    "UPDATE item SET title = 'b' WHERE id = '1';\n  /* then */ alter table \"item\" rename column note to remark;",
                    "ALTER TABLE scratch ADD COLUMN more TEXT; ALTER TABLE main.item RENAME TO items; UPDATE item SET title = 'b'")) {
                SQLException e = assertThrows(SQLException.class, () -> st.executeUpdate(sql), sql);
                assertEquals("SY002", e.getSQLState(), sql);
                assertTrue(e.getMessage().contains("item"), e.getMessage());
                assertEquals("a", title(c), "no statement of the string ran: " + sql);
                assertEquals(List.of("id", "title", "note"), columns(c, "item"), sql);
                assertEquals(List.of("id", "tmp"), columns(c, "scratch"), sql);
            }
            // execute, executeQuery and prepared statements run only the first statement: only it is checked.
            assertEquals("SY002", assertThrows(SQLException.class,
                    () -> st.execute("ALTER TABLE item DROP COLUMN note; UPDATE item SET title = 'b'")).getSQLState());
            assertEquals("SY002", assertThrows(SQLException.class, () -> {
                try (PreparedStatement ps = c.prepareStatement("ALTER TABLE item RENAME TO items; SELECT 1")) {
                    ps.execute();
                }
            }).getSQLState());
            assertEquals("a", title(c));
            assertDoesNotThrow(() -> st.execute("UPDATE item SET title = 'b' WHERE id = '1'; ALTER TABLE item DROP COLUMN note"));
            assertEquals("b", title(c));
            assertEquals(List.of("id", "title", "note"), columns(c, "item"), "sqlite-jdbc ran the first statement only");
            // What sync follows still runs as several statements, a trigger whose body holds ';' included.
            assertDoesNotThrow(() -> st.executeUpdate("ALTER TABLE item ADD COLUMN extra INTEGER;"
                    + " CREATE TRIGGER scratch_t AFTER INSERT ON scratch BEGIN UPDATE scratch SET tmp = 'x'"
                    + " WHERE id = NEW.id; END; ALTER TABLE scratch RENAME COLUMN tmp TO tmp2; UPDATE item SET title = 'c'"));
            assertEquals("c", title(c));
            assertEquals(List.of("id", "title", "note", "extra"), columns(c, "item"));
            assertEquals(List.of("id", "tmp2"), columns(c, "scratch"));
        }
    }

    @Test
    void aRefusedAlterInABatchRunsNoEntry() throws Exception {
        try (Connection c = open(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO item (id, title, note) VALUES ('1', 'a', 'n')");
            for (boolean autoCommit : new boolean[] {true, false}) {
                c.setAutoCommit(autoCommit);
                for (String first : List.of("UPDATE item SET title = 'b' WHERE id = '1'",
                        // An entry that says ROLLBACK takes the batch path that runs it unwrapped.
                        "INSERT OR ROLLBACK INTO scratch (id, tmp) VALUES ('s', 'x')")) {
                    st.addBatch(first);
                    st.addBatch("ALTER TABLE item DROP COLUMN note");
                    SQLException e = assertThrows(SQLException.class, st::executeBatch, first);
                    assertInstanceOf(BatchUpdateException.class, e);
                    assertEquals("SY002", e.getSQLState());
                    assertEquals(0, ((BatchUpdateException) e).getUpdateCounts().length);
                    assertEquals("a", title(c), "no entry ran: " + first);
                    assertEquals(List.of("id", "title", "note"), columns(c, "item"));
                }
                // A batch entry runs its first statement only: that one is checked.
                st.addBatch("UPDATE item SET title = 'c' WHERE id = '1'");
                st.addBatch("ALTER TABLE item RENAME TO items; UPDATE item SET title = 'c' WHERE id = '1'");
                assertEquals("SY002", assertThrows(SQLException.class, st::executeLargeBatch).getSQLState());
                assertEquals("a", title(c));
                // The batch was cleared, and the connection (and its transaction) goes on.
                st.addBatch("UPDATE item SET title = 'd' WHERE id = '1'");
                assertEquals(1, st.executeBatch().length);
                if (!autoCommit) {
                    c.commit();
                }
                assertEquals("d", title(c));
                st.executeUpdate("UPDATE item SET title = 'a' WHERE id = '1'");
                if (!autoCommit) {
                    c.commit();
                }
            }
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM scratch")) {
                rs.next();
                assertEquals(0, rs.getInt(1));
            }
        }
    }

    /** The outbox's rows of table item: op, layout columns, values v0..v3, oldest first. */
    private static List<String> outbox(Connection c) throws SQLException {
        return outbox(c, 4);
    }

    /** The outbox's rows of table item: op, layout columns and the first {@code values} value columns, oldest first. */
    static List<String> outbox(Connection c, int values) throws SQLException {
        StringBuilder v = new StringBuilder();
        for (int i = 0; i < values; i++) {
            v.append(i == 0 ? "" : ", ").append("o.v").append(i);
        }
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT o.op, l.cols, json_array(" + v
                + ") FROM _sync_outbox AS o JOIN _sync_layouts AS l ON l.id = o.layout WHERE o.tbl = 'item' ORDER BY o.seq")) {
            while (rs.next()) {
                out.add(rs.getInt(1) + " " + rs.getString(2).replace("\"", "") + " " + rs.getString(3));
            }
        }
        return out;
    }

    @Test
    void aBatchThatAddsAColumnAndWritesItCapturesTheNewValues() throws Exception {
        for (boolean autoCommit : new boolean[] {true, false}) {
            java.nio.file.Files.deleteIfExists(dir.resolve("app.db"));
            try (Connection c = open(); Statement st = c.createStatement()) {
                st.executeUpdate("INSERT INTO item (id, title, note) VALUES ('1', 'a', 'n')");
                c.setAutoCommit(autoCommit);
                st.addBatch("ALTER TABLE item ADD COLUMN extra TEXT");
                st.addBatch("UPDATE item SET extra = 'x' WHERE id = '1'");
                st.addBatch("INSERT INTO item (id, title, note, extra) VALUES ('2', 'b', 'm', 'y')");
                assertEquals(3, st.executeBatch().length);
                if (!autoCommit) {
                    c.commit();
                }
                List<String> rows = outbox(c);
                assertEquals(3, rows.size(), rows.toString());
                assertEquals("2 [id,title,note,extra] [\"1\",null,null,\"x\"]", rows.get(1), "autoCommit " + autoCommit);
                assertEquals("1 [id,title,note,extra] [\"2\",\"b\",\"m\",\"y\"]", rows.get(2), "autoCommit " + autoCommit);
            }
        }
    }

    @Test
    void severalStatementsThatAddAColumnAndThenWriteItAreCaptured() throws Exception {
        for (boolean autoCommit : new boolean[] {true, false}) {
            java.nio.file.Files.deleteIfExists(dir.resolve("app.db"));
            try (Connection c = open(); Statement st = c.createStatement()) {
                st.executeUpdate("INSERT INTO item (id, title, note) VALUES ('1', 'a', 'n')");
                c.setAutoCommit(autoCommit);
                // The usual migration: add a column, then fill it; here with an insert after it and an UPDATE of the
                // new column only, which the triggers of before the ALTER would not capture at all.
                st.executeUpdate("ALTER TABLE item ADD COLUMN extra TEXT; UPDATE item SET extra = 'x';"
                        + " /* ; */ INSERT INTO item (id, title, note, extra) VALUES ('2', 'b', 'm', 'y')");
                if (!autoCommit) {
                    c.commit();
                }
                List<String> rows = outbox(c);
                assertEquals(List.of("1 [id,title,note] [\"1\",\"a\",\"n\",null]",
                        "2 [id,title,note,extra] [\"1\",null,null,\"x\"]",
                        "1 [id,title,note,extra] [\"2\",\"b\",\"m\",\"y\"]"), rows, "autoCommit " + autoCommit);
            }
        }
    }

    @Test
    void severalStatementsThatAddAColumnAndWriteWhileManagingTheTransactionAreRefused() throws Exception {
        try (Connection c = open(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO item (id, title, note) VALUES ('1', 'a', 'n')");
            String sql = "BEGIN; ALTER TABLE item ADD COLUMN extra TEXT; UPDATE item SET extra = 'x'; COMMIT";
            SQLException e = assertThrows(SQLException.class, () -> st.executeUpdate(sql));
            assertEquals("SY002", e.getSQLState());
            assertTrue(e.getMessage().contains("ADD"), e.getMessage());
            assertEquals(List.of("id", "title", "note"), columns(c, "item"), "nothing ran");
            // Nothing written after the ADD, or the ADD of a table not synced: one call, as before.
            assertDoesNotThrow(() -> st.executeUpdate("BEGIN; ALTER TABLE scratch ADD COLUMN more TEXT; UPDATE scratch"
                    + " SET more = 'x'; COMMIT"));
            assertDoesNotThrow(() -> st.executeUpdate("ALTER TABLE item ADD COLUMN extra TEXT; CREATE INDEX j ON item (extra);"
                    + " DELETE FROM scratch"));
            assertEquals(List.of("id", "title", "note", "extra"), columns(c, "item"));
        }
    }
}
