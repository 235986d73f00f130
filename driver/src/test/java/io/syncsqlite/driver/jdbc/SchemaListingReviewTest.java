package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of SchemaListing (d74d7ab, reworked after it): SQL over SQLite's schema table through the driver against
 * plain sqlite-jdbc on a file with the same application schema that never saw the driver. Each case runs on two fresh files; the transcript
 * (rows, update counts, or ERROR) must be the same on both.
 *
 * <p>Step prefixes: none = Statement.execute (rows if it returns a result set), {@code U:} = executeUpdate (several
 * statements run), {@code B:} = addBatch + executeBatch, {@code P:} = prepareStatement + execute, {@code Q:} =
 * executeQuery through both a Statement and a PreparedStatement.
 */
class SchemaListingReviewTest {

    private static final String[] SCHEMA = {
            "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT UNIQUE, qty INTEGER NOT NULL DEFAULT 0)",
            "CREATE TABLE log (what TEXT)",
            "CREATE TABLE my_sync_log (x TEXT)",
            "CREATE TABLE peer (last_sync TEXT)",
            "CREATE INDEX item_qty ON item (qty)",
            "CREATE VIEW big AS SELECT * FROM item WHERE qty > 10",
            "CREATE TRIGGER item_log AFTER INSERT ON item BEGIN INSERT INTO log VALUES ('added ' || NEW.title); END",
            "INSERT INTO item (id, title, qty) VALUES (1, 'a', 1), (2, 'b', 20)",
    };

    private record Case(String name, String... steps) {
    }

