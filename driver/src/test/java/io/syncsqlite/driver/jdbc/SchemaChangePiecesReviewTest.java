package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.syncsqlite.driver.jdbc.SchemaChangeRefusalTest.columns;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of "add a column, then write it, in one call" (batches run entry by entry, executeUpdate of several
 * statements cut into pieces), of the lexer's Tcl-style parameters and string bodies, and of the refusal of
 * pieces that manage the transaction. Real SQLite files; plain sqlite-jdbc as the reference where behaviour
 * should match.
 */
class SchemaChangePiecesReviewTest {

    @TempDir
    Path dir;

    private static int fresh;

    private static final String ITEM = "CREATE TABLE item (id TEXT PRIMARY KEY, title TEXT, qty INTEGER NOT NULL DEFAULT 0)";

    private Path file() {
        return dir.resolve("f" + (fresh++) + ".db");
    }

    private static Connection sync(Path file) throws SQLException {
        return DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0&sync.tables=item");
    }

    private static Connection plain(Path file) throws SQLException {
        return DriverManager.getConnection("jdbc:sqlite:" + file);
    }

    /** A synced file with table item holding row '1'. */
    private Connection openSync(String ddl) throws SQLException {
        return filled(sync(file()), ddl);
    }

    private Connection openSync() throws SQLException {
        return openSync(ITEM);
    }

    private Connection openPlain(String ddl) throws SQLException {
        return filled(plain(file()), ddl);
    }

