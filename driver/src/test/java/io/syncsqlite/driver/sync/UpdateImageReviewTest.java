package io.syncsqlite.driver.sync;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.protocol.ChangeKind;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.RowChange;
import org.junit.jupiter.api.Test;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of be2ad50: an update's capture stores the key and the changed columns only (NULL in the others, the
 * mask telling them apart). What is sent, what the pending overlay keeps and what a rejection reverts must be
 * as before: the changed columns (a NULL written included), the local columns kept over the feed, all columns
 * back to the server's values.
 */
class UpdateImageReviewTest extends LocalStoreFixture {

    private static final int WIDE = 20;   // JSON capture through json_object (more than 16 columns)
    private static final int WIDER = 60;  // JSON capture spelled out as text (more than 50 columns)

    @Override
    List<String> schema() {
        return List.of(
                "CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT, priority INTEGER, score REAL, data BLOB, note TEXT)",
                wideTable("wide", WIDE),
                wideTable("wider", WIDER),
                "CREATE TABLE person (id TEXT PRIMARY KEY, name TEXT COLLATE NOCASE, code TEXT COLLATE RTRIM, v)");
    }

    private static String wideTable(String name, int columns) {
        StringJoiner j = new StringJoiner(", ", "CREATE TABLE " + name + " (id INTEGER PRIMARY KEY, ", ")");
        for (int i = 1; i < columns; i++) {
            j.add("c" + i + " TEXT");
        }
        return j.toString();
    }

