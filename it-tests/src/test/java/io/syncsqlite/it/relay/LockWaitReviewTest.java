package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.RowChange;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static io.syncsqlite.it.support.Json.delete;
import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of the relay's bounded lock waits (lock_timeout of the pooled connections, 55P03 = "resend later").
 */
class LockWaitReviewTest {

    private static final String WAITING = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            + " AND application_name = 'syncsqlite-relay' AND wait_event_type = 'Lock'";

    private static final String[] PARENT_CHILD = {
        "CREATE TABLE parent (id int PRIMARY KEY, name text)",
        "CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id), v text)",
    };

    /**
     * A child whose parent was deleted restores the parent (Compensation). When that restoration has to
     * wait for a lock longer than lock_timeout (here: someone re-inserting the parent in psql, who then
     * rolls back), the 55P03 is taken by restoreParents as "nothing to restore" and the child is rejected
     * for good, recorded as applied: the client's write is lost, where a lock timeout should only make the
     * client resend later (and a longer wait, as before the bound, restores the parent).
     */
    @Test
    void aLockTimeoutWhileRestoringAParentDoesNotRejectTheChild() throws Exception {
        try (RelayFixture f = RelayFixture.start("lwr_comp", PARENT_CHILD)) {
            f.reconfigure(c -> c.withLockTimeout(Duration.ofSeconds(1)));
            Message outcome = childOutcomeWhileParentClockIsLocked(f, 3000);
            assertInstanceOf(Message.Ack.class, outcome,
                    "a lock timeout in compensation must not reject the transaction: " + outcome);
            assertEquals(1, f.queryLong("SELECT count(*) FROM child WHERE id = 1"));
            assertEquals(1, f.queryLong("SELECT count(*) FROM parent WHERE id = 1"));
        }
    }

    /** The same with a wait shorter than the bound: compensation waits and the child is applied. */
    @Test
    void aShortLockWaitWhileRestoringAParentStillRestoresIt() throws Exception {
        try (RelayFixture f = RelayFixture.start("lwr_comp_short", PARENT_CHILD)) {
            f.reconfigure(c -> c.withLockTimeout(Duration.ofSeconds(5)));
            Message outcome = childOutcomeWhileParentClockIsLocked(f, 1500);
            assertInstanceOf(Message.Ack.class, outcome);
            assertEquals(1, f.queryLong("SELECT count(*) FROM child WHERE id = 1"));
            assertEquals(1, f.queryLong("SELECT count(*) FROM parent WHERE id = 1"));
        }
    }

    /**
     * Parent 1 created and deleted by client a; then psql re-inserts parent 1 in an open transaction
     * (locking its clock row and key) while client b inserts a child of it; psql rolls back after
     * {@code holdMs}. Returns b's answer; if the relay closed b's session instead (a lock timeout meaning
     * "resend later"), b reconnects and resends, as the driver does, and the answer to that is returned.
     */
    private static Message childOutcomeWhileParentClockIsLocked(RelayFixture f, long holdMs) throws Exception {
        return childOutcomeWhileParentClockIsLocked(f, holdMs, false);
    }

    /**
     * Incidental (not caused by the bound): when the psql session that re-inserted the parent commits
     * while compensation waits for it, the parent exists, yet restoreParents finds nothing to restore
     * (its INSERT ... ON CONFLICT DO NOTHING inserts no row) and the child is rejected instead of being
     * run again, though its foreign key now holds.
     */
    @Test
    void aChildWhoseParentIsRecreatedWhileCompensationWaitsIsApplied() throws Exception {
        try (RelayFixture f = RelayFixture.start("lwr_comp_commit", PARENT_CHILD)) {
            f.reconfigure(c -> c.withLockTimeout(Duration.ofSeconds(5)));
            Message outcome = childOutcomeWhileParentClockIsLocked(f, 1500, true);
            assertEquals(1, f.queryLong("SELECT count(*) FROM parent WHERE id = 1"));
            assertInstanceOf(Message.Ack.class, outcome, "the parent exists, the child should be applied: " + outcome);
        }
    }

