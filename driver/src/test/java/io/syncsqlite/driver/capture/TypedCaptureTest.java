package io.syncsqlite.driver.capture;

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
import java.util.List;
import java.util.StringJoiner;

import static io.syncsqlite.driver.capture.Sql.exec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The two outbox formats side by side: typed rows for tables that fit the value columns, JSON for wider
 * ones and for rows an earlier version wrote, all read back the same way (real SQLite files, no relay).
 */
class TypedCaptureTest {

    @TempDir
    Path dir;

    private Connection open() throws SQLException {
        return DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0");
    }

    /** How each outbox row is stored: "typed" or "json", in order. */
    private static List<String> formats(Connection c) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT layout IS NOT NULL, vals IS NOT NULL FROM _sync_outbox WHERE op <> 3 ORDER BY seq")) {
            while (rs.next()) {
                out.add(rs.getBoolean(1) ? "typed" : rs.getBoolean(2) ? "json" : "?");
            }
        }
        return out;
    }

    private static String wideTable(String name, int columns) {
        StringJoiner cols = new StringJoiner(", ", "CREATE TABLE " + name + " (id INTEGER PRIMARY KEY, ", ")");
        for (int i = 1; i < columns; i++) {
            cols.add("c" + i + (i % 2 == 0 ? " TEXT" : " REAL"));
        }
        return cols.toString();
    }

    @Test
    void tablesUpToTheValueColumnsAreTypedWiderOnesJsonAndBothReadTheSame() throws SQLException {
        try (Connection c = open()) {
            exec(c, wideTable("fits", Outbox.VALUE_COLUMNS), wideTable("wide", Outbox.VALUE_COLUMNS + 1));
            for (String t : List.of("fits", "wide")) {
                exec(c, "INSERT INTO " + t + " (id, c1, c2, c3) VALUES (7, 0.1, 'x', 2.5)",
                        "UPDATE " + t + " SET c2 = 'y', c5 = 1e300 WHERE id = 7",
                        "UPDATE " + t + " SET id = 8 WHERE id = 7",
                        "DELETE FROM " + t + " WHERE id = 8");
            }
            assertEquals(List.of("typed", "typed", "typed", "json", "json", "json"), formats(c));
            List<String> rows = CaptureTest.outbox(c);
            assertEquals(10, rows.size(), rows.toString());
            String nulls = ",\"c4\":null,\"c6\":null,\"c7\":null,\"c8\":null,\"c9\":null,\"c10\":null,"
                    + "\"c11\":null,\"c12\":null,\"c13\":null,\"c14\":null,\"c15\":null";
            for (int t = 0; t < 2; t++) {
                String more = t == 1 ? ",\"c16\":null" : "";
                List<String> expected = List.of(
                        "1:{\"id\":7}:{\"id\":7,\"c1\":0.1,\"c2\":\"x\",\"c3\":2.5" + nulls.replace(",\"c6\"", ",\"c5\":null,\"c6\"") + more + "}:null",
                        "2:{\"id\":7}:{\"id\":7,\"c1\":null,\"c2\":\"y\",\"c3\":null,\"c4\":null,\"c5\":1E+300"
                                + nulls.substring(",\"c4\":null".length()) + more + "}:001001" + "0".repeat(10 + t),
                        "3:{\"id\":7}:null:null",
                        "1:{\"id\":8}:{\"id\":8,\"c1\":0.1,\"c2\":\"y\",\"c3\":2.5,\"c4\":null,\"c5\":1E+300"
                                + nulls.substring(",\"c4\":null".length()) + more + "}:null",
                        "3:{\"id\":8}:null:null");
                assertEquals(expected, rows.subList(5 * t, 5 * t + 5));
            }
        }
    }

    @Test
    void rowsCapturedBeforeAnAlterKeepTheirColumns() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER)",
                    "INSERT INTO item (id, title, qty) VALUES (1, 'a', 5)",
                    "ALTER TABLE item ADD COLUMN note TEXT",
                    "INSERT INTO item (id, title, qty, note) VALUES (2, 'b', 6, 'n')",
                    "ALTER TABLE item ADD COLUMN extra REAL",
                    "UPDATE item SET title = 'c' WHERE id = 1");
            assertEquals(List.of(
                    "1:{\"id\":1}:{\"id\":1,\"title\":\"a\",\"qty\":5}:null",
                    "1:{\"id\":2}:{\"id\":2,\"title\":\"b\",\"qty\":6,\"note\":\"n\"}:null",
                    "2:{\"id\":1}:{\"id\":1,\"title\":\"c\",\"qty\":null,\"note\":null,\"extra\":null}:01000"),
                    CaptureTest.outbox(c));
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM _sync_layouts")) {
                rs.next();
                assertEquals(3, rs.getInt(1), "one layout per shape");
            }
        }
        try (Connection c = open()) {
            exec(c, "INSERT INTO item (id, qty, note) VALUES (4, 8, 'o')");
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM _sync_layouts")) {
                rs.next();
                assertEquals(3, rs.getInt(1), "reopening an unchanged table finds its layout");
            }
        }
    }

    /** Found by the second review of typed capture (older than it): trigger names are case-insensitive. */
    @Test
    void aTableRecreatedUnderANameDifferingInCaseKeepsItsCapture() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE Item (id INTEGER PRIMARY KEY, title TEXT)", "INSERT INTO Item VALUES (1, 'a')");
        }
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"))) {
            exec(raw, "DROP TABLE Item", "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT)");
        }
        try (Connection c = open()) {
            exec(c, "INSERT INTO item VALUES (2, 'b')");
            List<String> rows = CaptureTest.outbox(c);
            assertEquals("1:{\"id\":2}:{\"id\":2,\"title\":\"b\"}:null", rows.get(rows.size() - 1), rows.toString());
        }
    }

    @Test
    void aFileOfANewerFormatIsRefusedAndAnOlderOneIsMarkedWithThisFormat() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT)", "INSERT INTO item VALUES (1, 'a')");
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT v FROM _sync_state WHERE k = 'format'")) {
                assertTrue(rs.next());
                assertEquals(Outbox.FORMAT, rs.getInt(1));
            }
        }
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"))) {
            exec(raw, "UPDATE _sync_state SET v = " + (Outbox.FORMAT + 1) + " WHERE k = 'format'");
        }
        SQLException e = assertThrows(SQLException.class, this::open);
        assertEquals("SY003", e.getSQLState());
        assertTrue(e.getMessage().contains("written by a newer syncsqlite (file format " + (Outbox.FORMAT + 1) + ")"),
                e.getMessage());
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"))) {
            try (Statement st = raw.createStatement(); ResultSet rs = st.executeQuery("SELECT title FROM item")) {
                assertTrue(rs.next());
                assertEquals("a", rs.getString(1), "nothing committed is lost");
            }
        }
    }

    @Test
    void aFileWrittenBeforeTypedCaptureKeepsItsPendingRowsReadable() throws SQLException {
        TableInfo item;
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"))) {
            // the outbox and triggers exactly as the version before typed capture created them
            exec(raw, "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, price REAL, data BLOB)",
                    "CREATE TABLE _sync_outbox (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op INTEGER NOT NULL,"
                            + " pk TEXT, vals TEXT, changed TEXT, hlc INTEGER, ack INTEGER, deltas TEXT)",
                    "CREATE TABLE _sync_state (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID",
                    "CREATE TABLE _sync_tables (name TEXT PRIMARY KEY, triggers TEXT NOT NULL)");
            item = SchemaReader.readTable(raw, "item");
            // (that version's triggers had no guard for the sync client's applies either)
            List<String> old = TriggerSql.forTable(item, null).stream()
                    .map(ApplyGuard::without)
                    .toList();
            exec(raw, old.toArray(String[]::new));
            try (PreparedStatement ps = raw.prepareStatement("INSERT INTO _sync_tables (name, triggers) VALUES ('item', ?)")) {
                ps.setString(1, String.join(";\n", old));
                ps.executeUpdate();
            }
            exec(raw, "INSERT INTO item VALUES (1, 'a', 1.5, x'0A0B')",
                    "UPDATE item SET title = 'b' WHERE id = 1",
                    "UPDATE _sync_outbox SET hlc = 1 WHERE seq = (SELECT max(seq) FROM _sync_outbox)");
        }
        try (Connection c = open()) {
            exec(c, "INSERT INTO item VALUES (2, 'c', 2.5, x'0C')",
                    "UPDATE item SET title = 'd' WHERE id = 1");
            assertEquals(List.of("json", "json", "typed", "typed"), formats(c));
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT v FROM _sync_state WHERE k = 'format'")) {
                assertTrue(rs.next(), "an upgraded file records its format");
                assertEquals(Outbox.FORMAT, rs.getInt(1));
            }
            assertEquals(List.of(
                    "1:{\"id\":1}:{\"id\":1,\"title\":\"a\",\"price\":1.5,\"data\":\"\\\\x0A0B\"}:null",
                    "2:{\"id\":1}:{\"id\":1,\"title\":\"b\",\"price\":null,\"data\":null}:0100",
                    "1:{\"id\":2}:{\"id\":2,\"title\":\"c\",\"price\":2.5,\"data\":\"\\\\x0C\"}:null",
                    "2:{\"id\":1}:{\"id\":1,\"title\":\"d\",\"price\":null,\"data\":null}:0100"), CaptureTest.outbox(c));
        }
    }

    /**
     * A typed update stores a marked mask ({@link TriggerSql#MARKED}): a column that cannot hold bytes tells by its value
     * whether the update changed it (NULL left alone, bytes set to NULL), a BLOB or untyped column by its bit. Read
     * back, both say the same as the plain mask did: the bytes that mark a NULL in a TEXT column are real bytes in a
     * BLOB one.
     */
    @Test
    void aTypedUpdateTellsANullWrittenFromAColumnLeftAloneInEveryKindOfColumn() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, price REAL, data BLOB, extra)",
                    "INSERT INTO item VALUES (1, 'a', 1.5, x'0A', 'e')",
                    "UPDATE item SET title = NULL, data = x'00' WHERE id = 1",
                    "UPDATE item SET price = NULL, data = NULL, extra = x'00', title = title WHERE id = 1",
                    "UPDATE item SET title = 'b', extra = NULL WHERE id = 1");
            try (Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT changed FROM _sync_outbox WHERE op = 2 ORDER BY seq LIMIT 1")) {
                assertTrue(rs.next());
                assertTrue(rs.getString(1).startsWith("~0mm"), rs.getString(1));
            }
            assertEquals(List.of(
                    "1:{\"id\":1}:{\"id\":1,\"title\":\"a\",\"price\":1.5,\"data\":\"\\\\x0A\",\"extra\":\"e\"}:null",
                    "2:{\"id\":1}:{\"id\":1,\"title\":null,\"price\":null,\"data\":\"\\\\x00\",\"extra\":null}:01010",
                    "2:{\"id\":1}:{\"id\":1,\"title\":null,\"price\":null,\"data\":null,\"extra\":\"\\\\x00\"}:00111",
                    "2:{\"id\":1}:{\"id\":1,\"title\":\"b\",\"price\":null,\"data\":null,\"extra\":null}:01001"),
                    CaptureTest.outbox(c));
        }
    }
}
