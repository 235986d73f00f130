package io.syncsqlite.driver.sync;

import io.syncsqlite.driver.capture.ApplyGuard;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.RowChange;
import org.junit.jupiter.api.Test;

import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sync client's local side against a real SQLite file: the overlay of pending writes, acknowledgement,
 * pruning and reverting, driven with feed entries as the relay would send them.
 */
class LocalStoreTest extends LocalStoreFixture {

    @Override
    List<String> schema() {
        return List.of("CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT NOT NULL, priority INTEGER, done BOOLEAN NOT NULL DEFAULT 0)",
                // Columns whose comparison is not byte for byte: a case-insensitive name, a right-trimmed code, an
                // untyped column (no affinity: 1 and 1.0 stay different storage classes).
                "CREATE TABLE person (id TEXT PRIMARY KEY, name TEXT COLLATE NOCASE, code TEXT COLLATE RTRIM, v)",
                "CREATE TABLE tag (id TEXT PRIMARY KEY, name TEXT UNIQUE)");
    }

    private String row(String id) throws SQLException {
        try (Statement st = app.createStatement();
             ResultSet rs = st.executeQuery("SELECT title, priority, done FROM task WHERE id = '" + id + "'")) {
            return rs.next() ? rs.getString(1) + "|" + rs.getObject(2) + "|" + rs.getInt(3) : "absent";
        }
    }

    private long outboxRows() throws SQLException {
        return appLong("SELECT count(*) FROM _sync_outbox WHERE op <> 0");
    }

    private static FeedEntry upsert(long seq, String id, String title, int priority, boolean done) throws Exception {
        return new FeedEntry(seq, "task", FeedKind.UPSERT, json("{\"id\":\"" + id + "\"}"),
                json("{\"id\":\"" + id + "\",\"title\":\"" + title + "\",\"priority\":" + priority + ",\"done\":" + done + "}"), 1);
    }

    @Test
    void pendingColumnsKeepTheirLocalValueAndTheRestIsApplied() throws Exception {
        store.applyFeed(List.of(upsert(5, "t1", "server title", 1, false)), 5);
        exec("UPDATE task SET title = 'edited offline' WHERE id = 't1'");
        assertEquals(1, store.pendingAfter(0, 100, true).size());
        // Another client's change to the same row arrives before ours is acknowledged.
        List<RemoteChange> changed = store.applyFeed(List.of(upsert(10, "t1", "server title", 7, true)), 10);
        assertEquals("edited offline|7|1", row("t1"));
        assertEquals(1, changed.size());
        assertEquals("task", changed.get(0).table());
        assertEquals("t1", changed.get(0).key().get("id").asText());
        assertEquals(1, outboxRows(), "the apply itself is not captured as a local change");
        assertEquals(10, store.cursor());
    }

    /**
     * One batch of one table whose rows differ in what their upsert must be: a row with a pending column between
     * rows without, a row naming fewer columns, a row naming them in another order. Each row gets its own
     * statement, not the one the row before it used (LocalStore keeps the last one to skip a lookup).
     */
    @Test
    void rowsOfOneTableNeedingDifferentUpsertsInOneBatchEachGetTheirOwn() throws Exception {
        store.applyFeed(List.of(upsert(1, "p", "server p", 1, false), upsert(1, "b", "old b", 1, false)), 1);
        exec("UPDATE task SET title = 'local p' WHERE id = 'p'");
        List<RemoteChange> changed = store.applyFeed(List.of(
                upsert(2, "a", "server a", 1, false),
                upsert(2, "p", "server p2", 2, true),
                upsert(2, "b", "server b", 3, false),
                new FeedEntry(2, "task", FeedKind.UPSERT, json("{\"id\":\"c\"}"),
                        json("{\"id\":\"c\",\"title\":\"server c\"}"), 1),
                new FeedEntry(2, "task", FeedKind.UPSERT, json("{\"id\":\"d\"}"),
                        json("{\"done\":true,\"priority\":9,\"title\":\"server d\",\"id\":\"d\"}"), 1),
                upsert(2, "a", "server a2", 4, true)), 2);
        assertEquals(6, changed.size());
        assertEquals("server a2|4|1", row("a"));
        assertEquals("local p|2|1", row("p"), "the pending title kept, the rest applied");
        assertEquals("server b|3|0", row("b"), "the row after the pending one takes the server's title too");
        assertEquals("server c|null|0", row("c"), "fewer columns: the others take their defaults");
        assertEquals("server d|9|1", row("d"), "columns in another order");
    }