    private static Message childOutcomeWhileParentClockIsLocked(RelayFixture f, long holdMs, boolean commit)
            throws Exception {
        long now = Hlc.ofMillis(System.currentTimeMillis());
        TestClient a = f.client("a", 0);
        a.push(tx(1, now, insert("parent", obj("id", 1), obj("name", "p1"))));
        a.awaitAck(1);
        a.push(tx(2, now + Hlc.ofMillis(1), delete("parent", obj("id", 1))));
        a.awaitAck(2);
        assertEquals(0, f.queryLong("SELECT count(*) FROM parent"));
        TestClient b = f.client("b", 0);
        var child = tx(1, now + Hlc.ofMillis(2), insert("child", obj("id", 1), obj("parent_id", 1, "v", "x")));
        try (Connection blocker = f.connection()) {
            blocker.setAutoCommit(false);
            blocker.createStatement().execute("INSERT INTO parent VALUES (1, 'typed in psql')");
            b.push(child);
            await().atMost(Duration.ofSeconds(5)).until(() -> f.queryLong(WAITING) > 0);
            Thread.sleep(holdMs);
            if (commit) {
                blocker.commit();
            } else {
                blocker.rollback();
            }
        }
        Object first = b.await(() -> {
            for (Message x : b.messages()) {
                if (x instanceof Message.Ack || x instanceof Message.Reject) {
                    return x;
                }
            }
            return b.closeCode();
        }, "outcome of b's tx 1");
        if (first instanceof Message m) {
            return m;
        }
        TestClient again = f.client("b", 0);
        again.push(child);
        return again.awaitOutcome(1);
    }

    /**
     * Two clients write the same row, which a psql session keeps locked; as the driver does after a 1011
     * (its backoff is reset because the session lasted longer than 5 s), each resends at once. One of them
     * always waits for the row's advisory key lock, which the other holds while it waits for the psql lock,
     * and it does so holding the table's shared lock for up to twice lock_timeout. A bulk transaction into
     * the same table (more than TxRun.BULK_KEYS rows, none of them the locked one) needs that table lock
     * exclusively, gives up after one lock_timeout, and so fails on every resend for as long as the psql
     * session lasts.
     */
    @Test
    void aBulkApplyIntoATableIsNotStarvedByTwoClientsStuckOnAnotherRow() throws Exception {
        try (RelayFixture f = withRowOne("lwr_bulk")) {
            long now = Hlc.ofMillis(System.currentTimeMillis());
            try (Connection blocker = lockRowOne(f); Stuck stuck = new Stuck(f)) {
                stuck.start("s1", 1, now);
                await().atMost(Duration.ofSeconds(5)).until(() -> f.queryLong(WAITING) >= 1);
                stuck.start("s2", 1, now);
                await().atMost(Duration.ofSeconds(5)).until(() -> f.queryLong(WAITING) >= 2);

                RowChange[] rows = bulkRows();
                long head = head(f);
                long deadline = System.nanoTime() + Duration.ofSeconds(14).toNanos(); // 7 x lock_timeout
                int attempts = 0;
                boolean acked = false;
                while (!acked && System.nanoTime() < deadline) {
                    attempts++;
                    try (TestClient bulk = TestClient.connect(f.uri())) {
                        bulk.hello("bulk", head);
                        bulk.push(tx(1, now + Hlc.ofMillis(5), rows));
                        acked = bulk.await(() -> {
                            for (Message m : bulk.messages()) {
                                if (m instanceof Message.Ack) {
                                    return Boolean.TRUE;
                                }
                            }
                            return bulk.closeCode() != null ? Boolean.FALSE : null;
                        }, "the bulk's ack or close");
                    }
                }
                assertTrue(acked, "the bulk transaction (1001 rows, not the locked one) was not applied in "
                        + attempts + " attempts over 14 s; stuck clients' attempts: " + stuck.attempts());
            }
        }
    }

    /**
     * Control for the test above: one client stuck on the locked row holds the table's shared lock for one
     * lock_timeout at a time, so a bulk transaction into the table gets through on its first attempt.
     */
    @Test
    void aBulkApplyGetsPastOneClientStuckOnAnotherRow() throws Exception {
        try (RelayFixture f = withRowOne("lwr_bulk_one")) {
            long now = Hlc.ofMillis(System.currentTimeMillis());
            try (Connection blocker = lockRowOne(f); Stuck stuck = new Stuck(f)) {
                stuck.start("s1", 1, now);
                await().atMost(Duration.ofSeconds(5)).until(() -> f.queryLong(WAITING) >= 1);
                // Past its first wait of a whole lock_timeout: on a loaded machine the bulk, queued behind that
                // wait, could reach its own lock_timeout first. From the second attempt on, the stuck client
                // waits the 100 ms probe.
                await().atMost(Duration.ofSeconds(10)).until(() -> stuck.attempts() >= 2);
                RowChange[] rows = bulkRows();
                TestClient bulk = f.client("bulk", head(f));
                bulk.push(tx(1, now + Hlc.ofMillis(5), rows));
                bulk.awaitAck(1);
                assertEquals(1001, f.queryLong("SELECT count(*) FROM t WHERE id >= 1000"));
                assertEquals(0, f.queryLong("SELECT v FROM t WHERE id = 1"), "the psql lock is still held");
            }
        }
    }

