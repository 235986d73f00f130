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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.syncsqlite.driver.jdbc.SchemaChangeRefusalTest.columns;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of the refusal of ALTER TABLE forms sync cannot follow (SY002), with real SQLite files: every JDBC path,
 * many spellings, and what sqlite-jdbc itself runs of a multi-statement string.
 */
class SchemaChangeRefusalReviewTest {

    @TempDir
    Path dir;

    private static final List<String> ITEM_COLUMNS = List.of("id", "title", "note", "qty");

    private Connection open(String name) throws SQLException {
        Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve(name + ".db")
                + "?sync.lingerMs=0&sync.tables=item");
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS item (id TEXT PRIMARY KEY, title TEXT, note TEXT,"
                    + " qty INTEGER NOT NULL DEFAULT 0)");
            st.execute("CREATE TABLE IF NOT EXISTS scratch (id TEXT PRIMARY KEY, tmp TEXT)");
            st.executeUpdate("INSERT OR IGNORE INTO item (id, title, note, qty) VALUES ('1', 'a', 'n', 5)");
        }
        return c;
    }

    private Connection plain(String name) throws SQLException {
        Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve(name + ".db"));
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id TEXT PRIMARY KEY, title TEXT, note TEXT, qty INTEGER NOT NULL DEFAULT 0)");
            st.executeUpdate("INSERT INTO item (id, title, note, qty) VALUES ('1', 'a', 'n', 5)");
        }
        return c;
    }


    private static String title(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT title FROM item WHERE id = '1'")) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static long qty(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT qty FROM item WHERE id = '1'")) {
            return rs.next() ? rs.getLong(1) : -1;
        }
    }

    private static long count(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long captured(Connection c) throws SQLException {
        return count(c, "SELECT count(*) FROM _sync_outbox WHERE lower(tbl) = 'item' AND op <> 0");
    }

    private interface Action {
        void run(Connection c) throws SQLException;
    }

    private static int fresh;

    /**
     * Runs {@code action} on a fresh file and checks that it was refused with SY002 (a BatchUpdateException when
     * {@code batch}), that nothing ran (columns, title, qty), that the connection still works and a later write is
     * still captured. Returns what went wrong, or null.
     */
    private String refused(String label, boolean batch, Action action) throws SQLException {
        try (Connection c = open("r" + (fresh++))) {
            long before = captured(c);
            SQLException e = null;
            try {
                action.run(c);
            } catch (SQLException thrown) {
                e = thrown;
            }
            List<String> problems = new ArrayList<>();
            if (e == null) {
                problems.add("not refused");
            } else {
                if (!"SY002".equals(e.getSQLState())) {
                    problems.add("SQLState " + e.getSQLState() + " (" + e.getMessage() + ")");
                }
                if (batch && !(e instanceof BatchUpdateException)) {
                    problems.add("not a BatchUpdateException: " + e.getClass().getSimpleName());
                }
                if (e instanceof BatchUpdateException b && b.getUpdateCounts().length != 0) {
                    problems.add("update counts " + b.getUpdateCounts().length);
                }
            }
            if (!c.getAutoCommit()) {
                c.commit();
                c.setAutoCommit(true);
            }
            List<String> cols = columns(c, "item");
            if (!cols.equals(ITEM_COLUMNS)) {
                problems.add("item columns now " + cols + (cols.isEmpty() ? " (tables: "
                        + tables(c) + ")" : ""));
            }
            if (!cols.isEmpty()) {
                if (!"a".equals(title(c))) {
                    problems.add("an earlier statement ran: title " + title(c));
                }
                if (qty(c) != 5) {
                    problems.add("an earlier statement ran: qty " + qty(c));
                }
            }
            if (cols.equals(ITEM_COLUMNS)) {
                try (Statement st = c.createStatement()) {
                    st.executeUpdate("INSERT INTO item (id, title, note) VALUES ('later', 't', 'n')");
                }
                long after = captured(c);
                if (after != before + 1) {
                    problems.add("later insert captured " + (after - before) + " rows");
                }
            }
            return problems.isEmpty() ? null : label + ": " + String.join("; ", problems);
        }
    }

    private static String tables(Connection c) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return String.join(",", out);
    }

    private static void noProblems(List<String> problems) {
        problems.removeIf(p -> p == null);
        assertTrue(problems.isEmpty(), problems.size() + " problem(s):\n" + String.join("\n", problems));
    }

    private static Action execute(String sql) {
        return c -> {
            try (Statement st = c.createStatement()) {
                st.execute(sql);
            }
        };
    }

    private static Action executeUpdate(String sql) {
        return c -> {
            try (Statement st = c.createStatement()) {
                st.executeUpdate(sql);
            }
        };
    }

    private static Action batch(String... entries) {
        return c -> {
            try (Statement st = c.createStatement()) {
                for (String e : entries) {
                    st.addBatch(e);
                }
                st.executeBatch();
            }
        };
    }

    private static Action prepared(String sql) {
        return c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.execute();
            }
        };
    }

    // ---------------------------------------------------------------------------------------------------------
    // What sqlite-jdbc itself runs of several statements (the premise of firstStatementOnly)

    @Test
    void plainSqliteJdbcRunsOnlyTheFirstStatementExceptThroughExecuteUpdate() throws Exception {
        String sql = "UPDATE item SET title = 'b' WHERE id = '1'; UPDATE item SET note = 'm' WHERE id = '1'";
        Map<String, Action> firstOnly = new LinkedHashMap<>();
        firstOnly.put("execute", execute(sql));
        firstOnly.put("execute(sql, RETURN_GENERATED_KEYS)", c -> {
            try (Statement st = c.createStatement()) {
                st.execute(sql, Statement.RETURN_GENERATED_KEYS);
            }
        });
        firstOnly.put("batch entry", batch(sql));
        firstOnly.put("prepareStatement", prepared(sql));
        Map<String, Action> all = new LinkedHashMap<>();
        all.put("executeUpdate", executeUpdate(sql));
        all.put("executeUpdate(sql, RETURN_GENERATED_KEYS)", c -> {
            try (Statement st = c.createStatement()) {
                st.executeUpdate(sql, Statement.RETURN_GENERATED_KEYS);
            }
        });
        all.put("executeLargeUpdate", c -> {
            try (Statement st = c.createStatement()) {
                st.executeLargeUpdate(sql);
            }
        });
        int n = 0;
        for (boolean sync : new boolean[] {false, true}) {
            for (Map.Entry<String, Action> e : firstOnly.entrySet()) {
                try (Connection c = sync ? open("f" + n++) : plain("f" + n++)) {
                    e.getValue().run(c);
                    assertEquals("b", title(c), e.getKey());
                    assertEquals(0, count(c, "SELECT count(*) FROM item WHERE note = 'm'"), sync + " " + e.getKey());
                }
            }
            for (Map.Entry<String, Action> e : all.entrySet()) {
                try (Connection c = sync ? open("f" + n++) : plain("f" + n++)) {
                    e.getValue().run(c);
                    assertEquals(1, count(c, "SELECT count(*) FROM item WHERE title = 'b' AND note = 'm'"),
                            sync + " " + e.getKey());
                }
            }
        }
        // sqlite-jdbc refuses prepareCall itself ("SQLite does not support Stored Procedures"), with or without the driver.
        for (boolean sync : new boolean[] {false, true}) {
            try (Connection c = sync ? open("call") : plain("call")) {
                assertThrows(SQLException.class, () -> c.prepareCall(sql));
                assertEquals("a", title(c));
            }
        }
        // A leading empty statement is skipped by SQLite's prepare: the ALTER after it is the first statement.
        try (Connection c = plain("lead"); Statement st = c.createStatement()) {
            st.execute("; /* c */ ;\n ALTER TABLE item RENAME COLUMN note TO remark; UPDATE item SET title = 'b'");
            assertEquals(List.of("id", "title", "remark", "qty"), columns(c, "item"));
            assertEquals("a", title(c));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Spellings

    @Test
    void spellingsOfTheSyncedTableAndTheActionAreRefusedOnEveryPath() throws Exception {
        List<String> ddl = List.of(
                "ALTER TABLE \"item\" DROP COLUMN note",
                "ALTER TABLE `item` RENAME COLUMN note TO remark",
                "ALTER TABLE [item] RENAME TO items",
                "alter table main.item rename column note to remark",
                "ALTER TABLE \"main\".\"item\" RENAME TO items",
                "ALTER TABLE MAIN . [ITEM] RENAME note TO remark",
                "AlTeR TaBlE ItEm ReNaMe \"note\" TO \"remark\"",
                "ALTER TABLE item DROP \"note\"",
                "ALTER/*a*/TABLE/*b*/item/*c*/RENAME/*d*/COLUMN note TO remark",
                "ALTER\n\tTABLE -- x\n item\r\n RENAME\n TO items -- trailing",
                "ALTER TABLE item RENAME COLUMN note TO remark; /* trailing */ ;; -- end",
                "; ALTER TABLE item RENAME COLUMN note TO remark",
                "/* c */ ; -- x\n ALTER TABLE item RENAME TO items; UPDATE item SET title = 'b'");
        List<String> problems = new ArrayList<>();
        for (String sql : ddl) {
            problems.add(refused("execute " + sql, false, execute(sql)));
            problems.add(refused("executeUpdate " + sql, false, executeUpdate(sql)));
            problems.add(refused("batch " + sql, true, batch("UPDATE item SET title = 'b' WHERE id = '1'", sql)));
            problems.add(refused("prepared " + sql, false, prepared(sql)));
        }
        noProblems(problems);
    }

    /**
     * SQLite takes a single-quoted string where a name is expected ({@code nm ::= STRING}): {@code ALTER TABLE 'item'
     * RENAME ...} renames the synced table's column (checked against plain sqlite-jdbc first).
     */
    @Test
    void aSyncedTableNamedByAStringLiteralIsRefused() throws Exception {
        try (Connection c = plain("literal"); Statement st = c.createStatement()) {
            st.execute("ALTER TABLE 'item' RENAME COLUMN note TO remark");
            assertEquals(List.of("id", "title", "remark", "qty"), columns(c, "item"), "SQLite runs it");
        }
        List<String> problems = new ArrayList<>();
        for (String sql : List.of("ALTER TABLE 'item' RENAME COLUMN note TO remark",
                "ALTER TABLE main.'item' RENAME TO items", "ALTER TABLE 'item' DROP COLUMN note")) {
            problems.add(refused("execute " + sql, false, execute(sql)));
            problems.add(refused("executeUpdate " + sql, false, executeUpdate(sql)));
            problems.add(refused("executeUpdate several " + sql, false,
                    executeUpdate("UPDATE item SET title = 'b' WHERE id = '1'; " + sql)));
            problems.add(refused("batch " + sql, true, batch("UPDATE item SET title = 'b' WHERE id = '1'", sql)));
            problems.add(refused("prepared " + sql, false, prepared(sql)));
        }
        noProblems(problems);
    }

    /**
     * SQLite reads a TCL-style parameter {@code $a(...)}, {@code :a(...)}, {@code @a(...)} as one token up to
     * {@code )} or white space, quotes and comment openers included; the driver's lexer starts a string or a comment
     * there and so does not see the {@code ;} and the ALTER after it. executeUpdate runs every statement.
     */
    @Test
    void anAlterAfterAParameterThatHidesItFromTheLexerIsRefused() throws Exception {
        List<String> hidden = List.of(
                "SELECT $a(') ; ALTER TABLE item RENAME COLUMN note TO remark; -- '",
                "UPDATE item SET title = :a(/*) WHERE id = '1'; ALTER TABLE item RENAME TO items; -- */",
                "SELECT @p(\") ; ALTER TABLE item RENAME COLUMN note TO remark; -- \"");
        for (String sql : hidden) {
            try (Connection c = plain("tcl" + hidden.indexOf(sql)); Statement st = c.createStatement()) {
                st.executeUpdate(sql);
                assertFalse(columns(c, "item").equals(ITEM_COLUMNS), "plain sqlite-jdbc ran the ALTER: " + sql);
            }
        }
        List<String> problems = new ArrayList<>();
        for (String sql : hidden) {
            problems.add(refused("executeUpdate " + sql, false, executeUpdate(sql)));
            problems.add(refused("executeLargeUpdate " + sql, false, c -> {
                try (Statement st = c.createStatement()) {
                    st.executeLargeUpdate(sql);
                }
            }));
        }
        noProblems(problems);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Several statements through every Statement overload

    @Test
    void everyStatementOfAStringRunByExecuteUpdateIsChecked() throws Exception {
        String sql = "UPDATE item SET title = 'b' WHERE id = '1'; UPDATE item SET qty = qty + 1 WHERE id = '1';"
                + " ALTER TABLE item RENAME COLUMN note TO remark";
        List<String> problems = new ArrayList<>();
        problems.add(refused("executeUpdate", false, executeUpdate(sql)));
        problems.add(refused("executeUpdate(RETURN_GENERATED_KEYS)", false, c -> {
            try (Statement st = c.createStatement()) {
                st.executeUpdate(sql, Statement.RETURN_GENERATED_KEYS);
            }
        }));
        problems.add(refused("executeLargeUpdate", false, c -> {
            try (Statement st = c.createStatement()) {
                st.executeLargeUpdate(sql);
            }
        }));
        problems.add(refused("executeLargeUpdate(NO_GENERATED_KEYS)", false, c -> {
            try (Statement st = c.createStatement()) {
                st.executeLargeUpdate(sql, Statement.NO_GENERATED_KEYS);
            }
        }));
        problems.add(refused("in a transaction", false, c -> {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.executeUpdate(sql);
            }
        }));
        problems.add(refused("in a SQL transaction", false, c -> {
            try (Statement st = c.createStatement()) {
                st.execute("BEGIN");
                try {
                    st.executeUpdate(sql);
                } finally {
                    st.execute("COMMIT");
                }
            }
        }));
        noProblems(problems);
        // sqlite-jdbc does not support the column overloads at all: whatever is thrown, nothing runs.
        for (int k = 0; k < 2; k++) {
            int variant = k;
            try (Connection c = open("cols" + k); Statement st = c.createStatement()) {
                assertThrows(SQLException.class, () -> {
                    if (variant == 0) {
                        st.executeUpdate(sql, new int[] {1});
                    } else {
                        st.executeLargeUpdate(sql, new String[] {"id"});
                    }
                });
                assertEquals(ITEM_COLUMNS, columns(c, "item"));
                assertEquals("a", title(c));
            }
        }
    }

    @Test
    void executeAndExecuteQueryCheckOnlyTheFirstStatement() throws Exception {
        String alterSecond = "UPDATE item SET title = 'b' WHERE id = '1'; ALTER TABLE item RENAME COLUMN note TO remark";
        try (Connection c = open("first"); Statement st = c.createStatement()) {
            st.execute(alterSecond);
            assertEquals("b", title(c));
            st.execute("UPDATE item SET title = 'c' WHERE id = '1'; ALTER TABLE item DROP COLUMN note",
                    Statement.RETURN_GENERATED_KEYS);
            assertEquals("c", title(c));
            try (ResultSet rs = st.executeQuery("SELECT 1; ALTER TABLE item RENAME TO items")) {
                assertTrue(rs.next());
            }
            assertEquals(ITEM_COLUMNS, columns(c, "item"));
        }
        List<String> problems = new ArrayList<>();
        problems.add(refused("execute(sql, RETURN_GENERATED_KEYS) alter first", false, c -> {
            try (Statement st = c.createStatement()) {
                st.execute("ALTER TABLE item RENAME COLUMN note TO remark; UPDATE item SET title = 'b'",
                        Statement.RETURN_GENERATED_KEYS);
            }
        }));
        problems.add(refused("executeQuery alter first", false, c -> {
            try (Statement st = c.createStatement()) {
                st.executeQuery("ALTER TABLE item RENAME TO items; SELECT 1").close();
            }
        }));
        noProblems(problems);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Batches

    @Test
    void batchesWithARefusedAlterRunNoEntry() throws Exception {
        String rename = "ALTER TABLE item RENAME COLUMN note TO remark";
        List<String> problems = new ArrayList<>();
        problems.add(refused("alter first", true, batch(rename, "UPDATE item SET title = 'b' WHERE id = '1'")));
        problems.add(refused("alter last", true, batch("UPDATE item SET title = 'b' WHERE id = '1'",
                "INSERT INTO scratch (id, tmp) VALUES ('s', 'x')", "ALTER TABLE item RENAME TO items")));
        problems.add(refused("alter first of a multi-statement entry", true, batch(
                "UPDATE item SET title = 'b' WHERE id = '1'", rename + "; UPDATE item SET title = 'c'")));
        problems.add(refused("executeLargeBatch", true, c -> {
            try (Statement st = c.createStatement()) {
                st.addBatch("UPDATE item SET title = 'b' WHERE id = '1'");
                st.addBatch("ALTER TABLE item DROP COLUMN note");
                st.executeLargeBatch();
            }
        }));
        problems.add(refused("counter entry", true, batch("UPDATE item SET qty = qty + 1 WHERE id = '1'", rename)));
        problems.add(refused("counter entry, executeLargeBatch", true, c -> {
            try (Statement st = c.createStatement()) {
                st.addBatch("UPDATE item SET title = 'b', qty = qty - 2 WHERE id = '1'");
                st.addBatch("ALTER TABLE main.item RENAME TO items");
                st.executeLargeBatch();
            }
        }));
        problems.add(refused("OR ROLLBACK entry", true, batch(
                "INSERT OR ROLLBACK INTO item (id, title, note) VALUES ('2', 'x', 'y')",
                "UPDATE OR ROLLBACK item SET title = 'b' WHERE id = '1'", rename)));
        problems.add(refused("in a transaction", true, c -> {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.addBatch("UPDATE item SET qty = qty + 1 WHERE id = '1'");
                st.addBatch(rename);
                st.executeBatch();
            }
        }));
        noProblems(problems);
    }

    @Test
    void aTransactionGoesOnAndCommitsTheRestAfterARefusedBatch() throws Exception {
        try (Connection c = open("tx"); Statement st = c.createStatement()) {
            long before = captured(c);
            c.setAutoCommit(false);
            st.executeUpdate("INSERT INTO item (id, title, note) VALUES ('2', 'x', 'y')");
            st.addBatch("UPDATE item SET qty = qty + 1 WHERE id = '1'");
            st.addBatch("ALTER TABLE item DROP COLUMN note");
            BatchUpdateException e = assertThrows(BatchUpdateException.class, st::executeBatch);
            assertEquals("SY002", e.getSQLState());
            st.addBatch("UPDATE item SET qty = qty + 1 WHERE id = '1'");
            st.addBatch("UPDATE item SET title = 'b' WHERE id = '1'");
            assertEquals(2, st.executeBatch().length, "the refused batch was cleared");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(6, qty(c));
            assertEquals("b", title(c));
            assertEquals(1, count(c, "SELECT count(*) FROM item WHERE id = '2'"));
            assertEquals(before + 3, captured(c), "the insert and both updates were captured");
            assertEquals(ITEM_COLUMNS, columns(c, "item"));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Prepared and callable statements

    @Test
    void preparedAndCallableStatementsOfARefusedAlter() throws Exception {
        List<String> problems = new ArrayList<>();
        for (String sql : List.of("ALTER TABLE item DROP COLUMN note",
                "ALTER TABLE item RENAME COLUMN note TO remark; SELECT 1",
                "ALTER TABLE item RENAME TO items; UPDATE item SET title = 'b'")) {
            problems.add(refused("prepareStatement executeUpdate " + sql, false, c -> {
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    ps.executeUpdate();
                }
            }));
            problems.add(refused("prepareStatement(RETURN_GENERATED_KEYS) " + sql, false, c -> {
                try (PreparedStatement ps = c.prepareStatement(sql, Statement.RETURN_GENERATED_KEYS)) {
                    ps.execute();
                }
            }));
            problems.add(refused("prepareStatement(type, concurrency) executeLargeUpdate " + sql, false, c -> {
                try (PreparedStatement ps = c.prepareStatement(sql, ResultSet.TYPE_FORWARD_ONLY,
                        ResultSet.CONCUR_READ_ONLY)) {
                    ps.executeLargeUpdate();
                }
            }));
            problems.add(refused("prepareStatement addBatch " + sql, true, c -> {
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    ps.addBatch();
                    ps.executeBatch();
                }
            }));
            try (Connection c = open("call" + (fresh++))) {
                // sqlite-jdbc has no CallableStatement: prepareCall throws before anything can run.
                assertThrows(SQLException.class, () -> c.prepareCall(sql));
                assertThrows(SQLException.class, () -> c.prepareCall(sql, ResultSet.TYPE_FORWARD_ONLY,
                        ResultSet.CONCUR_READ_ONLY, ResultSet.CLOSE_CURSORS_AT_COMMIT));
                assertEquals(ITEM_COLUMNS, columns(c, "item"));
            }
        }
        noProblems(problems);
        // Second of several: sqlite-jdbc prepares the first only, which runs; nothing refused.
        try (Connection c = open("prepared2")) {
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE item SET title = ? WHERE id = '1'; ALTER TABLE item DROP COLUMN note")) {
                ps.setString(1, "b");
                assertEquals(1, ps.executeUpdate());
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE item SET title = 'c' WHERE id = '1'; ALTER TABLE item RENAME TO x", Statement.RETURN_GENERATED_KEYS)) {
                ps.addBatch();
                assertEquals(1, ps.executeBatch().length);
            }
            assertEquals("c", title(c));
            assertEquals(ITEM_COLUMNS, columns(c, "item"));
        }
    }

    /**
     * A table listed in sync.tables gets its capture triggers as soon as it is created, also inside a transaction;
     * renaming its column before the commit leaves triggers (rewritten by SQLite) that capture the new name.
     */
    @Test
    void aSyncedTableCreatedEarlierInTheSameTransactionIsRefusedToo() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("created.db")
                + "?sync.lingerMs=0&sync.tables=item"); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("CREATE TABLE item (id TEXT PRIMARY KEY, title TEXT, note TEXT, qty INTEGER NOT NULL DEFAULT 0)");
            st.executeUpdate("INSERT INTO item (id, title, note) VALUES ('1', 'a', 'n')");
            long before = captured(c);
            assertEquals(1, before, "the insert was captured: item is synced");
            SQLException e = null;
            try {
                st.execute("ALTER TABLE item RENAME COLUMN note TO remark");
            } catch (SQLException thrown) {
                e = thrown;
            }
            c.commit();
            c.setAutoCommit(true);
            assertTrue(e != null && "SY002".equals(e.getSQLState()),
                    "not refused; item columns now " + columns(c, "item") + (e == null ? "" : ", " + e.getMessage()));
            assertEquals(ITEM_COLUMNS, columns(c, "item"));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // False refusals

    @Test
    void whatSyncFollowsOrWhatIsNotAnAlterOfTheSyncedTableRunsEverywhere() throws Exception {
        try (Connection c = open("allowed"); Statement st = c.createStatement()) {
            st.executeUpdate("ALTER TABLE scratch ADD COLUMN a TEXT; ALTER TABLE scratch RENAME COLUMN a TO b;"
                    + " ALTER TABLE scratch DROP COLUMN b; UPDATE item SET title = 'b' WHERE id = '1'");
            assertEquals("b", title(c));
            st.addBatch("ALTER TABLE scratch RENAME TO scratch2");
            st.addBatch("ALTER TABLE item ADD COLUMN extra TEXT");
            st.addBatch("ALTER TABLE scratch2 RENAME TO scratch");
            st.executeBatch();
            st.executeUpdate("INSERT INTO scratch (id, tmp) VALUES ('s', 'ALTER TABLE item DROP COLUMN note;');"
                    + " /* ; ALTER TABLE item RENAME TO x; */ -- ; ALTER TABLE item DROP note\n"
                    + " UPDATE item SET note = 'ALTER TABLE item RENAME TO x' WHERE id = '1'");
            assertEquals(1, count(c, "SELECT count(*) FROM item WHERE note = 'ALTER TABLE item RENAME TO x'"));
            assertEquals(1, count(c, "SELECT count(*) FROM scratch WHERE tmp LIKE 'ALTER%'"));
            st.executeUpdate("CREATE TRIGGER scratch_t AFTER INSERT ON scratch BEGIN"
                    + " UPDATE scratch SET tmp = 'x;' WHERE id = NEW.id; SELECT 1; END;"
                    + " ALTER TABLE item ADD COLUMN more INTEGER; INSERT INTO scratch (id) VALUES ('t')");
            assertEquals(1, count(c, "SELECT count(*) FROM scratch WHERE tmp = 'x;'"));
            try (PreparedStatement ps = c.prepareStatement("ALTER TABLE scratch RENAME COLUMN tmp TO tmp2; SELECT 1")) {
                ps.execute();
            }
            try (PreparedStatement ps = c.prepareStatement("ALTER TABLE item ADD COLUMN third TEXT")) {
                ps.addBatch();
                ps.executeBatch();
            }
            assertEquals(List.of("id", "title", "note", "qty", "extra", "more", "third"), columns(c, "item"));
            assertEquals(List.of("id", "tmp2"), columns(c, "scratch"));
            long before = captured(c);
            st.executeUpdate("INSERT INTO item (id, title, note, extra, more, third) VALUES ('z', 't', 'n', 'e', 1, 'th')");
            assertEquals(before + 1, captured(c));
        }
    }

    /**
     * A temporary table (or an attached database's table) of the synced table's name is not synced: altering it,
     * named with its schema, is not a change sync has to follow.
     */
    @Test
    void aTableOfTheSameNameInAnotherSchemaCanBeAltered() throws Exception {
        try (Connection c = open("schemas"); Statement st = c.createStatement()) {
            st.execute("CREATE TEMP TABLE item (id TEXT PRIMARY KEY, note TEXT)");
            List<String> problems = new ArrayList<>();
            try {
                st.execute("ALTER TABLE temp.item RENAME COLUMN note TO remark");
            } catch (SQLException e) {
                // SQLite itself refuses this one: its RENAME COLUMN rewrites the main table's capture triggers too
                // (they name a table "item") and then finds no NEW.remark there. Only the driver's refusal counts.
                if ("SY002".equals(e.getSQLState())) {
                    problems.add("temp.item: " + e.getSQLState() + " " + e.getMessage());
                }
            }
            st.execute("ALTER TABLE temp.item ADD COLUMN extra TEXT");
            try {
                st.execute("ALTER TABLE item RENAME TO renamed_temp_item"); // unqualified: the temporary table
            } catch (SQLException e) {
                problems.add("item shadowed by temp.item: " + e.getSQLState() + " " + e.getMessage());
            }
            st.execute("DROP TABLE temp.renamed_temp_item");
            st.execute("ATTACH DATABASE '" + dir.resolve("other.db") + "' AS aux");
            st.execute("CREATE TABLE aux.item (id TEXT PRIMARY KEY, note TEXT)");
            try {
                st.executeUpdate("ALTER TABLE aux.item DROP COLUMN note");
            } catch (SQLException e) {
                problems.add("aux.item: " + e.getSQLState() + " " + e.getMessage());
            }
            assertEquals(ITEM_COLUMNS, columns(c, "item"));
            noProblems(problems);
        }
    }
}
