package io.syncsqlite.driver.jdbc;

import io.syncsqlite.driver.sql.SchemaListing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reads of SQLite's schema table through the driver answer what plain sqlite-jdbc answers on a file with the same
 * application schema and nothing of the driver's (SchemaListing): a tool such as Flyway decides from them whether a
 * file is new.
 */
class SchemaListingTest {

    private static final String[] SCHEMA = {
            "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT UNIQUE, qty INTEGER NOT NULL DEFAULT 0)",
            "CREATE TABLE log (what TEXT)",
            "CREATE INDEX item_qty ON item (qty)",
            "CREATE VIEW big AS SELECT * FROM item WHERE qty > 10",
            "CREATE TRIGGER item_log AFTER INSERT ON item BEGIN INSERT INTO log VALUES ('added ' || NEW.title); END",
    };

    /** Queries over the schema table, as tools and applications write them; none names the driver's objects. */
    private static final String[] QUERIES = {
            "SELECT tbl_name FROM \"main\".sqlite_master WHERE type='table'",
            "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name",
            "select name from SQLITE_MASTER where type = 'trigger' order by 1",
            "SELECT count(*) FROM sqlite_master",
            "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p WHERE m.type = 'table' ORDER BY 1, p.cid",
            "SELECT m.name FROM main.sqlite_schema m WHERE m.type = 'index' ORDER BY 1",
            "SELECT sqlite_master.name FROM sqlite_master WHERE sqlite_master.type = 'view'",
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%')",
            "SELECT a.name, b.name FROM sqlite_master a JOIN \"sqlite_schema\" b ON a.tbl_name = b.name WHERE a.type = 'trigger'",
            "SELECT name FROM sqlite_master WHERE type = 'table' UNION SELECT name FROM temp.sqlite_master ORDER BY 1",
            "SELECT 'FROM sqlite_master', (SELECT count(*) FROM sqlite_temp_master)",
    };

    @TempDir
    Path dir;

    @Test
    void schemaQueriesAnswerAsOnAFileWithoutTheDriver() throws Exception {
        try (Connection synced = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("synced.db") + "?sync.lingerMs=0");
             Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("plain.db"))) {
            for (Connection c : List.of(synced, plain)) {
                try (Statement st = c.createStatement()) {
                    for (String ddl : SCHEMA) {
                        st.execute(ddl);
                    }
                }
            }
            for (String q : QUERIES) {
                assertEquals(statementRows(plain, q), statementRows(synced, q), q);
                assertEquals(statementRows(plain, q), preparedRows(synced, q), "prepared: " + q);
            }
            // The same query through plain sqlite-jdbc on the synced file lists the driver's objects: the test can fail.
            try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("synced.db"))) {
                assertNotEquals(statementRows(plain, QUERIES[1]), statementRows(raw, QUERIES[1]));
            }
        }
    }

    @Test
    void aNewFileLooksEmptyToAQueryOfItsTables() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("new.db") + "?sync.lingerMs=0")) {
            assertEquals(List.of(), statementRows(c, QUERIES[0]));
            assertEquals(List.of("0"), statementRows(c, QUERIES[3]));
        }
    }

    @Test
    void aQueryNamingTheDriversObjectsSeesThem() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("named.db") + "?sync.lingerMs=0");
             Statement st = c.createStatement()) {
            st.execute(SCHEMA[0]);
            List<String> triggers = statementRows(c, "SELECT name FROM sqlite_master WHERE name LIKE '\\_sync\\_%' ESCAPE '\\' AND type = 'trigger'");
            assertTrue(triggers.contains("_sync_ins_item"), triggers.toString());
            assertEquals(List.of("1"), statementRows(c, "SELECT count(*) FROM sqlite_schema WHERE name = '_sync_outbox'"));
        }
    }

    @Test
    void onlyASchemaTableReadAsATableIsRewritten() {
        for (String same : new String[] {
                "SELECT name FROM temp.sqlite_master",
                "SELECT 'FROM sqlite_master'",
                "SELECT * FROM item",
                "SELECT name FROM sqlite_master WHERE name = '_sync_outbox'",
                "SELECT sqlite_master FROM t",
        }) {
            assertSame(same, SchemaListing.hideDriverObjects(same), same);
        }
        String filter = " WHERE NOT coalesce(name LIKE '\\_sync\\_%' ESCAPE '\\' OR tbl_name LIKE '\\_sync\\_%' ESCAPE '\\', 0))";
        assertEquals("SELECT name FROM (SELECT * FROM sqlite_master" + filter + " AS sqlite_master WHERE type = 'table'",
                SchemaListing.hideDriverObjects("SELECT name FROM sqlite_master WHERE type = 'table'"));
        assertEquals("SELECT m.name FROM (SELECT * FROM \"main\".\"sqlite_schema\"" + filter + " m",
                SchemaListing.hideDriverObjects("SELECT m.name FROM \"main\".\"sqlite_schema\" m"));
        // an attached file may be one the driver opened
        assertEquals("SELECT name FROM (SELECT * FROM aux.sqlite_schema" + filter + " AS sqlite_schema",
                SchemaListing.hideDriverObjects("SELECT name FROM aux.sqlite_schema"));
        // rewriting is idempotent: the filter names the driver's objects
        String once = SchemaListing.hideDriverObjects("SELECT count(*) FROM sqlite_master");
        assertSame(once, SchemaListing.hideDriverObjects(once));
    }

    private static List<String> statementRows(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rows(rs);
        }
    }

    private static List<String> preparedRows(Connection c, String sql) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
            return rows(rs);
        }
    }

    private static List<String> rows(ResultSet rs) throws SQLException {
        List<String> out = new ArrayList<>();
        ResultSetMetaData md = rs.getMetaData();
        while (rs.next()) {
            StringBuilder row = new StringBuilder();
            for (int i = 1; i <= md.getColumnCount(); i++) {
                row.append(i > 1 ? "|" : "").append(rs.getString(i));
            }
            out.add(row.toString());
        }
        return out;
    }
}