    /**
     * Many clients stuck behind rows a psql session keeps locked (a hot row every device writes, say), each
     * resending as soon as it is closed, as the driver does after a session that lasted over 5 s (so with
     * any lock_timeout of 5 s or more, the default 10 s included; see LockWaitEndToEndTest, scaled down here
     * to 1 s): every attempt holds a pooled connection for a
     * full lock_timeout, so the relay serves pool size / lock_timeout such applies per second, and a client
     * writing an unrelated row queues behind all of them (worker threads, then pool permits). With 24 stuck
     * clients, a pool of 4 and lock_timeout 1 s, its acknowledgement takes about 24 / 4 x 1 s = 6 s: more
     * than 3 x lock_timeout, which at the defaults (10 s) is the driver's acknowledgement timeout (30 s),
     * after which it closes and resends from the back of the queue; with a pool of 8, 24 stuck devices are
     * enough for nobody else to be served.
     */
    @Test
    void manyClientsStuckBehindLockedRowsDoNotStallAClientWritingAnotherRow() throws Exception {
        int stuckClients = 24;
        try (RelayFixture f = RelayFixture.start("lwr_many", "CREATE TABLE t (id int PRIMARY KEY, v int)")) {
            f.reconfigure(c -> c.withLockTimeout(Duration.ofSeconds(1)));
            f.execute("INSERT INTO t SELECT g, 0 FROM generate_series(1, " + stuckClients + ") g");
            long now = Hlc.ofMillis(System.currentTimeMillis());
            try (Connection blocker = f.connection(); Stuck stuck = new Stuck(f)) {
                blocker.setAutoCommit(false);
                blocker.createStatement().execute("UPDATE t SET v = 100 WHERE id <= " + stuckClients);
                for (int i = 1; i <= stuckClients; i++) {
                    stuck.start("s" + i, i, now);
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> f.queryLong(WAITING) >= 4);
                // Past the first round (24 first attempts, each of which must wait one lock_timeout to learn
                // that it is stuck, 4 at a time: 6 s): what follows is the steady state of the resends.
                Thread.sleep(8000);
                long t0 = System.nanoTime();
                TestClient other = f.client("other", head(f));
                other.push(tx(1, now + Hlc.ofMillis(5), insert("t", obj("id", 1000), obj("v", 1))));
                other.awaitAck(1);
                double secs = (System.nanoTime() - t0) / 1e9;
                assertTrue(secs < 3, "a client writing an unlocked row waited " + secs + " s (hello to ack) behind "
                        + stuckClients + " stuck clients with lock_timeout 1 s; stuck attempts so far: " + stuck.attempts());
            }
        }
    }

