package io.syncsqlite.driver.sync;

import io.syncsqlite.driver.config.SyncUrl;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.HybridClock;
import org.junit.jupiter.api.Test;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of "acknowledgements look only above the last one" (LocalStore.ackedThrough), the sync client's
 * synchronous=NORMAL connection and the stretched status-refresh interval, against real SQLite files.
 */
class SyncClientReviewTest extends LocalStoreFixture {

    @Override
    List<String> schema() {
        return List.of("CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT)");
    }

    private static void exec(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private String title(String id) throws SQLException {
        try (Statement st = app.createStatement();
             ResultSet rs = st.executeQuery("SELECT title FROM task WHERE id = '" + id + "'")) {
            return rs.next() ? rs.getString(1) : "absent";
        }
    }

    private long maxSeq() throws SQLException {
        return appLong("SELECT max(seq) FROM _sync_outbox");
    }

    private static FeedEntry upsert(long seq, String id, String title) throws Exception {
        return new FeedEntry(seq, "task", FeedKind.UPSERT, json("{\"id\":\"" + id + "\"}"),
                json("{\"id\":\"" + id + "\",\"title\":\"" + title + "\"}"), 1);
    }

    /**
     * A transaction whose marker is stamped after an acknowledgement covering its id. The sync client
     * stamps rows written by other programs (here the plain sqlite connection, like the sqlite3 shell) on
     * its own connection, now with synchronous=NORMAL: after a power failure that stamp can be gone while
     * the relay applied the transaction (the stamp is a local decision the relay cannot give back). On the
     * restart the welcome acknowledges a tx id that is not a marker here, ackedThrough moves past it, then
     * stampOrphans makes it a marker again: no later acknowledgement looks at it for the life of the process.
     */
    @Test
    void aMarkerStampedAfterAnAcknowledgementCoveringItIsStillAcknowledged() throws Exception {
        store.applyFeed(List.of(upsert(1, "t1", "base")), 1);
        try (Connection shell = DriverManager.getConnection("jdbc:sqlite:" + file())) {
            exec(shell, "UPDATE task SET title = 'shell edit' WHERE id = 't1'");
        }
        long orphan = maxSeq();
        // Before the power failure the client stamped it, pushed it, the relay applied it at 5. Restart:
        // the stamp was lost with the unsynced commit; the welcome says appliedTx = orphan, appliedSeq = 5.
        store.acknowledgeOnWelcome(orphan, 5);
        store.stampOrphans(); // the next nudge or heartbeat
        assertEquals(List.of(), store.pendingAfter(orphan, 100, true), "already applied: not sent again (right)");

        exec(app, "INSERT INTO task (id, title) VALUES ('t2', 'app')");
        List<ClientTx> next = store.pendingAfter(orphan, 100, true);
        assertEquals(1, next.size());
        store.acknowledge(next.get(0).id(), 7); // cumulative: covers the orphan marker too
        store.applyFeed(List.of(upsert(5, "t1", "shell edit"), upsert(7, "t2", "app")), 7);
        // Another client changes t1 later.
        store.applyFeed(List.of(upsert(9, "t1", "remote, later")), 9);

        assertAll(
                () -> assertEquals(0, store.unsettled(), "every transaction is applied and fed back (awaitSynced waits forever otherwise)"),
                () -> assertEquals("remote, later", title("t1"), "the server's later value is held back behind a marker nobody acknowledges"));
    }

    /** What the bound must keep right: rejects, a lost Ack, and a welcome from a relay whose database was reset. */
    @Test
    void cumulativeAcknowledgementsSurviveRejectsAndARelayThatForgotThisNode() throws Exception {
        for (int i = 1; i <= 3; i++) {
            exec(app, "INSERT INTO task (id, title) VALUES ('t" + i + "', 'x')");
        }
        List<ClientTx> txs = store.pendingAfter(0, 100, true);
        assertEquals(3, txs.size());
        store.acknowledge(txs.get(0).id(), 5);
        store.reject(txs.get(1).id(), List.of(new FeedEntry(0, "task", FeedKind.DELETE, json("{\"id\":\"t2\"}"), null, 1)));
        store.acknowledge(txs.get(2).id(), 7);
        store.applyFeed(List.of(), 7);
        assertEquals(0, store.unsettled());
        assertEquals("absent", title("t2"));
        // A relay whose database was reset knows nothing of this node: appliedTx 0, low feed positions.
        store.acknowledgeOnWelcome(0, 0);
        exec(app, "INSERT INTO task (id, title) VALUES ('t4', 'x')");
        List<ClientTx> resend = store.pendingAfter(0, 100, true);
        assertEquals(1, resend.size(), "settled transactions are not sent again, the new one is");
        store.acknowledge(resend.get(0).id(), 3);
        store.applyFeed(List.of(), 3);
        assertEquals(0, store.unsettled());
    }

    /**
     * One slow count (a GC pause, a cold page cache on the first count, a reader waiting out an application
     * write lock in rollback-journal mode) sets the refresh interval to 20 times its cost until the next
     * refresh: the status, and awaitSynced which waits for the refreshed generation, stay stale that long.
     */
    @Test
    void oneSlowCountDoesNotKeepTheStatusStaleForTwentyTimesItsCost() throws Exception {
        AtomicBoolean slowOnce = new AtomicBoolean(true);
        Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file());
        Connection slow = (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[]{Connection.class},
                (proxy, m, args) -> {
                    Object out = invoke(raw, m, args);
                    if (m.getName().equals("prepareStatement") && args.length == 1
                            && ((String) args[0]).startsWith("SELECT count(*)")) {
                        PreparedStatement ps = (PreparedStatement) out;
                        return Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[]{PreparedStatement.class},
                                (p2, m2, a2) -> {
                                    if (m2.getName().equals("executeQuery") && slowOnce.getAndSet(false)) {
                                        Thread.sleep(500);
                                    }
                                    return invoke(ps, m2, a2);
                                });
                    }
                    return out;
                });
        HybridClock clock = new HybridClock(InstantSource.system());
        LocalStore slowStore = new LocalStore(slow, clock, Map::of);
        SyncUrl config = SyncUrl.parse("jdbc:syncsqlite:" + file() + "?sync.server=ws://127.0.0.1:9/sync", null);
        SyncClient sync = new SyncClient(config, "review-node", slowStore, KeyStock.empty(100), List::of,
                rows -> { }, r -> { }, s -> { }, () -> null, null, c -> { }, c -> { }, new SyncLock(file().toString()), c -> { });
        sync.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (sync.status().unsettled() < 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(0, sync.status().unsettled(), "the first (slow) count has run");
            long generation = sync.nudge();
            long start = System.nanoTime();
            while (sync.refreshedGeneration() < generation && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(3)) {
                sync.nudge(); // a nudge dropped by a reconnect attempt's events.clear() must not matter
                Thread.sleep(100);
            }
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(sync.refreshedGeneration() >= generation,
                    "status still not refreshed " + waited + " ms after a commit, because one count took 500 ms");
        } finally {
            sync.stop(); // closes slowStore, and raw through it
            raw.close();
        }
    }

    private static Object invoke(Object target, java.lang.reflect.Method m, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