    private static String wideInsert(String name, int columns, int id, String prefix) {
        StringJoiner cols = new StringJoiner(", ", "INSERT INTO " + name + " (id, ", ")");
        StringJoiner vals = new StringJoiner(", ", " VALUES (" + id + ", ", ")");
        for (int i = 1; i < columns; i++) {
            cols.add("c" + i);
            vals.add("'" + prefix + i + "'");
        }
        return cols + vals.toString();
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private List<RowChange> changes() throws SQLException {
        List<RowChange> out = new ArrayList<>();
        for (ClientTx tx : store.pendingAfter(0, 10_000, true)) {
            out.addAll(tx.changes());
        }
        return out;
    }

    private RowChange last() throws SQLException {
        List<RowChange> all = changes();
        return all.get(all.size() - 1);
    }

    private long outboxRows() throws SQLException {
        return appLong("SELECT count(*) FROM _sync_outbox WHERE op <> 0");
    }

    private String task(String id) throws SQLException {
        try (Statement st = app.createStatement();
             ResultSet rs = st.executeQuery("SELECT title, priority, score, hex(data), note FROM task WHERE id = '" + id + "'")) {
            return rs.next() ? rs.getString(1) + "|" + rs.getObject(2) + "|" + rs.getObject(3) + "|" + rs.getString(4)
                    + "|" + rs.getString(5) : "absent";
        }
    }

    private String wideRow(String table, int columns, int id) throws SQLException {
        StringJoiner sel = new StringJoiner(" || '|' || ", "SELECT ", " FROM " + table + " WHERE id = " + id);
        for (int i = 1; i < columns; i++) {
            sel.add("coalesce(c" + i + ", 'NULL')");
        }
        try (Statement st = app.createStatement(); ResultSet rs = st.executeQuery(sel.toString())) {
            return rs.next() ? rs.getString(1) : "absent";
        }
    }

    private static String wideValues(int columns, String prefix, String... overrides) {
        StringJoiner j = new StringJoiner("|");
        for (int i = 1; i < columns; i++) {
            String v = prefix + i;
            for (int k = 0; k < overrides.length; k += 2) {
                if (overrides[k].equals("c" + i)) {
                    v = overrides[k + 1];
                }
            }
            j.add(v);
        }
        return j.toString();
    }

    private static FeedEntry taskRow(long seq, String id, String title, Integer priority, Double score, String dataHex,
                                     String note) throws Exception {
        ObjectNode row = json("{}");
        row.put("id", id);
        row.put("title", title);
        if (priority == null) {
            row.putNull("priority");
        } else {
            row.put("priority", priority);
        }
        if (score == null) {
            row.putNull("score");
        } else {
            row.put("score", score);
        }
        row.put("data", dataHex == null ? null : "\\x" + dataHex);
        row.put("note", note);
        return new FeedEntry(seq, "task", FeedKind.UPSERT, json("{\"id\":\"" + id + "\"}"), row, 1);
    }

    private static FeedEntry wideFeed(String table, int columns, long seq, int id, String prefix) throws Exception {
        ObjectNode row = json("{}");
        row.put("id", id);
        for (int i = 1; i < columns; i++) {
            row.put("c" + i, prefix + i);
        }
        return new FeedEntry(seq, table, FeedKind.UPSERT, json("{\"id\":" + id + "}"), row, 1);
    }

    private void serverTask() throws Exception {
        store.applyFeed(List.of(taskRow(1, "t1", "server", 1, 1.5, "0A0B", "n")), 1);
    }

    // ------------------------------------------------------------------------------------------------ what is sent

    @Test
    void typedUpdateSendsTheChangedColumnsOnly() throws Exception {
        serverTask();
        exec("UPDATE task SET title = 'b', score = 2.5 WHERE id = 't1'");
        RowChange c = last();
        assertEquals(ChangeKind.UPDATE, c.kind());
        assertEquals("{\"id\":\"t1\"}", c.pk().toString());
        assertEquals("{\"title\":\"b\",\"score\":2.5}", c.values().toString());
    }

    @Test
    void aNullWrittenIsSentAndUnchangedColumnsAreNot() throws Exception {
        serverTask();
        exec("UPDATE task SET note = NULL, data = NULL WHERE id = 't1'");
        assertEquals("{\"data\":null,\"note\":null}", last().values().toString());
        exec("UPDATE task SET note = '' WHERE id = 't1'");
        assertEquals("{\"note\":\"\"}", last().values().toString(), "an empty string from NULL");
        exec("UPDATE task SET data = x'' WHERE id = 't1'");
        assertEquals("{\"data\":\"\\\\x\"}", last().values().toString(), "empty bytes from NULL");
        exec("UPDATE task SET data = x'00FF', priority = NULL WHERE id = 't1'");
        assertEquals("{\"priority\":null,\"data\":\"\\\\x00FF\"}", last().values().toString());
        exec("UPDATE task SET priority = 0 WHERE id = 't1'");
        assertEquals("{\"priority\":0}", last().values().toString(), "0 from NULL");
    }

    @Test
    void nanAndInfinityWrittenToARealColumnAreSent() throws Exception {
        serverTask();
        try (PreparedStatement ps = app.prepareStatement("UPDATE task SET score = ? WHERE id = 't1'")) {
            ps.setDouble(1, Double.NaN); // SQLite stores NaN as NULL
            ps.executeUpdate();
            assertEquals("{\"score\":null}", last().values().toString());
            ps.setDouble(1, Double.POSITIVE_INFINITY);
            ps.executeUpdate();
            assertEquals(1, changes().get(changes().size() - 1).values().size());
            assertTrue(last().values().get("score").decimalValue().compareTo(new java.math.BigDecimal("1E+308")) > 0,
                    last().values().toString());
        }
    }

    @Test
    void anUpdateThatChangesNothingIsNotCaptured() throws Exception {
        serverTask();
        long before = outboxRows();
        exec("UPDATE task SET title = title, data = data, score = 1.5 WHERE id = 't1'");
        assertEquals(before, outboxRows());
    }

    @Test
    void storageClassChangesInAnUntypedColumnAreSent() throws Exception {
        exec("INSERT INTO person (id, name, code, v) VALUES ('p1', 'bob', 'x', 1)");
        exec("UPDATE person SET v = '1' WHERE id = 'p1'");
        assertEquals("{\"v\":\"1\"}", last().values().toString());
        exec("UPDATE person SET v = x'01' WHERE id = 'p1'");
        assertEquals("{\"v\":\"\\\\x01\"}", last().values().toString());
    }

    @Test
    void aCaseOnlyChangeInANocaseColumnIsSent() throws Exception {
        // The feed side compares byte for byte (LocalStore.upsertSql); a capture that compares with the column's
        // collation never sends 'BOB' and the device keeps it alone for ever.
        exec("INSERT INTO person (id, name, code, v) VALUES ('p1', 'bob', 'x', 1)");
        exec("UPDATE person SET name = 'BOB', v = 2 WHERE id = 'p1'");
        assertEquals("{\"name\":\"BOB\",\"v\":2}", last().values().toString());
    }

    @Test
    void trailingSpacesAddedInAnRtrimColumnAreSent() throws Exception {
        exec("INSERT INTO person (id, name, code, v) VALUES ('p1', 'bob', 'x', 1)");
        exec("UPDATE person SET code = 'x  ' WHERE id = 'p1'");
        assertEquals("{\"code\":\"x  \"}", last().values().toString(), "trailing spaces, RTRIM column");
    }

    @Test
    void wideTableUpdateSendsOneColumnAndANullWritten() throws Exception {
        exec(wideInsert("wide", WIDE, 1, "a"));
        exec("UPDATE wide SET c7 = 'x' WHERE id = 1");
        RowChange c = last();
        assertEquals("{\"id\":1}", c.pk().toString());
        assertEquals("{\"c7\":\"x\"}", c.values().toString());
        exec("UPDATE wide SET c8 = NULL, c19 = 'z' WHERE id = 1");
        assertEquals("{\"c8\":null,\"c19\":\"z\"}", last().values().toString());
    }

    @Test
    void widerTableUpdateSendsOneColumnAndANullWritten() throws Exception {
        exec(wideInsert("wider", WIDER, 1, "a"));
        exec("UPDATE wider SET c55 = 'x' WHERE id = 1");
        RowChange c = last();
        assertEquals("{\"id\":1}", c.pk().toString());
        assertEquals("{\"c55\":\"x\"}", c.values().toString());
        exec("UPDATE wider SET c1 = NULL, c59 = '' WHERE id = 1");
        assertEquals("{\"c1\":null,\"c59\":\"\"}", last().values().toString());
    }

    @Test
    void severalUpdatesOfOneRowInOneTransactionEachSendTheirColumns() throws Exception {
        serverTask();
        app.setAutoCommit(false);
        exec("UPDATE task SET title = 'one' WHERE id = 't1'");
        exec("UPDATE task SET priority = 2 WHERE id = 't1'");
        exec("UPDATE task SET title = NULL, note = 'x' WHERE id = 't1'");
        app.commit();
        app.setAutoCommit(true);
        List<RowChange> all = changes();
        assertEquals(3, all.size());
        assertEquals("{\"title\":\"one\"}", all.get(0).values().toString());
        assertEquals("{\"priority\":2}", all.get(1).values().toString());
        assertEquals("{\"title\":null,\"note\":\"x\"}", all.get(2).values().toString());
    }

    @Test
    void aKeyChangeStillSendsTheWholeRow() throws Exception {
        serverTask();
        exec("UPDATE task SET id = 't2', title = 'moved' WHERE id = 't1'");
        List<RowChange> all = changes();
        assertEquals(2, all.size());
        assertEquals(ChangeKind.DELETE, all.get(0).kind());
        assertEquals(ChangeKind.INSERT, all.get(1).kind());
        assertEquals("{\"id\":\"t2\",\"title\":\"moved\",\"priority\":1,\"score\":1.5,\"data\":\"\\\\x0A0B\",\"note\":\"n\"}",
                all.get(1).values().toString());
    }

    @Test
    void aCounterBumpTogetherWithAnotherColumnSendsBothAndTheAmount() throws Exception {
        serverTask();
        try (PreparedStatement ps = app.prepareStatement("UPDATE task SET priority = priority + ?, note = ? WHERE id = 't1'")) {
            ps.setInt(1, 5);
            ps.setString(2, "bumped");
            ps.executeUpdate();
        }
        RowChange c = last();
        assertEquals("{\"priority\":6,\"note\":\"bumped\"}", c.values().toString());
        assertEquals("{\"priority\":5}", c.deltas().toString());
        // Another client added 100 and changed the title: ours stays on top of it, the title is theirs.
        store.applyFeed(List.of(taskRow(2, "t1", "theirs", 101, 1.5, "0A0B", "n")), 2);
        assertEquals("theirs|106|1.5|0A0B|bumped", task("t1"));
    }

    @Test
    void anApplicationTriggerThatWritesAnotherColumnOfTheRowIsSent() throws Exception {
        serverTask();
        exec("CREATE TRIGGER app_note AFTER UPDATE OF title ON task BEGIN"
                + " UPDATE task SET note = 'seen ' || NEW.title WHERE id = NEW.id; END");
        for (String recursive : List.of("OFF", "ON")) {
            exec("PRAGMA recursive_triggers = " + recursive);
            exec("UPDATE task SET title = 'T" + recursive + "' WHERE id = 't1'");
            assertEquals("T" + recursive + "|1|1.5|0A0B|seen T" + recursive, task("t1"));
            ObjectNode merged = json("{}");
            for (RowChange c : changes()) {
                merged.setAll(c.values());
            }
            assertEquals("T" + recursive, merged.get("title").asText(), recursive);
            assertEquals("seen T" + recursive, merged.get("note").asText(), recursive);
        }
    }

    // ------------------------------------------------------------------------------------------------ the overlay

    @Test
    void theFeedKeepsPendingColumnsAndTakesTheOthersTyped() throws Exception {
        serverTask();
        exec("UPDATE task SET title = 'mine', note = NULL WHERE id = 't1'");
        store.applyFeed(List.of(taskRow(2, "t1", "theirs", 9, 9.5, "0C", "theirs")), 2);
        assertEquals("mine|9|9.5|0C|null", task("t1"));
    }

    @Test
    void theFeedKeepsPendingColumnsAndTakesTheOthersInTheOpenTransaction() throws Exception {
        serverTask();
        app.setAutoCommit(false);
        exec("UPDATE task SET priority = 3 WHERE id = 't1'");
        // the sync client's apply waits for the application's transaction; committed first, then applied
        app.commit();
        app.setAutoCommit(true);
        exec("UPDATE task SET score = NULL WHERE id = 't1'");
        store.applyFeed(List.of(taskRow(2, "t1", "theirs", 9, 9.5, "0C", "theirs")), 2);
        assertEquals("theirs|3|null|0C|theirs", task("t1"));
    }

    @Test
    void theFeedKeepsPendingColumnsAndTakesTheOthersWide() throws Exception {
        store.applyFeed(List.of(wideFeed("wide", WIDE, 1, 1, "s")), 1);
        exec("UPDATE wide SET c3 = 'mine', c4 = NULL WHERE id = 1");
        store.applyFeed(List.of(wideFeed("wide", WIDE, 2, 1, "r")), 2);
        assertEquals(wideValues(WIDE, "r", "c3", "mine", "c4", "NULL"), wideRow("wide", WIDE, 1));
    }

    @Test
    void theFeedKeepsPendingColumnsAndTakesTheOthersWider() throws Exception {
        store.applyFeed(List.of(wideFeed("wider", WIDER, 1, 1, "s")), 1);
        exec("UPDATE wider SET c30 = 'mine', c59 = NULL WHERE id = 1");
        store.applyFeed(List.of(wideFeed("wider", WIDER, 2, 1, "r")), 2);
        assertEquals(wideValues(WIDER, "r", "c30", "mine", "c59", "NULL"), wideRow("wider", WIDER, 1));
    }

    // ------------------------------------------------------------------------------------------------ rejections

    @Test
    void aRejectedUpdateComesBackToTheServersValuesInEveryColumn() throws Exception {
        serverTask();
        exec("UPDATE task SET title = 'refused', note = NULL WHERE id = 't1'");
        List<ClientTx> txs = store.pendingAfter(0, 100, true);
        // The server's row has moved on meanwhile in a column the refused update did not change.
        List<RowChange> refused = store.reject(txs.get(0).id(), List.of(taskRow(0, "t1", "server", 7, 1.5, "0A0B", "n")));
        assertEquals(1, refused.size());
        assertEquals("{\"title\":\"refused\",\"note\":null}", refused.get(0).values().toString());
        assertEquals("server|7|1.5|0A0B|n", task("t1"));
    }

    @Test
    void aRejectedUpdateIsRevertedAlsoAfterAFeedBatchCameInBetween() throws Exception {
        serverTask();
        exec("UPDATE task SET title = 'refused', priority = 500 WHERE id = 't1'");
        // A feed batch about another row arrives while the transaction waits for its answer (the sync client
        // applies the feed as it comes): the pending overlay is built now and holds the refused columns.
        store.applyFeed(List.of(taskRow(2, "t2", "other", 1, null, null, null)), 2);
        List<ClientTx> txs = store.pendingAfter(0, 100, true);
        store.reject(txs.get(0).id(), List.of(taskRow(0, "t1", "server", 1, 1.5, "0A0B", "n")));
        assertEquals("server|1|1.5|0A0B|n", task("t1"));
        assertEquals(0, store.pendingAfter(0, 100, true).size());
    }

    @Test
    void aRejectedWideUpdateComesBackToTheServersValuesInEveryColumn() throws Exception {
        store.applyFeed(List.of(wideFeed("wide", WIDE, 1, 1, "s")), 1);
        exec("UPDATE wide SET c2 = 'refused', c5 = NULL WHERE id = 1");
        List<ClientTx> txs = store.pendingAfter(0, 100, true);
        store.reject(txs.get(0).id(), List.of(wideFeed("wide", WIDE, 0, 1, "r")));
        assertEquals(wideValues(WIDE, "r"), wideRow("wide", WIDE, 1));
    }

    // ------------------------------------------------------------------------------------------------ older rows

    @Test
    void fullImagesWrittenBeforeTheChangeAndNewRowsReadTheSame() throws Exception {
        serverTask();
        long layout = appLong("SELECT max(id) FROM _sync_layouts WHERE tbl = 'task'");
        // As a driver before be2ad50 captured updates: every column's value, the mask naming the changed ones.
        try (Statement st = client.createStatement()) {
            st.execute("INSERT INTO _sync_outbox (tbl, op, layout, v0, v1, v2, v3, v4, v5, changed) VALUES"
                    + " ('task', 2, " + layout + ", 't1', 'old full', 1, 1.5, x'0A0B', 'n', '010000')");
            st.execute("INSERT INTO _sync_outbox (tbl, op, pk, vals, changed) VALUES ('wide', 2, '{\"id\":1}', '"
                    + "{\"id\":1" + "," + jsonWide(WIDE, "s", "c2", "legacy") + "}', '001" + "0".repeat(WIDE - 3) + "')");
        }
        store.stampOrphans();
        exec("UPDATE task SET note = 'new' WHERE id = 't1'");
        List<RowChange> all = changes();
        assertEquals(3, all.size(), all.toString());
        assertEquals("{\"title\":\"old full\"}", all.get(0).values().toString());
        assertEquals("{\"c2\":\"legacy\"}", all.get(1).values().toString());
        assertEquals("{\"note\":\"new\"}", all.get(2).values().toString());
        // and the overlay keeps exactly those columns
        store.applyFeed(List.of(taskRow(2, "t1", "theirs", 9, 9.5, "0C", "theirs")), 2);
        assertEquals("server|9|9.5|0C|new", task("t1"));
    }

    private static String jsonWide(int columns, String prefix, String col, String value) {
        StringJoiner j = new StringJoiner(",");
        for (int i = 1; i < columns; i++) {
            j.add("\"c" + i + "\":\"" + (("c" + i).equals(col) ? value : prefix + i) + "\"");
        }
        return j.toString();
    }

    @Test
    void theOutboxDoesNotCopyUnchangedLargeValues() throws Exception {
        byte[] big = new byte[100_000];
        try (PreparedStatement ps = app.prepareStatement("INSERT INTO task (id, title, data) VALUES ('big', 'a', ?)")) {
            ps.setBytes(1, big);
            ps.executeUpdate();
        }
        exec("UPDATE task SET priority = 1 WHERE id = 'big'");
        exec("UPDATE task SET priority = 2 WHERE id = 'big'");
        assertTrue(appLong("SELECT coalesce(sum(length(v4)), 0) FROM _sync_outbox WHERE op = 2") == 0,
                "an update of another column stored the BLOB");
    }
}