    /** {@code c} with table item ({@code ddl}) holding row '1', and table scratch. */
    private static Connection filled(Connection c, String ddl) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(ddl);
            st.execute("CREATE TABLE scratch (id TEXT PRIMARY KEY, tmp TEXT)");
            st.executeUpdate("INSERT INTO item (id, title) VALUES ('1', 'a')");
        }
        return c;
    }

    private Connection openPlain() throws SQLException {
        return openPlain(ITEM);
    }

    /** The captured rows of item: op, layout columns, values v0..v4. */
    private static List<String> outbox(Connection c) throws SQLException {
        return SchemaChangeRefusalTest.outbox(c, 5);
    }

    /** The table's rows, as json arrays, by id. */
    private static List<String> rows(Connection c) throws SQLException {
        List<String> cols = columns(c, "item");
        StringBuilder sql = new StringBuilder("SELECT json_array(");
        for (int i = 0; i < cols.size(); i++) {
            sql.append(i == 0 ? "" : ", ").append('"').append(cols.get(i)).append('"');
        }
        sql.append(") FROM item ORDER BY id");
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql.toString())) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    /**
     * The row images the outbox leads to (last capture per id wins; a delete removes), each padded with NULL up to
     * the table's current column count: what another replica would hold.
     */
    private static List<String> replayed(Connection c) throws SQLException {
        java.util.TreeMap<String, String> state = new java.util.TreeMap<>();
        int n = columns(c, "item").size();
        List<Object[]> captured = new ArrayList<>();
        // Decoded as the sync client decodes them (a typed update's mask may be marked: OutboxDecoder reads it).
        io.syncsqlite.driver.capture.OutboxDecoder decoder = new io.syncsqlite.driver.capture.OutboxDecoder(c);
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT (SELECT json_array_length(l.cols)"
                + " FROM _sync_layouts l WHERE l.id = o.layout), " + io.syncsqlite.driver.capture.OutboxDecoder.COLUMNS
                + " FROM _sync_outbox o WHERE o.tbl = 'item' AND o.layout IS NOT NULL ORDER BY o.seq")) {
            while (rs.next()) {
                io.syncsqlite.driver.capture.OutboxDecoder.Captured d = decoder.decode(rs, 2);
                com.fasterxml.jackson.databind.node.ArrayNode values = io.syncsqlite.protocol.MessageCodec.JSON.createArrayNode();
                d.values().properties().forEach(e -> values.add(e.getValue()));
                for (int k = values.size(); k < 7; k++) {
                    values.addNull();
                }
                captured.add(new Object[] {d.op(), rs.getString(9), rs.getInt(1), values.toString(), d.changed()});
            }
        }
        try (PreparedStatement image = c.prepareStatement("SELECT json_group_array(value) FROM"
                + " (SELECT value FROM json_each(?) WHERE key < ? ORDER BY key)");
             PreparedStatement pad = c.prepareStatement("SELECT json_insert(?, '$[#]', NULL)")) {
            for (Object[] r : captured) {
                if ((int) r[0] == 3) {
                    state.remove((String) r[1]);
                    continue;
                }
                image.setString(1, (String) r[3]);
                image.setInt(2, (int) r[2]);
                String img;
                try (ResultSet rs = image.executeQuery()) {
                    rs.next();
                    img = rs.getString(1);
                }
                for (int k = (int) r[2]; k < n; k++) {
                    pad.setString(1, img);
                    try (ResultSet rs = pad.executeQuery()) {
                        rs.next();
                        img = rs.getString(1);
                    }
                }
                String mask = (String) r[4];
                String before = state.get((String) r[1]);
                if ((int) r[0] == 2 && mask != null && before != null) {
                    // An update stores the columns it changed (the mask says which): the others keep their values.
                    com.fasterxml.jackson.databind.node.ArrayNode was = (com.fasterxml.jackson.databind.node.ArrayNode)
                            io.syncsqlite.protocol.MessageCodec.JSON.readTree(before);
                    com.fasterxml.jackson.databind.JsonNode now = io.syncsqlite.protocol.MessageCodec.JSON.readTree(img);
                    for (int k = 0; k < mask.length() && k < was.size(); k++) {
                        if (mask.charAt(k) == '1') {
                            was.set(k, now.get(k));
                        }
                    }
                    img = was.toString();
                }
                state.put((String) r[1], img);
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new AssertionError(e);
        }
        return new ArrayList<>(state.values());
    }


    private static long count(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String text(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static String insertTriggerSql(Connection c) throws SQLException {
        return text(c, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = '_sync_ins_item'");
    }

    private static long unstamped(Connection c) throws SQLException {
        return count(c, "SELECT count(*) FROM _sync_outbox WHERE hlc IS NULL AND seq = (SELECT max(seq) FROM _sync_outbox)");
    }

    private interface Call {
        Object run(Statement st, String sql) throws SQLException;
    }

    private static final String ADD_THEN_WRITE = "ALTER TABLE item ADD COLUMN extra TEXT; UPDATE item SET extra = 'x';"
            + " INSERT INTO item (id, title, extra) VALUES ('2', 'b', 'y')";

    private static final List<String> ADD_THEN_WRITE_OUTBOX = List.of(
            "1 [id,title,qty] [\"1\",\"a\",0,null,null]",
            "2 [id,title,qty,extra] [\"1\",null,null,\"x\",null]",
            "1 [id,title,qty,extra] [\"2\",\"b\",0,\"y\",null]");

    // ---------------------------------------------------------------------------------------------------------
    // Add a column, then write it, in every form

    @Test
    void severalStatementsAddThenWriteInEveryFormAndTransactionMode() throws Exception {
        List<String> problems = new ArrayList<>();
        List<Object[]> forms = List.of(
                new Object[] {"executeUpdate", (Call) (st, s) -> st.executeUpdate(s)},
                new Object[] {"executeLargeUpdate", (Call) (st, s) -> st.executeLargeUpdate(s)},
                new Object[] {"executeUpdate(RETURN_GENERATED_KEYS)",
                        (Call) (st, s) -> st.executeUpdate(s, Statement.RETURN_GENERATED_KEYS)},
                new Object[] {"executeLargeUpdate(RETURN_GENERATED_KEYS)",
                        (Call) (st, s) -> st.executeLargeUpdate(s, Statement.RETURN_GENERATED_KEYS)});
        for (Object[] form : forms) {
            for (String mode : List.of("auto", "commit", "rollback")) {
                String label = form[0] + "/" + mode;
                try (Connection c = openSync(); Statement st = c.createStatement()) {
                    c.setAutoCommit(mode.equals("auto"));
                    ((Call) form[1]).run(st, ADD_THEN_WRITE);
                    if (mode.equals("commit")) {
                        c.commit();
                    } else if (mode.equals("rollback")) {
                        c.rollback();
                    }
                    c.setAutoCommit(true);
                    if (mode.equals("rollback")) {
                        if (!columns(c, "item").equals(List.of("id", "title", "qty"))) {
                            problems.add(label + ": columns after rollback " + columns(c, "item"));
                        }
                        if (insertTriggerSql(c).contains("extra")) {
                            problems.add(label + ": insert trigger still names extra after rollback");
                        }
                        st.executeUpdate("INSERT INTO item (id, title) VALUES ('3', 'c')");
                        List<String> expected = List.of("1 [id,title,qty] [\"1\",\"a\",0,null,null]",
                                "1 [id,title,qty] [\"3\",\"c\",0,null,null]");
                        if (!outbox(c).equals(expected)) {
                            problems.add(label + ": outbox " + outbox(c) + " expected " + expected);
                        }
                        if (count(c, "SELECT count(*) FROM _sync_layouts WHERE cols LIKE '%extra%'") != 0) {
                            problems.add(label + ": a layout with extra survived the rollback");
                        }
                    } else {
                        if (!outbox(c).equals(ADD_THEN_WRITE_OUTBOX)) {
                            problems.add(label + ": outbox " + outbox(c) + " expected " + ADD_THEN_WRITE_OUTBOX);
                        }
                        if (unstamped(c) != 0) {
                            problems.add(label + ": last outbox row not stamped");
                        }
                        // a later write of the new column alone is captured
                        st.executeUpdate("UPDATE item SET extra = 'z' WHERE id = '2'");
                        List<String> o = outbox(c);
                        if (!o.get(o.size() - 1).equals("2 [id,title,qty,extra] [\"2\",null,null,\"z\",null]")) {
                            problems.add(label + ": later update captured as " + o.get(o.size() - 1));
                        }
                    }
                } catch (SQLException e) {
                    problems.add(label + ": threw " + e);
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void batchAddThenWriteInEveryTransactionMode() throws Exception {
        List<String> problems = new ArrayList<>();
        for (boolean large : new boolean[] {false, true}) {
            for (String mode : List.of("auto", "commit", "rollback")) {
                String label = (large ? "executeLargeBatch" : "executeBatch") + "/" + mode;
                try (Connection c = openSync(); Statement st = c.createStatement()) {
                    c.setAutoCommit(mode.equals("auto"));
                    st.addBatch("ALTER TABLE item ADD COLUMN extra TEXT");
                    st.addBatch("UPDATE item SET extra = 'x'");
                    st.addBatch("INSERT INTO item (id, title, extra) VALUES ('2', 'b', 'y')");
                    long[] counts = large ? st.executeLargeBatch() : Arrays.stream(st.executeBatch()).asLongStream().toArray();
                    if (mode.equals("commit")) {
                        c.commit();
                    } else if (mode.equals("rollback")) {
                        c.rollback();
                    }
                    c.setAutoCommit(true);
                    if (counts[1] != 1 || counts[2] != 1) {
                        problems.add(label + ": update counts " + Arrays.toString(counts) + ", sqlite-jdbc gives [1, 1, 1]"
                                + " (the ALTER's 1 is sqlite3_changes() of the previous insert)");
                    }
                    if (mode.equals("rollback")) {
                        if (!columns(c, "item").equals(List.of("id", "title", "qty")) || insertTriggerSql(c).contains("extra")) {
                            problems.add(label + ": schema or triggers not back after rollback");
                        }
                        st.executeUpdate("INSERT INTO item (id, title) VALUES ('3', 'c')");
                        List<String> expected = List.of("1 [id,title,qty] [\"1\",\"a\",0,null,null]",
                                "1 [id,title,qty] [\"3\",\"c\",0,null,null]");
                        if (!outbox(c).equals(expected)) {
                            problems.add(label + ": outbox " + outbox(c));
                        }
                    } else if (!outbox(c).equals(ADD_THEN_WRITE_OUTBOX)) {
                        problems.add(label + ": outbox " + outbox(c));
                    }
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    /** The batch update counts of plain sqlite-jdbc for the same batch, for reference. */
    @Test
    void batchUpdateCountsMatchSqliteJdbc() throws Exception {
        long[] plainCounts;
        try (Connection c = openPlain(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO item (id, title) VALUES ('2', 'b')");
            st.addBatch("ALTER TABLE item ADD COLUMN extra TEXT");
            st.addBatch("UPDATE item SET extra = 'x', title = 't'");
            st.addBatch("INSERT INTO item (id, title, extra) VALUES ('3', 'c', 'y')");
            st.addBatch("DELETE FROM item WHERE id = '3'");
            plainCounts = Arrays.stream(st.executeBatch()).asLongStream().toArray();
        }
        long[] syncCounts;
        long[] syncNoDdl;
        try (Connection c = openSync(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO item (id, title) VALUES ('2', 'b')");
            // the same writes without a schema change: one call, sqlite-jdbc's counts
            st.addBatch("UPDATE item SET title = 't'");
            st.addBatch("INSERT INTO item (id, title) VALUES ('4', 'd')");
            st.addBatch("DELETE FROM item WHERE id = '4'");
            syncNoDdl = Arrays.stream(st.executeBatch()).asLongStream().toArray();
            st.addBatch("ALTER TABLE item ADD COLUMN extra TEXT");
            st.addBatch("UPDATE item SET extra = 'x', title = 't'");
            st.addBatch("INSERT INTO item (id, title, extra) VALUES ('3', 'c', 'y')");
            st.addBatch("DELETE FROM item WHERE id = '3'");
            syncCounts = Arrays.stream(st.executeBatch()).asLongStream().toArray();
        }
        System.out.println("[batch counts] sqlite-jdbc " + Arrays.toString(plainCounts) + ", driver one call (no DDL) "
                + Arrays.toString(syncNoDdl) + ", driver entry by entry " + Arrays.toString(syncCounts));
        assertArrayEquals(new long[] {2, 1, 1}, syncNoDdl, "one-call batch");
        // entry 0 is the ALTER: sqlite-jdbc reports the sqlite3_changes() the previous DML left; compare the DML entries
        assertArrayEquals(Arrays.copyOfRange(plainCounts, 1, 4), Arrays.copyOfRange(syncCounts, 1, 4),
                "DML entries: sqlite-jdbc " + Arrays.toString(plainCounts) + " vs driver " + Arrays.toString(syncCounts));
    }

    // ---------------------------------------------------------------------------------------------------------
    // A failure in the middle

    @Test
    void batchFailingAfterTheAddInAutoCommitMatchesSqliteJdbc() throws Exception {
        List<String> batch = List.of("ALTER TABLE item ADD COLUMN extra TEXT", "UPDATE item SET extra = 'x'",
                "INSERT INTO item (id, title) VALUES ('1', 'dup')", "INSERT INTO item (id, title, extra) VALUES ('9', 'z', 'z')");
        BatchUpdateException plainFailure;
        List<String> plainRows;
        try (Connection c = openPlain(); Statement st = c.createStatement()) {
            for (String s : batch) {
                st.addBatch(s);
            }
            plainFailure = assertThrows(BatchUpdateException.class, st::executeBatch);
            plainRows = rows(c);
        }
        try (Connection c = openSync(); Statement st = c.createStatement()) {
            for (String s : batch) {
                st.addBatch(s);
            }
            BatchUpdateException e = assertThrows(BatchUpdateException.class, st::executeBatch);
            List<String> problems = new ArrayList<>();
            if (!rows(c).equals(plainRows)) {
                problems.add("table " + rows(c) + " vs sqlite-jdbc " + plainRows);
            }
            if (!replayed(c).equals(rows(c))) {
                problems.add("outbox leads to " + replayed(c) + " but the table holds " + rows(c));
            }
            System.out.println("[batch failure] driver counts " + Arrays.toString(e.getUpdateCounts()) + " state "
                    + e.getSQLState() + " msg " + e.getMessage() + "; sqlite-jdbc counts "
                    + Arrays.toString(plainFailure.getUpdateCounts()) + " state " + plainFailure.getSQLState()
                    + " msg " + plainFailure.getMessage() + "; outbox tail unstamped: " + unstamped(c));
            // entry 0 is the ALTER (sqlite-jdbc reports sqlite3_changes() left by the previous DML there); entry 1
            // is the UPDATE of the one row, which ran before the failing entry 2
            if (e.getUpdateCounts().length < 2 || e.getUpdateCounts()[1] != plainFailure.getUpdateCounts()[1]) {
                problems.add("update counts " + Arrays.toString(e.getUpdateCounts()) + " vs sqlite-jdbc "
                        + Arrays.toString(plainFailure.getUpdateCounts()) + " (entry 1, the UPDATE of one row)");
            }
            assertEquals(List.of(), problems);
        }
    }

    @Test
    void batchFailingAfterTheAddInATransactionThenCommitOrRollback() throws Exception {
        List<String> batch = List.of("ALTER TABLE item ADD COLUMN extra TEXT", "UPDATE item SET extra = 'x'",
                "INSERT INTO item (id, title) VALUES ('1', 'dup')");
        List<String> problems = new ArrayList<>();
        for (boolean commit : new boolean[] {true, false}) {
            List<String> plainRows;
            List<String> plainCols;
            try (Connection c = openPlain(); Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                for (String s : batch) {
                    st.addBatch(s);
                }
                assertThrows(BatchUpdateException.class, st::executeBatch);
                if (commit) {
                    c.commit();
                } else {
                    c.rollback();
                }
                plainRows = rows(c);
                plainCols = columns(c, "item");
            }
            try (Connection c = openSync(); Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                for (String s : batch) {
                    st.addBatch(s);
                }
                assertThrows(BatchUpdateException.class, st::executeBatch);
                if (commit) {
                    c.commit();
                } else {
                    c.rollback();
                }
                c.setAutoCommit(true);
                String label = commit ? "commit" : "rollback";
                if (!rows(c).equals(plainRows) || !columns(c, "item").equals(plainCols)) {
                    problems.add(label + ": table " + columns(c, "item") + rows(c) + " vs sqlite-jdbc " + plainCols + plainRows);
                }
                st.executeUpdate("INSERT INTO item (id, title) VALUES ('5', 'e')");
                if (!replayed(c).equals(rows(c))) {
                    problems.add(label + ": outbox leads to " + replayed(c) + " but the table holds " + rows(c));
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void severalStatementsFailingAfterTheAddMatchSqliteJdbc() throws Exception {
        String sql = "ALTER TABLE item ADD COLUMN extra TEXT; UPDATE item SET extra = 'x';"
                + " INSERT INTO item (id, title) VALUES ('1', 'dup'); INSERT INTO item (id, title) VALUES ('9', 'z')";
        List<String> problems = new ArrayList<>();
        for (String mode : List.of("auto", "commit", "rollback")) {
            List<String> plainRows;
            List<String> plainCols;
            SQLException plainFailure;
            try (Connection c = openPlain(); Statement st = c.createStatement()) {
                c.setAutoCommit(mode.equals("auto"));
                plainFailure = assertThrows(SQLException.class, () -> st.executeUpdate(sql));
                if (mode.equals("commit")) {
                    c.commit();
                } else if (mode.equals("rollback")) {
                    c.rollback();
                }
                plainRows = rows(c);
                plainCols = columns(c, "item");
            }
            try (Connection c = openSync(); Statement st = c.createStatement()) {
                c.setAutoCommit(mode.equals("auto"));
                SQLException e = assertThrows(SQLException.class, () -> st.executeUpdate(sql));
                if (e.getErrorCode() != plainFailure.getErrorCode()) {
                    problems.add(mode + ": error code " + e.getErrorCode() + " vs " + plainFailure.getErrorCode());
                }
                if (mode.equals("commit")) {
                    c.commit();
                } else if (mode.equals("rollback")) {
                    c.rollback();
                }
                c.setAutoCommit(true);
                if (!rows(c).equals(plainRows) || !columns(c, "item").equals(plainCols)) {
                    problems.add(mode + ": table " + columns(c, "item") + rows(c) + " vs sqlite-jdbc " + plainCols + plainRows);
                }
                if (!replayed(c).equals(rows(c))) {
                    problems.add(mode + ": outbox leads to " + replayed(c) + " but the table holds " + rows(c));
                }
                if (mode.equals("auto")) {
                    System.out.println("[pieces failure] outbox tail unstamped after the failure: " + unstamped(c));
                }
                st.executeUpdate("INSERT INTO item (id, title) VALUES ('5', 'e')");
                if (!replayed(c).equals(rows(c))) {
                    problems.add(mode + ": after a later insert the outbox leads to " + replayed(c) + " but the table holds " + rows(c));
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    /**
     * An ADD that no write follows in the string is not cut after; when a later statement of the string fails, the
     * ALTER stays committed (as with sqlite-jdbc) and the capture must still follow it.
     */
    @Test
    void aFailureAfterAnAddThatNoWriteFollowsLeavesTheCaptureFollowingTheColumn() throws Exception {
        try (Connection c = openSync(); Statement st = c.createStatement()) {
            assertThrows(SQLException.class, () -> st.executeUpdate("ALTER TABLE item ADD COLUMN extra TEXT; DROP TABLE nosuch"));
            assertEquals(List.of("id", "title", "qty", "extra"), columns(c, "item"));
            st.executeUpdate("INSERT INTO item (id, title, extra) VALUES ('2', 'b', 'y')");
            List<String> o = outbox(c);
            assertEquals("1 [id,title,qty,extra] [\"2\",\"b\",0,\"y\",null]", o.get(o.size() - 1), o.toString());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Update counts of several statements

    @Test
    void updateCountOfPiecesIsTheOneCallCount() throws Exception {
        // UPDATE of an old and the new column: captured either way, so one call and pieces capture the same rows.
        String sql = "INSERT INTO item (id, title) VALUES ('2', 'b'); ALTER TABLE item ADD COLUMN extra TEXT;"
                + " UPDATE item SET extra = 'x', title = 't'; INSERT INTO item (id, title, extra) VALUES ('3', 'c', 'y');"
                + " DELETE FROM item WHERE id = '3'";
        long plainCount;
        try (Connection c = openPlain(); Statement st = c.createStatement()) {
            plainCount = st.executeUpdate(sql);
        }
        try (Connection c = openSync(); Statement st = c.createStatement()) {
            long before = count(c, "SELECT count(*) FROM _sync_outbox");
            long n = st.executeUpdate(sql);
            long captured = count(c, "SELECT count(*) FROM _sync_outbox") - before;
            // sqlite-jdbc counts total_changes, trigger rows included; the driver leaves its capture rows out, cut
            // into pieces or not, and so counts as plain sqlite-jdbc does
            assertTrue(captured > 0);
            assertEquals(plainCount, n, "plain " + plainCount + " captured " + captured);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Generated keys and last_insert_rowid

    private static final String INT_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER NOT NULL DEFAULT 0)";

    private static String keys(Statement st) throws SQLException {
        try (ResultSet rs = st.getGeneratedKeys()) {
            return rs.next() ? rs.getString(1) : "none";
        }
    }

    /** What {@code getGeneratedKeys()} and {@code last_insert_rowid()} give after {@code sql}, plain or synced, per mode. */
    private List<String> keysAndRowids(List<String> sqls) throws SQLException {
        List<String> problems = new ArrayList<>();
        for (String sql : sqls) {
            for (boolean auto : new boolean[] {true, false}) {
                String plainKeys;
                String plainRowid;
                try (Connection c = openPlain(INT_ITEM); Statement st = c.createStatement()) {
                    c.setAutoCommit(auto);
                    st.executeUpdate(sql, Statement.RETURN_GENERATED_KEYS);
                    plainKeys = keys(st);
                    plainRowid = text(c, "SELECT last_insert_rowid()");
                }
                try (Connection c = openSync(INT_ITEM); Statement st = c.createStatement()) {
                    c.setAutoCommit(auto);
                    st.executeUpdate(sql, Statement.RETURN_GENERATED_KEYS);
                    String k = keys(st);
                    String rowid = text(c, "SELECT last_insert_rowid()");
                    problems.add((auto ? "auto: " : "tx: ") + sql + " -> keys " + k + ", last_insert_rowid " + rowid
                            + "; sqlite-jdbc keys " + plainKeys + ", last_insert_rowid " + plainRowid);
                }
            }
        }
        return problems;
    }

    private static List<String> mismatches(List<String> lines, boolean keysOnly) {
        List<String> out = new ArrayList<>();
        for (String l : lines) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                    "keys (\\S+), last_insert_rowid (\\S+); sqlite-jdbc keys (\\S+), last_insert_rowid (\\S+)$").matcher(l);
            if (!m.find()) {
                out.add("unparsed " + l);
            } else if (!m.group(1).equals(m.group(3)) || !keysOnly && !m.group(2).equals(m.group(4))) {
                out.add(l);
            }
        }
        return out;
    }

    /** Pieced strings: getGeneratedKeys() as sqlite-jdbc gives it for the same string. */
    @Test
    void generatedKeysAfterPiecesMatchSqliteJdbc() throws Exception {
        List<String> lines = keysAndRowids(List.of(
                "ALTER TABLE item ADD COLUMN extra TEXT; INSERT INTO item (id, title, extra) VALUES (40, 'b', 'y')",
                "INSERT INTO item (id, title) VALUES (41, 'b'); ALTER TABLE item ADD COLUMN extra TEXT;"
                        + " INSERT INTO item (id, title, extra) VALUES (42, 'c', 'y')",
                "INSERT INTO item (id, title) VALUES (43, 'b'); ALTER TABLE item ADD COLUMN extra TEXT;"
                        + " UPDATE item SET extra = 'x'"));
        lines.forEach(l -> System.out.println("[keys pieced] " + l));
        assertEquals(List.of(), mismatches(lines, true));
    }

    /** last_insert_rowid() after a schema-changing string, pieced or run in one call. */
    @Test
    void lastInsertRowidAfterSchemaChangingStringsMatchesSqliteJdbc() throws Exception {
        List<String> lines = keysAndRowids(List.of(
                "INSERT INTO item (id, title) VALUES (43, 'b'); ALTER TABLE item ADD COLUMN extra TEXT;"
                        + " UPDATE item SET extra = 'x'",
                // one call (no write after the ADD: not cut)
                "INSERT INTO item (id, title) VALUES (44, 'b'); ALTER TABLE item ADD COLUMN extra TEXT"));
        lines.forEach(l -> System.out.println("[rowid] " + l));
        assertEquals(List.of(), mismatches(lines, false));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Two connections

    @Test
    void aSecondConnectionSeesTheColumnAndIsCapturedWithIt() throws Exception {
        Path f = file();
        try (Connection a = sync(f); Statement sa = a.createStatement()) {
            sa.execute(ITEM);
            sa.executeUpdate("INSERT INTO item (id, title) VALUES ('1', 'a')");
            try (Connection b = sync(f); Statement sb = b.createStatement();
                 PreparedStatement ins = b.prepareStatement("INSERT INTO item (id, title) VALUES (?, ?)")) {
                ins.setString(1, "0b");
                ins.setString(2, "pre");
                ins.executeUpdate();
                sa.executeUpdate(ADD_THEN_WRITE);
                // b: a prepared statement of before the ALTER, and new SQL naming the column
                ins.setString(1, "3");
                ins.setString(2, "c");
                ins.executeUpdate();
                sb.executeUpdate("UPDATE item SET extra = 'from b' WHERE id = '3'");
                b.setAutoCommit(false);
                sb.executeUpdate("INSERT INTO item (id, title, extra) VALUES ('4', 'd', 'w')");
                b.commit();
                b.setAutoCommit(true);
                assertEquals(List.of("id", "title", "qty", "extra"), columns(b, "item"));
            }
            assertEquals(rows(a), replayed(a), outbox(a).toString());
            List<String> o = outbox(a);
            assertEquals("2 [id,title,qty,extra] [\"3\",null,null,\"from b\",null]", o.get(o.size() - 2), o.toString());
        }
    }

    @Test
    void aSecondConnectionWritingWhileTheFirstAddsInATransaction() throws Exception {
        Path f = file();
        try (Connection a = sync(f); Statement sa = a.createStatement()) {
            sa.execute(ITEM);
            sa.executeUpdate("INSERT INTO item (id, title) VALUES ('1', 'a')");
            try (Connection b = sync(f); Statement sb = b.createStatement()) {
                a.setAutoCommit(false);
                sa.executeUpdate(ADD_THEN_WRITE);
                a.rollback();
                a.setAutoCommit(true);
                // b writes after a's rolled back migration: the old shape
                sb.executeUpdate("INSERT INTO item (id, title) VALUES ('7', 'g')");
                a.setAutoCommit(false);
                sa.executeUpdate(ADD_THEN_WRITE);
                a.commit();
                a.setAutoCommit(true);
                sb.executeUpdate("INSERT INTO item (id, title, extra) VALUES ('8', 'h', 'v')");
            }
            assertEquals(rows(a), replayed(a), outbox(a).toString());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Transactions: savepoints, SQL-opened transactions, refusal

    @Test
    void piecesInsideASavepointRolledBackThenCommit() throws Exception {
        try (Connection c = openSync(); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            Savepoint sp = c.setSavepoint("s");
            st.executeUpdate(ADD_THEN_WRITE);
            c.rollback(sp);
            st.executeUpdate("INSERT INTO item (id, title) VALUES ('3', 'c')");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("id", "title", "qty"), columns(c, "item"));
            assertFalse(insertTriggerSql(c).contains("extra"));
            assertEquals(List.of("1 [id,title,qty] [\"1\",\"a\",0,null,null]",
                    "1 [id,title,qty] [\"3\",\"c\",0,null,null]"), outbox(c));
        }
    }

    @Test
    void piecesInsideASqlBeginThenCommitOrRollback() throws Exception {
        List<String> problems = new ArrayList<>();
        for (String end : List.of("COMMIT", "ROLLBACK")) {
            try (Connection c = openSync(); Statement st = c.createStatement()) {
                st.execute("BEGIN");
                st.executeUpdate(ADD_THEN_WRITE);
                st.execute(end);
                st.executeUpdate("INSERT INTO item (id, title) VALUES ('3', 'c')");
                if (!replayed(c).equals(rows(c))) {
                    problems.add(end + ": outbox leads to " + replayed(c) + " table " + rows(c));
                }
                if (unstamped(c) != 0) {
                    problems.add(end + ": unstamped");
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void stringsThatManageTheTransactionAreRefusedOnlyWhenTheyDo() throws Exception {
        List<String> refused = List.of(
                ADD_THEN_WRITE + "; COMMIT",
                "BEGIN; " + ADD_THEN_WRITE + "; COMMIT",
                "SAVEPOINT a; " + ADD_THEN_WRITE + "; RELEASE a",
                ADD_THEN_WRITE + "; END TRANSACTION",
                "/* c */ begin immediate; " + ADD_THEN_WRITE + "; end");
        List<String> problems = new ArrayList<>();
        for (String sql : refused) {
            try (Connection c = openSync(); Statement st = c.createStatement()) {
                SQLException e = null;
                try {
                    st.executeUpdate(sql);
                } catch (SQLException t) {
                    e = t;
                }
                if (e == null || !"SY002".equals(e.getSQLState())) {
                    problems.add("not refused: " + sql + " (" + e + ")");
                } else if (!columns(c, "item").equals(List.of("id", "title", "qty"))) {
                    problems.add("refused but ran: " + sql);
                }
                if (!c.getAutoCommit() || count(c, "SELECT count(*) FROM item") != 1) {
                    problems.add("state after " + sql);
                }
            }
        }
        List<String> allowed = List.of(
                "ALTER TABLE item ADD COLUMN extra TEXT; CREATE TRIGGER trg AFTER INSERT ON scratch BEGIN"
                        + " UPDATE item SET extra = CASE WHEN NEW.tmp IS NULL THEN 'n' ELSE NEW.tmp END; END;"
                        + " INSERT INTO scratch (id, tmp) VALUES ('s', 'x'); UPDATE item SET title = 'b'",
                "ALTER TABLE item ADD COLUMN extra TEXT; UPDATE item SET extra = 'rollback; commit', title = \"title\"",
                "ALTER TABLE item ADD COLUMN extra TEXT; UPDATE item SET extra = 'x' -- COMMIT\n");
        for (String sql : allowed) {
            try (Connection c = openSync(); Statement st = c.createStatement()) {
                try {
                    st.executeUpdate(sql);
                    if (!replayed(c).equals(rows(c))) {
                        problems.add("allowed " + sql + ": outbox leads to " + replayed(c) + " table " + rows(c));
                    }
                } catch (SQLException e) {
                    problems.add("refused or failed: " + sql + " (" + e + ")");
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    // ---------------------------------------------------------------------------------------------------------
    // REPLACE in a file whose triggers log evictions: the string / batch runs in a transaction of the driver's

    private static final String UNIQUE_ITEM = "CREATE TABLE item (id TEXT PRIMARY KEY, title TEXT,"
            + " qty INTEGER NOT NULL DEFAULT 0, code TEXT UNIQUE)";

    @Test
    void severalStatementsAddThenReplaceInAFileWithUniqueKeys() throws Exception {
        runsAsPlainSqliteJdbc(st -> st.executeUpdate("ALTER TABLE item ADD COLUMN extra TEXT; INSERT OR REPLACE INTO item"
                + " (id, title, code, extra) VALUES ('2', 'b', 'k', 'y')"));
    }

    @Test
    void batchAddThenReplaceInAFileWithUniqueKeys() throws Exception {
        runsAsPlainSqliteJdbc(st -> {
            st.addBatch("ALTER TABLE item ADD COLUMN extra TEXT");
            st.addBatch("INSERT OR REPLACE INTO item (id, title, code, extra) VALUES ('2', 'b', 'k', 'y')");
            st.executeBatch();
        });
    }

    private interface StatementWork {
        void run(Statement st) throws SQLException;
    }

    /** {@code work} on a file of {@link #UNIQUE_ITEM} leaves the rows plain sqlite-jdbc leaves, and captures them all. */
    private void runsAsPlainSqliteJdbc(StatementWork work) throws Exception {
        List<String> plainRows;
        try (Connection c = openPlain(UNIQUE_ITEM); Statement st = c.createStatement()) {
            work.run(st);
            plainRows = rows(c);
        }
        try (Connection c = openSync(UNIQUE_ITEM); Statement st = c.createStatement()) {
            SQLException failed = null;
            try {
                work.run(st);
            } catch (SQLException e) {
                failed = e;
            }
            String state = "columns " + columns(c, "item") + " rows " + rows(c);
            if (failed != null) {
                st.executeUpdate("INSERT INTO item (id, title, extra) VALUES ('8', 'h', 'later')");
                state += "; a later insert of extra captured as " + outbox(c).get(outbox(c).size() - 1);
            }
            assertEquals(null, failed, "threw; afterwards " + state);
            assertEquals(plainRows, rows(c));
            assertEquals(rows(c), replayed(c), outbox(c).toString());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Lexer regressions

    @Test
    void sqlUsingDollarColonAtHashLegitimatelyStillWorksAndIsCaptured() throws Exception {
        try (Connection c = sync(file()); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id TEXT PRIMARY KEY, title TEXT, doc TEXT, a$b TEXT, qty INTEGER NOT NULL DEFAULT 0)");
            st.executeUpdate("INSERT INTO item (id, title, doc, a$b) VALUES ('1', 'item', '{\"a\":[7]}', '$x(')");
            st.executeUpdate("UPDATE item SET title = json_extract(doc, '$.a[0]'), a$b = 'v' WHERE id = '1'");
            st.executeUpdate("UPDATE item SET doc = json_set(doc, '$.b', 'x') WHERE json_extract(doc, '$.a[0]') = 7"
                    + " AND title <> ':t(' AND title <> '@u(' AND title <> '#v('");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO item (id, title, doc) VALUES (:id, @t, $d)")) {
                ps.setString(1, "2");
                ps.setString(2, "item");
                ps.setString(3, "d");
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("UPDATE item SET title = :t WHERE id = :id AND :id IS NOT NULL")) {
                ps.setString(1, "tt");
                ps.setString(2, "2");
                assertEquals(1, ps.executeUpdate());
            }
            st.executeUpdate("INSERT INTO item (id, title) VALUES ('item', 'item')");
            st.executeUpdate("UPDATE item SET qty = qty + 1 WHERE id = 'item'");
            assertEquals("{\"qty\":1}", text(c, "SELECT deltas FROM _sync_outbox WHERE tbl = 'item' ORDER BY seq DESC LIMIT 1"));
            st.executeUpdate("INSERT INTO 'item' (id, title) VALUES ('q', 'quoted name')");
            assertEquals(rows(c), replayed(c), outbox(c).toString());
            assertEquals(0, unstamped(c));
            assertEquals("7", text(c, "SELECT title FROM item WHERE id = '1'"));
            assertEquals("v", text(c, "SELECT a$b FROM item WHERE id = '1'"));
        }
    }

    @Test
    void stringNamedSavepointsTrackTheTransaction() throws Exception {
        List<String> problems = new ArrayList<>();
        for (String[] pair : List.of(new String[] {"SAVEPOINT 'sp'", "RELEASE 'sp'"},
                new String[] {"SAVEPOINT 'sp'", "RELEASE sp"},
                new String[] {"SAVEPOINT sp", "RELEASE SAVEPOINT 'sp'"},
                new String[] {"SAVEPOINT 'a b'", "RELEASE \"a b\""})) {
            try (Connection c = openSync(); Statement st = c.createStatement()) {
                st.execute(pair[0]);
                st.executeUpdate("INSERT INTO item (id, title) VALUES ('2', 'b')");
                st.execute(pair[1]);
                // the transaction is over: the capture is stamped, a new write commits alone
                if (unstamped(c) != 0) {
                    problems.add(Arrays.toString(pair) + ": not stamped at its release");
                }
                st.executeUpdate("INSERT INTO item (id, title) VALUES ('3', 'c')");
                try (Connection other = plain(dir.resolve("f" + (fresh - 1) + ".db"))) {
                    if (count(other, "SELECT count(*) FROM item") != 3) {
                        problems.add(Arrays.toString(pair) + ": another connection sees " + count(other, "SELECT count(*) FROM item"));
                    }
                }
                if (unstamped(c) != 0) {
                    problems.add(Arrays.toString(pair) + ": later write not stamped");
                }
            }
        }
        try (Connection c = openSync(); Statement st = c.createStatement()) {
            st.execute("SAVEPOINT 'outer'");
            st.executeUpdate("INSERT INTO item (id, title) VALUES ('2', 'b')");
            st.execute("SAVEPOINT 'inner'");
            st.executeUpdate("INSERT INTO item (id, title) VALUES ('3', 'c')");
            st.execute("ROLLBACK TO 'inner'");
            st.execute("RELEASE 'outer'");
            if (unstamped(c) != 0 || count(c, "SELECT count(*) FROM item") != 2) {
                problems.add("nested string savepoints: unstamped " + unstamped(c));
            }
            assertEquals(rows(c), replayed(c));
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void tclParametersInStringsAndStatementsAreReadAsSqliteReadsThem() throws Exception {
        try (Connection c = openSync(); Statement st = c.createStatement()) {
            // the forms in strings are plain strings; a write after them is still captured and classified
            st.executeUpdate("UPDATE item SET title = '$a(1)' || ':b(2)' || '@c(3)' || '#d(4)' WHERE id = '1'");
            assertEquals("$a(1):b(2)@c(3)#d(4)", text(c, "SELECT title FROM item"));
            // a several-statement string with a Tcl-style parameter holding a quote: SQLite fails it, nothing runs
            SQLException e = assertThrows(SQLException.class,
                    () -> st.executeUpdate("UPDATE item SET title = $a(') WHERE id = '1'; ALTER TABLE item RENAME COLUMN title TO t2"));
            assertEquals("SY002", e.getSQLState(), e.toString());
            assertEquals(List.of("id", "title", "qty"), columns(c, "item"));
            // an add then a write hidden after such a parameter: the write is still seen (cut, captured)
            assertEquals(rows(c), replayed(c), outbox(c).toString());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // More edges of the cut and the refusal

    /**
     * A temp table named item shadows unqualified names only: an ALTER of main.item names the synced table. The temp
     * table is created through the raw connection so that the driver's refresh after a CREATE does not run.
     */
    @Test
    @Disabled("known limit (DESIGN.md, DDL sync cannot follow): the refusal takes any unqualified-or-main name that a"
            + " temporary table shadows for the temporary table; SQLite itself fails these three (the capture triggers"
            + " name the dropped columns), so nothing changes")
    void aDropOrRenameOfMainItemIsRefusedWhileATempTableOfTheSameNameExists() throws Exception {
        List<String> problems = new ArrayList<>();
        for (String alter : List.of("ALTER TABLE main.item DROP COLUMN title", "ALTER TABLE main.item RENAME COLUMN title TO t2",
                "ALTER TABLE main.item RENAME TO items")) {
            try (Connection c = openSync(); Statement st = c.createStatement()) {
                try (Statement raw = c.unwrap(org.sqlite.SQLiteConnection.class).createStatement()) {
                    raw.execute("CREATE TEMP TABLE item (id TEXT PRIMARY KEY, title TEXT)");
                }
                SQLException e = null;
                try {
                    st.executeUpdate(alter);
                } catch (SQLException t) {
                    e = t;
                }
                if (e == null || !"SY002".equals(e.getSQLState())) {
                    problems.add(alter + ": " + (e == null ? "ran" : "not refused by the driver, SQLite failed it: " + e.getMessage())
                            + "; main tables " + text(c, "SELECT group_concat(name) FROM main.sqlite_master WHERE type = 'table'"
                            + " AND name NOT LIKE '\\_sync%' ESCAPE '\\'") + ", main.item columns "
                            + text(c, "SELECT group_concat(name) FROM pragma_table_info('item', 'main')"));
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    /** Creating (through the driver) a temp table named like a synced table must leave main.item's capture alone. */
    @Test
    void aTempTableNamedLikeTheSyncedTableLeavesMainItemCaptured() throws Exception {
        try (Connection c = openSync(); Statement st = c.createStatement()) {
            st.execute("CREATE TEMP TABLE item (id TEXT PRIMARY KEY, title TEXT)");
            long mainTriggers = count(c, "SELECT count(*) FROM main.sqlite_master WHERE type = 'trigger' AND name LIKE '\\_sync\\_%' ESCAPE '\\'");
            long tempTriggers = count(c, "SELECT count(*) FROM temp.sqlite_master WHERE type = 'trigger' AND name LIKE '\\_sync\\_%' ESCAPE '\\'");
            st.executeUpdate("INSERT INTO main.item (id, title) VALUES ('2', 'b')");
            st.executeUpdate("INSERT INTO item (id, title) VALUES ('t', 'temp row')");
            assertEquals(List.of("1 [id,title,qty] [\"1\",\"a\",0,null,null]", "1 [id,title,qty] [\"2\",\"b\",0,null,null]"),
                    outbox(c), "capture triggers on main: " + mainTriggers + ", on temp: " + tempTriggers);
        }
    }

    /** A DELETE after the ADD is not cut after, though a trigger it fires may write the new column. */
    @Test
    void aDeleteWhoseTriggerWritesTheNewColumnIsCaptured() throws Exception {
        try (Connection c = openSync(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO scratch (id, tmp) VALUES ('s', 'from trigger')");
            // the application's trigger (columns of a trigger body are resolved when it runs)
            st.execute("CREATE TRIGGER scratch_gone AFTER DELETE ON scratch BEGIN UPDATE item SET extra = OLD.tmp; END");
            st.executeUpdate("ALTER TABLE item ADD COLUMN extra TEXT; DELETE FROM scratch WHERE id = 's'");
            assertEquals("[[\"1\",\"a\",0,\"from trigger\"]]", rows(c).toString());
            assertEquals(rows(c), replayed(c), outbox(c).toString());
        }
    }

    /** A guard trigger with RAISE(ROLLBACK) created in the migration: the string does not manage the transaction. */
    @Test
    void aRollbackInsideATriggerBodyOrAnOrRollbackIsNotTransactionControl() throws Exception {
        List<String> problems = new ArrayList<>();
        for (String sql : List.of(
                "ALTER TABLE item ADD COLUMN extra TEXT; CREATE TRIGGER guard BEFORE INSERT ON scratch WHEN NEW.tmp = 'bad'"
                        + " BEGIN SELECT RAISE(ROLLBACK, 'no'); END; UPDATE item SET extra = 'x'",
                "ALTER TABLE item ADD COLUMN extra TEXT; INSERT OR ROLLBACK INTO item (id, title, extra) VALUES ('2', 'b', 'y')")) {
            try (Connection c = openSync(); Statement st = c.createStatement()) {
                try {
                    st.executeUpdate(sql);
                    if (!replayed(c).equals(rows(c))) {
                        problems.add(sql + ": outbox leads to " + replayed(c) + " table " + rows(c));
                    }
                } catch (SQLException e) {
                    problems.add(sql + ": " + e.getSQLState() + " " + e.getMessage());
                }
            }
            try (Connection c = openPlain(); Statement st = c.createStatement()) {
                st.executeUpdate(sql); // sqlite-jdbc runs it
            }
        }
        assertEquals(List.of(), problems);
    }

    /** A counter entry after the schema change: its amounts and the new column both reach the outbox. */
    @Test
    void aCounterBatchAfterTheAddKeepsItsAmountsAndTheNewColumn() throws Exception {
        for (boolean auto : new boolean[] {true, false}) {
            try (Connection c = openSync(); Statement st = c.createStatement()) {
                c.setAutoCommit(auto);
                st.addBatch("ALTER TABLE item ADD COLUMN extra TEXT");
                st.addBatch("UPDATE item SET qty = qty + 2, extra = 'x' WHERE id = '1'");
                st.addBatch("UPDATE item SET qty = qty + 3 WHERE id = '1'");
                long[] counts = Arrays.stream(st.executeBatch()).asLongStream().toArray();
                if (!auto) {
                    c.commit();
                }
                System.out.println("[counter batch] auto " + auto + " counts " + Arrays.toString(counts));
                List<String> o = outbox(c);
                assertEquals(List.of("1 [id,title,qty] [\"1\",\"a\",0,null,null]",
                        "2 [id,title,qty,extra] [\"1\",null,2,\"x\",null]",
                        "2 [id,title,qty,extra] [\"1\",null,5,null,null]"), o, "auto " + auto);
                try (ResultSet rs = st.executeQuery("SELECT deltas FROM _sync_outbox WHERE tbl = 'item' AND op = 2 ORDER BY seq")) {
                    assertTrue(rs.next());
                    assertEquals("{\"qty\":2}", rs.getString(1));
                    assertTrue(rs.next());
                    assertEquals("{\"qty\":3}", rs.getString(1));
                }
            }
        }
    }

    /** A table created (and so synced) earlier in the same transaction is cut after too. */
    @Test
    void aTableCreatedEarlierInTheTransactionIsCutAfter() throws Exception {
        for (boolean commit : new boolean[] {true, false}) {
            try (Connection c = sync(file()); Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                st.execute(ITEM);
                st.executeUpdate("INSERT INTO item (id, title) VALUES ('1', 'a')");
                st.executeUpdate(ADD_THEN_WRITE);
                if (commit) {
                    c.commit();
                } else {
                    c.rollback();
                }
                c.setAutoCommit(true);
                if (commit) {
                    assertEquals(ADD_THEN_WRITE_OUTBOX, outbox(c));
                } else {
                    assertEquals(0, count(c, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%item%'"));
                    st.execute(ITEM);
                    st.executeUpdate("INSERT INTO item (id, title) VALUES ('z', 'z')");
                    assertEquals(List.of("1 [id,title,qty] [\"z\",\"z\",0,null,null]"), outbox(c));
                }
            }
        }
    }

    /** Spellings of the synced table in the ALTER: each is cut after. */
    @Test
    void everySpellingOfTheTableIsCutAfter() throws Exception {
        List<String> problems = new ArrayList<>();
        for (String name : List.of("item", "ITEM", "\"item\"", "[item]", "`item`", "'item'", "main.item", "\"main\".\"item\"",
                "/* x */ item")) {
            try (Connection c = openSync(); Statement st = c.createStatement()) {
                st.executeUpdate("ALTER TABLE " + name + " ADD COLUMN extra TEXT DEFAULT ';'; UPDATE item SET extra = 'x'");
                List<String> o = outbox(c);
                if (!o.get(o.size() - 1).equals("2 [id,title,qty,extra] [\"1\",null,null,\"x\",null]")) {
                    problems.add(name + ": " + o);
                }
            }
        }
        assertEquals(List.of(), problems);
    }
}
