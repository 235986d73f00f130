package io.syncsqlite.it.relay;

import io.syncsqlite.it.harness.TcpProxy;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.RowChange;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.syncsqlite.it.support.Json.delete;
import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Review of the bounds on the relay's pooled connections ({@code SessionLimits}: statement_timeout,
 * idle_in_transaction_session_timeout, a network timeout of the statement timeout + 5 s) and of retention
 * in chunks of 1,000 commits.
 */
class TimeoutReviewTest {

    /**
     * Guard (nobody tested it): a slow client's snapshot takes longer in total than the statement timeout,
     * and its transaction idles between two pages for longer than it too; neither bound may cut it (the
     * snapshot connections have no idle bound, and a fetch is a statement of its own).
     */
    @Test
    void aSlowClientsSnapshotOutlastingTheStatementTimeoutCompletes() throws Exception {
        try (RelayFixture f = RelayFixture.start("tr_slowsnap", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 8000) AS g");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            f.reconfigure(c -> c.withLockTimeout(Duration.ofMillis(200)).withStatementTimeout(Duration.ofMillis(600)));
            try (TestClient a = f.connect()) {
                a.autoProgress(false);
                a.hello("tr-slowsnap", 0);
                long start = System.nanoTime();
                confirmSlowly(a, head, 900);
                assertTrue(System.nanoTime() - start > Duration.ofSeconds(3).toNanos(), "took longer than the bound");
                assertEquals(8000, a.entries().stream().filter(e -> e.table().equals("t")).count());
                assertEquals(null, a.closeCode());
            }
        }
    }