    /**
     * RelayConfig.DEFAULT_LOCK_TIMEOUT is documented as long enough for "a bulk apply holding a table's
     * lock". A bulk apply holds the table's advisory lock exclusively for as long as it runs, and that
     * grows with its size (about 10k rows/s in docs/DESIGN.md, so about 10 s for the 100k rows a 16 MiB
     * frame holds): every other client writing the table meanwhile is disconnected with 1011 once it has
     * waited lock_timeout. Scaled down here: lock_timeout 500 ms and a 30,000-row bulk.
     */
    @Test
    void aClientWritingATableWhileABulkApplyRunsIsNotDisconnected() throws Exception {
        try (RelayFixture f = RelayFixture.start("lwr_bulk_long", "CREATE TABLE t (id int PRIMARY KEY, v int)")) {
            f.reconfigure(c -> c.withLockTimeout(Duration.ofMillis(500)));
            long now = Hlc.ofMillis(System.currentTimeMillis());
            RowChange[] rows = new RowChange[30_000];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = insert("t", obj("id", 1000 + i), obj("v", i));
            }
            TestClient bulk = f.client("bulk", 0);
            TestClient other = f.client("other", 0);
            long t0 = System.nanoTime();
            bulk.push(tx(1, now, rows));
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10))
                    .until(() -> f.queryLong(BULK_HOLDS_T) > 0);
            other.push(tx(1, now, insert("t", obj("id", 1), obj("v", 1))));
            Message outcome = other.await(() -> {
                for (Message m : other.messages()) {
                    if (m instanceof Message.Ack || m instanceof Message.Reject) {
                        return m;
                    }
                }
                return other.closeCode() != null ? new Message.Reject(1, "closed", "closed with "
                        + other.closeCode() + " " + other.closeReason(), List.of()) : null;
            }, "other's outcome");
            bulk.awaitAck(1);
            double bulkSecs = (System.nanoTime() - t0) / 1e9;
            assertInstanceOf(Message.Ack.class, outcome, "a single-row insert behind a " + rows.length
                    + "-row bulk apply (" + String.format("%.1f", bulkSecs) + " s): " + outcome);
        }
    }

    /** The bulk's exclusive advisory lock on table t (TableStatements: hashtextextended(E'\\u0001t', 0)). */
    private static final String BULK_HOLDS_T = "SELECT count(*) FROM pg_locks l WHERE l.locktype = 'advisory'"
            + " AND l.mode = 'ExclusiveLock' AND l.granted AND l.objsubid = 1"
            + " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            + " AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(chr(1) || 't', 0)";

    /**
     * The bound is documented as covering "every lock wait of the relay's database work"
     * (RelayConfig.withLockTimeout), but the snapshot connections (ChangeFeed.snapshotConnections, a pool of
     * their own) do not get it: a psql session holding a synced table's lock (an ALTER TABLE of a migration
     * left open, LOCK TABLE) makes every new client's snapshot wait without bound, each holding a snapshot
     * slot and a worker thread, while applies to the same table give up after lock_timeout.
     */
    @Test
    void aSnapshotBehindATableLockWaitsNoLongerThanTheBound() throws Exception {
        try (RelayFixture f = RelayFixture.start("lwr_snap", "CREATE TABLE t (id int PRIMARY KEY, v int)")) {
            f.reconfigure(c -> c.withLockTimeout(Duration.ofSeconds(1)));
            f.execute("INSERT INTO t VALUES (1, 1)");
            try (Connection blocker = f.connection()) {
                blocker.setAutoCommit(false);
                blocker.createStatement().execute("ALTER TABLE t ADD COLUMN note text");
                TestClient fresh = f.client("fresh", 0);
                // Its snapshot gives up after the bound: the relay closes the session for a resend.
                await().atMost(Duration.ofSeconds(5)).until(() -> fresh.closeCode() != null);
                assertEquals(1011, fresh.closeCode());
                List<List<String>> stuck = f.query("SELECT application_name, left(query, 60) FROM pg_stat_activity"
                        + " WHERE datname = current_database() AND application_name LIKE 'syncsqlite-relay%'"
                        + " AND wait_event_type = 'Lock' AND now() - query_start > interval '2 seconds'");
                blocker.rollback();
                // Closed (1011) by a bounded wait: the client reconnects and takes the snapshot again.
                TestClient taking = f.client("fresh", 0);
                taking.awaitCursor(1);
                assertEquals(List.of(), stuck, "relay connections waiting for a lock for more than twice lock_timeout");
            }
        }
    }

    private static long head(RelayFixture f) {
        return f.queryLong("SELECT coalesce(max(seq), 0) FROM syncsqlite.commit_log");
    }

    /**
     * Clients that keep resending an update of a locked row, reconnecting at once after each close: what the
     * driver does once a session lasted more than 5 s (SyncClient resets its backoff to 100 ms), which every
     * session stuck for a lock_timeout of 5 s or more (the default is 10 s) does.
     */
    private static final class Stuck implements AutoCloseable {
        private final RelayFixture f;
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicInteger attempts = new AtomicInteger();
        private final List<Thread> threads = new ArrayList<>();

        Stuck(RelayFixture f) {
            this.f = f;
        }

        void start(String node, int row, long hlc) {
            long head = head(f);
            Thread t = new Thread(() -> {
                while (!stop.get()) {
                    attempts.incrementAndGet();
                    try (TestClient c = TestClient.connect(f.uri())) {
                        c.hello(node, head);
                        c.push(tx(1, hlc + Hlc.ofMillis(1), update("t", obj("id", row), obj("v", row + 1))));
                        c.await(() -> c.closeCode() != null || !c.messages().stream()
                                .filter(m -> m instanceof Message.Ack).toList().isEmpty() ? Boolean.TRUE : null,
                                "close or ack");
                        if (c.closeCode() == null) {
                            return; // applied
                        }
                    } catch (RuntimeException | AssertionError e) {
                        // relay busy or gone: try again unless stopping
                    }
                }
            }, "stuck-" + node);
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }

        int attempts() {
            return attempts.get();
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            for (Thread t : threads) {
                t.join(25_000);
            }
        }
    }

    /** More rows than TxRun.BULK_KEYS, none of them row 1: a bulk transaction, which takes the table's lock. */
    private static RowChange[] bulkRows() {
        RowChange[] rows = new RowChange[1001];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = insert("t", obj("id", 1000 + i), obj("v", i));
        }
        return rows;
    }

    /** A relay whose lock waits last at most 2 s, on a table t holding row 1. */
    private static RelayFixture withRowOne(String prefix) {
        RelayFixture f = RelayFixture.start(prefix, "CREATE TABLE t (id int PRIMARY KEY, v int)");
        f.reconfigure(c -> c.withLockTimeout(Duration.ofSeconds(2)));
        f.execute("INSERT INTO t VALUES (1, 0)");
        return f;
    }

    /** A psql-like session that keeps row 1 of t locked until it is closed (rolled back). */
    private static Connection lockRowOne(RelayFixture f) throws SQLException {
        Connection blocker = f.connection();
        blocker.setAutoCommit(false);
        blocker.createStatement().execute("UPDATE t SET v = 100 WHERE id = 1");
        return blocker;
    }
}
