package io.syncsqlite.driver.capture;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.List;

import static io.syncsqlite.driver.capture.VirtualTableTest.outboxTables;
import static io.syncsqlite.driver.capture.VirtualTableTest.rows;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of two changes: virtual tables and their shadow tables are never synced (b50aae2), and a NULL primary key
 * column is refused by the capture triggers and at the time a table becomes synced (ae34d05). Real SQLite files, no
 * relay. Each test asserts what a correct driver must do.
 */
class VirtualAndNullKeyReviewTest {

    @TempDir
    Path dir;

    private Connection open(String name, String params) throws SQLException {
        return DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve(name + ".db") + "?sync.lingerMs=0" + params);
    }

    private Connection open(String name) throws SQLException {
        return open(name, "");
    }

    private static List<String> rawRows(Path file, String sql) throws SQLException {
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            return rows(raw, sql);
        }
    }

    private static List<String> syncedNames(Connection c) throws SQLException {
        return rows(c, "SELECT name FROM _sync_tables ORDER BY name");
    }

    private static long outboxEnd(Connection c) throws SQLException {
        return Long.parseLong(rows(c, "SELECT coalesce(max(seq), 0) FROM _sync_outbox").get(0));
    }

    /** The last outbox row (the marker of the last committed transaction that captured anything) is stamped. */
    private static void markerStamped(Connection c) throws SQLException {
        assertEquals(List.of("1"), rows(c, "SELECT hlc IS NOT NULL FROM _sync_outbox ORDER BY seq DESC LIMIT 1"),
                "the last outbox row carries the transaction's stamp");
        assertEquals(List.of("0"), rows(c, "SELECT count(*) FROM _sync_outbox WHERE hlc IS NULL AND seq >"
                + " (SELECT max(seq) FROM _sync_outbox WHERE hlc IS NOT NULL)"), "no unstamped rows after the last marker");
    }

    private static SQLException refusedNull(Statement st, String sql, String column) {
        SQLException e = assertThrows(SQLException.class, () -> st.executeUpdate(sql), sql);
        assertTrue(e.getMessage().contains("primary key column " + column + " is NULL, which cannot sync"),
                sql + " -> " + e.getMessage());
        return e;
    }

    private static String wideTable(String name, String keyDecl, int extra) {
        StringBuilder b = new StringBuilder("CREATE TABLE " + name + " (" + keyDecl);
        for (int i = 0; i < extra; i++) {
            b.append(", c").append(i).append(" TEXT");
        }
        return b.append(")").toString();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Virtual and shadow tables
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * SQLite's documented external-content FTS5 index, its content table being the application's own table, named
     * {@code <index>_content}. FTS5 creates no {@code _content} table for an external-content index, but its
     * xShadowName says 'content' is a shadow name, so pragma_table_list types the application's table 'shadow'.
     * It is the application's data: it must be synced.
     */
    @Test
    void anExternalContentTableNamedLikeAShadowTableIsStillSynced() throws Exception {
        try (Connection c = open("extcontent"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE search_content (id INTEGER PRIMARY KEY, body TEXT)");
            st.execute("CREATE VIRTUAL TABLE search USING fts5(body, content='search_content', content_rowid='id')");
            st.execute("CREATE TRIGGER search_ai AFTER INSERT ON search_content BEGIN"
                    + " INSERT INTO search (rowid, body) VALUES (new.id, new.body); END");
            st.executeUpdate("INSERT INTO search_content (id, body) VALUES (1, 'offline first')");
            assertEquals(List.of("1"), rows(c, "SELECT rowid FROM search WHERE search MATCH 'offline'"));
            assertEquals(List.of("search_content"), syncedNames(c));
            assertEquals(List.of("1 search_content"), outboxTables(c));
        }
    }

    /**
     * A synced table holding captured, unsent writes; the application then adds an FTS index over it whose shadow
     * names cover the table's name (contentless FTS4, or an external-content FTS5, named so). The pending writes are
     * the application's data and must not be turned into anchors (dropped) at the next open.
     */
    @Test
    void pendingWritesOfASyncedTableAreNotDiscardedWhenAVirtualTableIsAddedOverItsName() throws Exception {
        Path file = dir.resolve("pending.db");
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0");
             Statement st = c.createStatement()) {
            st.execute("CREATE TABLE search_content (id INTEGER PRIMARY KEY, body TEXT)");
            st.executeUpdate("INSERT INTO search_content (id, body) VALUES (1, 'a'), (2, 'b')");
            assertEquals(List.of("1 search_content", "1 search_content"), outboxTables(c));
            st.execute("CREATE VIRTUAL TABLE search USING fts5(body, content='search_content', content_rowid='id')");
            st.execute("INSERT INTO search (search) VALUES ('rebuild')");
            st.executeUpdate("INSERT INTO search_content (id, body) VALUES (3, 'c')");
            assertEquals(List.of("1 search_content", "1 search_content", "1 search_content"), outboxTables(c),
                    "after the CREATE VIRTUAL TABLE; outbox (op, tbl): " + rows(c, "SELECT op, tbl FROM _sync_outbox ORDER BY seq")
                            + ", _sync_tables: " + syncedNames(c));
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0")) {
            assertEquals(List.of("1 search_content", "1 search_content", "1 search_content"), outboxTables(c),
                    "after reopening");
        }
    }

    /**
     * A file written by processes that load sqlite-vec: its vec0 table's shadow tables (vec_rowids, vec_chunks,
     * vec_info) have keys. This JVM has not loaded the module, so SQLite cannot type them 'shadow'. They are the
     * module's storage, which PostgreSQL has not got: they must not be synced (nor backfilled with the file's rows).
     */
    @Test
    void shadowTablesOfAVirtualTableOfAnUnloadedModuleAreNotSynced() throws Exception {
        Path file = dir.resolve("vec.db");
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = raw.createStatement()) {
            st.execute("CREATE TABLE place (id INTEGER PRIMARY KEY, name TEXT)");
            st.execute("PRAGMA writable_schema = ON");
            st.execute("INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql)"
                    + " VALUES ('table', 'vec', 'vec', 0, 'CREATE VIRTUAL TABLE vec USING vec0(embedding float[4])')");
            st.execute("PRAGMA writable_schema = OFF");
        }
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = raw.createStatement()) {
            // what sqlite-vec's xCreate makes
            st.execute("CREATE TABLE vec_info (key TEXT PRIMARY KEY, value ANY)");
            st.execute("CREATE TABLE vec_chunks (chunk_id INTEGER PRIMARY KEY AUTOINCREMENT, size INTEGER NOT NULL,"
                    + " validity BLOB NOT NULL, rowids BLOB NOT NULL)");
            st.execute("CREATE TABLE vec_rowids (rowid INTEGER PRIMARY KEY AUTOINCREMENT, id, chunk_id INTEGER,"
                    + " chunk_offset INTEGER)");
            st.executeUpdate("INSERT INTO vec_info VALUES ('CREATE_VERSION', 'v0.1.6')");
            st.executeUpdate("INSERT INTO vec_chunks (size, validity, rowids) VALUES (1024, x'00', x'00')");
            st.executeUpdate("INSERT INTO vec_rowids (rowid, chunk_id, chunk_offset) VALUES (1, 1, 0)");
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0");
             Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO place (id, name) VALUES (1, 'here')");
            assertEquals(List.of("place"), syncedNames(c));
            assertEquals(List.of("1 place"), outboxTables(c));
        }
    }

    /** FTS5 in its forms and with its commands, in transactions that also write a synced table. */
    @Test
    void fts5FormsAndCommandsCaptureOnlyTheSyncedTableAndKeepMarkers() throws Exception {
        try (Connection c = open("fts5forms"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)");
            st.execute("CREATE VIRTUAL TABLE ext USING fts5(body, content='note', content_rowid='id')");
            st.execute("CREATE VIRTUAL TABLE nocontent USING fts5(body, content='')");
            st.execute("CREATE VIRTUAL TABLE cdel USING fts5(body, content='', contentless_delete=1)");
            st.execute("CREATE VIRTUAL TABLE nosize USING fts5(body, columnsize=0)");
            st.execute("CREATE VIRTUAL TABLE nodetail USING fts5(body, detail=none)");
            st.execute("CREATE VIRTUAL TABLE tri USING fts5(body, tokenize='trigram')");
            st.execute("CREATE TRIGGER note_ai AFTER INSERT ON note BEGIN"
                    + " INSERT INTO ext (rowid, body) VALUES (new.id, new.body);"
                    + " INSERT INTO nocontent (rowid, body) VALUES (new.id, new.body);"
                    + " INSERT INTO cdel (rowid, body) VALUES (new.id, new.body);"
                    + " INSERT INTO nosize (rowid, body) VALUES (new.id, new.body);"
                    + " INSERT INTO nodetail (rowid, body) VALUES (new.id, new.body);"
                    + " INSERT INTO tri (rowid, body) VALUES (new.id, new.body); END");
            st.execute("CREATE TRIGGER note_ad AFTER DELETE ON note BEGIN"
                    + " INSERT INTO ext (ext, rowid, body) VALUES ('delete', old.id, old.body);"
                    + " DELETE FROM cdel WHERE rowid = old.id;"
                    + " DELETE FROM nosize WHERE rowid = old.id;"
                    + " DELETE FROM nodetail WHERE rowid = old.id;"
                    + " DELETE FROM tri WHERE rowid = old.id; END");
            c.setAutoCommit(false);
            st.executeUpdate("INSERT INTO note (id, body) VALUES (1, 'offline first sync'), (2, 'hello world')");
            st.executeUpdate("INSERT INTO note (id, body) VALUES (3, 'third note')");
            c.commit();
            markerStamped(c);
            st.executeUpdate("DELETE FROM note WHERE id = 2");
            st.execute("INSERT INTO ext (ext) VALUES ('optimize')");
            st.execute("INSERT INTO nosize (nosize, rank) VALUES ('merge', 500)");
            st.execute("INSERT INTO tri (tri) VALUES ('integrity-check')");
            st.execute("INSERT INTO nodetail (nodetail) VALUES ('rebuild')");
            c.commit();
            markerStamped(c);
            long end = outboxEnd(c);
            // a transaction writing only the indexes captures nothing
            st.execute("INSERT INTO ext (ext) VALUES ('rebuild')");
            st.execute("INSERT INTO nocontent (nocontent) VALUES ('delete-all')");
            st.execute("INSERT INTO cdel (cdel) VALUES ('optimize')");
            st.executeUpdate("INSERT INTO tri (body) VALUES ('just an index row')");
            c.commit();
            assertEquals(end, outboxEnd(c));
            c.setAutoCommit(true);

            assertEquals(List.of("1"), rows(c, "SELECT rowid FROM ext WHERE ext MATCH 'sync'"));
            assertEquals(List.of("1"), rows(c, "SELECT rowid FROM cdel WHERE cdel MATCH 'offline'"));
            assertEquals(List.of("3"), rows(c, "SELECT rowid FROM tri WHERE body LIKE '%hir%' AND rowid < 100"));
            assertEquals(List.of(), rows(c, "SELECT rowid FROM nocontent WHERE nocontent MATCH 'offline'"));
            assertEquals(List.of("note"), syncedNames(c));
            assertEquals(List.of("1 note", "1 note", "1 note", "3 note"), outboxTables(c));
        }
    }

    /** FTS3, FTS4 (plain, external content, contentless) and R*Tree (also rtree_i32, with auxiliary columns). */
    @Test
    void fts3Fts4AndRtreeFormsAreNotCaptured() throws Exception {
        try (Connection c = open("fts4forms"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)");
            st.execute("CREATE VIRTUAL TABLE f3 USING fts3(body)");
            st.execute("CREATE VIRTUAL TABLE f4ext USING fts4(content='note', body)");
            st.execute("CREATE VIRTUAL TABLE f4none USING fts4(content='', body)");
            st.execute("CREATE VIRTUAL TABLE box USING rtree(id, minx, maxx, +label)");
            st.execute("CREATE VIRTUAL TABLE ibox USING rtree_i32(id, minx, maxx)");
            c.setAutoCommit(false);
            st.executeUpdate("INSERT INTO note (id, body) VALUES (1, 'full text')");
            st.executeUpdate("INSERT INTO f3 (body) VALUES ('fts three')");
            st.executeUpdate("INSERT INTO f4ext (docid, body) VALUES (1, 'full text')");
            st.executeUpdate("INSERT INTO f4none (docid, body) VALUES (1, 'gone text')");
            st.executeUpdate("INSERT INTO box VALUES (1, 0, 1, 'a')");
            st.executeUpdate("INSERT INTO ibox VALUES (1, 0, 1)");
            c.commit();
            markerStamped(c);
            long end = outboxEnd(c);
            st.execute("INSERT INTO f4ext (f4ext) VALUES ('rebuild')");
            st.execute("INSERT INTO f3 (f3) VALUES ('optimize')");
            st.executeUpdate("UPDATE box SET maxx = 2 WHERE id = 1");
            st.executeUpdate("DELETE FROM ibox");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(end, outboxEnd(c));
            assertEquals(List.of("1"), rows(c, "SELECT docid FROM f4ext WHERE f4ext MATCH 'full'"));
            assertEquals(List.of("1|a"), rows(c, "SELECT id, label FROM box WHERE maxx >= 2"));
            assertEquals(List.of("note"), syncedNames(c));
            assertEquals(List.of("1 note"), outboxTables(c));
        }
    }

    /** A real table whose name starts with a virtual table's name and '_' (not a shadow name) stays synced. */
    @Test
    void aRealTableWithAVirtualTablesPrefixIsStillSynced() throws Exception {
        try (Connection c = open("prefix"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE docs_tags (id INTEGER PRIMARY KEY, tag TEXT)"); // before the virtual table
            st.execute("CREATE VIRTUAL TABLE docs USING fts5(body)");
            st.execute("CREATE TABLE docs_links (id INTEGER PRIMARY KEY, url TEXT)"); // after
            st.execute("CREATE VIRTUAL TABLE geo USING rtree(id, minx, maxx)");
            st.execute("CREATE TABLE geo_names (id INTEGER PRIMARY KEY, name TEXT)");
            st.executeUpdate("INSERT INTO docs (body) VALUES ('x')");
            st.executeUpdate("INSERT INTO docs_tags (id, tag) VALUES (1, 't')");
            st.executeUpdate("INSERT INTO docs_links (id, url) VALUES (1, 'u')");
            st.executeUpdate("INSERT INTO geo_names (id, name) VALUES (1, 'n')");
            assertEquals(List.of("docs_links", "docs_tags", "geo_names"), syncedNames(c));
            assertEquals(List.of("1 docs_tags", "1 docs_links", "1 geo_names"), outboxTables(c));
        }
    }

    /** Virtual tables created in a transaction that is rolled back, in a savepoint rolled back to, then committed. */
    @Test
    void virtualTablesCreatedInRolledBackAndCommittedTransactions() throws Exception {
        try (Connection c = open("txvtab"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)");
            c.setAutoCommit(false);
            st.execute("CREATE VIRTUAL TABLE f USING fts5(body)");
            st.executeUpdate("INSERT INTO f (body) VALUES ('rolled back')");
            st.executeUpdate("INSERT INTO note (id, body) VALUES (1, 'rolled back')");
            c.rollback();
            st.execute("SAVEPOINT a");
            st.execute("CREATE VIRTUAL TABLE f USING fts5(body)");
            // (no write to it: with plain sqlite-jdbc too, a write to a virtual table created in a savepoint that is
            // rolled back makes the COMMIT fail with "SQL logic error")
            st.execute("ROLLBACK TO a");
            st.execute("RELEASE a");
            st.executeUpdate("INSERT INTO note (id, body) VALUES (3, 'in the savepoint transaction')");
            c.commit();
            st.execute("CREATE VIRTUAL TABLE f USING fts5(body)");
            st.execute("CREATE VIRTUAL TABLE g USING fts4(body)");
            st.executeUpdate("INSERT INTO f (body) VALUES ('kept')");
            st.executeUpdate("INSERT INTO g (body) VALUES ('kept')");
            st.executeUpdate("INSERT INTO note (id, body) VALUES (2, 'kept')");
            c.commit();
            c.setAutoCommit(true);
            markerStamped(c);
            st.executeUpdate("INSERT INTO f (body) VALUES ('more')");
            assertEquals(List.of("2"), rows(c, "SELECT count(*) FROM f"));
            assertEquals(List.of("note"), syncedNames(c));
            assertEquals(List.of("1 note", "1 note"), outboxTables(c));
            assertEquals(List.of(), rows(c, "SELECT name FROM sqlite_schema WHERE type = 'trigger'"
                    + " AND name LIKE '\\_sync\\_%' ESCAPE '\\' AND tbl_name <> 'note'"));
        }
    }

    /** ALTER TABLE ... RENAME of a virtual table, DROP of one, and the same name created again. */
    @Test
    void renameAndDropOfAVirtualTable() throws Exception {
        try (Connection c = open("renamevtab"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)");
            st.execute("CREATE VIRTUAL TABLE docs USING fts5(body)");
            st.executeUpdate("INSERT INTO docs (body) VALUES ('one')");
            st.execute("ALTER TABLE docs RENAME TO docs2");
            st.executeUpdate("INSERT INTO docs2 (body) VALUES ('two')");
            st.execute("DROP TABLE docs2");
            st.execute("CREATE VIRTUAL TABLE docs USING fts5(body)");
            st.executeUpdate("INSERT INTO docs (body) VALUES ('three')");
            st.execute("CREATE VIRTUAL TABLE box USING rtree(id, minx, maxx)");
            st.execute("ALTER TABLE box RENAME TO box2");
            st.executeUpdate("INSERT INTO box2 VALUES (1, 0, 1)");
            st.executeUpdate("INSERT INTO note (id, body) VALUES (1, 'x')");
            assertEquals(List.of("note"), syncedNames(c));
            assertEquals(List.of("1 note"), outboxTables(c));
            assertEquals(List.of("1"), rows(c, "SELECT count(*) FROM docs WHERE docs MATCH 'three'"));
        }
    }

    /** FTS5 and R*Tree in an attached database: nothing captured, nothing crashes. */
    @Test
    void virtualTablesInAnAttachedDatabase() throws Exception {
        try (Connection c = open("attach"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)");
            st.execute("ATTACH DATABASE '" + dir.resolve("other.db") + "' AS o");
            st.execute("CREATE VIRTUAL TABLE o.f USING fts5(body)");
            st.execute("CREATE VIRTUAL TABLE o.b USING rtree(id, minx, maxx)");
            st.execute("CREATE TABLE o.plain (id INTEGER PRIMARY KEY, v TEXT)");
            c.setAutoCommit(false);
            st.executeUpdate("INSERT INTO o.f (body) VALUES ('attached text')");
            st.executeUpdate("INSERT INTO o.b VALUES (1, 0, 1)");
            st.executeUpdate("INSERT INTO o.plain VALUES (1, 'v')");
            st.executeUpdate("INSERT INTO note (id, body) VALUES (1, 'main')");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("1"), rows(c, "SELECT rowid FROM o.f WHERE f MATCH 'attached'"));
            assertEquals(List.of("note"), syncedNames(c));
            assertEquals(List.of("1 note"), outboxTables(c));
            markerStamped(c);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // NULL keys
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * A table of more than 16 columns is captured as JSON. Its key declared BLOB (or with no type, BLOB affinity) takes
     * the BLOB branch of jsonObject, which has no NULL check: a NULL key is captured, where the typed capture of the
     * same key refuses it.
     */
    @Test
    void aNullBlobKeyOfAWideTableIsRefused() throws Exception {
        try (Connection c = open("wideblob"); Statement st = c.createStatement()) {
            st.execute(wideTable("wb", "k BLOB PRIMARY KEY", 20));
            st.execute("CREATE TABLE nb (k BLOB PRIMARY KEY, v TEXT)"); // typed: refused
            long end = outboxEnd(c);
            refusedNull(st, "INSERT INTO nb (v) VALUES ('x')", "nb.k");
            refusedNull(st, "INSERT INTO wb (c0) VALUES ('no key')", "wb.k");
            assertEquals(List.of("0"), rows(c, "SELECT count(*) FROM wb"));
            assertEquals(end, outboxEnd(c));
        }
    }

    /** The same for a key column declared with no type, and the key changed to NULL by UPDATE (the key trigger). */
    @Test
    void anUntypedKeyOfAWideTableSetToNullIsRefused() throws Exception {
        try (Connection c = open("wideuntyped"); Statement st = c.createStatement()) {
            st.execute(wideTable("wu", "k PRIMARY KEY", 20));
            st.executeUpdate("INSERT INTO wu (k, c0) VALUES ('a', 'x')");
            long end = outboxEnd(c);
            refusedNull(st, "UPDATE wu SET k = NULL WHERE k = 'a'", "wu.k");
            assertEquals(List.of("a"), rows(c, "SELECT k FROM wu"));
            assertEquals(end, outboxEnd(c));
        }
    }

    /** TEXT keys of a JSON-captured table (17 columns) and of one spelled out as text (60 columns) are refused. */
    @Test
    void aNullTextKeyOfWideTablesIsRefused() throws Exception {
        try (Connection c = open("widetext"); Statement st = c.createStatement()) {
            st.execute(wideTable("w17", "k TEXT PRIMARY KEY", 16));
            String w60 = wideTable("w60", "k TEXT, j INTEGER", 58);
            st.execute(w60.substring(0, w60.length() - 1) + ", PRIMARY KEY (k, j))");
            st.executeUpdate("INSERT INTO w60 (k, j, c0) VALUES ('a', 1, 'x')");
            long end = outboxEnd(c);
            refusedNull(st, "INSERT INTO w17 (c0) VALUES ('x')", "w17.k");
            refusedNull(st, "INSERT INTO w60 (k, c0) VALUES ('b', 'x')", "w60.j");
            refusedNull(st, "UPDATE w60 SET j = NULL", "w60.j");
            assertEquals(end, outboxEnd(c));
            assertEquals(List.of("a|1"), rows(c, "SELECT k, j FROM w60"));
        }
    }

    /** The other ways a NULL key arrives: key changes, REPLACE, UPSERT, OR IGNORE, setNull, BLOB/untyped/INT keys. */
    @Test
    void nullKeysInTheirFormsAreRefusedAndNothingIsWritten() throws Exception {
        try (Connection c = open("forms"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE tag (code TEXT PRIMARY KEY, label TEXT)");
            st.execute("CREATE TABLE pair (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))");
            st.execute("CREATE TABLE d (id INTEGER PRIMARY KEY DESC, v TEXT)");
            st.execute("CREATE TABLE i (id INT PRIMARY KEY, v TEXT)");
            st.execute("CREATE TABLE bk (k BLOB PRIMARY KEY, v TEXT)");
            st.execute("CREATE TABLE nt (k PRIMARY KEY, v TEXT)");
            st.executeUpdate("INSERT INTO tag (code, label) VALUES ('a', 'kept')");
            st.executeUpdate("INSERT INTO pair (a, b, v) VALUES ('x', 1, 'kept')");
            st.executeUpdate("INSERT INTO d (id, v) VALUES (5, 'kept')");
            long end = outboxEnd(c);

            refusedNull(st, "UPDATE pair SET b = NULL", "pair.b");
            refusedNull(st, "UPDATE d SET id = NULL", "d.id");
            refusedNull(st, "REPLACE INTO tag (code, label) VALUES (NULL, 'r')", "tag.code");
            refusedNull(st, "INSERT OR REPLACE INTO tag (code, label) VALUES (NULL, 'r')", "tag.code");
            refusedNull(st, "INSERT INTO tag (code, label) VALUES (NULL, 'u') ON CONFLICT (code) DO NOTHING", "tag.code");
            refusedNull(st, "INSERT INTO tag (code, label) VALUES ('a', 'u') ON CONFLICT (code) DO UPDATE SET code = NULL",
                    "tag.code");
            refusedNull(st, "INSERT OR IGNORE INTO tag (code, label) VALUES ('z', 'first'), (NULL, 'second')", "tag.code");
            refusedNull(st, "INSERT INTO i (v) VALUES ('no id')", "i.id");
            refusedNull(st, "INSERT INTO bk (v) VALUES ('no key')", "bk.k");
            refusedNull(st, "INSERT INTO nt (v) VALUES ('no key')", "nt.k");
            refusedNull(st, "INSERT INTO tag DEFAULT VALUES", "tag.code");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO tag (code, label) VALUES (?, ?)")) {
                ps.setNull(1, Types.VARCHAR);
                ps.setString(2, "p");
                SQLException e = assertThrows(SQLException.class, ps::executeUpdate);
                assertTrue(e.getMessage().contains("primary key column tag.code is NULL"), e.getMessage());
            }
            assertEquals(end, outboxEnd(c));
            assertEquals(List.of("a|kept"), rows(c, "SELECT * FROM tag"));
            assertEquals(List.of("x|1|kept"), rows(c, "SELECT * FROM pair"));
            assertEquals(List.of("5|kept"), rows(c, "SELECT * FROM d"));
            assertEquals(List.of("0|0|0"), rows(c, "SELECT (SELECT count(*) FROM i), (SELECT count(*) FROM bk),"
                    + " (SELECT count(*) FROM nt)"));
        }
    }

    /** WITHOUT ROWID: SQLite refuses the NULL itself (NOT NULL constraint), with its own message. */
    @Test
    void withoutRowidKeepsSqlitesOwnRefusal() throws Exception {
        try (Connection c = open("worowid"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE w (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID");
            SQLException e = assertThrows(SQLException.class, () -> st.executeUpdate("INSERT INTO w (v) VALUES ('x')"));
            assertTrue(e.getMessage().contains("NOT NULL constraint failed: w.k"), e.getMessage());
            st.executeUpdate("INSERT OR IGNORE INTO w (v) VALUES ('ignored')"); // SQLite's NOT NULL: OR IGNORE skips
            assertEquals(List.of("0"), rows(c, "SELECT count(*) FROM w"));
        }
    }

    /** A statement batch in auto-commit mode: the entries before the refused one stay, stamped. */
    @Test
    void aBatchWithANullKeyKeepsTheEntriesBeforeIt() throws Exception {
        try (Connection c = open("batch"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE tag (code TEXT PRIMARY KEY, label TEXT)");
            st.addBatch("INSERT INTO tag (code, label) VALUES ('a', '1')");
            st.addBatch("INSERT INTO tag (code, label) VALUES (NULL, '2')");
            st.addBatch("INSERT INTO tag (code, label) VALUES ('c', '3')");
            BatchUpdateException e = assertThrows(BatchUpdateException.class, st::executeBatch);
            assertTrue(e.getMessage().contains("primary key column tag.code is NULL"), e.getMessage());
            assertEquals(1, e.getUpdateCounts()[0]);
            assertEquals(List.of("a|1"), rows(c, "SELECT * FROM tag"));
            assertEquals(List.of("1 tag"), outboxTables(c));
            markerStamped(c);

            try (PreparedStatement ps = c.prepareStatement("INSERT INTO tag (code, label) VALUES (?, ?)")) {
                ps.setString(1, "p");
                ps.setString(2, "4");
                ps.addBatch();
                ps.setNull(1, Types.VARCHAR);
                ps.setString(2, "5");
                ps.addBatch();
                ps.setString(1, "q");
                ps.setString(2, "6");
                ps.addBatch();
                SQLException pe = assertThrows(SQLException.class, ps::executeBatch);
                assertTrue(pe.getMessage().contains("primary key column tag.code is NULL"), pe.getMessage());
            }
            assertEquals(List.of("a|1", "p|4"), rows(c, "SELECT * FROM tag ORDER BY code"));
            assertEquals(List.of("1 tag", "1 tag"), outboxTables(c));
            markerStamped(c);
        }
    }

    /**
     * In a transaction, a refused REPLACE on a table with a UNIQUE column (whose eviction trigger logs a delete of the
     * row it would evict before the insert is refused): the transaction stays usable, the evicted row's delete is not
     * left in the outbox, and the commit is stamped.
     */
    @Test
    void aRefusedReplaceInATransactionLeavesItUsableAndLogsNoEviction() throws Exception {
        try (Connection c = open("replace"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE tag (code TEXT PRIMARY KEY, label TEXT UNIQUE)");
            st.executeUpdate("INSERT INTO tag (code, label) VALUES ('a', 'dup')");
            long end = outboxEnd(c);
            c.setAutoCommit(false);
            st.executeUpdate("INSERT INTO tag (code, label) VALUES ('b', 'other')");
            refusedNull(st, "INSERT OR REPLACE INTO tag (code, label) VALUES (NULL, 'dup')", "tag.code");
            refusedNull(st, "UPDATE OR REPLACE tag SET code = NULL, label = 'dup' WHERE code = 'b'", "tag.code");
            st.executeUpdate("INSERT OR REPLACE INTO tag (code, label) VALUES ('c', 'third')");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("a|dup", "b|other", "c|third"), rows(c, "SELECT * FROM tag ORDER BY code"));
            assertEquals(List.of("1 tag", "1 tag"), rows(c, "SELECT op || ' ' || tbl FROM _sync_outbox WHERE seq > " + end
                    + " ORDER BY seq"));
            assertEquals(List.of("0"), rows(c, "SELECT count(*) FROM _sync_replacing"));
            markerStamped(c);
            // auto-commit after it: nothing of the refused statements comes back
            st.executeUpdate("UPDATE tag SET label = 'x' WHERE code = 'c'");
            assertEquals(List.of("1 tag", "1 tag", "1 tag", "2 tag"), outboxTables(c));
        }
    }

    /** Several statements in one string, the second refused: the first stays and its capture is stamped. */
    @Test
    void severalStatementsInOneStringTheSecondRefused() throws Exception {
        try (Connection c = open("several"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE tag (code TEXT PRIMARY KEY, label TEXT)");
            // executeUpdate: sqlite-jdbc's execute(String) runs the first statement only
            SQLException e = assertThrows(SQLException.class, () -> st.executeUpdate(
                    "INSERT INTO tag (code, label) VALUES ('a', '1'); INSERT INTO tag (code, label) VALUES (NULL, '2')"));
            assertTrue(e.getMessage().contains("primary key column tag.code is NULL"), e.getMessage());
            assertEquals(List.of("a|1"), rows(c, "SELECT * FROM tag"));
            assertEquals(List.of("1 tag"), outboxTables(c));
            markerStamped(c);
        }
    }

    /** A counter on a table with a TEXT key, the key checked on every row of the update. */
    @Test
    void aCounterOnATextKeyedTableIsCaptured() throws Exception {
        try (Connection c = open("counter"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER NOT NULL DEFAULT 0)");
            st.executeUpdate("INSERT INTO stock (sku, qty) VALUES ('a', 1), ('b', 2)");
            assertEquals(2, st.executeUpdate("UPDATE stock SET qty = qty + 1"));
            assertEquals(List.of("a|2", "b|3"), rows(c, "SELECT * FROM stock ORDER BY sku"));
            assertEquals(List.of("1 stock", "1 stock", "2 stock", "2 stock"), outboxTables(c));
            markerStamped(c);
        }
    }

    /** A rowid-alias key left out (or given NULL) is filled by SQLite, in typed, JSON and wide tables alike. */
    @Test
    void theRowidAliasIsFilledInEveryCapturePath() throws Exception {
        try (Connection c = open("alias"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t1 (id INTEGER PRIMARY KEY, v TEXT)");
            st.execute(wideTable("t20", "id INTEGER PRIMARY KEY", 19));
            st.execute(wideTable("t60", "id INTEGER PRIMARY KEY", 59));
            st.execute("CREATE TABLE t2 (id INTEGER, v TEXT, PRIMARY KEY (id DESC))"); // table constraint: the alias
            for (String t : List.of("t1", "t20", "t60")) {
                String col = t.equals("t1") ? "v" : "c0";
                st.executeUpdate("INSERT INTO " + t + " (" + col + ") VALUES ('a')");
                st.executeUpdate("INSERT INTO " + t + " (id, " + col + ") VALUES (NULL, 'b')");
                assertEquals(List.of("1", "2"), rows(c, "SELECT id FROM " + t + " ORDER BY id"), t);
            }
            st.executeUpdate("INSERT INTO t2 (v) VALUES ('a')");
            assertEquals(List.of("1"), rows(c, "SELECT id FROM t2"));
            assertEquals(7, outboxTables(c).size());
        }
    }

    /** A table not synced (not in sync.tables, or a scratch table) never blocks the open, whatever its keys hold. */
    @Test
    void aTableNotSyncedNeverBlocksTheOpen() throws Exception {
        Path file = dir.resolve("notsynced.db");
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = raw.createStatement()) {
            st.execute("CREATE TABLE place (id INTEGER PRIMARY KEY, name TEXT)");
            st.execute("CREATE TABLE tag (code TEXT PRIMARY KEY, label TEXT)");
            st.execute("CREATE TABLE HT_place (id TEXT PRIMARY KEY)");
            st.executeUpdate("INSERT INTO tag (code, label) VALUES ('a', 'x'), (NULL, 'y')");
            st.executeUpdate("INSERT INTO HT_place (id) VALUES (NULL)");
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0&sync.tables=place");
             Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO tag (code, label) VALUES (NULL, 'not synced: SQLite takes it')");
            st.executeUpdate("INSERT INTO place (id, name) VALUES (1, 'here')");
            assertEquals(List.of("place"), syncedNames(c));
        }
        // by default tag would become synced and is refused (by design); HT_place never blocks
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = raw.createStatement()) {
            st.executeUpdate("DELETE FROM tag WHERE code IS NULL");
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0")) {
            assertEquals(List.of("place", "tag"), syncedNames(c));
        }
    }

    /**
     * sync.tables lists tag, which does not exist yet; an unsynced table holding a NULL key is renamed to it. In
     * auto-commit mode the rename is refused and undone (SY001). In a transaction, the statement fails too: it must
     * then have no effect (JDBC: a failed statement changes nothing), or the application, which goes on and commits,
     * keeps a table under the synced name that was never recorded nor backfilled.
     */
    @Test
    void aRenameThatWouldSyncNullKeysIsUndoneInATransactionToo() throws Exception {
        Path file = dir.resolve("rename.db");
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = raw.createStatement()) {
            st.execute("CREATE TABLE place (id INTEGER PRIMARY KEY, name TEXT)");
            st.execute("CREATE TABLE tmp (code TEXT PRIMARY KEY, label TEXT)");
            st.executeUpdate("INSERT INTO tmp (code, label) VALUES ('a', 'x'), (NULL, 'y')");
        }
        String url = "jdbc:syncsqlite:" + file + "?sync.lingerMs=0&sync.tables=place,tag";
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            SQLException auto = assertThrows(SQLException.class, () -> st.execute("ALTER TABLE tmp RENAME TO tag"));
            assertEquals("SY001", auto.getSQLState(), auto.getMessage());
            assertEquals(List.of("tmp"), rows(c, "SELECT name FROM sqlite_schema WHERE name IN ('tmp', 'tag')"));

            c.setAutoCommit(false);
            st.executeUpdate("INSERT INTO place (id, name) VALUES (1, 'here')");
            SQLException inTx = assertThrows(SQLException.class, () -> st.execute("ALTER TABLE tmp RENAME TO tag"));
            assertEquals("SY001", inTx.getSQLState(), inTx.getMessage());
            assertEquals(List.of("tmp"), rows(c, "SELECT name FROM sqlite_schema WHERE name IN ('tmp', 'tag')"),
                    "the failed rename has no effect in the transaction; capture triggers on tag: "
                            + rows(c, "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'tag'")
                            + ", _sync_tables: " + syncedNames(c));
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("tmp"), rows(c, "SELECT name FROM sqlite_schema WHERE name IN ('tmp', 'tag')"));
        }
        try (Connection c = DriverManager.getConnection(url)) {
            assertEquals(List.of("place"), syncedNames(c));
        }
    }
}
