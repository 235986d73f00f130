package io.syncsqlite.driver.capture;

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

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Virtual tables (FTS5, FTS4, R*Tree) in a file the driver opens, on real SQLite files with no relay. Their shadow
 * tables have keys, so every table with a key used to be synced: an FTS5 table's first insert then crashed the JVM
 * inside SQLite (exit 139), and FTS4 and R*Tree writes were captured as tables PostgreSQL has not got, which made
 * the relay refuse, and the client revert, the whole transaction. A virtual table of a module that is not loaded
 * made the driver refuse to open the file at all.
 */
class VirtualTableTest {

    @TempDir
    Path dir;

    private Connection open(String name, String params) throws SQLException {
        return DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve(name + ".db") + "?sync.lingerMs=0" + params);
    }

    /** Rows of {@code sql} read on the raw connection under {@code c} (it sees the driver's tables), as a|b|c strings. */
    static List<String> rows(Connection c, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.unwrap(org.sqlite.SQLiteConnection.class).createStatement(); ResultSet rs = st.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder b = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    b.append(i > 1 ? "|" : "").append(rs.getString(i));
                }
                out.add(b.toString());
            }
        }
        return out;
    }

    static List<String> outboxTables(Connection c) throws SQLException {
        return rows(c, "SELECT op || ' ' || tbl FROM _sync_outbox WHERE op <> 0 ORDER BY seq");
    }

    /** SQLite's documented external-content FTS5 index, kept by triggers, over a synced table. */
    @Test
    void anFts5IndexKeptByTriggersWorksAndOnlyItsTableIsCaptured() throws Exception {
        try (Connection c = open("fts5", ""); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)");
            st.execute("CREATE VIRTUAL TABLE note_fts USING fts5(body, content='note', content_rowid='id')");
            st.execute("CREATE TRIGGER note_ai AFTER INSERT ON note BEGIN"
                    + " INSERT INTO note_fts (rowid, body) VALUES (new.id, new.body); END");
            st.execute("CREATE TRIGGER note_ad AFTER DELETE ON note BEGIN"
                    + " INSERT INTO note_fts (note_fts, rowid, body) VALUES ('delete', old.id, old.body); END");
            st.execute("CREATE TRIGGER note_au AFTER UPDATE ON note BEGIN"
                    + " INSERT INTO note_fts (note_fts, rowid, body) VALUES ('delete', old.id, old.body);"
                    + " INSERT INTO note_fts (rowid, body) VALUES (new.id, new.body); END");
            st.executeUpdate("INSERT INTO note (id, body) VALUES (1, 'offline first sync'), (2, 'hello world')");
            c.setAutoCommit(false);
            st.executeUpdate("UPDATE note SET body = 'hello sync' WHERE id = 2");
            st.executeUpdate("INSERT INTO note (id, body) VALUES (3, 'nothing')");
            c.commit();
            c.setAutoCommit(true);
            st.executeUpdate("DELETE FROM note WHERE id = 1");
            st.execute("INSERT INTO note_fts (note_fts) VALUES ('optimize')");

            assertEquals(List.of("2"), rows(c, "SELECT rowid FROM note_fts WHERE note_fts MATCH 'sync'"));
            assertEquals(List.of("note"), rows(c, "SELECT name FROM _sync_tables"));
            assertEquals(List.of("1 note", "1 note", "2 note", "1 note", "3 note"), outboxTables(c));
        }
    }

    @Test
    void fts4AndRtreeTablesAreNotCaptured() throws Exception {
        try (Connection c = open("others", ""); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE place (id INTEGER PRIMARY KEY, name TEXT)");
            st.execute("CREATE VIRTUAL TABLE doc USING fts4(title, body)");
            st.execute("CREATE VIRTUAL TABLE box USING rtree(id, minx, maxx, miny, maxy)");
            st.execute("CREATE VIRTUAL TABLE words USING fts5(w)");
            c.setAutoCommit(false);
            st.executeUpdate("INSERT INTO doc (title, body) VALUES ('a', 'full text')");
            st.executeUpdate("INSERT INTO box VALUES (1, 0, 1, 0, 1)");
            st.executeUpdate("INSERT INTO words (w) VALUES ('x')");
            st.executeUpdate("INSERT INTO place (id, name) VALUES (1, 'here')");
            c.commit();
            c.setAutoCommit(true);

            assertEquals(List.of("1"), rows(c, "SELECT id FROM box WHERE minx >= 0 AND maxx <= 2"));
            assertEquals(List.of("place"), rows(c, "SELECT name FROM _sync_tables"));
            assertEquals(List.of("1 place"), outboxTables(c));
            assertEquals(List.of(), rows(c, "SELECT name FROM sqlite_schema WHERE type = 'trigger'"
                    + " AND name LIKE '\\_sync\\_%' ESCAPE '\\' AND tbl_name <> 'place'"));
        }
    }

    @Test
    void listedInSyncTablesAShadowTableIsStillNotCaptured() throws Exception {
        try (Connection c = open("listed", "&sync.tables=place,doc,doc_content"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE place (id INTEGER PRIMARY KEY, name TEXT)");
            st.execute("CREATE VIRTUAL TABLE doc USING fts4(title, body)");
            st.executeUpdate("INSERT INTO doc (title, body) VALUES ('a', 'full text')");
            st.executeUpdate("INSERT INTO place (id, name) VALUES (1, 'here')");
            assertEquals(List.of("1 place"), outboxTables(c));
        }
    }

    /** A virtual table whose module this JVM has not loaded (an extension the file's other users load). */
    @Test
    void aFileWithAVirtualTableOfAnUnknownModuleOpens() throws Exception {
        Path file = dir.resolve("unknown.db");
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = raw.createStatement()) {
            st.execute("CREATE TABLE place (id INTEGER PRIMARY KEY, name TEXT)");
            st.execute("PRAGMA writable_schema = ON");
            st.execute("INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql)"
                    + " VALUES ('table', 'vec', 'vec', 0, 'CREATE VIRTUAL TABLE vec USING vec0(embedding float[4])')");
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0");
             Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO place (id, name) VALUES (1, 'here')");
            assertEquals(List.of("1 place"), outboxTables(c));
        }
    }

    /**
     * A file an earlier driver synced an FTS4 table's shadow tables in: their triggers and records go, and what they
     * captured becomes anchors (each transaction keeps its marker), so the relay never sees those tables.
     */
    @Test
    void shadowTablesAnEarlierDriverCapturedAreLeftOut() throws Exception {
        Path file = dir.resolve("earlier.db");
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0");
             Statement st = c.createStatement()) {
            st.execute("CREATE TABLE place (id INTEGER PRIMARY KEY, name TEXT)");
            st.execute("CREATE VIRTUAL TABLE doc USING fts4(body)");
        }
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = raw.createStatement()) {
            // what the earlier driver had: a record and a capture trigger for the shadow table, and its captured rows
            st.execute("INSERT INTO _sync_tables (name, triggers) VALUES ('doc_content', 'CREATE TRIGGER ...')");
            st.execute("CREATE TRIGGER main.\"_sync_ins_doc_content\" AFTER INSERT ON doc_content BEGIN"
                    + " INSERT INTO _sync_outbox (tbl, op, pk, vals) VALUES ('doc_content', 1, json_object('docid', NEW.docid),"
                    + " json_object('docid', NEW.docid)); END");
            st.executeUpdate("BEGIN");
            st.executeUpdate("INSERT INTO place (id, name) VALUES (1, 'here')");
            st.executeUpdate("INSERT INTO doc (body) VALUES ('text')");
            st.executeUpdate("UPDATE _sync_outbox SET hlc = 42 WHERE seq = (SELECT max(seq) FROM _sync_outbox)");
            st.executeUpdate("COMMIT");
        }
        assertEquals(List.of("1 place", "1 doc_content"), outboxTablesRaw(file));
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0");
             Statement st = c.createStatement()) {
            assertEquals(List.of("place"), rows(c, "SELECT name FROM _sync_tables"));
            assertEquals(List.of("1 place"), outboxTables(c));
            assertEquals(List.of("1|42"), rows(c, "SELECT count(*), max(hlc) FROM _sync_outbox WHERE op = 0"));
            st.executeUpdate("INSERT INTO doc (body) VALUES ('more')");
            assertEquals(List.of("1 place"), outboxTables(c));
        }
    }

    private static List<String> outboxTablesRaw(Path file) throws SQLException {
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            return rows(raw, "SELECT op || ' ' || tbl FROM _sync_outbox WHERE op <> 0 ORDER BY seq");
        }
    }
}