    /**
     * Guard: the same for a catch-up from the history (commits older than the feed's buffer, read through
     * the apply pool, which has the idle bound), confirmed slowly.
     */
    @Test
    void aSlowClientsHistoryCatchUpOutlastingTheStatementTimeoutCompletes() throws Exception {
        try (RelayFixture f = RelayFixture.start("tr_slowhist", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            long from = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            try (Connection c = f.connection(); Statement st = c.createStatement()) {
                for (int i = 1; i <= 1500; i++) {
                    st.execute("INSERT INTO t VALUES (" + i + ", 'row')");
                }
            }
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            // Restarted: its buffer starts at the head, so the catch-up is read from PostgreSQL.
            f.reconfigure(c -> c.withLockTimeout(Duration.ofMillis(200)).withStatementTimeout(Duration.ofMillis(600)));
            try (TestClient a = f.connect()) {
                a.autoProgress(false);
                a.hello("tr-slowhist", from);
                long start = System.nanoTime();
                confirmSlowly(a, head, 900);
                assertTrue(System.nanoTime() - start > Duration.ofSeconds(1).toNanos(), "took longer than the bound");
                assertEquals(1500, a.entries().stream().filter(e -> e.table().equals("t")).count());
                assertEquals(null, a.closeCode());
            }
        }
    }

    /** Confirms each changes message {@code pauseMs} after it arrived, until the cursor reaches {@code head}. */
    private static void confirmSlowly(TestClient a, long head, long pauseMs) throws InterruptedException {
        int confirmed = 0;
        while (a.cursor() < head) {
            if (a.changes().size() == confirmed) {
                int known = confirmed;
                a.await(() -> a.changes().size() > known || a.closeCode() != null ? Boolean.TRUE : null, "a batch");
                assertEquals(null, a.closeCode(), "closed before the end: " + a.closeReason());
                continue;
            }
            Thread.sleep(pauseMs);
            confirmed++;
            a.sendProgress(a.changes().get(confirmed - 1).through());
        }
    }

    /**
     * Retention prunes "in transactions of at most 1,000 commits" so that a first run over a long history
     * cannot outlast the statement timeout at every attempt and never prune. But the chunk is counted in
     * commits, not rows: 40 commits of 20,000 rows (bulk imports; a 16 MiB client frame holds 100,000) are
     * one chunk, deleted by one statement. Here that statement outlasts a bound of a third of its own time;
     * the run failed with 57014, and so did every later run, on the same first chunk: the history was never
     * pruned. Rows are now deleted in batches of 5,000 (Retention.CHUNK_ROWS).
     */
    @Test
    void retentionOfBigCommitsStaysWithinTheStatementTimeout() throws Exception {
        int rowsPerCommit = 20_000;
        try (RelayFixture f = RelayFixture.start("tr_retrows", "CREATE TABLE t (id int PRIMARY KEY, v int)")) {
            long allMs;
            try (Connection c = f.connection(); Statement st = c.createStatement()) {
                for (int i = 0; i < 40; i++) {
                    st.execute("INSERT INTO t SELECT g, 0 FROM generate_series(" + (i * rowsPerCommit + 1) + ", "
                            + (i + 1) * rowsPerCommit + ") AS g");
                }
                // The bound is a third of what deleting every row in one statement takes (measured, rolled
                // back): one statement per chunk of commits outlasts it, batches of a few thousand rows do not.
                // 800,000 rows take 150-400 ms here, a batch about 10 ms: a bound of 50 ms (400,000 rows) left
                // too little room for a loaded machine.
                c.setAutoCommit(false);
                long t0 = System.nanoTime();
                st.execute("DELETE FROM syncsqlite.change");
                allMs = (System.nanoTime() - t0) / 1_000_000;
                c.rollback();
            }
            f.execute("UPDATE syncsqlite.commit_log SET committed_at = committed_at - interval '2 hours'");
            long commits = f.queryLong("SELECT count(*) FROM syncsqlite.commit_log");
            long boundMs = Math.max(50, allMs / 3);
            try (Relay relay = Relay.start(f.config().withRetention(Duration.ofHours(1))
                    .withLockTimeout(Duration.ofMillis(20)).withStatementTimeout(Duration.ofMillis(boundMs)))) {
                // One run does it on a quiet machine. Under load (another test JVM on the same two cores) a batch
                // may outlast the bound measured before, or wait beyond 20 ms for a lock: the next run goes on
                // from there. What the test guards against is a run that cannot make progress (one statement per
                // chunk of commits, which always outlasts the bound): three runs in a row that leave as much
                // history as before fail it, as does a history still there after ten runs. What is counted is the
                // history left, not a run's count (a failed run may have taken commits out of the log already).
                long left = f.queryLong("SELECT count(*) FROM syncsqlite.change");
                int stuck = 0;
                for (int run = 1; ; run++) {
                    try {
                        relay.pruneHistory();
                        break;
                    } catch (SQLException e) {
                        long now = f.queryLong("SELECT count(*) FROM syncsqlite.change");
                        stuck = now < left ? 0 : stuck + 1;
                        if (stuck == 3 || run == 10) {
                            fail("retention run " + run + " failed with SQLState " + e.getSQLState() + " and left "
                                    + now + " change rows (" + left + " before it, " + stuck + " run(s) without"
                                    + " progress; " + f.queryLong("SELECT count(*) FROM syncsqlite.commit_log")
                                    + " of " + commits + " commits left; bound " + boundMs + " ms): a statement that"
                                    + " outlasts the statement timeout every time");
                        }
                        left = now;
                        Thread.sleep(200); // a stall of the machine passes rather than failing the next run too
                    }
                }
                assertEquals(List.of(List.of("1")), f.query("SELECT count(*) FROM syncsqlite.commit_log"),
                        "everything but the head of " + commits + " commits");
                assertEquals(List.of(List.of(String.valueOf(rowsPerCommit))), f.query("SELECT count(*) FROM syncsqlite.change"),
                        "the change rows of every pruned commit deleted, the head's kept");
            }
        }
    }

    /**
     * Guard (nobody tested it): a client waiting for a table's advisory lock behind a bulk transaction (over
     * 1,000 keys: the lock is exclusive) that runs longer than the statement timeout in total, each of its
     * statements within it. The waiter's statement is cancelled (57014): that must close its session with
     * 1011, never reject; its resend lands once the bulk transaction committed, which lands too.
     */
    @Test
    void aWaiterBehindALongBulkApplyIsCancelledResendsAndLandsNothingRejected() throws Exception {
        try (RelayFixture f = RelayFixture.start("tr_bulkwait", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("INSERT INTO t SELECT g, 'seed' FROM generate_series(9000, 9010) AS g",
                    "CREATE FUNCTION slow_stmt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                            + " IF current_setting('syncsqlite.node', true) = 'tr-bulk' THEN PERFORM pg_sleep(0.4);"
                            + " END IF; RETURN NULL; END $$",
                    "CREATE TRIGGER slow_stmt AFTER INSERT OR DELETE ON t FOR EACH STATEMENT EXECUTE FUNCTION slow_stmt()");
            f.reconfigure(c -> c.withLockTimeout(Duration.ofMillis(500)).withStatementTimeout(Duration.ofSeconds(1)));
            long hlc = Hlc.ofMillis(System.currentTimeMillis());
            // Five runs of inserts split by four deletes (barriers): nine statements of 0.4 s or more.
            List<RowChange> bulk = new ArrayList<>();
            for (int run = 0; run < 5; run++) {
                for (int i = 1; i <= 300; i++) {
                    bulk.add(insert("t", obj("id", run * 300 + i), obj("v", "bulk")));
                }
                if (run < 4) {
                    bulk.add(delete("t", obj("id", 9001 + run)));
                }
            }
            try (TestClient b = f.client("tr-bulk", 0)) {
                b.push(new ClientTx(1, hlc, bulk));
                await().atMost(Duration.ofSeconds(10)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                        + " WHERE datname = current_database() AND wait_event = 'PgSleep'") == 1);
                List<Integer> closes = new ArrayList<>();
                Message outcome = pushUntilAnswered(f, "tr-small", tx(1, hlc, update("t", obj("id", 9000), obj("v", "small"))),
                        closes);
                assertTrue(outcome instanceof Message.Ack, "the waiter's transaction: " + outcome);
                assertTrue(!closes.isEmpty(), "the waiter was cancelled at least once (its wait outlasted the bound)");
                assertTrue(closes.stream().allMatch(code -> code == 1011), "closed with " + closes);
                Message bulkOutcome = b.awaitOutcome(1);
                assertTrue(bulkOutcome instanceof Message.Ack, "the bulk transaction: " + bulkOutcome);
            }
            assertEquals(1500, f.queryLong("SELECT count(*) FROM t WHERE v = 'bulk'"));
            assertEquals("small", f.query("SELECT v FROM t WHERE id = 9000").get(0).get(0));
        }
    }

    /**
     * The relay waits for any reply at most the statement timeout + 5 s, on the premise that only a silent
     * server takes longer ("a statement that is only slow is cancelled by the server first"). But the relay
     * sends some statements as one pipelined round trip (TableStatements.lockKeys: set_config; the table's
     * advisory lock, waited for without lock_timeout; set_config; the rows' advisory locks), and PostgreSQL
     * bounds each statement of a pipeline separately and sends nothing back until the last one is done. Here
     * the table lock is held for 7 s (a bulk transaction; statement bound 8 s) and the row's lock after that
     * (lock bound 7 s): the live server's answer, 55P03 at about 14 s, comes after the relay gave up at 13 s
     * with 08006 and dropped the connection as dead. The lock-timeout handling is lost with it: the node is not
     * put on the 100 ms probe, so its resend holds a pooled connection for the whole 7 s again
     * (LockWaitTest's pool starvation), and the abandoned backend keeps waiting on the lock.
     */
    @Test
    void aLockWaitAfterATableLockWaitIsNotMistakenForADeadServer() throws Exception {
        try (RelayFixture f = RelayFixture.start("tr_pipewait", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("INSERT INTO t VALUES (1, 'seed')");
            f.reconfigure(c -> c.withLockTimeout(Duration.ofSeconds(7)).withStatementTimeout(Duration.ofSeconds(8)));
            ClientTx change = tx(1, Hlc.ofMillis(System.currentTimeMillis()), update("t", obj("id", 1), obj("v", "client")));
            String waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND application_name = 'syncsqlite-relay' AND wait_event_type = 'Lock'";
            try (Connection table = f.connection(); Connection row = f.connection()) {
                table.setAutoCommit(false);
                row.setAutoCommit(false);
                try (Statement st = table.createStatement()) { // what a bulk relay transaction on t holds
                    st.execute("SELECT pg_advisory_xact_lock(hashtextextended(chr(1) || 't', 0))");
                }
                try (Statement st = row.createStatement()) { // what a relay transaction writing row 1 holds
                    st.execute("SELECT pg_advisory_xact_lock(hashtextextended('t' || jsonb_build_object('id', 1)::text, 0))");
                }
                long orphans;
                try (TestClient a = f.client("tr-pipewait", 0)) {
                    a.push(change);
                    Thread.sleep(7000);
                    table.commit(); // the bulk transaction ends within the statement bound
                    assertEquals(1011, a.awaitClose(), "resend later");
                    orphans = f.queryLong(waiting);
                }
                long start = System.nanoTime();
                try (TestClient b = f.client("tr-pipewait", 0)) {
                    b.push(change);
                    assertEquals(1011, b.awaitClose(), "the row is still locked: resend later");
                }
                long resendMs = (System.nanoTime() - start) / 1_000_000;
                row.rollback();
                // A lock-timed-out node's resend waits at most the 100 ms probe; without it, the whole 7 s again.
                assertTrue(resendMs < 5000, "the resend held a pooled connection for " + resendMs + " ms waiting for the"
                        + " lock: the first attempt's lock wait was not taken as a lock timeout (55P03) but ended by the"
                        + " relay's socket timeout as a dead server (08006), so the node was not put on the 100 ms probe;"
                        + " relay backends still waiting for a lock after the relay gave up: " + orphans);
            }
        }
    }

    /** Pushes {@code tx} from a new session each time until it is answered; records the close codes met. */
    private static Message pushUntilAnswered(RelayFixture f, String node, ClientTx tx, List<Integer> closes) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            try (TestClient c = f.client(node, 0)) {
                c.push(tx);
                Supplier<Object> answer = () -> c.closeCode() != null ? (Object) c.closeCode() : c.messages().stream()
                        .filter(m -> m instanceof Message.Ack || m instanceof Message.Reject).findFirst().orElse(null);
                Object o = c.await(answer::get, "ack, reject or close");
                if (o instanceof Message m) {
                    return m;
                }
                closes.add((Integer) o);
            }
        }
        throw new AssertionError("no answer within 30 s; closes " + closes);
    }

