package io.syncsqlite.driver.sync;

import io.syncsqlite.driver.capture.Outbox;
import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import org.junit.jupiter.api.Test;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Keys of BLOB-affinity columns in the canonical row key and in a resync's removal, and resync_pending of a
 * cut-off first snapshot; from a third review (of c82d7c3, eb618fe, 5de7d47), whose first four tests failed
 * before the fix that followed it.
 */
class ResyncThirdReviewTest extends LocalStoreFixture {

    @Override
    List<String> schema() {
        // An untyped key column has BLOB affinity in SQLite; its values are text here.
        return List.of("CREATE TABLE tag (k PRIMARY KEY, v TEXT)", "CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT)");
    }

    /** A JSON string literal for {@code s} (backslash escaped). */
    private static String str(String s) {
        return "\"" + s.replace("\\", "\\\\") + "\"";
    }

    private static FeedEntry tag(long seq, String k, String v) throws Exception {
        return new FeedEntry(seq, "tag", FeedKind.UPSERT, json("{\"k\":" + str(k) + "}"),
                json("{\"k\":" + str(k) + ",\"v\":" + str(v) + "}"), 1);
    }

    private static FeedEntry task(long seq, String id) throws Exception {
        return new FeedEntry(seq, "task", FeedKind.UPSERT, json("{\"id\":" + str(id) + "}"),
                json("{\"id\":" + str(id) + ",\"title\":\"x\"}"), 1);
    }

    private String tagValue(String k) throws SQLException {
        try (var ps = app.prepareStatement("SELECT v FROM tag WHERE k = ?")) {
            ps.setString(1, k);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : "absent";
            }
        }
    }

    private TableInfo table(String name) {
        return store.syncedTables().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
    }

    /** Two text keys that differ only in case, in a BLOB-affinity column, make two RowKeys (not hex: compared exactly). */
    @Test
    void textKeysStartingWithBackslashXAreNotConflatedByCase() throws Exception {
        TableInfo t = table("tag");
        assertNotEquals(RowKey.of(t, json("{\"k\":" + str("\\xFoo") + "}")),
                RowKey.of(t, json("{\"k\":" + str("\\xfoo") + "}")),
                "text keys \\xFoo and \\xfoo are different rows (neither is hex: both are bound as text)");
    }

    /** The overlay of a pending delete on one key does not hide the server's insert of another key. */
    @Test
    void aPendingDeleteOfOneTextKeyDoesNotSwallowTheServersRowOfAnother() throws Exception {
        store.applyFeed(List.of(tag(1, "\\xFoo", "server")), 1);
        assertEquals("server", tagValue("\\xFoo"));
        exec("DELETE FROM tag WHERE k = '\\xFoo'"); // pending, not yet sent
        store.applyFeed(List.of(tag(2, "\\xfoo", "other row")), 2);
        assertEquals("absent", tagValue("\\xFoo"));
        assertEquals("other row", tagValue("\\xfoo"), "another client's row \\xfoo was skipped for our delete of \\xFoo");
    }

    /** A resync removes a row the server deleted although a different key (same but for case) was in the snapshot. */
    @Test
    void aResyncRemovesATextKeyTheSnapshotLacksEvenIfAnotherDiffersOnlyInCase() throws Exception {
        store.applyFeed(List.of(tag(1, "\\xFoo", "a"), tag(1, "\\xfoo", "b")), 1);
        assertEquals("a", tagValue("\\xFoo"));
        store.beginResync();
        store.applyFeed(List.of(tag(0, "\\xfoo", "b")), 5, 5, true);
        List<RemoteChange> removed = store.endResync();
        assertEquals("absent", tagValue("\\xFoo"), "deleted on the server, not in the snapshot: " + removed);
        assertEquals("b", tagValue("\\xfoo"));
    }

    /** Sanity of the intended behaviour: a real BLOB key's hex matches whatever the case. */
    @Test
    void blobKeysCompareWhateverTheCaseOfTheirHex() throws Exception {
        TableInfo t = table("tag");
        assertEquals(RowKey.of(t, json("{\"k\":" + str("\\xABCD") + "}")),
                RowKey.of(t, json("{\"k\":" + str("\\xabcd") + "}")));
    }

    /**
     * A text key that looks like hex ('\\x41' as TEXT, written locally into the untyped key column): a resync
     * whose snapshot lacks it removes it, binding the stored value rather than one rebuilt from JSON (which
     * would be bytes).
     */
    @Test
    void aResyncRemovesAHexLookingTextKeyTheSnapshotLacks() throws Exception {
        store.applyFeed(List.of(tag(1, "\\xzz", "seed")), 1);
        exec("INSERT INTO tag (k, v) VALUES ('\\x41', 'local text key')");
        try (Statement st = client.createStatement()) {
            st.execute("DELETE FROM _sync_outbox"); // settled long ago, its outbox rows pruned
        }
        assertEquals("text", typeOf("\\x41"));
        store.beginResync();
        store.applyFeed(List.of(), 5, 5, true);
        List<RemoteChange> removed = store.endResync();
        assertEquals("absent", tagValue("\\x41"), "the server lacks it: " + removed);
    }

    private String typeOf(String k) throws SQLException {
        try (var ps = app.prepareStatement("SELECT typeof(k) FROM tag WHERE k = ?")) {
            ps.setString(1, k);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : "absent";
            }
        }
    }

    // ---- resync_pending of a plain first snapshot ----

    private long resyncPending() throws SQLException {
        return store.stateLong(Outbox.RESYNC_PENDING);
    }

    @Test
    void aCutOffFirstSnapshotResyncsAndACompletedOneDoesNot() throws Exception {
        assertFalse(LocalStores.takeAtConnect(store), "a new file: a plain snapshot");
        store.applyFeed(List.of(), 0, 10); // empty progress batch: nothing recorded
        assertEquals(0, resyncPending());
        store.applyFeed(List.of(task(0, "t1")), 0, 10);
        assertEquals(1, resyncPending());
        store.applyFeed(List.of(), 10, 10, true); // last batch without entries
        assertEquals(0, resyncPending());
        assertEquals(10, store.cursor());
    }

    /**
     * A first snapshot cut off after some rows: the next connect resyncs. Rows written offline before the first
     * connection (captured, then acknowledged by a welcome at cursor 0 - settled at ack 0 and pruned) are not in
     * the overlay any more; are they removed though the server has them? Here the server's snapshot brings them.
     */
    @Test
    void rowsWrittenBeforeTheFirstConnectionSurviveTheResyncOfACutOffFirstSnapshot() throws Exception {
        exec("INSERT INTO task (id, title) VALUES ('mine', 'offline')");
        assertFalse(LocalStores.takeAtConnect(store));
        long tx = store.pendingAfter(0, 100, true).get(0).id();
        store.applyFeed(List.of(task(0, "t1")), 0, 10);
        assertEquals(1, resyncPending());
        // cut off; reconnect: the relay applied our transaction before (appliedTx = tx)
        assertTrue(LocalStores.takeAtConnect(store));
        store.acknowledgeOnWelcome(tx, 11);
        store.beginResync();
        // the snapshot at head 12 lacks 'mine' only if the server deleted it: here it has it
        store.applyFeed(List.of(task(0, "t1"), task(0, "mine")), 12, 12, true);
        store.endResync();
        try (Statement st = app.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM task WHERE id = 'mine'")) {
            rs.next();
            assertEquals(1, rs.getInt(1));
        }
        assertEquals(0, resyncPending());
    }
}
