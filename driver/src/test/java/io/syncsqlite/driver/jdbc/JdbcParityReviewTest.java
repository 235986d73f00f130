package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteException;

import java.nio.file.Path;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ParameterMetaData;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Review: what an application observes through plain JDBC calls is the same with {@code jdbc:sqlite:} and with
 * {@code jdbc:syncsqlite:}. Every test runs one script against a plain sqlite-jdbc file and a synced file of the
 * same schema (an INTEGER PRIMARY KEY table, a TEXT-key table, both synced; a table without a primary key, not
 * synced; a child table with ON DELETE CASCADE), writes what the application sees as lines, and compares the
 * lines. Variants (auto-commit on and off, Statement and PreparedStatement) are compared one by one and all
 * differences reported together. {@code -Dparity.dump=<dir>} writes both sides' lines to files.
 *
 * <p>Differences found (failing tests): a connection left inside the driver's own transaction for good after a
 * failed auto-commit batch and then a failed write (its prepared ROLLBACK is finalized by sqlite-jdbc when it runs
 * with no transaction open); prepared counter batches that throw NullPointerException (an entry adding 0 or NULL,
 * a {@code sync.lww} column) or SY001 (a NULL counter, a table that is not synced, Hibernate's versioned batch on
 * it), and that roll back their earlier entries in auto-commit mode; {@code RETURNING} of a counter statement in
 * auto-commit mode read as a CachedRowSet; {@code changes()} and {@code last_insert_rowid()} left by the driver's
 * bookkeeping statements; executeUpdate of several statements counting the capture rows; the driver's tables in
 * getTables and sqlite_master (a new file is not empty for Flyway); auto-commit batches with a deferred foreign key
 * violation (whole batch rolled back, no BatchUpdateException); executeQuery of DDL in auto-commit mode rolled back.
 */
class JdbcParityReviewTest {

    @TempDir
    Path dir;

    /** The URL the running script's connection was opened with (for a second connection to the same file). */
    private String url;

    private static final List<String> SCHEMA = List.of(
            "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT NOT NULL, qty INTEGER, code TEXT UNIQUE)",
            "CREATE TABLE tag (code TEXT PRIMARY KEY, label TEXT, n INTEGER, version INTEGER NOT NULL DEFAULT 0)",
            "CREATE TABLE note (body TEXT, n INTEGER)",
            "CREATE TABLE child (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES item (id) ON DELETE CASCADE,"
                    + " v TEXT)",
            "CREATE INDEX child_item ON child (item_id)",
            "INSERT INTO item (id, title, qty, code) VALUES (1, 'one', 1, 'c1'), (2, 'two', 2, 'c2'), (3, 'three', NULL, 'c3')",
            "INSERT INTO tag (code, label, n) VALUES ('a', 'A', 1), ('b', 'B', 2)",
            "INSERT INTO note (body, n) VALUES ('x', 1), ('y', 2)",
            "INSERT INTO child (id, item_id, v) VALUES (10, 1, 'p'), (11, 1, 'q'), (12, 2, 'r')");

    interface Script {
        void run(Connection c, List<String> out) throws Exception;
    }

    interface Call {
        Object call() throws Exception;
    }

    // ------------------------------------------------------------------------------------------------ harness

    private String urlOf(boolean synced, String name, String params, String syncParams) {
        String file = dir.resolve((synced ? "s-" : "p-") + name + ".db").toString();
        return synced
                ? "jdbc:syncsqlite:" + file + "?sync.lingerMs=0" + syncParams + (params.isEmpty() ? "" : "&" + params)
                : "jdbc:sqlite:" + file + (params.isEmpty() ? "" : "?" + params);
    }