    private static FeedEntry tag(long seq, String id, String name) throws Exception {
        return new FeedEntry(seq, "tag", FeedKind.UPSERT, json("{\"id\":\"" + id + "\"}"),
                json("{\"id\":\"" + id + "\",\"name\":\"" + name + "\"}"), 1);
    }

    private String tags() throws SQLException {
        try (Statement st = app.createStatement();
             ResultSet rs = st.executeQuery("SELECT group_concat(id || '=' || name, ',') FROM (SELECT * FROM tag ORDER BY id)")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /**
     * A feed row in the middle of a batch that collides with a pending local row on a UNIQUE column: the server's
     * row replaces the local one (the local row's push will be rejected and reverted), the rows before and after
     * it are applied in order, and every row that changed something is reported once.
     */
    @Test
    void aRowCollidingWithAPendingLocalRowInTheMiddleOfABatchLeavesTheOthersApplied() throws Exception {
        store.applyFeed(List.of(tag(1, "a", "old a")), 1);
        exec("INSERT INTO tag (id, name) VALUES ('local', 'red')");
        List<RemoteChange> changed = store.applyFeed(List.of(
                tag(2, "a", "new a"),
                tag(2, "b", "blue"),
                tag(2, "server", "red"),
                tag(2, "c", "green"),
                tag(2, "a", "newer a")), 2);
        assertEquals("a=newer a,b=blue,c=green,server=red", tags(), "the local row gave way to the server's");
        assertEquals(List.of("a", "b", "server", "c", "a"), changed.stream().map(c -> c.key().get("id").asText()).toList());
        assertEquals(2, store.cursor());
        assertEquals(2, store.applyFeed(List.of(tag(3, "b", "navy"), tag(3, "d", "white")), 3).size());
        assertEquals("a=newer a,b=navy,c=green,d=white,server=red", tags());
    }

    /**
     * Capture triggers written into the file by an older syncsqlite sharing it have no guard for the sync client's
     * applies: what they capture during an apply is deleted before the apply commits, so it never travels back.
     */
    @Test
    void whatTriggersWithoutTheApplyGuardCaptureDuringAnApplyIsDeletedWithIt() throws Exception {
        try (Statement st = client.createStatement()) {
            List<String[]> triggers = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'task'")) {
                while (rs.next()) {
                    triggers.add(new String[]{rs.getString(1), rs.getString(2)});
                }
            }
            assertEquals(4, triggers.size());
            for (String[] t : triggers) {
                assertTrue(t[1].contains(ApplyGuard.TEXT), t[1]);
                st.execute("DROP TRIGGER \"" + t[0] + "\"");
                st.execute(ApplyGuard.without(t[1]));
            }
        }
        long before = outboxRows();
        List<RemoteChange> changed = store.applyFeed(List.of(upsert(1, "t1", "from the server", 1, false),
                upsert(1, "t2", "also", 2, true)), 1);
        assertEquals(2, changed.size());
        assertEquals("from the server|1|0", row("t1"));
        assertEquals(before, outboxRows(), "nothing of the apply is left to be pushed");
        exec("UPDATE task SET title = 'local' WHERE id = 't1'");
        assertEquals(before + 1, outboxRows(), "the application's own writes are captured");
    }

    @Test
    void aFeedRowThatTheFileAlreadyHoldsIsNotWrittenAgain() throws Exception {
        store.applyFeed(List.of(upsert(1, "t1", "same", 3, true)), 1);
        try (Statement st = client.createStatement()) {
            st.execute("CREATE TABLE rewrites (id TEXT)");
            st.execute("CREATE TRIGGER count_rewrites AFTER UPDATE ON task BEGIN INSERT INTO rewrites VALUES (NEW.id); END");
        }
        // The echo of a row as it already is (the usual case: a client's own write coming back).
        assertEquals(List.of(), store.applyFeed(List.of(upsert(2, "t1", "same", 3, true)), 2));
        assertEquals(2, store.cursor());
        List<RemoteChange> changed = store.applyFeed(List.of(upsert(3, "t1", "same", 4, true)), 3);
        assertEquals(1, changed.size());
        assertEquals("same|4|1", row("t1"));
        try (Statement st = app.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM rewrites")) {
            rs.next();
            assertEquals(1, rs.getInt(1), "only the row that differed was written");
        }
    }

    @Test
    void aServerValueThatOnlyCompareEqualsTheLocalOneIsStillWritten() throws Exception {
        store.applyFeed(List.of(person(1, "Bob", "x", "1")), 1);
        assertEquals(1, store.applyFeed(List.of(person(2, "bob", "x", "1")), 2).size(), "case only, NOCASE column");
        assertEquals(1, store.applyFeed(List.of(person(3, "bob", "x  ", "1")), 3).size(), "trailing spaces, RTRIM column");
        assertEquals(1, store.applyFeed(List.of(person(4, "bob", "x  ", "1.0")), 4).size(), "1 then 1.0, untyped column");
        try (Statement st = app.createStatement();
             ResultSet rs = st.executeQuery("SELECT name, quote(code), typeof(v), v / 2 FROM person WHERE id = 'p1'")) {
            rs.next();
            // Another file that received only the last entry holds exactly this: v / 2 is 0.5 there too.
            assertEquals("bob|'x  '|real|0.5", rs.getString(1) + "|" + rs.getString(2) + "|" + rs.getString(3) + "|" + rs.getString(4));
        }
        assertEquals(List.of(), store.applyFeed(List.of(person(5, "bob", "x  ", "1.0")), 5), "the same values again");
    }

    private static FeedEntry person(long seq, String name, String code, String v) throws Exception {
        return new FeedEntry(seq, "person", FeedKind.UPSERT, json("{\"id\":\"p1\"}"),
                json("{\"id\":\"p1\",\"name\":\"" + name + "\",\"code\":\"" + code + "\",\"v\":" + v + "}"), 1);
    }

    @Test
    void aRowNewHereIsInsertedWithEveryServerValue() throws Exception {
        exec("INSERT INTO task (id, title) VALUES ('t2', 'mine')");
        store.applyFeed(List.of(upsert(3, "t3", "other", 2, false)), 3);
        assertEquals("other|2|0", row("t3"));
    }

    @Test
    void onceAcknowledgedAndFedBackTheServerResultWinsEvenOverOurOwnWrite() throws Exception {
        exec("INSERT INTO task (id, title, priority) VALUES ('t1', 'ours', 1)");
        ClientTx tx = store.pendingAfter(0, 100, true).get(0);
        store.acknowledge(tx.id(), 20);
        // Before the feed reaches 20, the acknowledged write still hides older server states.
        store.applyFeed(List.of(upsert(15, "t1", "older server state", 1, false)), 15);
        assertEquals("ours|1|0", row("t1"));
        // The merged result at 20 lost our title to a later writer: the client ends on the server's value.
        store.applyFeed(List.of(upsert(20, "t1", "later writer", 1, false)), 20);
        assertEquals("later writer|1|0", row("t1"));
        assertEquals(0, outboxRows(), "settled transactions are pruned");
        assertEquals(0, store.unsettled());
        assertEquals(0, appLong("SELECT count(*) FROM _sync_outbox WHERE coalesce(pk, vals, changed, deltas, layout, v0, v1, v2,"
                + " v3) IS NOT NULL"), "the anchor left by pruning keeps no copy of the row");
    }

    @Test
    void aPendingDeleteIsNotUndoneAndARemoteDeleteWaitsForPendingWrites() throws Exception {
        store.applyFeed(List.of(upsert(1, "t1", "a", 1, false), upsert(1, "t2", "b", 1, false)), 1);
        exec("DELETE FROM task WHERE id = 't1'");
        exec("UPDATE task SET priority = 9 WHERE id = 't2'");
        store.applyFeed(List.of(upsert(2, "t1", "a2", 1, false),
                new FeedEntry(2, "task", FeedKind.DELETE, json("{\"id\":\"t2\"}"), null, 1)), 2);
        assertEquals("absent", row("t1"));
        assertEquals("b|9|0", row("t2"));
    }

    /**
     * Each transaction carries the feed position its writer had applied: unknown before the file recorded
     * one, then the cursor of the last apply before it, whatever applies come between its writing and its
     * push, and kept while it waits (a transaction stays unsettled across several applies).
     */
    @Test
    void eachTransactionCarriesTheFeedPositionItWasWrittenWith() throws Exception {
        exec("INSERT INTO task (id, title) VALUES ('t0', 'before any feed')");
        store.applyFeed(List.of(upsert(5, "t1", "a", 1, false)), 5);
        exec("INSERT INTO task (id, title) VALUES ('t2', 'at 5')");
        store.applyFeed(List.of(upsert(9, "t3", "b", 1, false)), 9);
        store.applyFeed(List.of(), 9);
        exec("UPDATE task SET title = 'at 9' WHERE id = 't1'");
        exec("DELETE FROM task WHERE id = 't3'");
        store.applyFeed(List.of(upsert(12, "t4", "c", 1, false)), 12);
        List<ClientTx> txs = store.pendingAfter(0, 100, true);
        assertEquals(java.util.Arrays.asList(null, 5L, 9L, 9L), txs.stream().map(ClientTx::seen).toList());
        assertEquals(java.util.Arrays.asList(null, null, null, null),
                store.pendingAfter(0, 100, false).stream().map(ClientTx::seen).toList(), "not for a relay before it");
        // The first two settle; the pairs the others need stay, the older go.
        store.acknowledge(txs.get(1).id(), 13);
        store.applyFeed(List.of(), 13);
        List<ClientTx> left = store.pendingAfter(0, 100, true);
        assertEquals(List.of(9L, 9L), left.stream().map(ClientTx::seen).toList());
        assertEquals(13L, appLong("SELECT max(cursor) FROM _sync_seen"));
        assertEquals(1L, appLong("SELECT count(*) FROM _sync_seen WHERE cursor <= 9"), "only the pair the oldest needs");
    }

    /**
     * What a clock check names: the transactions waiting for their answer up to the welcome's applied id,
     * from a given one on, with their clocks; and the largest id the file wrote, kept across pruning. Taking
     * a new node id records the old one and drops the key ranges reserved for it.
     */
    @Test
    void aClockCheckNamesTheWaitingTransactionsAndANewNodeIdDropsTheKeyRanges() throws Exception {
        exec("INSERT INTO task (id, title) VALUES ('t1', 'one')");
        exec("INSERT INTO task (id, title) VALUES ('t2', 'two')");
        exec("INSERT INTO task (id, title) VALUES ('t3', 'three')");
        List<ClientTx> txs = store.pendingAfter(0, 100, true);
        List<long[]> all = store.waitingThrough(txs.get(2).id(), 0, 100);
        assertEquals(txs.stream().map(ClientTx::id).toList(), all.stream().map(w -> w[0]).toList());
        assertEquals(txs.stream().map(ClientTx::hlc).toList(), all.stream().map(w -> w[1]).toList());
        assertEquals(List.of(txs.get(1).id()),
                store.waitingThrough(txs.get(1).id(), txs.get(0).id(), 100).stream().map(w -> w[0]).toList());
        assertEquals(1, store.waitingThrough(txs.get(2).id(), 0, 1).size());
        store.acknowledge(txs.get(2).id(), 4);
        store.applyFeed(List.of(), 4);
        assertEquals(List.of(), store.waitingThrough(txs.get(2).id(), 0, 100), "settled ones are not waiting");
        assertEquals(txs.get(2).id(), store.largestTxId(), "the settled anchor keeps the largest id");

        exec("INSERT INTO _sync_idblock (tbl, lo, hi) VALUES ('task', 100, 199)");
        String old = store.nodeId();
        String fresh = store.takeNewNodeId(old);
        assertTrue(!fresh.equals(old));
        assertEquals(fresh, store.nodeId());
        assertEquals(0L, appLong("SELECT count(*) FROM _sync_idblock"), "the old id's key ranges are dropped");
        assertEquals(1L, appLong("SELECT count(*) FROM _sync_state WHERE k = 'node_before:" + old + "'"));
    }

    /** Rejections recorded for other processes on the file come back in order, whole, the newest 1,000 kept. */
    @Test
    void recordedRejectionsComeBackInOrderAndOnlyTheNewestAreKept() throws Exception {
        exec("INSERT INTO task (id, title) VALUES ('t1', 'refused')");
        RowChange change = store.pendingAfter(0, 100, true).get(0).changes().get(0);
        store.recordRejection(new Rejection(7, "23514", "check violated", List.of(change)));
        store.recordRejection(new Rejection(3, "23505", "duplicate", List.of()));
        List<Rejection> all = store.rejectionsAfter(0);
        assertEquals(List.of(3L, 7L), all.stream().map(Rejection::tx).toList());
        assertEquals(new Rejection(7, "23514", "check violated", List.of(change)), all.get(1));
        assertEquals(List.of(7L), store.rejectionsAfter(3).stream().map(Rejection::tx).toList());
        for (long tx = 10; tx < 1_010; tx++) {
            store.recordRejection(new Rejection(tx, "23514", "r", List.of()));
        }
        List<Rejection> kept = store.rejectionsAfter(0);
        assertEquals(1_000, kept.size());
        assertEquals(10L, kept.get(0).tx());
    }

    @Test
    void transactionIdsOnlyGrowAcrossPruning() throws Exception {
        exec("INSERT INTO task (id, title) VALUES ('t1', 'x')");
        long first = store.pendingAfter(0, 100, true).get(0).id();
        store.acknowledge(first, 5);
        store.applyFeed(List.of(), 5);
        exec("INSERT INTO task (id, title) VALUES ('t2', 'y')");
        List<ClientTx> next = store.pendingAfter(first, 100, true);
        assertEquals(1, next.size());
        assertTrue(next.get(0).id() > first, "a new transaction must never reuse an acknowledged id");
    }

    @Test
    void anAcknowledgementCoversEveryEarlierTransactionAlsoAfterARestart() throws Exception {
        for (int i = 1; i <= 4; i++) {
            exec("INSERT INTO task (id, title) VALUES ('t" + i + "', 'x')");
        }
        List<ClientTx> txs = store.pendingAfter(0, 100, true);
        assertEquals(4, txs.size());
        store.acknowledge(txs.get(0).id(), 5);
        assertEquals(List.of(5L, -1L, -1L, -1L), acks(txs));
        // The Ack of the second transaction was lost: the third's covers it.
        store.acknowledge(txs.get(2).id(), 7);
        assertEquals(List.of(5L, 7L, 7L, -1L), acks(txs));
        // A new store knows nothing of what was acknowledged before (a restart): a Welcome covers the rest.
        store.close(); // closes its connection too
        client = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"));
        store = LocalStores.open(client);
        store.acknowledgeOnWelcome(txs.get(3).id(), 8);
        assertEquals(List.of(5L, 7L, 7L, 0L), acks(txs), "settled at the cursor (0): no feed has arrived");
        store.applyFeed(List.of(), 8);
        assertEquals(0, store.unsettled());
    }

    /** The ack column of each transaction's marker row (-1: none yet; gone rows are not asked for here). */
    private List<Long> acks(List<ClientTx> txs) throws SQLException {
        List<Long> out = new java.util.ArrayList<>();
        for (ClientTx tx : txs) {
            try (Statement st = app.createStatement();
                 ResultSet rs = st.executeQuery("SELECT coalesce(ack, -1) FROM _sync_outbox WHERE seq = " + tx.id())) {
                out.add(rs.next() ? rs.getLong(1) : -2L);
            }
        }
        return out;
    }

    /** The revert and its record for the file's other processes commit together. */
    @Test
    void aRejectionIsRecordedWithItsRevert() throws Exception {
        store.applyFeed(List.of(upsert(1, "t1", "server", 1, false)), 1);
        exec("UPDATE task SET title = 'rejected edit' WHERE id = 't1'");
        List<ClientTx> txs = store.pendingAfter(0, 100, true);
        Rejection r = store.reject(txs.get(0).id(), "23514", "check violated", List.of(upsert(0, "t1", "server", 1, false)));
        assertEquals(1, r.changes().size());
        assertEquals("server|1|0", row("t1"));
        List<Rejection> recorded = store.rejectionsAfter(0);
        assertEquals(1, recorded.size());
        assertEquals(txs.get(0).id(), recorded.get(0).tx());
        assertEquals("23514", recorded.get(0).sqlState());
        assertEquals(r.changes(), recorded.get(0).changes());
    }

    @Test
    void aRejectedTransactionIsRevertedAndLaterOnesStayPending() throws Exception {
        store.applyFeed(List.of(upsert(1, "t1", "server", 1, false)), 1);
        exec("UPDATE task SET title = 'rejected edit' WHERE id = 't1'");
        exec("INSERT INTO task (id, title) VALUES ('t9', 'later tx')");
        List<ClientTx> txs = store.pendingAfter(0, 100, true);
        assertEquals(2, txs.size());
        assertEquals(1, store.reject(txs.get(0).id(), List.of(upsert(0, "t1", "server", 1, false))).size());
        assertEquals("server|1|0", row("t1"));
        assertEquals("later tx|null|0", row("t9"));
        List<ClientTx> left = store.pendingAfter(0, 100, true);
        assertEquals(1, left.size());
        assertEquals(txs.get(1).id(), left.get(0).id());
    }

    @Test
    void rowsWrittenByAnotherProgramAreStampedWhenFound() throws Exception {
        try (Statement st = client.createStatement()) {
            st.execute("INSERT INTO task (id, title) VALUES ('cli', 'from the shell')");
        }
        assertEquals(0, store.pendingAfter(0, 100, true).size());
        assertEquals(1, store.unsettled());
        store.stampOrphans();
        assertEquals(1, store.pendingAfter(0, 100, true).size());
    }

    @Test
    void pendingIncrementsAreAddedToTheServersCounterRatherThanHidingIt() throws Exception {
        store.applyFeed(List.of(upsert(1, "t1", "a", 10, false)), 1);
        try (java.sql.PreparedStatement ps = app.prepareStatement("UPDATE task SET priority = priority + ? WHERE id = 't1'")) {
            ps.setInt(1, 5);
            ps.executeUpdate();
        }
        assertEquals("a|15|0", row("t1"));
        List<ClientTx> pending = store.pendingAfter(0, 100, true);
        assertEquals("{\"priority\":5}", pending.get(0).changes().get(0).deltas().toString());
        // Another client added 100 meanwhile: the server says 110; ours is not counted there yet.
        store.applyFeed(List.of(upsert(2, "t1", "a", 110, false)), 2);
        assertEquals("a|115|0", row("t1"));
        // The server counted ours at 3: from then on the server's value is the whole truth.
        store.acknowledge(pending.get(0).id(), 3);
        store.applyFeed(List.of(upsert(3, "t1", "a", 115, false)), 3);
        assertEquals("a|115|0", row("t1"));
        assertEquals(0, store.unsettled());
    }

    @Test
    void aTableSyncedAfterTheCursorMovedMakesTheNextConnectionResyncAcrossRestarts() throws Exception {
        // Opening the file synced its first tables: with no feed position yet, a plain snapshot is all it needs.
        assertTrue((store.snapshotRequest() != 0));
        assertFalse(LocalStores.takeAtConnect(store), "cursor 0: a snapshot, nothing to remove");
        assertFalse((store.snapshotRequest() != 0), "taken");
        store.applyFeed(List.of(upsert(7, "t1", "a", 1, false), upsert(7, "t2", "b", 1, false)), 7);
        assertEquals(7, store.cursor());

        // DDL in an application transaction that rolls back requests nothing.
        app.setAutoCommit(false);
        exec("CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)");
        app.rollback();
        app.setAutoCommit(true);
        assertFalse((store.snapshotRequest() != 0), "a rolled-back table needs no snapshot");

        // Committed, it does; the request is in the file, not in this process: a new store (a restart) takes it.
        exec("CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)");
        // A request made after the connect read one (before its hello) is not taken with it.
        long read = store.snapshotRequest();
        exec("CREATE TABLE other (id TEXT PRIMARY KEY)");
        store.takeSnapshotRequest(read, false);
        assertTrue(store.snapshotRequest() != 0, "the newer request stays");
        reopenStore();
        assertTrue(LocalStores.takeAtConnect(store), "a file with a position resyncs");
        assertEquals(0, store.cursor(), "the next hello asks for a snapshot");

        // Lost before the snapshot completed (even after its last batch): the next connection resyncs again.
        store.beginResync();
        store.applyFeed(List.of(upsert(0, "t1", "a", 1, false)), 9, 9, true);
        reopenStore();
        assertTrue(LocalStores.takeAtConnect(store), "still a resync");
        assertEquals(0, store.cursor());

        // Completed: t2, deleted on the server after the old cursor, is not in the snapshot and goes.
        store.beginResync();
        store.applyFeed(List.of(upsert(0, "t1", "a", 1, false)), 9, 9, true);
        store.endResync();
        assertEquals("absent", row("t2"));
        assertEquals("a|1|0", row("t1"));
        reopenStore();
        assertFalse(LocalStores.takeAtConnect(store), "done");
        assertEquals(9, store.cursor());
    }
}
