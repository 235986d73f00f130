package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** DatabaseMetaData lists the application's tables, not the driver's own, unless one is asked for by name. */
class SyncMetaDataTest {

    @TempDir
    Path dir;

    private static List<String> names(ResultSet rs, String column) throws SQLException {
        List<String> out = new ArrayList<>();
        try (rs) {
            while (rs.next()) {
                out.add(rs.getString(column));
            }
        }
        return out;
    }

    @Test
    void theDriversTablesAreLeftOutOfListings() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0");
             Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT)");
            st.execute("CREATE TABLE log (what TEXT)");
            DatabaseMetaData md = c.getMetaData();
            assertEquals(List.of("item", "log"), names(md.getTables(null, null, "%", new String[] {"TABLE"}), "TABLE_NAME"));
            assertEquals(List.of("item", "log"), names(md.getTables(null, null, null, null), "TABLE_NAME").stream()
                    .filter(n -> !n.startsWith("sqlite_")).toList());
            assertEquals(List.of("item", "item", "log"), names(md.getColumns(null, null, "%", "%"), "TABLE_NAME").stream()
                    .filter(n -> !n.startsWith("sqlite_")).toList()); // sqlite-jdbc lists sqlite_schema's columns too
            // Asked for by its name, a table of the driver's is described.
            assertEquals(List.of("_sync_outbox"), names(md.getTables(null, null, "_sync_outbox", null), "TABLE_NAME"));
            assertEquals("seq", names(md.getColumns(null, null, "_sync_outbox", "%"), "COLUMN_NAME").get(0));
            // The same calls on plain sqlite-jdbc list the driver's tables among the application's.
            try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"))) {
                List<String> all = names(plain.getMetaData().getTables(null, null, "%", new String[] {"TABLE"}), "TABLE_NAME");
                assertTrue(all.contains("_sync_outbox"), all.toString());
            }
        }
    }
}