    /**
     * The relay gives up on an apply whose flow went dark after the network timeout (statement timeout + 5 s)
     * and the client resends, expecting PostgreSQL to end the orphaned session once it idles in its
     * transaction (idle_in_transaction_session_timeout). Here the flow goes dark while PostgreSQL is sending
     * the apply's reply, and the reply is bigger than the socket buffers (the images of 8,000 rows the
     * client's older update lost on, logged by logUntouchedRows with RETURNING: about 8 MB): the backend is
     * not idle but blocked writing, which neither statement_timeout nor the idle bound interrupts. It keeps
     * the client's row lock and the table lock until TCP gives up (about 15 minutes; on this loopback flow,
     * never), so the resend cannot land, and no other client can write the table meanwhile. Checked: with
     * {@code tcp_user_timeout} set to the network timeout (7000 ms) for the database, the kernel ends the
     * blocked session, its locks go, and this test passes.
     */
    @Test
    void aLostApplyBlockedSendingItsReplyDoesNotHoldItsLocksForever() throws Exception {
        try (RelayFixture f = RelayFixture.start("tr_darkreply", "CREATE TABLE t (id int PRIMARY KEY, v text, pad text)")) {
            int rows = 8000;
            f.execute("INSERT INTO t SELECT g, 'pg', repeat('x', 1000) FROM generate_series(1, " + rows + ") AS g");
            Matcher m = DB_URL.matcher(f.dbUrl());
            assertTrue(m.matches(), f.dbUrl());
            try (DarkeningProxy proxy = new DarkeningProxy(Integer.parseInt(m.group(1)),
                    "RETURNING pk::text, \"row\"::text, hlc")) {
                RelayConfig base = f.config();
                String url = "jdbc:postgresql://127.0.0.1:" + proxy.port() + m.group(2) + "?sslmode=disable";
                Relay relay = Relay.start(RelayConfig.of(url, base.pgUser(), base.pgPassword())
                        .withHost("127.0.0.1").withPort(0).withPoolSize(4)
                        .withLockTimeout(Duration.ofSeconds(1)).withStatementTimeout(Duration.ofSeconds(2)));
                try {
                    // Older than every row's clock: each update loses, and the relay logs each row's image.
                    long hlc = Hlc.ofMillis(System.currentTimeMillis() - 3_600_000);
                    List<RowChange> changes = new ArrayList<>();
                    for (int i = 1; i <= rows; i++) {
                        changes.add(update("t", obj("id", i), obj("v", "client")));
                    }
                    ClientTx tx = new ClientTx(1, hlc, changes);
                    try (TestClient a = TestClient.connect(relay.uri())) {
                        a.hello("tr-darkreply", 0);
                        a.push(tx);
                        assertEquals(1011, a.awaitClose(), "the relay gave up on the dark flow: resend later");
                    }
                    assertTrue(proxy.fired.get(), "the flow went dark while PostgreSQL sent the images");
                    long deadline = System.nanoTime() + Duration.ofSeconds(25).toNanos();
                    Object outcome = null;
                    while (System.nanoTime() < deadline) {
                        try (TestClient again = TestClient.connect(relay.uri())) {
                            again.hello("tr-darkreply", 0);
                            again.push(tx);
                            outcome = again.await(() -> again.closeCode() != null ? (Object) again.closeCode()
                                    : again.messages().stream().filter(x -> x instanceof Message.Ack
                                    || x instanceof Message.Reject).findFirst().orElse(null), "ack or close");
                        }
                        if (outcome instanceof Message.Ack) {
                            break;
                        }
                        assertEquals(1011, outcome, "only the relay's 'try again later' may end a resend");
                        Thread.sleep(200);
                    }
                    assertTrue(outcome instanceof Message.Ack, "the resend never landed within 25 s of the relay giving"
                            + " up: the lost apply's session is still there holding its locks: "
                            + f.query("SELECT state, wait_event, now() - state_change FROM pg_stat_activity"
                            + " WHERE datname = current_database() AND wait_event = 'ClientWrite'"));
                } finally {
                    proxy.close(); // ends the blocked backend
                    relay.close();
                    f.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                            + " AND wait_event = 'ClientWrite'");
                }
            }
        }
    }

    private static final Pattern DB_URL = Pattern.compile("^jdbc:postgresql://[^/?]*:(\\d+)(/[^?]*).*$");

    /**
     * A loopback proxy to PostgreSQL. Once the relay sends a message containing {@code marker} (once), that
     * connection's flow goes dark as a dropped flow does: from then on nothing PostgreSQL sends on it is read
     * (its socket buffers fill and its writes block), and no close reaches PostgreSQL. Other connections pass.
     */
    static final class DarkeningProxy implements AutoCloseable {
        private final ServerSocket server;
        private final int target;
        private final byte[] marker;
        final AtomicBoolean fired = new AtomicBoolean();
        private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
        private volatile boolean closed;

        DarkeningProxy(int target, String marker) throws IOException {
            this.target = target;
            this.marker = marker.getBytes(StandardCharsets.UTF_8);
            this.server = new ServerSocket();
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Thread t = new Thread(this::accept, "dark-proxy");
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return server.getLocalPort();
        }

        private void accept() {
            while (!closed) {
                try {
                    Socket client = server.accept();
                    Socket upstream = new Socket();
                    upstream.setReceiveBufferSize(8192); // small: PostgreSQL's writes block soon once unread
                    upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), target));
                    sockets.add(client);
                    sockets.add(upstream);
                    AtomicBoolean dark = new AtomicBoolean();
                    start(() -> relayToPg(client, upstream, dark));
                    start(() -> pgToRelay(upstream, client, dark));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private static void start(Runnable r) {
            Thread t = new Thread(r, "dark-proxy-pump");
            t.setDaemon(true);
            t.start();
        }

        private void relayToPg(Socket from, Socket to, AtomicBoolean dark) {
            byte[] buf = new byte[64 * 1024];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buf)) >= 0) {
                    out.write(buf, 0, n);
                    out.flush();
                    if (!dark.get() && TcpProxy.contains(buf, n, marker) && fired.compareAndSet(false, true)) {
                        dark.set(true);
                    }
                }
            } catch (IOException e) {
                // cut
            } finally {
                TcpProxy.closeQuietly(from);
                if (!dark.get()) {
                    TcpProxy.closeQuietly(to);
                }
            }
        }

        private void pgToRelay(Socket from, Socket to, AtomicBoolean dark) {
            byte[] buf = new byte[64 * 1024];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while (!dark.get() && (n = in.read(buf)) >= 0) {
                    if (dark.get()) {
                        break; // vanished
                    }
                    out.write(buf, 0, n);
                    out.flush();
                }
                while (dark.get() && !closed) {
                    Thread.sleep(50); // read nothing more
                }
            } catch (IOException | InterruptedException e) {
                // cut
            } finally {
                if (!dark.get()) {
                    TcpProxy.closeQuietly(from);
                    TcpProxy.closeQuietly(to);
                }
            }
        }


        @Override
        public void close() throws IOException {
            closed = true;
            server.close();
            for (Socket s : sockets) {
                TcpProxy.closeQuietly(s);
            }
        }
    }
}
