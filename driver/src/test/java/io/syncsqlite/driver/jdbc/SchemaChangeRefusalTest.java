package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
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

    private static List<String> columns(Connection c, String table) throws SQLException {
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
}