    /** Cases that answer as plain sqlite-jdbc (those once marked FINDING failed on d74d7ab). */
    private static final Case[] CASES = {
            new Case("cte", "Q:WITH x AS (SELECT name, type FROM sqlite_master) SELECT name FROM x ORDER BY 1"),
            new Case("recursive cte", "Q:WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3)"
                    + " SELECT i, (SELECT count(*) FROM sqlite_master) FROM n"),
            new Case("subquery in select list", "Q:SELECT (SELECT count(*) FROM sqlite_master),"
                    + " (SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema WHERE type = 'trigger' ORDER BY 1))"),
            new Case("subquery in where", "Q:SELECT title FROM item WHERE (SELECT count(*) FROM sqlite_master WHERE type = 'table') = 4"),
            new Case("in subquery", "Q:SELECT name FROM pragma_table_list WHERE name IN (SELECT name FROM sqlite_master) ORDER BY 1"),
            new Case("natural join", "Q:SELECT name, type FROM sqlite_master NATURAL JOIN (SELECT 'item' AS name) ORDER BY 1"),
            new Case("natural join reversed", "Q:SELECT name, type FROM (SELECT 'item' AS name) NATURAL JOIN sqlite_master ORDER BY 1"),
            new Case("left join with on", "Q:SELECT m.name, i.name FROM sqlite_master m LEFT JOIN sqlite_master i"
                    + " ON i.tbl_name = m.name AND i.type = 'index' WHERE m.type = 'table' ORDER BY 1, 2"),
            new Case("comma join, schema table first", "Q:SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p"
                    + " WHERE m.type = 'table' ORDER BY 1, 2"),
            new Case("table-valued join", "Q:SELECT m.name, count(*) FROM sqlite_master AS m JOIN pragma_index_list(m.name) GROUP BY 1 ORDER BY 1"),
            new Case("double quoted", "Q:SELECT name FROM \"sqlite_master\" ORDER BY 1"),
            new Case("brackets", "Q:SELECT name FROM [sqlite_schema] ORDER BY 1"),
            new Case("backticks", "Q:SELECT name FROM `SQLITE_MASTER` ORDER BY 1"),
            new Case("main quoted", "Q:SELECT name FROM main.\"sqlite_master\" ORDER BY 1"),
            new Case("quoted main", "Q:SELECT name FROM [main].sqlite_schema ORDER BY 1"),
            new Case("comments", "Q:SELECT name FROM /*x*/ sqlite_master--x\nWHERE type = 'table' ORDER BY 1"),
            new Case("comment at end", "Q:SELECT name FROM sqlite_master -- the end"),
            new Case("comments in qualified name", "Q:SELECT name FROM main /*a*/ . /*b*/ sqlite_master ORDER BY 1"),
            new Case("keyword alias quoted", "Q:SELECT \"order\".name FROM sqlite_master \"order\" ORDER BY 1"),
            new Case("keyword alias bare", "Q:SELECT key.name FROM sqlite_master key ORDER BY 1"),
            new Case("alias with as", "Q:SELECT m.name FROM sqlite_master AS m ORDER BY 1"),
            new Case("string alias with as", "Q:SELECT m.name FROM sqlite_master AS 'm' ORDER BY 1"),
            new Case("table-qualified column", "Q:SELECT sqlite_master.name, sqlite_master.type FROM sqlite_master ORDER BY 1"),
            new Case("table.* ", "Q:SELECT name, sql FROM (SELECT sqlite_master.* FROM sqlite_master) ORDER BY 1"),
            new Case("window", "Q:SELECT name, row_number() OVER w FROM sqlite_master WINDOW w AS (ORDER BY name) ORDER BY 1"),
            new Case("union", "Q:SELECT name FROM sqlite_master UNION ALL SELECT name FROM sqlite_schema ORDER BY 1"),
            new Case("group having", "Q:SELECT type, count(*) FROM sqlite_master GROUP BY type HAVING count(*) > 0 ORDER BY 1"),
            new Case("limit", "Q:SELECT name FROM sqlite_master ORDER BY name LIMIT 2 OFFSET 1"),
            new Case("parameters", "Q:SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name <> 'x' AND 1 = 1"),
            new Case("temp schema", "Q:SELECT name FROM temp.sqlite_schema UNION ALL SELECT name FROM sqlite_temp_master"),
            new Case("a user table named like the driver's is listed", "Q:SELECT name FROM sqlite_master WHERE name GLOB '*sync*' ORDER BY 1"),
            new Case("select *", "Q:SELECT type, name, tbl_name, sql FROM (SELECT * FROM sqlite_master) ORDER BY name"),
            new Case("explain query plan", "Q:EXPLAIN QUERY PLAN SELECT name FROM sqlite_master WHERE type = 'table'"),
            new Case("execute returning rows", "SELECT name FROM sqlite_master ORDER BY 1"),
            new Case("flyway tables", "Q:SELECT tbl_name FROM \"main\".sqlite_master WHERE type='table'"),
            new Case("insert select", "INSERT INTO log SELECT name FROM sqlite_master", "Q:SELECT what FROM log ORDER BY 1"),
            new Case("prepared insert select", "P:INSERT INTO log SELECT name FROM sqlite_master WHERE type <> 'x'",
                    "Q:SELECT what FROM log ORDER BY 1"),
            new Case("batch insert select", "B:INSERT INTO log SELECT name FROM sqlite_master WHERE type = 'table'",
                    "Q:SELECT what FROM log ORDER BY 1"),
            new Case("update with subquery", "UPDATE item SET qty = (SELECT count(*) FROM sqlite_master)", "Q:SELECT * FROM item"),
            new Case("update from", "UPDATE item SET title = m.name FROM sqlite_master m WHERE m.rootpage = 0 AND m.type = 'trigger'",
                    "Q:SELECT * FROM item"),
            new Case("delete with subquery", "INSERT INTO log VALUES ('item'), ('_sync_outbox'), ('zz')",
                    "DELETE FROM log WHERE what IN (SELECT name FROM sqlite_master)", "Q:SELECT what FROM log ORDER BY 1"),
            new Case("multi-statement executeUpdate",
                    "U:INSERT INTO log SELECT name FROM sqlite_master WHERE type = 'index'; INSERT INTO log SELECT name FROM sqlite_master WHERE type = 'trigger'",
                    "Q:SELECT what FROM log ORDER BY 1"),
            new Case("create table as select: declared types", "CREATE TABLE snap AS SELECT * FROM sqlite_master",
                    "Q:SELECT sql FROM sqlite_master WHERE name = 'snap'"),
            new Case("string alias", "Q:SELECT m.name FROM sqlite_master 'm' ORDER BY 1"),
            new Case("string-literal table name", "Q:SELECT name FROM 'sqlite_master' ORDER BY 1"),
            new Case("string-literal table name, qualified", "Q:SELECT name FROM main.'sqlite_schema' ORDER BY 1"),
            new Case("parenthesized table", "Q:SELECT name FROM (sqlite_master) ORDER BY 1"),
            new Case("comma join, schema table second", "Q:SELECT count(*) FROM sqlite_master a, sqlite_master b"),
            new Case("comma join after a table-valued function",
                    "Q:SELECT m.name FROM pragma_table_info('item') p, sqlite_master m WHERE p.cid = 0 ORDER BY 1"),
            new Case("cte named sqlite_master", "Q:WITH sqlite_master AS (SELECT 'x' AS name) SELECT name FROM sqlite_master"),
            new Case("a column named *_sync* turns the filter off",
                    "Q:SELECT m.name FROM sqlite_master m LEFT JOIN peer p ON p.last_sync = m.name WHERE m.type = 'table' ORDER BY 1"),
            new Case("a user table named my_sync_log turns the filter off",
                    "Q:SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'my_sync_log' ORDER BY 1"),
            new Case("stored view text", "CREATE VIEW v AS SELECT name FROM sqlite_master",
                    "Q:SELECT sql FROM sqlite_master WHERE name = 'v'"),
            new Case("stored trigger text",
                    "CREATE TRIGGER t2 AFTER UPDATE ON item BEGIN INSERT INTO log SELECT name FROM sqlite_master; END",
                    "Q:SELECT sql FROM sqlite_master WHERE name = 't2'"),
            new Case("ALTER ADD then a read in one executeUpdate",
                    "U:ALTER TABLE item ADD COLUMN note TEXT; INSERT INTO log SELECT name FROM sqlite_master WHERE type = 'table'",
                    "Q:SELECT what FROM log ORDER BY 1"),
            new Case("writable_schema delete", "PRAGMA writable_schema = ON",
                    "DELETE FROM sqlite_master WHERE type = 'view' AND name = 'big'", "PRAGMA writable_schema = OFF",
                    "Q:SELECT name FROM sqlite_master WHERE type = 'view'"),
    };

