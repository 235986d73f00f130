package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of b99854f (the install looks in the catalog before adding columns and indexes) and of e6cf2f6
 * (retention in two steps through {@code syncsqlite.pruned}; tcp_user_timeout and keepalives on pooled
 * connections; snapshot connections without the idle bound). Tests named "guard" passed when written: they
 * pin down the claims that held.
 */
class InstallRetentionReviewTest {

    /**
     * The pooled connections SET tcp_user_timeout to the network timeout (65 s by default) and keepalives of
     * 30 s + 3 x 10 s, "best effort", whatever the server was configured with. A database whose operator
     * set stricter values (a NAT that forgets flows idle for 20 s, a tcp_user_timeout of a few seconds so
     * that orphaned sessions release their locks quickly) has them loosened on every relay connection: the
     * SETs are meant to bound how long a dead peer goes unnoticed, not to lengthen that bound.
     */
    @Test
    void theRelayDoesNotLoosenTheServersOwnStricterTcpTimeouts() throws Exception {
        try (RelayFixture f = RelayFixture.start("irr_tcp", "CREATE TABLE t (id int PRIMARY KEY, v text, seen text)",
                // What the session that writes the row has: the relay's pooled apply connection.
                """
                CREATE FUNCTION seen() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    NEW.seen := (SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings
                                 WHERE name IN ('tcp_user_timeout', 'tcp_keepalives_idle', 'tcp_keepalives_interval',
                                                'tcp_keepalives_count'));
                    RETURN NEW;
                END $$""",
                "CREATE TRIGGER a_seen BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION seen()",
                // The operator's stricter settings, for every session of this database (the relay starts after).
                """
                DO $$
                BEGIN
                    EXECUTE format('ALTER DATABASE %I SET tcp_user_timeout = 3000', current_database());
                    EXECUTE format('ALTER DATABASE %I SET tcp_keepalives_idle = 5', current_database());
                    EXECUTE format('ALTER DATABASE %I SET tcp_keepalives_interval = 2', current_database());
                    EXECUTE format('ALTER DATABASE %I SET tcp_keepalives_count = 2', current_database());
                END $$""")) {
            f.restart(); // its pool opens connections with the database's settings in place
            String server;
            try (Connection c = f.connection(); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT string_agg(name || '=' || setting, ',' ORDER BY name)"
                         + " FROM pg_settings WHERE name IN ('tcp_user_timeout', 'tcp_keepalives_idle',"
                         + " 'tcp_keepalives_interval', 'tcp_keepalives_count')")) {
                rs.next();
                server = rs.getString(1);
            }
            assertEquals("tcp_keepalives_count=2,tcp_keepalives_idle=5,tcp_keepalives_interval=2,tcp_user_timeout=3000",
                    server, "the database's own settings, as a direct session over TCP gets them");
            try (TestClient a = f.client("irr-tcp", 0)) {
                a.push(tx(1, Hlc.ofMillis(System.currentTimeMillis()), insert("t", obj("id", 1), obj("v", "x"))));
                a.awaitAck(1);
            }
            String relay = f.query("SELECT seen FROM t WHERE id = 1").get(0).get(0);
            assertEquals(server, relay, "the relay's pooled connection loosened the database's stricter TCP settings"
                    + " (a dead or silent peer now goes unnoticed longer than the operator allowed)");
        }
    }

    /**
     * Retention now deletes "5,000 change rows per transaction" so that "no statement grows with the size of
     * its commits". But the batch is counted in rows, not bytes: a change row is a full row image, as large
     * as the row (up to a 16 MiB client frame), and deleting it deletes its TOAST chunks. 5,000 images of rows
     * of a few MB (documents, photos: each written by a quick transaction of its own) are gigabytes for one
     * DELETE. Here, as in TimeoutReviewTest's test of the 1,000-commit chunk, the statement timeout is half
     * of what deleting one such batch takes (measured, rolled back): the first run takes the commits out of
     * the log and then fails on the batch (57014), and so does every later run, at its start
     * (deleteQueuedRows comes first), so the queue is never drained, the rows never go, and no later commit
     * is pruned either.
     */
    @Test
    void retentionOfLargeRowImagesStaysWithinTheStatementTimeout() throws Exception {
        try (RelayFixture f = RelayFixture.start("irr_bigrows", "CREATE TABLE t (id int PRIMARY KEY, doc text)")) {
            // 5,000 rows of 40 KB that do not compress (hex of md5s): one batch of change rows, about 200 MB.
            f.execute("INSERT INTO t SELECT g, b.s FROM generate_series(1, 5000) AS g,"
                    + " (SELECT string_agg(md5(random()::text), '') AS s FROM generate_series(1, 1250)) AS b");
            long big = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            f.execute("INSERT INTO t VALUES (0, 'the head')");
            long batchMs;
            try (Connection c = f.connection(); Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                long t0 = System.nanoTime();
                st.execute("DELETE FROM syncsqlite.change WHERE xid = (SELECT xid FROM syncsqlite.commit_log WHERE seq = "
                        + big + ")");
                batchMs = (System.nanoTime() - t0) / 1_000_000;
                c.rollback();
            }
            f.execute("UPDATE syncsqlite.commit_log SET committed_at = committed_at - interval '2 hours'"
                    + " WHERE seq <= " + big);
            long commits = f.queryLong("SELECT count(*) FROM syncsqlite.commit_log");
            // Half of one batch's delete: a statement deleting the whole batch outlasts it every time, one of
            // 16 MiB of images (a few hundred rows, 5-15 ms here) does not. Under load (another test JVM on the
            // same two cores) a run may still fail now and then: it fails the test only when three runs in a row
            // leave as many rows to delete as before them, or ten runs do not finish.
            String orphans = "SELECT count(*) FROM syncsqlite.change AS c WHERE c.xid NOT IN (SELECT xid FROM syncsqlite.commit_log)";
            long boundMs = Math.max(50, batchMs / 2);
            try (Relay relay = Relay.start(f.config().withRetention(Duration.ofHours(1))
                    .withLockTimeout(Duration.ofMillis(20)).withStatementTimeout(Duration.ofMillis(boundMs)))) {
                String failure = null;
                long left = Long.MAX_VALUE;
                int stuck = 0;
                for (int run = 1; run <= 10 && stuck < 3; run++) {
                    try {
                        relay.pruneHistory();
                        failure = null;
                        break;
                    } catch (java.sql.SQLException e) {
                        failure = e.getSQLState();
                        long now = f.queryLong(orphans);
                        stuck = now < left ? 0 : stuck + 1;
                        left = now;
                        Thread.sleep(200); // a stall of the machine passes rather than failing the next run too
                    }
                }
                assertEquals(List.of(List.of("0", "0")), f.query("SELECT (SELECT count(*) FROM syncsqlite.pruned), (" + orphans + ")"),
                        "retention stalled: runs failed without progress (SQLState " + failure + "; a batch of 5,000 row"
                                + " images takes " + batchMs + " ms to delete, the bound is " + boundMs + " ms) and left"
                                + " the queue and the change rows of "
                                + (commits - f.queryLong("SELECT count(*) FROM syncsqlite.commit_log")) + " pruned commit(s)"
                                + " in place; every later run fails the same way at its start");
            }
        }
    }

    /**
     * Guard: with everything installed, neither a second relay's start nor a watcher's reinstall (a new
     * table) waits for, or makes writers wait for, a REPEATABLE READ reader of the relay's tables, an open
     * writer of a synced table, or a session stopped in the middle of the capture trigger (waiting for a
     * clock row another transaction holds). The capture trigger's function is replaced (CREATE OR REPLACE)
     * under it; the session finishes its statement without error once released.
     */
    @Test
    void guardInstallOnABusyDatabaseWaitsForNoReaderWriterOrCaptureAndLetsWritersThrough() throws Exception {
        try (RelayFixture f = RelayFixture.start("irr_busy", "CREATE TABLE t (id int PRIMARY KEY, v int)");
             Connection reader = f.connection(); Connection holder = f.connection(); Connection mid = f.connection();
             Connection later = f.connection()) {
            f.execute("INSERT INTO t SELECT g, 0 FROM generate_series(1, 10) AS g"); // captured: clock rows exist
            reader.setAutoCommit(false);
            reader.createStatement().execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
            for (String table : List.of("syncsqlite.row_clock", "syncsqlite.change", "syncsqlite.commit_log",
                    "syncsqlite.client", "t")) {
                reader.createStatement().execute("SELECT count(*) FROM " + table);
            }
            holder.setAutoCommit(false);
            holder.createStatement().execute("INSERT INTO t VALUES (100, 1)");
            holder.createStatement().execute("SELECT 1 FROM syncsqlite.row_clock WHERE tbl = 't' AND pk = '{\"id\": 5}'"
                    + " FOR UPDATE");
            int midPid;
            try (ResultSet rs = mid.createStatement().executeQuery("SELECT pg_backend_pid()")) {
                rs.next();
                midPid = rs.getInt(1);
            }
            CompletableFuture<Integer> midUpdate = CompletableFuture.supplyAsync(() -> {
                try (Statement st = mid.createStatement()) {
                    return st.executeUpdate("UPDATE t SET v = 1 WHERE id = 5");
                } catch (java.sql.SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                    + " WHERE pid = " + midPid + " AND wait_event_type = 'Lock'") == 1);

            CompletableFuture<Relay> second = CompletableFuture.supplyAsync(f::startRelay);
            Relay r2 = second.get(20, TimeUnit.SECONDS);
            try {
                f.execute("CREATE TABLE other (id int PRIMARY KEY)");
                await().atMost(Duration.ofSeconds(15)).until(() -> f.queryLong("SELECT count(*) FROM pg_trigger AS g"
                        + " WHERE g.tgrelid = 'other'::regclass AND g.tgname LIKE 'syncsqlite%'") == 5);
                // Both watchers have reinstalled by now (each within its 2 s period); writers pass.
                Thread.sleep(2500);
                later.createStatement().execute("SET lock_timeout = 3000");
                later.createStatement().execute("INSERT INTO t VALUES (200, 2)");
                later.createStatement().execute("UPDATE t SET v = 2 WHERE id = 6");
                later.createStatement().execute("INSERT INTO other VALUES (1)");
            } finally {
                r2.close();
            }
            assertFalse(midUpdate.isDone(), "still waiting for the clock row");
            holder.commit();
            assertEquals(1, midUpdate.get(10, TimeUnit.SECONDS), "the stopped capture finished its statement");
            reader.commit();
            assertEquals(1, f.queryLong("SELECT count(*) FROM syncsqlite.change AS c JOIN syncsqlite.commit_log AS l"
                    + " ON l.xid = c.xid WHERE c.tbl = 't' AND c.pk = '{\"id\": 5}' AND c.\"row\" ->> 'v' = '1'"));
        }
    }

    /**
     * Guard: a pruning run stopped between its two steps (commits out of the log with their xids queued,
     * their change rows not yet deleted) leaves nothing a reader sees: a client behind the pruned commits
     * resyncs, one after them gets only later commits, a commit read in parts whose log entry is gone ends
     * the session instead of reaching the client as whole; the next run finishes the queue.
     */
    @Test
    void guardAnInterruptedPruneShowsNothingAndACommitReadInPartsEndsInAResync() throws Exception {
        try (RelayFixture f = RelayFixture.start("irr_prune", "CREATE TABLE t (id int PRIMARY KEY, v int)")) {
            f.reconfigure(c -> c.withRetention(Duration.ofHours(1))); // its timer: every 6 minutes
            long c0 = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            // A big commit, read in parts (over FeedReader.MAX_ROWS rows), then a small one: the head.
            f.execute("INSERT INTO t SELECT g, 0 FROM generate_series(1, 12000) AS g");
            long big = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            f.execute("INSERT INTO t VALUES (20000, 1)");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");

            try (TestClient b = f.connect()) {
                b.autoProgress(false);
                Message.Welcome w = b.hello("irr-parts", c0);
                assertFalse(w.resync());
                b.await(() -> b.changes().size() >= 4 ? Boolean.TRUE : null, "the first messages of the big commit");
                assertTrue(b.changes().stream().allMatch(m -> m.through() == 0), "parts of the big commit");

                // Retention's first step, then a stop before any change row is deleted (a killed relay).
                f.execute("UPDATE syncsqlite.commit_log SET committed_at = committed_at - interval '2 hours'"
                        + " WHERE seq <= " + big,
                        "INSERT INTO syncsqlite.pruned (xid) SELECT xid FROM syncsqlite.commit_log WHERE seq <= " + big,
                        "DELETE FROM syncsqlite.commit_log WHERE seq <= " + big);
                assertEquals(12000, f.queryLong("SELECT count(*) FROM syncsqlite.change AS c JOIN syncsqlite.pruned AS p"
                        + " ON p.xid = c.xid"), "queued, not yet deleted");

                b.autoProgress(true);
                for (int i = 0; i < 4; i++) {
                    b.sendProgress(c0);
                }
                // The relay closes with 1001; the JDK client may see the close as a reset (it was still sending
                // progress), which makes no difference to a client: it reconnects either way.
                int code = b.awaitClose();
                assertTrue(code == 1001 || code == -1, "closed: " + code + " " + b.closeReason());
                assertTrue(b.changes().stream().noneMatch(m -> m.through() >= big),
                        "no part of the pruned commit may arrive as its whole");
                assertEquals(c0, b.cursor());
            }
            try (TestClient again = f.connect()) {
                assertTrue(again.hello("irr-parts", c0).resync(), "behind the pruned commits: resync");
            }
            try (TestClient after = f.connect()) {
                assertFalse(after.hello("irr-after", big).resync());
                after.awaitCursor(head);
                List<FeedEntry> got = after.entries();
                assertEquals(1, got.size(), "only the commit after the pruned ones: " + got.size());
                assertEquals(20000, got.get(0).pk().get("id").asInt());
            }
            f.relay().pruneHistory();
            assertEquals(0, f.queryLong("SELECT count(*) FROM syncsqlite.pruned"), "the next run emptied the queue");
            assertEquals(0, f.queryLong("SELECT count(*) FROM syncsqlite.change AS c WHERE c.xid NOT IN"
                    + " (SELECT xid FROM syncsqlite.commit_log)"), "and deleted the queued rows");
        }
    }
}