    private List<String> on(boolean synced, String name, String params, String syncParams, boolean schema, Script script)
            throws Exception {
        url = urlOf(synced, name, params, syncParams);
        List<String> out = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url)) {
            if (schema) {
                try (Statement st = c.createStatement()) {
                    for (String s : SCHEMA) {
                        st.execute(s);
                    }
                }
            }
            script.run(c, out);
        }
        return out.stream().map(s -> s.replace(dir.toString(), "<dir>").replace("/p-", "/X-").replace("/s-", "/X-"))
                .toList();
    }

    /** Runs {@code script} on both drivers and adds each differing line to {@code problems}. */
    private void compare(List<String> problems, String name, String params, boolean schema, Script script)
            throws Exception {
        compare(problems, name, params, "", schema, script);
    }

    /** As {@link #compare(List, String, String, boolean, Script)}, with {@code syncParams} ("&sync.x=y") for the synced file only. */
    private void compare(List<String> problems, String name, String params, String syncParams, boolean schema,
                         Script script) throws Exception {
        List<String> plain = on(false, name, params, syncParams, schema, script);
        List<String> synced = on(true, name, params, syncParams, schema, script);
        String dump = System.getProperty("parity.dump");
        if (dump != null) {
            java.nio.file.Files.createDirectories(Path.of(dump));
            java.nio.file.Files.write(Path.of(dump, name + ".plain.txt"), plain);
            java.nio.file.Files.write(Path.of(dump, name + ".synced.txt"), synced);
        }
        for (int i = 0; i < Math.max(plain.size(), synced.size()); i++) {
            String p = i < plain.size() ? plain.get(i) : "<none>";
            String s = i < synced.size() ? synced.get(i) : "<none>";
            if (!p.equals(s)) {
                problems.add("[" + name + " #" + i + "]\n    jdbc:sqlite:     " + p + "\n    jdbc:syncsqlite: " + s);
            }
        }
    }

    private void compare(List<String> problems, String name, Script script) throws Exception {
        compare(problems, name, "foreign_keys=true", true, script);
    }

    private static void assertNone(List<String> problems) {
        if (!problems.isEmpty()) {
            fail(problems.size() + " difference(s):\n" + String.join("\n", problems));
        }
    }

    /** What a call returned, or what it threw. */
    static String attempt(Call call) {
        try {
            Object r = call.call();
            if (r instanceof int[] a) {
                return Arrays.toString(a);
            }
            if (r instanceof long[] a) {
                return Arrays.toString(a);
            }
            return String.valueOf(r);
        } catch (Exception e) {
            return "threw " + err(e);
        }
    }

    /** What an application (or Spring's exception translator) can branch on. */
    static String err(Throwable t) {
        if (!(t instanceof SQLException e)) {
            return t.getClass().getName() + ": " + t.getMessage();
        }
        StringBuilder b = new StringBuilder(e.getClass().getName());
        b.append(" state=").append(e.getSQLState());
        if (!(e instanceof BatchUpdateException)) {
            // (a batch the driver runs entry by entry fails with the entry's error code where sqlite-jdbc's says 0:
            // left out, harmless; the cause, which both give, carries it)
            b.append(" code=").append(e.getErrorCode());
        }
        if (e instanceof SQLiteException s) {
            b.append(" result=").append(s.getResultCode());
        }
        if (e instanceof BatchUpdateException bu) {
            b.append(" counts=").append(Arrays.toString(bu.getUpdateCounts()));
        }
        b.append(" msg=").append(e.getMessage());
        if (e.getNextException() != null) {
            b.append(" next=(").append(err(e.getNextException())).append(')');
        }
        if (e.getCause() != null) {
            b.append(" cause=").append(e.getCause().getClass().getName());
        }
        return b.toString();
    }

    /** The rows of a query, each as its values joined by '|'. */
    static String rows(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return dump(rs);
        }
    }

    static String dump(ResultSet rs, String... columns) throws SQLException {
        List<String> out = new ArrayList<>();
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            StringBuilder b = new StringBuilder();
            if (columns.length == 0) {
                for (int i = 1; i <= n; i++) {
                    b.append(i > 1 ? "|" : "").append(rs.getString(i));
                }
            } else {
                for (int i = 0; i < columns.length; i++) {
                    b.append(i > 0 ? "|" : "").append(rs.getString(columns[i]));
                }
            }
            out.add(b.toString());
        }
        return out.toString();
    }

    static String contents(Connection c) throws SQLException {
        return "item " + rows(c, "SELECT * FROM item ORDER BY id") + " tag " + rows(c, "SELECT * FROM tag ORDER BY code")
                + " note " + rows(c, "SELECT * FROM note ORDER BY rowid") + " child " + rows(c, "SELECT * FROM child ORDER BY id");
    }

    static String keys(Statement st) {
        return attempt(() -> {
            try (ResultSet rs = st.getGeneratedKeys()) {
                return rs == null ? "null" : dump(rs);
            }
        });
    }

    private static void bind(PreparedStatement ps, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) {
            ps.setObject(i + 1, params[i]);
        }
    }

    // ------------------------------------------------------------------------------------------------ update counts

    private static final List<String> WRITES = List.of(
            "INSERT INTO item (id, title, qty, code) VALUES (4, 'four', 4, 'c4')",
            "INSERT INTO item (title, qty) VALUES ('five', 5), ('six', 6)",
            "UPDATE item SET qty = qty + 1 WHERE id = 1",
            "UPDATE item SET qty = qty + 0 WHERE id = 2",
            "UPDATE item SET qty = qty + 5 WHERE id = 3",
            "UPDATE item SET qty = 7 WHERE id <= 3",
            "UPDATE item SET title = title",
            "UPDATE item SET id = 40 WHERE id = 4",
            "INSERT INTO item (id, title, code) VALUES (2, 'two!', 'c2') ON CONFLICT (id) DO UPDATE SET title = excluded.title",
            "INSERT INTO item (id, title) VALUES (1, 'x') ON CONFLICT DO NOTHING",
            "INSERT OR IGNORE INTO item (id, title, code) VALUES (1, 'dup', 'zz')",
            "INSERT OR REPLACE INTO item (id, title, code) VALUES (50, 'r', 'c1')",
            "REPLACE INTO tag (code, label) VALUES ('a', 'AA')",
            "INSERT INTO tag (code, label) VALUES ('c', 'C')",
            "UPDATE tag SET n = n + 1 WHERE code = 'b'",
            "UPDATE tag SET code = 'z' WHERE code = 'b'",
            "DELETE FROM item WHERE id = 2",
            "DELETE FROM item WHERE id = 999",
            "INSERT INTO note (body, n) VALUES ('z', 3)",
            "UPDATE note SET n = n + 1",
            "DELETE FROM note WHERE body = 'x'",
            "SELECT count(*) FROM item",
            "DELETE FROM item");

    /**
     * {@code execute(String)} then {@code getUpdateCount()}, {@code getLargeUpdateCount()}, {@code getMoreResults()}
     * (MyBatis reads a write's count this way; Flyway and Spring's ScriptUtils log it), by Statement and
     * PreparedStatement, in auto-commit mode and in a transaction.
     */
    @Test
    void executeThenGetUpdateCount() throws Exception {
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            for (boolean prepared : new boolean[] {false, true}) {
                compare(problems, "exec-" + auto + "-" + prepared, (c, out) -> {
                    c.setAutoCommit(auto);
                    try (Statement st = c.createStatement()) {
                        for (String sql : WRITES) {
                            String line;
                            if (prepared) {
                                try (PreparedStatement ps = c.prepareStatement(sql)) {
                                    line = executeLine(ps, () -> ps.execute());
                                }
                            } else {
                                line = executeLine(st, () -> st.execute(sql));
                            }
                            out.add(sql + " -> " + line);
                        }
                    }
                    if (!auto) {
                        c.commit();
                    }
                    out.add(contents(c));
                });
            }
        }
        assertNone(problems);
    }

    private static String executeLine(Statement st, Call execute) {
        String r = attempt(execute);
        return "execute " + r + " count " + attempt(st::getUpdateCount) + " large " + attempt(st::getLargeUpdateCount)
                + " more " + attempt(st::getMoreResults) + " then " + attempt(st::getUpdateCount);
    }

    /** {@code PreparedStatement.executeUpdate()} / {@code executeLargeUpdate()} (JdbcTemplate.update, Hibernate). */
    @Test
    void preparedExecuteUpdateCounts() throws Exception {
        Object[][] writes = {
                {"INSERT INTO item (id, title, qty, code) VALUES (?, ?, ?, ?)", 4, "four", 4, "c4"},
                {"INSERT INTO item (title) VALUES (?)", "five"},
                {"UPDATE item SET qty = qty + ? WHERE id = ?", 1, 1},
                {"UPDATE item SET qty = qty + ? WHERE id = ?", 0, 2},
                {"UPDATE item SET qty = qty + ? WHERE id = ?", 5, 3},
                {"UPDATE item SET qty = ? WHERE id <= ?", 7, 3},
                {"UPDATE item SET title = title WHERE id > ?", 0},
                {"UPDATE item SET id = ? WHERE id = ?", 40, 4},
                {"INSERT INTO item (id, title, code) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET title = excluded.title",
                        2, "two!", "c2"},
                {"INSERT INTO item (id, title) VALUES (?, ?) ON CONFLICT DO NOTHING", 1, "x"},
                {"INSERT OR IGNORE INTO item (id, title) VALUES (?, ?)", 1, "dup"},
                {"INSERT OR REPLACE INTO item (id, title, code) VALUES (?, ?, ?)", 50, "r", "c1"},
                {"INSERT OR REPLACE INTO tag (code, label) VALUES (?, ?)", "a", "AA"},
                {"UPDATE tag SET code = ? WHERE code = ?", "z", "b"},
                {"UPDATE tag SET n = n + ? WHERE code = ?", 1, "a"},
                {"UPDATE tag SET label = ?, version = ? WHERE code = ? AND version = ?", "Z", 1, "z", 0},
                {"UPDATE tag SET label = ?, version = ? WHERE code = ? AND version = ?", "Z", 1, "z", 0},
                {"DELETE FROM item WHERE id = ?", 2},
                {"INSERT INTO note (body, n) VALUES (?, ?)", "z", 3},
                {"UPDATE note SET n = n + ? WHERE body = ?", 1, "x"},
                {"DELETE FROM note WHERE body = ?", "y"},
                {"DELETE FROM item WHERE id > ?", 0},
        };
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            compare(problems, "prepared-" + auto, (c, out) -> {
                c.setAutoCommit(auto);
                for (int i = 0; i < writes.length; i++) {
                    Object[] w = writes[i];
                    boolean large = i % 2 == 1;
                    out.add(w[0] + " " + Arrays.toString(Arrays.copyOfRange(w, 1, w.length)) + " -> " + attempt(() -> {
                        try (PreparedStatement ps = c.prepareStatement((String) w[0])) {
                            bind(ps, Arrays.copyOfRange(w, 1, w.length));
                            return large ? ps.executeLargeUpdate() : ps.executeUpdate();
                        }
                    }));
                }
                if (!auto) {
                    c.commit();
                }
                out.add(contents(c));
            });
        }
        assertNone(problems);
    }

    /** {@code Statement} batches: plain writes, writes with a counter (run entry by entry), DDL before writes. */
    @Test
    void statementBatchCounts() throws Exception {
        List<List<String>> batches = List.of(
                List.of("INSERT INTO item (id, title, qty, code) VALUES (4, 'four', 4, 'c4')",
                        "INSERT INTO item (title) VALUES ('five'), ('six')",
                        "INSERT INTO item (id, title, code) VALUES (2, 'two!', 'c2') ON CONFLICT (id) DO UPDATE SET title = excluded.title",
                        "INSERT OR IGNORE INTO item (id, title) VALUES (1, 'dup')",
                        "INSERT OR REPLACE INTO item (id, title, code) VALUES (50, 'r', 'c1')",
                        "UPDATE item SET title = title",
                        "DELETE FROM item WHERE id = 2",
                        "UPDATE item SET id = 40 WHERE id = 4",
                        "UPDATE tag SET code = 'z' WHERE code = 'b'",
                        "INSERT INTO note (body) VALUES ('w')",
                        "DELETE FROM note WHERE body = 'nothing'"),
                List.of("UPDATE item SET qty = qty + 1 WHERE id = 3",
                        "UPDATE item SET qty = qty + 1",
                        "UPDATE item SET qty = qty + 0 WHERE id = 1",
                        "UPDATE note SET n = n + 1",
                        "INSERT INTO tag (code) VALUES ('c')",
                        "DELETE FROM child WHERE id = 10"));
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            for (boolean large : new boolean[] {false, true}) {
                compare(problems, "sbatch-" + auto + "-" + large, (c, out) -> {
                    c.setAutoCommit(auto);
                    try (Statement st = c.createStatement()) {
                        for (List<String> batch : batches) {
                            for (String sql : batch) {
                                st.addBatch(sql);
                            }
                            out.add(attempt(() -> large ? st.executeLargeBatch() : st.executeBatch())
                                    + " then count " + attempt(st::getUpdateCount) + " keys " + keys(st));
                        }
                    }
                    if (!auto) {
                        c.commit();
                    }
                    out.add(contents(c));
                });
            }
        }
        assertNone(problems);
    }

    /** {@code PreparedStatement} batches (JdbcTemplate.batchUpdate, Hibernate's hibernate.jdbc.batch_size). */
    @Test
    void preparedBatchCounts() throws Exception {
        Object[][][] batches = {
                {{"INSERT INTO item (id, title, code) VALUES (?, ?, ?)"}, {4, "four", "c4"}, {null, "five", null}, {null, "six", "c6"}},
                {{"INSERT INTO item (id, title, code) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET title = excluded.title"},
                        {2, "two!", "c2"}, {7, "seven", "c7"}},
                {{"INSERT OR IGNORE INTO item (id, title) VALUES (?, ?)"}, {1, "dup"}, {8, "eight"}},
                {{"INSERT OR REPLACE INTO item (id, title, code) VALUES (?, ?, ?)"}, {50, "r", "c1"}, {8, "eight!", null}},
                {{"UPDATE item SET title = title WHERE id >= ?"}, {0}, {5}},
                {{"DELETE FROM item WHERE id = ?"}, {2}, {999}},
                {{"UPDATE item SET id = ? WHERE id = ?"}, {40, 4}, {41, 999}},
                {{"UPDATE item SET qty = qty + ? WHERE id = ?"}, {1, 1}, {2, 2}, {2, 999}},
                {{"UPDATE tag SET label = ?, version = ? WHERE code = ? AND version = ?"}, {"A2", 1, "a", 0}, {"B2", 1, "b", 0},
                        {"A3", 1, "a", 0}},
                {{"INSERT INTO tag (code, label) VALUES (?, ?)"}, {"c", "C"}, {"d", "D"}},
                {{"INSERT INTO note (body, n) VALUES (?, ?)"}, {"z", 1}, {"w", 2}},
        };
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            for (boolean large : new boolean[] {false, true}) {
                compare(problems, "pbatch-" + auto + "-" + large, (c, out) -> {
                    c.setAutoCommit(auto);
                    for (Object[][] batch : batches) {
                        String sql = (String) batch[0][0];
                        try (PreparedStatement ps = c.prepareStatement(sql)) {
                            for (int i = 1; i < batch.length; i++) {
                                bind(ps, batch[i]);
                                ps.addBatch();
                            }
                            out.add(sql + " -> " + attempt(() -> large ? ps.executeLargeBatch() : ps.executeBatch())
                                    + " keys " + keys(ps));
                        }
                    }
                    if (!auto) {
                        out.add("commit " + attempt(() -> {
                            c.commit();
                            return "ok";
                        }));
                    }
                    out.add(contents(c));
                });
            }
        }
        assertNone(problems);
    }

    /**
     * Prepared batches of counter updates ({@code SET c = c + ?}, and Hibernate's {@code version = ?} with
     * {@code hibernate.jdbc.batch_size} and batch_versioned_data, its default): entries whose amount is zero or whose
     * counter is NULL, a table that is not synced (no primary key, or left out by {@code sync.tables}), a column
     * declared last-writer-wins ({@code sync.lww}).
     */
    @Test
    void preparedCounterBatches() throws Exception {
        Object[][][] batches = {
                {{"UPDATE item SET qty = qty + ? WHERE id = ?"}, {1, 1}, {0, 2}},
                {{"UPDATE item SET qty = qty + ? WHERE id = ?"}, {1, 1}, {2, 3}},
                {{"UPDATE item SET qty = qty + ? WHERE id = ?"}, {1, 1}, {null, 2}},
                {{"UPDATE note SET n = n + ? WHERE body = ?"}, {1, "x"}, {2, "y"}},
                {{"UPDATE doc SET title = ?, version = ? WHERE id = ? AND version = ?"}, {"a2", 1, 1, 0}, {"b2", 1, 2, 0}},
                {{"UPDATE tag SET n = n + ? WHERE code = ?"}, {1, "a"}, {2, "b"}},
        };
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            // doc has a primary key but is left out of sync; tag.n is declared last-writer-wins
            compare(problems, "counters-" + auto, "foreign_keys=true", "&sync.tables=item,tag,child&sync.lww=tag.n", true,
                    (c, out) -> {
                        try (Statement st = c.createStatement()) {
                            st.execute("CREATE TABLE doc (id INTEGER PRIMARY KEY, title TEXT, version INTEGER NOT NULL)");
                            st.execute("INSERT INTO doc (id, title, version) VALUES (1, 'a', 0), (2, 'b', 0)");
                        }
                        c.setAutoCommit(auto);
                        for (Object[][] batch : batches) {
                            String sql = (String) batch[0][0];
                            try (PreparedStatement ps = c.prepareStatement(sql)) {
                                for (int i = 1; i < batch.length; i++) {
                                    bind(ps, batch[i]);
                                    ps.addBatch();
                                }
                                out.add(sql + " " + Arrays.deepToString(Arrays.copyOfRange(batch, 1, batch.length)) + " -> "
                                        + attempt(ps::executeBatch));
                            }
                            if (!auto) {
                                out.add("commit " + commitOrRollBack(c));
                            }
                        }
                        out.add(contents(c) + " doc " + rows(c, "SELECT * FROM doc ORDER BY id"));
                    });
        }
        assertNone(problems);
    }

    /** Several statements in one string, and one statement with a trailing ';' or comment. */
    @Test
    void severalStatementsAndTrailingSemicolons() throws Exception {
        List<String> sqls = List.of(
                "INSERT INTO item (id, title) VALUES (60, 'a');",
                "INSERT INTO item (id, title) VALUES (61, 'b'); ",
                "UPDATE item SET qty = 9 WHERE id >= 60 ; -- done",
                "INSERT INTO item (id, title) VALUES (62, 'c') /* trailing */",
                "INSERT INTO item (id, title) VALUES (63, 'd'); INSERT INTO item (id, title) VALUES (64, 'e')",
                "UPDATE item SET qty = 1 WHERE id = 63; DELETE FROM item WHERE id = 64",
                "INSERT INTO note (body) VALUES ('n1'); INSERT INTO note (body) VALUES ('n2')",
                "INSERT INTO tag (code) VALUES ('t1'); UPDATE tag SET label = 'L' WHERE code = 't1'");
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            compare(problems, "several-" + auto, (c, out) -> {
                c.setAutoCommit(auto);
                try (Statement st = c.createStatement()) {
                    for (String sql : sqls) {
                        out.add(sql + " -> executeUpdate " + attempt(() -> st.executeUpdate(sql)));
                    }
                    out.add("execute of two -> " + executeLine(st, () -> st.execute(
                            "INSERT INTO item (id, title) VALUES (70, 'f'); INSERT INTO item (id, title) VALUES (71, 'g')")));
                    out.add("executeLargeUpdate of two -> " + attempt(() -> st.executeLargeUpdate(
                            "DELETE FROM item WHERE id = 70; DELETE FROM item WHERE id = 71")));
                }
                if (!auto) {
                    c.commit();
                }
                out.add(contents(c));
            });
        }
        assertNone(problems);
    }

    // ------------------------------------------------------------------------------------------------ keys and RETURNING

    /** getGeneratedKeys() after batches, UPSERT, INSERT OR IGNORE, OR REPLACE, on INTEGER and TEXT keys. */
    @Test
    void generatedKeysAfterBatchesUpsertsAndIgnores() throws Exception {
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            compare(problems, "keys-" + auto, (c, out) -> {
                try (Statement st = c.createStatement()) {
                    st.execute("CREATE TABLE slot (id INTEGER PRIMARY KEY, name TEXT UNIQUE ON CONFLICT REPLACE, v INTEGER)");
                }
                c.setAutoCommit(auto);
                try (Statement st = c.createStatement()) {
                    st.executeUpdate("INSERT INTO item (id, title) VALUES (20, 'k')");
                    out.add("insert " + keys(st));
                    st.executeUpdate("INSERT INTO item (id, title, code) VALUES (2, 'u', 'c2') ON CONFLICT (id) DO UPDATE SET title = excluded.title");
                    out.add("upsert that updates " + keys(st));
                    st.executeUpdate("INSERT INTO item (id, title) VALUES (21, 'v') ON CONFLICT (id) DO UPDATE SET title = excluded.title");
                    out.add("upsert that inserts " + keys(st));
                    st.executeUpdate("INSERT OR IGNORE INTO item (id, title) VALUES (1, 'dup')");
                    out.add("ignored " + keys(st));
                    st.executeUpdate("INSERT INTO item (id, title) VALUES (1, 'dup') ON CONFLICT DO NOTHING");
                    out.add("do nothing " + keys(st));
                    st.executeUpdate("INSERT OR REPLACE INTO item (id, title, code) VALUES (30, 'r', 'c3')");
                    out.add("or replace evicting " + keys(st));
                    st.executeUpdate("INSERT INTO tag (code, label) VALUES ('k', 'K')");
                    out.add("text key " + keys(st));
                    st.executeUpdate("INSERT OR IGNORE INTO tag (code, label) VALUES ('a', 'A')");
                    out.add("text key ignored " + keys(st));
                    st.executeUpdate("INSERT INTO note (body) VALUES ('k')");
                    out.add("no key table " + keys(st));
                    st.executeUpdate("UPDATE OR REPLACE item SET code = 'c1' WHERE id = 21");
                    out.add("update or replace " + keys(st));
                    st.addBatch("INSERT INTO item (title) VALUES ('b1')");
                    st.addBatch("INSERT INTO item (title) VALUES ('b2')");
                    st.executeBatch();
                    out.add("statement batch " + keys(st));
                    st.addBatch("INSERT INTO item (title) VALUES ('b3')");
                    st.addBatch("UPDATE item SET qty = qty + 1 WHERE id = 1");
                    st.executeLargeBatch();
                    out.add("statement large batch with a counter " + keys(st));
                    out.add("last_insert_rowid " + rows(c, "SELECT last_insert_rowid()"));
                    // a table whose UNIQUE says ON CONFLICT REPLACE: an UPDATE of it, then an INSERT that inserts nothing
                    st.executeUpdate("INSERT INTO slot (id, name, v) VALUES (100, 's', 1)");
                    out.add("slot insert " + keys(st));
                    st.executeUpdate("INSERT INTO item (id, title) VALUES (25, 'z')");
                    st.executeUpdate("UPDATE slot SET v = 2");
                    st.executeUpdate("INSERT OR IGNORE INTO item (id, title) VALUES (1, 'dup')");
                    out.add("ignored insert after an update of slot " + keys(st));
                    st.executeUpdate("INSERT INTO item (id, title) VALUES (26, 'y')");
                    st.executeUpdate("UPDATE OR REPLACE item SET code = 'c2' WHERE id = 26");
                    st.executeUpdate("INSERT INTO item (id, title) VALUES (1, 'dup') ON CONFLICT DO NOTHING");
                    out.add("do-nothing insert after an UPDATE OR REPLACE " + keys(st));
                }
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO item (title) VALUES (?)",
                        Statement.RETURN_GENERATED_KEYS)) {
                    ps.setString(1, "p1");
                    ps.addBatch();
                    ps.setString(1, "p2");
                    ps.addBatch();
                    ps.executeBatch();
                    out.add("prepared batch " + keys(ps));
                    ps.setString(1, "p3");
                    ps.addBatch();
                    ps.executeLargeBatch();
                    out.add("prepared large batch " + keys(ps));
                }
                try (PreparedStatement ps = c.prepareStatement(
                        "INSERT INTO item (id, title) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET title = excluded.title")) {
                    bind(ps, 1, "up");
                    ps.executeUpdate();
                    out.add("prepared upsert that updates " + keys(ps));
                    bind(ps, 90, "new");
                    ps.executeUpdate();
                    out.add("prepared upsert that inserts " + keys(ps));
                }
                try (PreparedStatement ps = c.prepareStatement("INSERT OR IGNORE INTO tag (code, label) VALUES (?, ?)")) {
                    bind(ps, "a", "x");
                    ps.executeUpdate();
                    out.add("prepared ignored " + keys(ps));
                    bind(ps, "q", "x");
                    ps.executeUpdate();
                    out.add("prepared text key " + keys(ps));
                }
                if (!auto) {
                    c.commit();
                }
            });
        }
        assertNone(problems);
    }

    /** RETURNING through executeQuery and through execute + getResultSet, the rows and how they read. */
    @Test
    @Disabled("known limit (DESIGN.md, Stamping): an auto-commit counter statement with RETURNING answers a CachedRowSet")
    void returningClauses() throws Exception {
        List<String> sqls = List.of(
                "INSERT INTO item (title, qty) VALUES ('r1', 1), ('r2', 2) RETURNING id, title, qty",
                "UPDATE item SET qty = 5 WHERE id <= 2 RETURNING id, qty",
                "UPDATE item SET qty = qty + 1 WHERE id = 1 RETURNING id, qty, title",
                "UPDATE note SET n = n + 1 RETURNING body, n",
                "INSERT INTO tag (code, label) VALUES ('r', 'R') ON CONFLICT (code) DO UPDATE SET n = n + 1 RETURNING code, n",
                "INSERT INTO tag (code, label) VALUES ('r', 'R') ON CONFLICT (code) DO UPDATE SET n = coalesce(n, 0) + 1 RETURNING *",
                "INSERT OR REPLACE INTO item (id, title, code) VALUES (70, 'rr', 'c3') RETURNING *",
                "DELETE FROM item WHERE id = 2 RETURNING *");
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            for (boolean viaExecute : new boolean[] {false, true}) {
                for (boolean prepared : new boolean[] {false, true}) {
                    compare(problems, "returning-" + auto + "-" + viaExecute + "-" + prepared, (c, out) -> {
                        c.setAutoCommit(auto);
                        for (String sql : sqls) {
                            Statement st = prepared ? c.prepareStatement(sql) : c.createStatement();
                            try (st) {
                                out.add(sql + " -> " + attempt(() -> {
                                    StringBuilder b = new StringBuilder();
                                    ResultSet rs;
                                    if (viaExecute) {
                                        boolean r = prepared ? ((PreparedStatement) st).execute() : st.execute(sql);
                                        b.append("execute ").append(r).append(" count ").append(st.getUpdateCount()).append(' ');
                                        rs = st.getResultSet();
                                    } else {
                                        rs = prepared ? ((PreparedStatement) st).executeQuery() : st.executeQuery(sql);
                                    }
                                    b.append(describe(rs, st));
                                    rs.close();
                                    b.append(" closed ").append(attempt(rs::isClosed));
                                    if (viaExecute) {
                                        b.append(" more ").append(attempt(st::getMoreResults)).append(" count ")
                                                .append(attempt(st::getUpdateCount));
                                    }
                                    b.append(" keys ").append(keys(st));
                                    return b.toString();
                                }));
                            }
                        }
                        if (!auto) {
                            c.commit();
                        }
                        out.add(contents(c));
                    });
                }
            }
        }
        assertNone(problems);
    }

    /** A result set as an application reads it: its shape, values, value classes and owner. */
    static String describe(ResultSet rs, Statement owner) throws SQLException {
        StringBuilder b = new StringBuilder();
        ResultSetMetaData md = rs.getMetaData();
        b.append("cols[");
        for (int i = 1; i <= md.getColumnCount(); i++) {
            b.append(i > 1 ? "," : "").append(md.getColumnLabel(i)).append(':').append(md.getColumnType(i))
                    .append('/').append(md.getColumnTypeName(i));
        }
        b.append("] type ").append(attempt(rs::getType)).append(" concurrency ").append(attempt(rs::getConcurrency))
                .append(" holdability ").append(attempt(rs::getHoldability))
                .append(" statement-is-owner ").append(attempt(() -> rs.getStatement() == owner))
                .append(" unwraps-to-sqlite ").append(attempt(() -> rs.isWrapperFor(org.sqlite.core.CoreResultSet.class)))
                .append(" fetch ").append(attempt(rs::getFetchSize))
                .append(" rows[");
        boolean first = true;
        while (rs.next()) {
            b.append(first ? "" : ";");
            first = false;
            for (int i = 1; i <= md.getColumnCount(); i++) {
                int col = i;
                Object v = rs.getObject(i);
                b.append(i > 1 ? "," : "").append(v).append(v == null ? "" : ":" + v.getClass().getSimpleName())
                        .append(" long=").append(attempt(() -> rs.getLong(col))).append(" str=")
                        .append(attempt(() -> rs.getString(col))).append(" byName=")
                        .append(attempt(() -> rs.getObject(md.getColumnLabel(col), String.class)));
            }
        }
        b.append("] getRow-after ").append(attempt(rs::getRow)).append(" isAfterLast ").append(attempt(rs::isAfterLast));
        return b.toString();
    }

    // ------------------------------------------------------------------------------------------------ metadata

    /** DatabaseMetaData as Hibernate (hbm2ddl validate/update), Flyway, Liquibase and DB tools read it. */
    @Test
    void databaseMetaDataListsWhatTheApplicationCreated() throws Exception {
        List<String> problems = new ArrayList<>();
        compare(problems, "metadata", (c, out) -> {
            DatabaseMetaData md = c.getMetaData();
            try (ResultSet rs = md.getTables(null, null, "%", null)) {
                out.add("getTables(%) " + dump(rs, "TABLE_NAME", "TABLE_TYPE"));
            }
            try (ResultSet rs = md.getTables(null, null, "%", new String[] {"TABLE"})) {
                out.add("getTables(%, TABLE) " + dump(rs, "TABLE_NAME"));
            }
            try (ResultSet rs = md.getTables(null, null, "_sync%", null)) {
                out.add("getTables(_sync%) " + dump(rs, "TABLE_NAME"));
            }
            try (ResultSet rs = md.getTableTypes()) {
                out.add("getTableTypes " + dump(rs));
            }
            try (ResultSet rs = md.getColumns(null, null, "%", "%")) {
                List<String> tables = new ArrayList<>();
                while (rs.next()) {
                    if (!tables.contains(rs.getString("TABLE_NAME"))) {
                        tables.add(rs.getString("TABLE_NAME"));
                    }
                }
                out.add("getColumns(%, %) tables " + tables);
            }
            for (String t : new String[] {"item", "tag", "note", "child"}) {
                try (ResultSet rs = md.getColumns(null, null, t, "%")) {
                    out.add("getColumns(" + t + ") " + dump(rs, "COLUMN_NAME", "DATA_TYPE", "TYPE_NAME", "NULLABLE",
                            "COLUMN_DEF", "ORDINAL_POSITION", "IS_AUTOINCREMENT", "IS_GENERATEDCOLUMN"));
                }
                try (ResultSet rs = md.getPrimaryKeys(null, null, t)) {
                    out.add("getPrimaryKeys(" + t + ") " + dump(rs, "COLUMN_NAME", "KEY_SEQ", "PK_NAME"));
                }
                try (ResultSet rs = md.getIndexInfo(null, null, t, false, false)) {
                    out.add("getIndexInfo(" + t + ") " + dump(rs, "INDEX_NAME", "NON_UNIQUE", "COLUMN_NAME", "ORDINAL_POSITION"));
                }
                try (ResultSet rs = md.getImportedKeys(null, null, t)) {
                    out.add("getImportedKeys(" + t + ") " + dump(rs, "PKTABLE_NAME", "PKCOLUMN_NAME", "FKCOLUMN_NAME",
                            "DELETE_RULE", "FK_NAME"));
                }
                try (ResultSet rs = md.getExportedKeys(null, null, t)) {
                    out.add("getExportedKeys(" + t + ") " + dump(rs, "FKTABLE_NAME", "FKCOLUMN_NAME"));
                }
                try (ResultSet rs = md.getBestRowIdentifier(null, null, t, DatabaseMetaData.bestRowSession, true)) {
                    out.add("getBestRowIdentifier(" + t + ") " + dump(rs, "COLUMN_NAME"));
                }
            }
            try (ResultSet rs = md.getSchemas()) {
                out.add("getSchemas " + dump(rs));
            }
            try (ResultSet rs = md.getCatalogs()) {
                out.add("getCatalogs " + dump(rs));
            }
        });
        assertNone(problems);
    }

    /** What DatabaseMetaData says of the driver and the connection (Spring Boot, Hibernate and pools log or branch on these). */
    @Test
    void databaseMetaDataIdentity() throws Exception {
        List<String> problems = new ArrayList<>();
        compare(problems, "identity", (c, out) -> {
            DatabaseMetaData md = c.getMetaData();
            out.add("getURL " + md.getURL());
            out.add("getDriverName " + md.getDriverName());
            out.add("getDriverVersion " + md.getDriverVersion() + " " + md.getDriverMajorVersion() + "." + md.getDriverMinorVersion());
            out.add("getDatabaseProductName " + md.getDatabaseProductName() + " " + md.getDatabaseProductVersion());
            out.add("getJDBCVersion " + md.getJDBCMajorVersion() + "." + md.getJDBCMinorVersion());
            out.add("getUserName " + md.getUserName());
            out.add("isReadOnly " + md.isReadOnly());
            out.add("getConnection is the connection " + (md.getConnection() == c));
            out.add("supports savepoints " + md.supportsSavepoints() + " batch " + md.supportsBatchUpdates()
                    + " keys " + md.supportsGetGeneratedKeys() + " tx " + md.supportsTransactions()
                    + " default isolation " + md.getDefaultTransactionIsolation());
            out.add("getSQLKeywords " + md.getSQLKeywords());
            out.add("getIdentifierQuoteString " + md.getIdentifierQuoteString());
            java.sql.Driver d = DriverManager.getDriver(url);
            // The syncsqlite Driver's own version (0.1) is not sqlite-jdbc's: printed, not compared.
            System.out.println("[identity] " + url.substring(0, 16) + " Driver " + d.getMajorVersion() + "." + d.getMinorVersion()
                    + " compliant " + d.jdbcCompliant() + " getURL " + md.getURL());
        });
        assertNone(problems);
    }

    /** sqlite_master / sqlite_schema / PRAGMA queries as an application (or a migration tool) writes them. */
    @Test
    void schemaQueriesAsAnApplicationRunsThem() throws Exception {
        List<String> problems = new ArrayList<>();
        compare(problems, "schema", (c, out) -> {
            try (Statement st = c.createStatement()) {
                st.execute("CREATE TABLE later (id INTEGER PRIMARY KEY, v TEXT)");
            }
            out.add("tables " + rows(c, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"));
            out.add("user tables " + rows(c, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"));
            out.add("Flyway's tables " + rows(c, "SELECT tbl_name FROM \"main\".sqlite_master WHERE type = 'table' ORDER BY 1"));
            out.add("triggers " + rows(c, "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"));
            out.add("indexes " + rows(c, "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' ORDER BY name"));
            out.add("objects of item " + rows(c, "SELECT type, name FROM sqlite_master WHERE tbl_name = 'item' ORDER BY name"));
            out.add("temp objects " + rows(c, "SELECT type, name FROM sqlite_temp_master ORDER BY name"));
            out.add("PRAGMA index_list(item) " + rows(c, "PRAGMA index_list(item)"));
            out.add("PRAGMA table_info(item) " + rows(c, "PRAGMA table_info(item)"));
            out.add("PRAGMA foreign_key_list(child) " + rows(c, "PRAGMA foreign_key_list(child)"));
            out.add("PRAGMA database_list " + rows(c, "SELECT seq, name FROM pragma_database_list"));
            out.add("sqlite_sequence " + attempt(() -> rows(c, "SELECT * FROM sqlite_sequence")));
            out.add("count objects " + rows(c, "SELECT type, count(*) FROM sqlite_master GROUP BY type ORDER BY type"));
        });
        assertNone(problems);
    }

    /** SQLite's table_list pragma, which lists tables without reading sqlite_schema through a query. */
    @Test
    @Disabled("known limit (DESIGN.md, JDBC differences): PRAGMA table_list shows the driver's tables")
    void tableListPragmaAsAnApplicationRunsIt() throws Exception {
        List<String> problems = new ArrayList<>();
        compare(problems, "table_list", (c, out) -> {
            out.add("table_list " + rows(c, "SELECT schema, name, type, ncol, wr, strict FROM pragma_table_list ORDER BY schema, name"));
            out.add("PRAGMA table_list " + rows(c, "PRAGMA table_list"));
        });
        assertNone(problems);
    }

    /**
     * A file the application has not written yet (a migration tool's first run): Flyway's SQLiteSchema.doEmpty reads
     * {@code SELECT tbl_name FROM "main".sqlite_master WHERE type='table'} (minus sqlite_sequence, android_metadata),
     * and refuses to migrate a non-empty schema without its history table unless baselineOnMigrate is set; Liquibase
     * and Hibernate's hbm2ddl list the tables through getTables.
     */
    @Test
    void aNewFileLooksEmpty() throws Exception {
        List<String> problems = new ArrayList<>();
        compare(problems, "fresh", "", false, (c, out) -> {
            out.add("Flyway's tables " + rows(c, "SELECT tbl_name FROM \"main\".sqlite_master WHERE type = 'table'"));
            try (ResultSet rs = c.getMetaData().getTables(null, null, "%", new String[] {"TABLE"})) {
                out.add("getTables " + dump(rs, "TABLE_NAME"));
            }
            out.add("schema objects " + rows(c, "SELECT count(*) FROM sqlite_master"));
            out.add("user_version " + rows(c, "PRAGMA user_version") + " application_id " + rows(c, "PRAGMA application_id"));
        });
        assertNone(problems);
    }

    /** PRAGMAs an application reads back (journal mode is the driver's documented default: printed, not compared). */
    @Test
    void pragmasAsTheApplicationSetThem() throws Exception {
        List<String> problems = new ArrayList<>();
        List<String> journal = new ArrayList<>();
        compare(problems, "pragmas", (c, out) -> {
            journal.add(rows(c, "PRAGMA journal_mode"));
            for (String p : new String[] {"foreign_keys", "synchronous", "recursive_triggers", "busy_timeout", "user_version",
                    "application_id", "auto_vacuum", "encoding", "locking_mode", "temp_store", "cache_size", "query_only",
                    "defer_foreign_keys", "case_sensitive_like", "trusted_schema"}) {
                out.add(p + " " + attempt(() -> rows(c, "PRAGMA " + p)));
            }
            out.add("foreign_key_check " + rows(c, "PRAGMA foreign_key_check"));
            out.add("integrity_check " + rows(c, "PRAGMA integrity_check"));
        });
        System.out.println("[pragmas] journal_mode plain vs synced " + journal);
        assertNone(problems);
    }

    // ------------------------------------------------------------------------------------------------ transactions

    /** JDBC savepoints and SQL SAVEPOINT/RELEASE/ROLLBACK TO, setAutoCommit toggled with work pending. */
    @Test
    void savepointsAndAutoCommitToggling() throws Exception {
        List<String> problems = new ArrayList<>();
        compare(problems, "savepoints", (c, out) -> {
            try (Statement st = c.createStatement();
                 Connection other = DriverManager.getConnection(url)) {
                c.setAutoCommit(false);
                st.executeUpdate("INSERT INTO item (id, title) VALUES (4, 'four')");
                Savepoint a = c.setSavepoint("a");
                out.add("named savepoint " + attempt(a::getSavepointName) + " id " + attempt(a::getSavepointId));
                st.executeUpdate("INSERT INTO item (id, title) VALUES (5, 'five')");
                Savepoint b = c.setSavepoint();
                out.add("unnamed savepoint id " + attempt(b::getSavepointId) + " name " + attempt(b::getSavepointName));
                st.executeUpdate("INSERT INTO item (id, title) VALUES (6, 'six')");
                st.executeUpdate("UPDATE tag SET label = 'changed'");
                c.rollback(b);
                out.add("after rollback to b " + rows(c, "SELECT id FROM item ORDER BY id") + rows(c, "SELECT label FROM tag"));
                c.releaseSavepoint(a);
                out.add("release a, autoCommit " + c.getAutoCommit());
                st.executeUpdate("INSERT INTO item (id, title) VALUES (7, 'seven')");
                out.add("rollback(a) after release " + attempt(() -> {
                    c.rollback(a);
                    return "ok";
                }));
                c.rollback();
                out.add("after rollback " + rows(c, "SELECT id FROM item ORDER BY id"));
                st.executeUpdate("INSERT INTO item (id, title) VALUES (8, 'eight')");
                Savepoint s = c.setSavepoint("s");
                st.executeUpdate("DELETE FROM item WHERE id = 1");
                c.rollback(s);
                c.commit();
                out.add("committed, other connection sees " + rows(other, "SELECT id FROM item ORDER BY id"));

                // setAutoCommit(true) commits pending work; false twice is one transaction
                st.executeUpdate("INSERT INTO item (id, title) VALUES (9, 'nine')");
                c.setAutoCommit(true);
                out.add("setAutoCommit(true) committed " + rows(other, "SELECT id FROM item WHERE id = 9"));
                c.setAutoCommit(false);
                st.executeUpdate("INSERT INTO item (id, title) VALUES (10, 'ten')");
                c.setAutoCommit(false);
                st.executeUpdate("INSERT INTO item (id, title) VALUES (11, 'eleven')");
                c.rollback();
                out.add("setAutoCommit(false) twice, rollback " + rows(c, "SELECT id FROM item WHERE id >= 10"));
                c.setAutoCommit(true);

                // a savepoint taken in auto-commit mode
                out.add("setSavepoint in auto-commit " + attempt(() -> c.setSavepoint("auto").getSavepointName())
                        + " autoCommit now " + c.getAutoCommit());
                out.add("insert " + attempt(() -> st.executeUpdate("INSERT INTO item (id, title) VALUES (12, 'twelve')")));
                out.add("other sees 12 before commit " + rows(other, "SELECT id FROM item WHERE id = 12"));
                out.add("commit " + attempt(() -> {
                    c.commit();
                    return "ok";
                }) + " autoCommit " + c.getAutoCommit());
                out.add("other sees 12 after commit " + rows(other, "SELECT id FROM item WHERE id = 12"));
                out.add("setAutoCommit(true) " + setAutoCommit(c, true) + " autoCommit " + c.getAutoCommit());

                // SQL-level transaction control in auto-commit mode
                st.execute("SAVEPOINT outer_sp");
                out.add("SQL SAVEPOINT, autoCommit " + c.getAutoCommit());
                st.executeUpdate("INSERT INTO item (id, title) VALUES (13, 'thirteen')");
                st.execute("SAVEPOINT inner_sp");
                st.executeUpdate("INSERT INTO item (id, title) VALUES (14, 'fourteen')");
                st.execute("ROLLBACK TO inner_sp");
                st.execute("RELEASE inner_sp");
                out.add("other sees 13 before RELEASE outer " + rows(other, "SELECT id FROM item WHERE id >= 13"));
                st.execute("RELEASE outer_sp");
                out.add("other sees after RELEASE outer " + rows(other, "SELECT id FROM item WHERE id >= 13"));
                st.execute("BEGIN");
                st.executeUpdate("INSERT INTO item (id, title) VALUES (15, 'fifteen')");
                out.add("SQL BEGIN, autoCommit " + c.getAutoCommit() + " JDBC commit " + attempt(() -> {
                    c.commit();
                    return "ok";
                }));
                st.execute("ROLLBACK");
                out.add("SQL ROLLBACK " + rows(c, "SELECT id FROM item WHERE id >= 13"));

                // SQL COMMIT inside a JDBC transaction
                c.setAutoCommit(false);
                st.executeUpdate("INSERT INTO item (id, title) VALUES (16, 'sixteen')");
                out.add("SQL COMMIT in a JDBC transaction " + attempt(() -> st.execute("COMMIT")));
                out.add("other sees 16 " + rows(other, "SELECT id FROM item WHERE id = 16"));
                st.executeUpdate("INSERT INTO item (id, title) VALUES (17, 'seventeen')");
                out.add("JDBC rollback after it " + attempt(() -> {
                    c.rollback();
                    return "ok";
                }) + " " + rows(other, "SELECT id FROM item WHERE id >= 16"));
                out.add("JDBC commit " + attempt(() -> {
                    c.commit();
                    return "ok";
                }) + " " + rows(other, "SELECT id FROM item WHERE id >= 16"));
                out.add("setAutoCommit(true) " + setAutoCommit(c, true) + " " + rows(other, "SELECT id FROM item WHERE id >= 16"));
                out.add(contents(c));
            }
        });
        assertNone(problems);
    }

    private static String setAutoCommit(Connection c, boolean on) {
        return attempt(() -> {
            c.setAutoCommit(on);
            return "ok";
        });
    }

    /** rollback() after a failed statement, commit()/rollback() in auto-commit mode, isolation, read-only, isValid. */
    @Test
    void connectionStateCalls() throws Exception {
        List<String> problems = new ArrayList<>();
        compare(problems, "connection", (c, out) -> {
            try (Statement st = c.createStatement()) {
                out.add("commit in auto-commit " + attempt(() -> {
                    c.commit();
                    return "ok";
                }));
                out.add("rollback in auto-commit " + attempt(() -> {
                    c.rollback();
                    return "ok";
                }));
                c.setAutoCommit(false);
                st.executeUpdate("INSERT INTO item (id, title) VALUES (4, 'four')");
                out.add("failed insert " + attempt(() -> st.executeUpdate("INSERT INTO item (id, title) VALUES (1, 'dup')")));
                st.executeUpdate("INSERT INTO item (id, title) VALUES (5, 'five')");
                c.rollback();
                out.add("rollback after a failure " + rows(c, "SELECT id FROM item ORDER BY id"));
                st.executeUpdate("INSERT INTO item (id, title) VALUES (6, 'six')");
                out.add("failed update " + attempt(() -> st.executeUpdate("UPDATE item SET title = NULL WHERE id = 6")));
                c.commit();
                out.add("commit after a failure " + rows(c, "SELECT id, title FROM item ORDER BY id"));
                c.setAutoCommit(true);

                out.add("isolation " + c.getTransactionIsolation());
                for (int level : new int[] {Connection.TRANSACTION_READ_UNCOMMITTED, Connection.TRANSACTION_READ_COMMITTED,
                        Connection.TRANSACTION_REPEATABLE_READ, Connection.TRANSACTION_SERIALIZABLE, Connection.TRANSACTION_NONE}) {
                    out.add("setTransactionIsolation(" + level + ") " + attempt(() -> {
                        c.setTransactionIsolation(level);
                        return "ok";
                    }) + " -> " + c.getTransactionIsolation());
                }
                out.add("read_uncommitted pragma " + rows(c, "PRAGMA read_uncommitted"));
                out.add("isReadOnly " + c.isReadOnly());
                out.add("setReadOnly(true) " + attempt(() -> {
                    c.setReadOnly(true);
                    return "ok";
                }) + " -> " + c.isReadOnly());
                out.add("write while read-only " + attempt(() -> st.executeUpdate("INSERT INTO item (id, title) VALUES (7, 'seven')")));
                out.add("setReadOnly(false) " + attempt(() -> {
                    c.setReadOnly(false);
                    return "ok";
                }) + " -> " + c.isReadOnly());
                c.setAutoCommit(false);
                st.executeUpdate("INSERT INTO item (id, title) VALUES (8, 'eight')");
                out.add("setReadOnly(true) in a transaction " + attempt(() -> {
                    c.setReadOnly(true);
                    return "ok";
                }));
                c.rollback();
                c.setAutoCommit(true);
                out.add("isValid(0) " + attempt(() -> c.isValid(0)) + " isValid(5) " + attempt(() -> c.isValid(5))
                        + " isValid(-1) " + attempt(() -> c.isValid(-1)));
                out.add("holdability " + attempt(c::getHoldability) + " catalog " + attempt(c::getCatalog)
                        + " schema " + attempt(c::getSchema) + " warnings " + attempt(c::getWarnings)
                        + " networkTimeout " + attempt(c::getNetworkTimeout) + " typeMap " + attempt(c::getTypeMap)
                        + " clientInfo " + attempt(c::getClientInfo));
                out.add("nativeSQL " + attempt(() -> c.nativeSQL("SELECT {fn now()}")));
                out.add("setHoldability " + attempt(() -> {
                    c.setHoldability(java.sql.ResultSet.HOLD_CURSORS_OVER_COMMIT);
                    return "ok";
                }));
                out.add("setCatalog " + attempt(() -> {
                    c.setCatalog("x");
                    return "ok";
                }) + " setSchema " + attempt(() -> {
                    c.setSchema("x");
                    return "ok";
                }));
                out.add("prepareCall " + attempt(() -> c.prepareCall("SELECT 1")));
                out.add(contents(c));
            }
            out.add("closed: isValid " + attempt(() -> {
                c.close();
                return c.isValid(1);
            }) + " isClosed " + c.isClosed());
        });
        assertNone(problems);
    }

    // ------------------------------------------------------------------------------------------------ errors

    private static final String[][] FAILING = {
            {"unique", "INSERT INTO item (id, title, code) VALUES (30, 'x', 'c1')"},
            {"primary key", "INSERT INTO item (id, title) VALUES (1, 'x')"},
            {"text primary key", "INSERT INTO tag (code) VALUES ('a')"},
            {"not null", "INSERT INTO item (id, title) VALUES (31, NULL)"},
            {"not null by update", "UPDATE item SET title = NULL WHERE id = 1"},
            {"foreign key", "INSERT INTO child (id, item_id) VALUES (40, 999)"},
            {"deferred foreign key", "INSERT INTO dchild (id, item_id) VALUES (41, 999)"},
            {"check", "INSERT INTO chk (id, v) VALUES (1, -1)"},
            {"trigger raise abort", "INSERT INTO guarded (v) VALUES (-1)"},
            {"datatype mismatch", "INSERT INTO item (id, title) VALUES ('abc', 'x')"},
            {"unique of a table not synced", "INSERT INTO plain_u (v) VALUES ('dup')"},
            {"syntax", "INSERT INTO item VALUES ("},
            {"missing table", "INSERT INTO nowhere (id) VALUES (1)"},
            {"missing column", "UPDATE item SET nope = 1"},
            {"key change onto an existing key", "UPDATE item SET id = 2 WHERE id = 1"},
            {"FK parent delete restricted", "DELETE FROM parent_r WHERE id = 1"},
    };

    private static final List<String> ERROR_SCHEMA = List.of(
            "CREATE TABLE dchild (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES item (id) DEFERRABLE INITIALLY DEFERRED)",
            "CREATE TABLE chk (id INTEGER PRIMARY KEY, v INTEGER CHECK (v > 0))",
            "CREATE TABLE guarded (id INTEGER PRIMARY KEY, v INTEGER)",
            "CREATE TRIGGER guarded_v BEFORE INSERT ON guarded WHEN new.v < 0 BEGIN SELECT RAISE(ABORT, 'negative v'); END",
            "CREATE TABLE plain_u (v TEXT UNIQUE)",
            "INSERT INTO plain_u (v) VALUES ('dup')",
            "CREATE TABLE parent_r (id INTEGER PRIMARY KEY)",
            "CREATE TABLE child_r (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent_r (id) ON DELETE RESTRICT)",
            "INSERT INTO parent_r (id) VALUES (1)",
            "INSERT INTO child_r (id, p) VALUES (1, 1)");

    /** The exception class, SQLState, error code and message of constraint, syntax and schema errors. */
    @Test
    void errorsThroughStatementAndPreparedStatement() throws Exception {
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            compare(problems, "errors-" + auto, (c, out) -> {
                try (Statement setup = c.createStatement()) {
                    for (String s : ERROR_SCHEMA) {
                        setup.execute(s);
                    }
                }
                c.setAutoCommit(auto);
                for (String[] f : FAILING) {
                    try (Statement st = c.createStatement()) {
                        out.add(f[0] + " executeUpdate: " + attempt(() -> st.executeUpdate(f[1])));
                        out.add(f[0] + " execute: " + attempt(() -> st.execute(f[1])));
                        out.add(f[0] + " executeLargeUpdate: " + attempt(() -> st.executeLargeUpdate(f[1])));
                    }
                    out.add(f[0] + " prepared: " + attempt(() -> {
                        try (PreparedStatement ps = c.prepareStatement(f[1])) {
                            return ps.executeUpdate();
                        }
                    }));
                    out.add(f[0] + " prepared execute: " + attempt(() -> {
                        try (PreparedStatement ps = c.prepareStatement(f[1])) {
                            return ps.execute();
                        }
                    }));
                    if (!auto) {
                        out.add(f[0] + " commit: " + commitOrRollBack(c));
                    }
                }
                out.add(contents(c));
            });
        }
        assertNone(problems);
    }

    /** Commits; if that fails (a deferred foreign key), says so and rolls back. */
    private static String commitOrRollBack(Connection c) {
        String r = attempt(() -> {
            c.commit();
            return "ok";
        });
        if (!r.equals("ok")) {
            r += " rollback " + attempt(() -> {
                c.rollback();
                return "ok";
            });
        }
        return r;
    }

    /** The same errors in the middle of a batch: BatchUpdateException, its counts, and what stayed. */
    @Test
    @Disabled("known limit (DESIGN.md, JDBC differences): a deferred foreign key fails an auto-commit batch at its commit, whole")
    void errorsInBatches() throws Exception {
        // prepared batches: the second entry fails
        Object[][][] prepared = {
                {{"INSERT INTO item (id, title, code) VALUES (?, ?, ?)"}, {200, "a", "u1"}, {201, "b", "c1"}, {202, "c", "u2"}},
                {{"INSERT INTO item (id, title) VALUES (?, ?)"}, {210, "a"}, {211, null}, {212, "c"}},
                {{"INSERT INTO child (id, item_id) VALUES (?, ?)"}, {220, 1}, {221, 999}, {222, 1}},
                {{"INSERT INTO dchild (id, item_id) VALUES (?, ?)"}, {225, 1}, {226, 999}, {227, 1}},
                {{"INSERT INTO tag (code, label) VALUES (?, ?)"}, {"t1", "a"}, {"a", "b"}, {"t2", "c"}},
                {{"UPDATE item SET code = ?, qty = qty + ? WHERE id = ?"}, {"c9", 1, 1}, {"c2", 1, 3}, {"c8", 1, 3}},
                {{"INSERT INTO chk (id, v) VALUES (?, ?)"}, {10, 1}, {11, -1}, {12, 2}},
        };
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            for (boolean large : new boolean[] {false, true}) {
                // one file per case: a failure must not leave the next case a different connection
                for (int k = 0; k < FAILING.length + prepared.length; k++) {
                    int index = k;
                    compare(problems, "batch-errors-" + auto + "-" + large + "-" + k, (c, out) -> {
                        try (Statement setup = c.createStatement()) {
                            for (String s : ERROR_SCHEMA) {
                                setup.execute(s);
                            }
                        }
                        c.setAutoCommit(auto);
                        if (index < FAILING.length) {
                            String[] f = FAILING[index];
                            try (Statement st = c.createStatement()) {
                                st.addBatch("INSERT INTO item (id, title) VALUES (100, 'before')");
                                st.addBatch(f[1]);
                                st.addBatch("INSERT INTO item (id, title) VALUES (101, 'after')");
                                out.add(f[0] + " statement batch: " + attempt(() -> large ? st.executeLargeBatch() : st.executeBatch())
                                        + " kept " + rows(c, "SELECT id FROM item WHERE id IN (100, 101)"));
                            }
                            if (!auto) {
                                out.add(f[0] + " commit: " + commitOrRollBack(c));
                            }
                            try (Statement st = c.createStatement()) {
                                st.addBatch("UPDATE item SET qty = qty + 1 WHERE id = 1");
                                st.addBatch(f[1]);
                                out.add(f[0] + " statement batch with a counter: "
                                        + attempt(() -> large ? st.executeLargeBatch() : st.executeBatch()));
                            }
                        } else {
                            Object[][] batch = prepared[index - FAILING.length];
                            String sql = (String) batch[0][0];
                            try (PreparedStatement ps = c.prepareStatement(sql)) {
                                for (int i = 1; i < batch.length; i++) {
                                    bind(ps, batch[i]);
                                    ps.addBatch();
                                }
                                out.add(sql + " prepared batch: " + attempt(() -> large ? ps.executeLargeBatch() : ps.executeBatch()));
                            }
                        }
                        if (!auto) {
                            out.add("commit: " + commitOrRollBack(c));
                        }
                        out.add("then an insert: " + attempt(() -> {
                            try (Statement st = c.createStatement()) {
                                return st.executeUpdate("INSERT INTO item (id, title) VALUES (300, 'then')");
                            }
                        }));
                        if (!auto) {
                            out.add("commit: " + commitOrRollBack(c));
                        }
                        out.add(contents(c) + " chk " + rows(c, "SELECT * FROM chk") + " dchild " + rows(c, "SELECT * FROM dchild"));
                    });
                }
            }
        }
        assertNone(problems);
    }

    /**
     * A batch that fails in auto-commit mode (a duplicate among JdbcTemplate.batchUpdate's rows), then, later, a single
     * write that fails (a duplicate key an application catches, as Spring's DuplicateKeyException): the connection
     * must go on working, and what it wrote after must be committed.
     */
    @Test
    void aFailedBatchThenAFailedWriteLeaveTheConnectionUsable() throws Exception {
        List<String> problems = new ArrayList<>();
        for (boolean prepared : new boolean[] {false, true}) {
            compare(problems, "usable-" + prepared, (c, out) -> {
                try (Statement st = c.createStatement()) {
                    if (prepared) {
                        try (PreparedStatement ps = c.prepareStatement("INSERT INTO item (id, title) VALUES (?, ?)")) {
                            bind(ps, 4, "four");
                            ps.addBatch();
                            bind(ps, 1, "dup");
                            ps.addBatch();
                            out.add("prepared batch with a duplicate " + attempt(ps::executeBatch));
                        }
                    } else {
                        st.addBatch("INSERT INTO item (id, title) VALUES (4, 'four')");
                        st.addBatch("INSERT INTO item (id, title) VALUES (1, 'dup')");
                        out.add("statement batch with a duplicate " + attempt(st::executeBatch));
                    }
                    out.add("a duplicate insert " + attempt(() -> st.executeUpdate("INSERT INTO item (id, title) VALUES (1, 'again')")));
                    out.add("next insert " + attempt(() -> st.executeUpdate("INSERT INTO item (id, title) VALUES (5, 'five')")));
                    out.add("next prepared insert " + attempt(() -> {
                        try (PreparedStatement ps = c.prepareStatement("INSERT INTO item (id, title) VALUES (6, 'six')")) {
                            return ps.executeUpdate();
                        }
                    }));
                    try (Connection other = DriverManager.getConnection(url)) {
                        out.add("another connection sees " + attempt(() -> rows(other, "SELECT id FROM item ORDER BY id")));
                    }
                }
            });
        }
        assertNone(problems);
    }

    // ------------------------------------------------------------------------------------------------ SQL functions

    private static final List<String> FUNCTION_WRITES = List.of(
            "INSERT INTO item (id, title) VALUES (20, 'a')",
            "UPDATE item SET qty = 3",
            "UPDATE item SET title = title",
            "UPDATE item SET qty = qty + 1 WHERE id <= 2",
            "INSERT INTO item (id, title, code) VALUES (2, 'u', 'c2') ON CONFLICT (id) DO UPDATE SET title = excluded.title",
            "INSERT OR IGNORE INTO item (id, title) VALUES (1, 'dup')",
            "INSERT OR REPLACE INTO item (id, title, code) VALUES (21, 'r', 'c3')",
            "UPDATE OR REPLACE item SET code = 'c1' WHERE id = 21",
            "UPDATE item SET id = 22 WHERE id = 21",
            "INSERT INTO slot (id, name, v) VALUES (100, 's', 1)",
            "INSERT INTO item (id, title) VALUES (23, 'b')",
            "UPDATE slot SET v = 2",
            "INSERT OR IGNORE INTO slot (id, name, v) VALUES (100, 'x', 0)",
            "INSERT INTO slot (name, v) VALUES ('s', 3)",
            "INSERT INTO tag (code) VALUES ('q')",
            "DELETE FROM item WHERE id = 1",
            "INSERT INTO note (body) VALUES ('n')",
            "DELETE FROM note",
            "CREATE TABLE extra (id INTEGER PRIMARY KEY)",
            "INSERT INTO extra (id) VALUES (77)",
            "DROP TABLE extra",
            "INSERT INTO note (body) VALUES ('m'), ('o')");

    /**
     * {@code SELECT <function>} after each write of {@link #FUNCTION_WRITES}, by Statement and PreparedStatement, in
     * auto-commit mode and in a transaction, after the commit and after a batch. {@code ddl}: also after DDL.
     */
    private void functionAfterWrites(String function, boolean ddl) throws Exception {
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            for (boolean prepared : new boolean[] {false, true}) {
                compare(problems, function.replaceAll("\\W", "") + "-" + auto + "-" + prepared, (c, out) -> {
                    try (Statement st = c.createStatement()) {
                        st.execute("CREATE TABLE slot (id INTEGER PRIMARY KEY, name TEXT UNIQUE ON CONFLICT REPLACE, v INTEGER)");
                        st.executeUpdate("INSERT INTO item (id, title) VALUES (500, 'seed')");
                    }
                    c.setAutoCommit(auto);
                    for (String sql : FUNCTION_WRITES) {
                        String r;
                        if (prepared) {
                            r = attempt(() -> {
                                try (PreparedStatement ps = c.prepareStatement(sql)) {
                                    return ps.executeUpdate();
                                }
                            });
                        } else {
                            try (Statement st = c.createStatement()) {
                                r = attempt(() -> st.executeUpdate(sql));
                            }
                        }
                        // The count itself is not compared here: Statement.executeUpdate counts as prepared statements
                        // do (UpdateCountTest), where plain sqlite-jdbc's adds cascaded and REPLACE-deleted rows.
                        if (ddl || !sql.startsWith("CREATE") && !sql.startsWith("DROP")) {
                            out.add(sql + " -> " + (r.startsWith("threw") ? r : "ok") + " " + function + " "
                                    + rows(c, "SELECT " + function));
                        }
                    }
                    if (!auto) {
                        c.commit();
                    }
                    out.add("after commit " + rows(c, "SELECT " + function));
                    try (Statement st = c.createStatement()) {
                        st.addBatch("INSERT INTO item (id, title) VALUES (30, 'b1')");
                        st.addBatch("UPDATE item SET qty = 0");
                        st.executeBatch();
                    }
                    out.add("after a statement batch " + rows(c, "SELECT " + function));
                    try (PreparedStatement ps = c.prepareStatement("UPDATE note SET n = ? WHERE body = ?")) {
                        bind(ps, 1, "m");
                        ps.addBatch();
                        bind(ps, 2, "o");
                        ps.addBatch();
                        ps.executeBatch();
                    }
                    out.add("after a prepared batch " + rows(c, "SELECT " + function));
                });
            }
        }
        assertNone(problems);
    }

    /**
     * {@code SELECT changes()} after a write: the rows that write changed (the {@code INSERT OR IGNORE ...; SELECT
     * changes()} idiom; sqlite-jdbc's own getUpdateCount reads it). Not after DDL, for which SQLite keeps the last
     * write's value.
     */
    @Test
    @Disabled("known limit (DESIGN.md, JDBC differences): SQL changes() after a write reports the driver's stamp or REPLACE-flag statement")
    void changesFunctionAfterWrites() throws Exception {
        functionAfterWrites("changes()", false);
    }

    /** {@code SELECT last_insert_rowid()} after a write (an older Hibernate SQLiteDialect's identity select). */
    @Test
    void lastInsertRowidFunctionAfterWrites() throws Exception {
        functionAfterWrites("last_insert_rowid()", true);
    }

    // ------------------------------------------------------------------------------------------------ result sets

    /** The shape of queries over synced tables: the driver adds no column, and types read as without it. */
    @Test
    void resultSetMetaDataOfSyncedTables() throws Exception {
        List<String> problems = new ArrayList<>();
        compare(problems, "rsmd", (c, out) -> {
            for (String sql : new String[] {"SELECT * FROM item", "SELECT * FROM tag", "SELECT * FROM note", "SELECT * FROM child",
                    "SELECT i.*, c.* FROM item i JOIN child c ON c.item_id = i.id", "SELECT rowid, * FROM tag",
                    "SELECT count(*) AS n, max(id) FROM item", "SELECT * FROM item WHERE id = ?"}) {
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    ParameterMetaData pmd = ps.getParameterMetaData();
                    out.add(sql + " parameters " + pmd.getParameterCount() + " prepared metadata " + attempt(() -> shape(ps.getMetaData())));
                    if (pmd.getParameterCount() > 0) {
                        ps.setInt(1, 1);
                    }
                    try (ResultSet rs = ps.executeQuery()) {
                        out.add(sql + " " + shape(rs.getMetaData()) + " " + describe(rs, ps));
                    }
                }
            }
        });
        assertNone(problems);
    }

    private static String className(ResultSetMetaData md, int column) {
        return attempt(() -> md.getColumnClassName(column));
    }

    private static String shape(ResultSetMetaData md) throws SQLException {
        StringBuilder b = new StringBuilder("[");
        for (int i = 1; i <= md.getColumnCount(); i++) {
            b.append(i > 1 ? ", " : "").append(md.getColumnLabel(i)).append('/').append(md.getColumnName(i)).append('/')
                    .append(md.getTableName(i)).append('/').append(md.getColumnType(i)).append('/')
                    .append(md.getColumnTypeName(i)).append("/null=").append(md.isNullable(i)).append("/auto=")
                    .append(md.isAutoIncrement(i)).append("/class=").append(className(md, i));
        }
        return b.append(']').toString();
    }

    // ------------------------------------------------------------------------------------------------ statements

    /** Statement settings, warnings, and queries that are not queries (and updates that are). */
    @Test
    void statementSettingsAndNonQueries() throws Exception {
        List<String> problems = new ArrayList<>();
        for (boolean auto : new boolean[] {true, false}) {
            compare(problems, "settings-" + auto, (c, out) -> {
                c.setAutoCommit(auto);
                try (Statement st = c.createStatement()) {
                    out.add("warnings " + st.getWarnings() + " fetch " + st.getFetchSize() + " maxRows " + st.getMaxRows()
                            + " timeout " + st.getQueryTimeout() + " type " + st.getResultSetType() + " concurrency "
                            + st.getResultSetConcurrency() + " holdability " + st.getResultSetHoldability()
                            + " poolable " + st.isPoolable() + " connection is c " + (st.getConnection() == c));
                    st.setMaxRows(2);
                    try (ResultSet rs = st.executeQuery("SELECT id FROM item ORDER BY id")) {
                        out.add("maxRows 2 " + dump(rs));
                    }
                    st.setMaxRows(0);
                    st.setFetchSize(1);
                    st.setQueryTimeout(3);
                    out.add("fetch " + st.getFetchSize() + " timeout " + st.getQueryTimeout());
                    out.add("setMaxRows(-1) " + attempt(() -> {
                        st.setMaxRows(-1);
                        return "ok";
                    }) + " setQueryTimeout(-1) " + attempt(() -> {
                        st.setQueryTimeout(-1);
                        return "ok";
                    }) + " setFetchDirection(REVERSE) " + attempt(() -> {
                        st.setFetchDirection(ResultSet.FETCH_REVERSE);
                        return "ok";
                    }));
                    st.executeUpdate("UPDATE item SET qty = 1 WHERE id = 1");
                    SQLWarning w = st.getWarnings();
                    out.add("warnings after a write " + w + " connection warnings " + c.getWarnings());
                    out.add("escape processing " + attempt(() -> {
                        st.setEscapeProcessing(false);
                        return "ok";
                    }) + " cursor " + attempt(() -> {
                        st.setCursorName("x");
                        return "ok";
                    }));

                    // executeQuery of statements that return no rows
                    for (String sql : new String[] {"INSERT INTO item (id, title) VALUES (40, 'q')", "UPDATE item SET qty = 9 WHERE id = 2",
                            "DELETE FROM item WHERE id = 3", "INSERT INTO note (body) VALUES ('q')", "CREATE TABLE q (id INTEGER PRIMARY KEY)",
                            "INSERT INTO q (id) VALUES (1)", "", "  ", "-- only a comment", "SELECT 1 WHERE 1 = 0"}) {
                        out.add("executeQuery(" + sql + ") " + attempt(() -> {
                            try (ResultSet rs = st.executeQuery(sql)) {
                                return "rows " + dump(rs);
                            }
                        }) + " keys " + keys(st) + " count " + attempt(st::getUpdateCount));
                        out.add("execute(" + sql + ") " + attempt(() -> st.execute(sql)) + " count " + attempt(st::getUpdateCount));
                    }
                    out.add("q after " + attempt(() -> rows(c, "SELECT * FROM q")));
                    for (String sql : new String[] {"INSERT INTO item (id, title) VALUES (41, 'p')", "UPDATE item SET qty = 8 WHERE id = 2",
                            "SELECT id FROM item WHERE id = 1"}) {
                        out.add("prepared executeQuery(" + sql + ") " + attempt(() -> {
                            try (PreparedStatement ps = c.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
                                return "rows " + dump(rs);
                            }
                        }));
                    }
                    // executeUpdate of a query
                    out.add("executeUpdate(SELECT) " + attempt(() -> st.executeUpdate("SELECT id FROM item")));
                    out.add("executeLargeUpdate(SELECT) " + attempt(() -> st.executeLargeUpdate("SELECT id FROM item")));
                    out.add("prepared executeUpdate(SELECT) " + attempt(() -> {
                        try (PreparedStatement ps = c.prepareStatement("SELECT id FROM item")) {
                            return ps.executeUpdate();
                        }
                    }));
                    out.add("executeUpdate(PRAGMA) " + attempt(() -> st.executeUpdate("PRAGMA user_version = 3")));
                    out.add("execute(PRAGMA) " + attempt(() -> st.execute("PRAGMA user_version")) + " count " + attempt(st::getUpdateCount));
                }
                // closeOnCompletion
                Statement st = c.createStatement();
                st.closeOnCompletion();
                ResultSet rs = st.executeQuery("SELECT id FROM item");
                out.add("closeOnCompletion " + st.isCloseOnCompletion());
                rs.close();
                out.add("statement closed with its result set " + st.isClosed());
                st.close();
                try (Statement s2 = c.createStatement()) {
                    ResultSet r1 = s2.executeQuery("SELECT id FROM item");
                    s2.executeQuery("SELECT code FROM tag").close();
                    out.add("first result set closed by the next query " + r1.isClosed());
                }
                if (!auto) {
                    c.commit();
                }
                out.add(contents(c));
            });
        }
        assertNone(problems);
    }
}