    /**
     * Cases whose statement the driver leaves as written, its own objects included, rather than break it (a derived
     * table cannot stand in for the schema table there, or the statement is DDL whose text is kept): they must run
     * wherever plain sqlite-jdbc runs them, and answer its rows with the driver's objects added.
     */
    private static final Case[] LEFT_AS_WRITTEN = {
            new Case("view over the schema table: its rows", "CREATE VIEW v AS SELECT name FROM sqlite_master",
                    "Q:SELECT name FROM v ORDER BY 1"),
            new Case("trigger reading the schema table: its effect",
                    "CREATE TRIGGER t2 AFTER UPDATE ON item BEGIN INSERT INTO log SELECT name FROM sqlite_master WHERE type = 'table'; END",
                    "UPDATE item SET qty = 3 WHERE id = 1", "Q:SELECT what FROM log ORDER BY 1"),
            new Case("rowid of the schema table", "Q:SELECT rowid, name FROM sqlite_master ORDER BY 2"),
            new Case("oid/_rowid_ of the schema table", "Q:SELECT m.oid, m._rowid_ FROM sqlite_master m WHERE m.name = 'item'"),
            new Case("schema-qualified column", "Q:SELECT main.sqlite_master.name FROM main.sqlite_master ORDER BY 1"),
            new Case("sqlite_master.col over FROM sqlite_schema", "Q:SELECT sqlite_master.name FROM sqlite_schema ORDER BY 1"),
            new Case("NOT INDEXED", "Q:SELECT name FROM sqlite_master NOT INDEXED ORDER BY 1"),
            new Case("CREATE TABLE AS over the schema table: its rows",
                    "CREATE TABLE snap AS SELECT * FROM sqlite_master", "Q:SELECT name FROM snap ORDER BY 1"),
            new Case("pragma_table_list (not the schema table, same question)",
                    "Q:SELECT name FROM pragma_table_list WHERE schema = 'main' ORDER BY 1"),
    };

    @TempDir
    Path dir;

    private final AtomicInteger files = new AtomicInteger();

    @TestFactory
    Stream<DynamicTest> answersAsPlainSqliteJdbc() {
        return Stream.of(CASES).map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            int n = files.incrementAndGet();
            Path syncedFile = dir.resolve("synced" + n + ".db");
            try (Connection synced = DriverManager.getConnection("jdbc:syncsqlite:" + syncedFile + "?sync.lingerMs=0");
                 Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("plain" + n + ".db"))) {
                for (Connection conn : List.of(synced, plain)) {
                    try (Statement st = conn.createStatement()) {
                        for (String ddl : SCHEMA) {
                            st.execute(ddl);
                        }
                    }
                }
                assertSameTranscript(transcript(plain, c.steps()), transcript(synced, c.steps()), c.name());
            }
            // The synced file holds the driver's objects: a difference can show.
            try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + syncedFile);
                 Statement st = raw.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM sqlite_master WHERE name GLOB '_sync_*'")) {
                rs.next();
                assertTrue(rs.getInt(1) > 0);
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> statementsLeftAsWrittenStillRun() {
        return Stream.of(LEFT_AS_WRITTEN).map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            int n = files.incrementAndGet();
            try (Connection synced = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("left" + n + ".db") + "?sync.lingerMs=0");
                 Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("leftplain" + n + ".db"))) {
                for (Connection conn : List.of(synced, plain)) {
                    try (Statement st = conn.createStatement()) {
                        for (String ddl : SCHEMA) {
                            st.execute(ddl);
                        }
                    }
                }
                List<String> expected = transcript(plain, c.steps());
                List<String> got = transcript(synced, c.steps());
                assertEquals(expected.size(), got.size());
                for (int i = 0; i < got.size(); i++) {
                    assertEquals(expected.get(i).startsWith("ERROR"), got.get(i).startsWith("ERROR"), c.name() + ": " + got);
                    if (!c.name().contains("rowid")) { // the rowids of the application's objects differ anyway
                        assertEquals(expected.get(i), withoutDriverObjects(got.get(i)), c.name());
                    }
                }
            }
        }));
    }

    /** A transcript line with the rows naming the driver's objects taken out. */
    private static String withoutDriverObjects(String line) {
        int open = line.indexOf('[');
        if (open < 0 || !line.endsWith("]")) {
            return line;
        }
        List<String> kept = java.util.Arrays.stream(line.substring(open + 1, line.length() - 1).split(", ", -1))
                .filter(e -> !e.startsWith("_sync_") && !e.startsWith("sqlite_autoindex__sync_") && !e.contains("|_sync_"))
                .toList();
        return line.substring(0, open + 1) + String.join(", ", kept) + "]";
    }

    /** ATTACH of a file the driver has opened: its schema table is read without the driver's objects too. */
    @Test
    void anAttachedFileTheDriverOpenedIsListedWithoutItsObjects() throws Exception {
        Path auxSynced = dir.resolve("aux-synced.db");
        Path auxPlain = dir.resolve("aux-plain.db");
        for (String url : List.of("jdbc:syncsqlite:" + auxSynced + "?sync.lingerMs=0", "jdbc:sqlite:" + auxPlain)) {
            try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
                st.execute(SCHEMA[0]);
            }
        }
        try (Connection synced = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("m1.db") + "?sync.lingerMs=0");
             Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("m2.db"))) {
            List<String> steps = List.of("Q:SELECT name FROM aux.sqlite_master ORDER BY 1");
            try (Statement st = synced.createStatement()) {
                st.execute("ATTACH '" + auxSynced + "' AS aux");
            }
            try (Statement st = plain.createStatement()) {
                st.execute("ATTACH '" + auxPlain + "' AS aux");
            }
            assertSameTranscript(transcript(plain, steps.toArray(String[]::new)), transcript(synced, steps.toArray(String[]::new)), "aux");
        }
    }

    /** A user table _SYNC_Notes: DatabaseMetaData and the schema table both leave it out (compared without case). */
    @Test
    void anUpperCaseSyncPrefixIsHiddenByMetaDataAndBySchemaListingAlike() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("u.db") + "?sync.lingerMs=0");
             Statement st = c.createStatement()) {
            st.execute("CREATE TABLE _SYNC_Notes (x TEXT)");
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY)");
            List<String> meta = new ArrayList<>();
            try (ResultSet rs = c.getMetaData().getTables(null, null, "%", new String[] {"TABLE"})) {
                while (rs.next()) {
                    meta.add(rs.getString("TABLE_NAME"));
                }
            }
            List<String> listed = rows(st.executeQuery("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"));
            assertEquals(meta, listed);
        }
    }

    /** DatabaseMetaData and ResultSetMetaData answer as plain sqlite-jdbc; the driver's internal reads still see its objects. */
    @Test
    void metaDataAndInternalReadsUnchanged() throws Exception {
        Path syncedFile = dir.resolve("meta-s.db");
        try (Connection synced = DriverManager.getConnection("jdbc:syncsqlite:" + syncedFile + "?sync.lingerMs=0");
             Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("meta-p.db"))) {
            for (Connection conn : List.of(synced, plain)) {
                try (Statement st = conn.createStatement()) {
                    for (String ddl : SCHEMA) {
                        st.execute(ddl);
                    }
                }
            }
            for (String table : new String[] {"%", "item"}) {
                assertEquals(rows(plain.getMetaData().getTables(null, null, table, null)),
                        rows(synced.getMetaData().getTables(null, null, table, null)), table);
                assertEquals(rows(plain.getMetaData().getColumns(null, null, table, null)),
                        rows(synced.getMetaData().getColumns(null, null, table, null)), table);
            }
            DatabaseMetaData md = synced.getMetaData();
            assertEquals(rows(plain.getMetaData().getIndexInfo(null, null, "item", false, false)),
                    rows(md.getIndexInfo(null, null, "item", false, false)));
            for (String q : new String[] {"SELECT name, type AS t, sql FROM sqlite_master", "SELECT m.* FROM main.sqlite_schema m",
                    "SELECT sqlite_master.tbl_name FROM sqlite_master"}) {
                try (PreparedStatement a = plain.prepareStatement(q); PreparedStatement b = synced.prepareStatement(q)) {
                    assertEquals(columns(a.getMetaData()), columns(b.getMetaData()), q);
                }
            }
            // Capture still works: a table created through the driver gets triggers; a write reaches the outbox.
            try (Statement st = synced.createStatement()) {
                st.execute("CREATE TABLE later (id INTEGER PRIMARY KEY, v TEXT)");
                st.executeUpdate("INSERT INTO later (id, v) VALUES (1, 'x')");
            }
            try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + syncedFile); Statement st = raw.createStatement()) {
                assertEquals(List.of("_sync_ins_later"), rows(st.executeQuery(
                        "SELECT name FROM sqlite_master WHERE tbl_name = 'later' AND name = '_sync_ins_later'")));
                assertEquals(List.of("1"), rows(st.executeQuery("SELECT count(*) > 0 FROM _sync_outbox WHERE tbl = 'later'")));
            }
            // The synced connection still finds its objects when it asks by name.
            try (Statement st = synced.createStatement()) {
                assertEquals(List.of("1"), rows(st.executeQuery("SELECT count(*) FROM sqlite_master WHERE name = '_sync_ins_later'")));
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    private static List<String> transcript(Connection c, String... steps) {
        List<String> out = new ArrayList<>();
        for (String step : steps) {
            try {
                if (step.startsWith("Q:")) {
                    String q = step.substring(2);
                    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(q)) {
                        out.add("rows " + rows(rs));
                    }
                    try (PreparedStatement ps = c.prepareStatement(q); ResultSet rs = ps.executeQuery()) {
                        out.add("prepared rows " + rows(rs));
                    }
                } else if (step.startsWith("U:")) {
                    try (Statement st = c.createStatement()) {
                        out.add("count " + st.executeUpdate(step.substring(2)));
                    }
                } else if (step.startsWith("B:")) {
                    try (Statement st = c.createStatement()) {
                        st.addBatch(step.substring(2));
                        out.add("batch " + java.util.Arrays.toString(st.executeBatch()));
                    }
                } else if (step.startsWith("P:")) {
                    try (PreparedStatement ps = c.prepareStatement(step.substring(2))) {
                        out.add("prepared " + ps.execute());
                    }
                } else {
                    try (Statement st = c.createStatement()) {
                        if (st.execute(step)) {
                            try (ResultSet rs = st.getResultSet()) {
                                out.add("rows " + rows(rs));
                            }
                        } else {
                            out.add("ok");
                        }
                    }
                }
            } catch (SQLException e) {
                out.add("ERROR (" + e.getMessage() + ")");
            }
        }
        return out;
    }

    /** Both failing is agreement, whatever the wording; the message shows both transcripts in full. */
    private static void assertSameTranscript(List<String> plain, List<String> synced, String name) {
        assertEquals(normalized(plain), normalized(synced), name + "\n plain:  " + plain + "\n synced: " + synced);
    }

    private static List<String> normalized(List<String> transcript) {
        return transcript.stream().map(s -> s.startsWith("ERROR") ? "ERROR" : s).toList();
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
        rs.close();
        return out;
    }

    private static List<String> columns(ResultSetMetaData md) throws SQLException {
        List<String> out = new ArrayList<>();
        for (int i = 1; i <= md.getColumnCount(); i++) {
            out.add(md.getColumnName(i) + "/" + md.getColumnLabel(i) + "/" + md.getColumnTypeName(i) + "/" + md.getTableName(i));
        }
        return out;
    }
}
