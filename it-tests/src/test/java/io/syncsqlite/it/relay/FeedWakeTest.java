package io.syncsqlite.it.relay;

import io.syncsqlite.it.harness.TcpProxy;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.relay.db.ConnectionPool;
import io.syncsqlite.relay.feed.ChangeFeed;
import io.syncsqlite.relay.feed.FeedCommit;
import io.syncsqlite.relay.schema.Catalog;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What makes the relay's feed read: its own commits poke it, everyone else's arrive as notifications on
 * a LISTEN connection of its own, a lost LISTEN connection is reopened without losing the commits made
 * while it was gone, and close() ends both threads whatever they are doing. Most feeds here poll once an
 * hour, so only the wake-up under test can make them read within the test. Each feed uses a connector
 * with an application name of its own, so its PostgreSQL backends can be told apart from the fixture
 * relay's.
 */
class FeedWakeTest {

    private static final Duration NEVER = Duration.ofHours(1);
    private static final String LISTEN_BACKENDS = "SELECT pid FROM pg_stat_activity"
            + " WHERE datname = current_database() AND application_name = 'feedwake-test listen'";
    private static final Pattern DB_URL = Pattern.compile("^jdbc:postgresql://[^/?]*:(\\d+)(/[^?]*).*$");

    // ---------------------------------------------------------------------------------------------------
    // Wake-ups: no commit waits for the poll

    @Test
    void aPokeReadsACommitWithoutNotificationOrPoll() throws Exception {
        RelayFixture f = RelayFixture.start("feedpoke", "CREATE TABLE t (id int PRIMARY KEY, v int)");
        try (ConnectionPool pool = new ConnectionPool(connector(f, "feedwake-test"), 1);
             ChangeFeed feed = new ChangeFeed(connector(f, "feedwake-test"), pool, new Catalog("public", List.of()), 1000, 1, NEVER, false, null)) {
            awaitWaiting(start(feed)); // the feed's first read, at start, is done
            long head = feed.head();
            f.execute("INSERT INTO t VALUES (1, 1)");
            Thread.sleep(500);
            assertEquals(head, feed.head(), "nothing woke the feed, so it has not read the commit");
            feed.poke();
            await().atMost(Duration.ofSeconds(10)).until(() -> feed.head() == head + 1);
        } finally {
            f.close();
        }
    }

    /**
     * The feed stops reading when a page holds everything that was visible, not when a read comes back
     * empty; a page cut by either limit (500 commits, 10,000 change rows) must still be followed by the next.
     * Three commits of 4,000 rows fill the row limit at the second, and 600 single-row commits after them
     * fill the commit limit; one poke, with no notifications and no poll, must read all 603.
     */
    @Test
    void onePokeReadsPastBothPageLimits() throws Exception {
        RelayFixture f = RelayFixture.start("feedpages", "CREATE TABLE t (id int PRIMARY KEY, v int)");
        try (ConnectionPool pool = new ConnectionPool(connector(f, "feedwake-test"), 1);
             ChangeFeed feed = new ChangeFeed(connector(f, "feedwake-test"), pool, new Catalog("public", List.of()), 100_000, 1, NEVER, false, null)) {
            awaitWaiting(start(feed)); // the feed's first read, at start, is done
            long head = feed.head();
            try (Connection c = f.connection(); Statement st = c.createStatement()) {
                for (int i = 0; i < 3; i++) {
                    st.execute("INSERT INTO t SELECT g, 0 FROM generate_series(" + (i * 4000 + 1) + ", " + (i + 1) * 4000 + ") AS g");
                }
                for (int i = 1; i <= 600; i++) {
                    st.execute("INSERT INTO t VALUES (" + (20_000 + i) + ", 1)");
                }
            }
            assertEquals(head, feed.head(), "nothing woke the feed yet");
            feed.poke();
            await().atMost(Duration.ofSeconds(10)).until(() -> feed.head() == head + 603);
            int commits = 0;
            for (List<FeedCommit> page = feed.read(head, 100); !page.isEmpty();
                 page = feed.read(page.get(page.size() - 1).seq(), 100)) {
                commits += page.size();
            }
            assertEquals(603, commits, "the buffer holds every commit, none skipped");
        } finally {
            f.close();
        }
    }

    @Test
    void notificationsWakeTheFeedAndALostListenConnectionIsReopened() throws Exception {
        RelayFixture f = RelayFixture.start("feedlisten", "CREATE TABLE t (id int PRIMARY KEY, v int)");
        try (ConnectionPool pool = new ConnectionPool(connector(f, "feedwake-test"), 1);
             ChangeFeed feed = new ChangeFeed(connector(f, "feedwake-test"), pool, new Catalog("public", List.of()), 1000, 1, NEVER, true, null)) {
            feed.start();
            await().atMost(Duration.ofSeconds(5)).until(() -> f.query(LISTEN_BACKENDS).size() == 1);
            long head = feed.head();
            f.execute("INSERT INTO t VALUES (1, 1)");
            await().atMost(Duration.ofSeconds(5)).until(() -> feed.head() == head + 1);

            // The commit below is notified while nobody listens: the feed must still read it once the
            // LISTEN connection is back, not an hour later.
            assertEquals(1, f.query("SELECT pg_terminate_backend(pid) FROM (" + LISTEN_BACKENDS + ") AS l").size());
            f.execute("INSERT INTO t VALUES (2, 2)");
            await().atMost(Duration.ofSeconds(10)).until(() -> feed.head() == head + 2);
            await().atMost(Duration.ofSeconds(10)).until(() -> f.query(LISTEN_BACKENDS).size() == 1);

            f.execute("INSERT INTO t VALUES (3, 3)");
            await().atMost(Duration.ofSeconds(5)).until(() -> feed.head() == head + 3);
        } finally {
            f.close();
        }
    }


    /**
     * Many threads commit and poke at once, with no LISTEN and no poll: every commit must be read right
     * after its poke (a poke swallowed by drainPermits, or by poke()'s availablePermits check, would leave
     * it for the hour-long poll).
     */
    @Test
    void everyCommitIsReadAfterItsPokeWhenManyThreadsCommitAndPokeAtOnce() throws Exception {
        try (RelayFixture f = RelayFixture.start("feedrvpoke", "CREATE TABLE t (id int PRIMARY KEY, v int)");
             ConnectionPool pool = new ConnectionPool(connector(f, "feedrv-poke"), 1);
             ChangeFeed feed = new ChangeFeed(connector(f, "feedrv-poke"), pool, new Catalog("public", List.of()),
                     1000, 1, NEVER, false, null)) {
            feed.start();
            int threads = 4;
            int perThread = 75;
            AtomicInteger ids = new AtomicInteger();
            ExecutorService exec = Executors.newFixedThreadPool(threads);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    done.add(exec.submit(() -> {
                        try (Connection c = f.connection()) {
                            c.setAutoCommit(false);
                            for (int i = 0; i < perThread; i++) {
                                long seq;
                                try (Statement st = c.createStatement()) {
                                    st.execute("INSERT INTO t VALUES (" + ids.incrementAndGet() + ", 0)");
                                    try (ResultSet rs = st.executeQuery("SELECT syncsqlite.commit_mark()")) {
                                        rs.next();
                                        seq = rs.getLong(1);
                                    }
                                }
                                c.commit();
                                feed.poke();
                                // Far below the hour-long poll; parking, not spinning: four spinning threads
                                // on two cores starved the feed's thread and PostgreSQL.
                                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                                while (feed.head() < seq) {
                                    if (System.nanoTime() > deadline) {
                                        fail("commit " + seq + " not read 20 s after its poke (head " + feed.head() + ")");
                                    }
                                    java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
                                }
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> d : done) {
                    d.get();
                }
            } finally {
                exec.shutdownNow();
            }
            assertEquals(threads * perThread, f.queryLong("SELECT count(*) FROM t"));
        }
    }

    /**
     * What a PostgreSQL restart does to the feed, with no poll to fall back on: both connections are cut
     * and refused for a while, commits are made meanwhile (their notifications reach nobody). Once
     * PostgreSQL is reachable again the LISTEN thread's poke after reconnecting makes the feed read them,
     * and later commits are notified again.
     */
    @Test
    void commitsMadeWhilePostgresWasUnreachableAreReadOnceItIsBack() throws Exception {
        try (RelayFixture f = RelayFixture.start("feedrvrestart", "CREATE TABLE t (id int PRIMARY KEY, v int)");
             TcpProxy proxy = new TcpProxy(0)) {
            ConnectionPool.PgConnector connector = throughProxy(f, proxy, "feedrv-restart");
            try (ConnectionPool pool = new ConnectionPool(connector, 1);
                 ChangeFeed feed = new ChangeFeed(connector, pool, new Catalog("public", List.of()), 1000, 1, NEVER, true, null)) {
                feed.start();
                await().atMost(Duration.ofSeconds(5)).until(() -> backends(f, "feedrv-restart listen").size() == 1);
                long head = feed.head();
                f.execute("INSERT INTO t VALUES (1, 1)");
                await().atMost(Duration.ofSeconds(5)).until(() -> feed.head() == head + 1);

                proxy.online(false); // cuts both connections and refuses new ones
                await().atMost(Duration.ofSeconds(5)).until(() -> backends(f, "feedrv-restart%").isEmpty());
                f.execute("INSERT INTO t VALUES (2, 2)", "INSERT INTO t VALUES (3, 3)");
                Thread.sleep(2_500); // both threads fail to reconnect, at least twice
                assertEquals(head + 1, feed.head());
                proxy.online(true);
                await().atMost(Duration.ofSeconds(10)).until(() -> feed.head() == head + 3);

                await().atMost(Duration.ofSeconds(10)).until(() -> backends(f, "feedrv-restart listen").size() == 1);
                f.execute("INSERT INTO t VALUES (4, 4)");
                await().atMost(Duration.ofSeconds(5)).until(() -> feed.head() == head + 4);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // The LISTEN connection's life

    /**
     * idle_session_timeout (PostgreSQL 14+, set by an operator per server, database or role, or by a
     * managed service) ends sessions that have not sent a statement for that long. The LISTEN connection
     * sends one only for its 5 s check, and receiving notifications is not activity: without care a
     * timeout would end it again and again (each time "change feed stopped listening" at WARN, and about a
     * second in which other writers' commits wait for the poll). Here under steady traffic.
     */
    @Test
    void theListenConnectionOutlivesAnIdleSessionTimeoutUnderSteadyTraffic() throws Exception {
        assertListenConnectionKept("idlebusy", 6_000, 8_500, true);
    }

    /** The same with a timeout shorter than the 5 s check, and no traffic. */
    @Test
    void theListenConnectionOutlivesAShortIdleSessionTimeoutWhenQuiet() throws Exception {
        assertListenConnectionKept("idlequiet", 2_000, 4_500, false);
    }

    /**
     * Watches a feed whose sessions have {@code idle_session_timeout} set for {@code watchMillis}, with a
     * commit by another writer every 100 ms if {@code traffic}: neither of its connections may be replaced.
     */
    private static void assertListenConnectionKept(String name, int timeoutMillis, long watchMillis, boolean traffic)
            throws Exception {
        String app = "feedrv-" + name;
        try (RelayFixture f = RelayFixture.start("feedrv" + name, "CREATE TABLE t (id int PRIMARY KEY, v int)")) {
            ConnectionPool.PgConnector connector = withIdleSessionTimeout(f, app, timeoutMillis);
            try (ConnectionPool pool = new ConnectionPool(connector, 1);
                 ChangeFeed feed = new ChangeFeed(connector, pool, new Catalog("public", List.of()), 1000, 1, ChangeFeed.POLL, true, null)) {
                feed.start();
                await().atMost(Duration.ofSeconds(5)).until(() -> backends(f, app + " listen").size() == 1);
                List<String> first = backends(f, app + " listen");
                Set<List<String>> seen = new HashSet<>();
                try (Connection c = f.connection(); Statement st = c.createStatement()) {
                    long end = System.nanoTime() + Duration.ofMillis(watchMillis).toNanos();
                    for (int i = 1; System.nanoTime() < end; i++) {
                        if (traffic) {
                            st.execute("INSERT INTO t VALUES (" + i + ", 0)");
                        }
                        seen.add(backends(f, app + " listen"));
                        Thread.sleep(100);
                    }
                }
                seen.add(backends(f, app + " listen"));
                // The feed's read connection (a read every 500 ms) survives the same timeout.
                assertEquals(1, backends(f, app).size(), "read connection");
                assertEquals(Set.of(first), seen, "the LISTEN backend was replaced (idle_session_timeout ended it)");
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // close()

    /** close() ends both threads and both connections, and returns promptly. */
    @Test
    void closeEndsBothThreadsAndBothConnections() throws Exception {
        try (RelayFixture f = RelayFixture.start("feedrvclose", "CREATE TABLE t (id int PRIMARY KEY, v int)")) {
            ConnectionPool.PgConnector connector = connector(f, "feedrv-close");
            try (ConnectionPool pool = new ConnectionPool(connector, 1)) {
                ChangeFeed feed = new ChangeFeed(connector, pool, new Catalog("public", List.of()), 1000, 1, NEVER, true, null);
                Set<Thread> mine = start(feed);
                assertEquals(2, mine.size(), mine.toString());
                await().atMost(Duration.ofSeconds(5)).until(() -> backends(f, "feedrv-close%").size() == 2);
                closeAndAwaitEnd(feed, mine, 1_500);
                await().atMost(Duration.ofSeconds(2)).until(() -> backends(f, "feedrv-close%").isEmpty());
            }
        }
    }

    /**
     * close() while PostgreSQL is unreachable (both threads in their retry loops) returns promptly and
     * ends both threads.
     */
    @Test
    void closeWhilePostgresIsUnreachableEndsBothThreads() throws Exception {
        try (RelayFixture f = RelayFixture.start("feedrvclosedown", "CREATE TABLE t (id int PRIMARY KEY, v int)");
             TcpProxy proxy = new TcpProxy(0)) {
            ConnectionPool.PgConnector connector = throughProxy(f, proxy, "feedrv-closedown");
            try (ConnectionPool pool = new ConnectionPool(connector, 1)) {
                ChangeFeed feed = new ChangeFeed(connector, pool, new Catalog("public", List.of()), 1000, 1, ChangeFeed.POLL, true, null);
                Set<Thread> mine = start(feed);
                assertEquals(2, mine.size(), mine.toString());
                await().atMost(Duration.ofSeconds(5)).until(() -> backends(f, "feedrv-closedown%").size() == 2);
                proxy.online(false);
                Thread.sleep(2_000); // both threads fail and retry
                closeAndAwaitEnd(feed, mine, 2_500);
            }
        }
    }

    /**
     * close() while the feed thread is reopening its connection: close() sets {@code closed} and releases
     * one permit, the feed thread, already past its {@code while (!closed)} check, finishes connecting and
     * then drains that permit ({@code wake.drainPermits()} before {@code readNew}), so the
     * {@code tryAcquire(poll)} that follows waits the whole poll interval: here an hour, with the
     * connection it opened after close() still open. (In production the poll is 500 ms, so the thread and
     * its connection outlive close() by up to half a second.) The connection is made slow with the proxy's
     * latency, and close() is called once the feed thread is inside openReadConnection.
     */
    @Test
    void closeWhileTheFeedThreadReconnectsEndsIt() throws Exception {
        try (RelayFixture f = RelayFixture.start("feedrvclosereconnect", "CREATE TABLE t (id int PRIMARY KEY, v int)");
             TcpProxy proxy = new TcpProxy(0)) {
            ConnectionPool.PgConnector connector = throughProxy(f, proxy, "feedrv-closereconnect");
            try (ConnectionPool pool = new ConnectionPool(connector, 1)) {
                ChangeFeed feed = new ChangeFeed(connector, pool, new Catalog("public", List.of()), 1000, 1, NEVER, false, null);
                Set<Thread> mine = start(feed);
                assertEquals(1, mine.size(), mine.toString());
                Thread feedThread = mine.iterator().next();
                await().atMost(Duration.ofSeconds(5)).until(() -> backends(f, "feedrv-closereconnect").size() == 1);

                // Kill the feed's connection, let the proxy close its side, then make new connections slow.
                f.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                        + " AND application_name = 'feedrv-closereconnect'");
                await().atMost(Duration.ofSeconds(5)).until(() -> backends(f, "feedrv-closereconnect").isEmpty());
                Thread.sleep(300);
                proxy.latency(1_000);
                feed.poke(); // the read fails; a second later the thread reconnects
                await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(5))
                        .until(() -> Arrays.stream(feedThread.getStackTrace())
                                .anyMatch(e -> e.getMethodName().equals("openReadConnection")));
                feed.close();
                // Connecting through 1 s of latency each way takes a few seconds; then the thread must end.
                proxy.latency(0);
                await().atMost(Duration.ofSeconds(10)).until(() -> Arrays.stream(feedThread.getStackTrace())
                        .noneMatch(e -> e.getMethodName().equals("openReadConnection")));
                feedThread.join(2_000);
                assertFalse(feedThread.isAlive(), "the feed thread outlived close(): "
                        + Arrays.toString(feedThread.getStackTrace()));
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------

    /** Starts the feed; returns the threads it started. */
    private static Set<Thread> start(ChangeFeed feed) throws SQLException {
        Set<Thread> before = feedThreads();
        feed.start();
        Set<Thread> mine = new HashSet<>(feedThreads());
        mine.removeAll(before);
        return mine;
    }

    /**
     * Waits until the feed's thread waits for a wake-up (or the poll) after a read: a fixed pause was not always
     * long enough on a loaded machine for the first read at start.
     */
    private static void awaitWaiting(Set<Thread> threads) {
        assertEquals(1, threads.size(), threads.toString());
        Thread t = threads.iterator().next();
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5))
                .until(() -> Arrays.stream(t.getStackTrace()).anyMatch(e -> e.getMethodName().equals("tryAcquire")));
    }

    /** Closes the feed, which must return within {@code maxMillis}; then its threads must end. */
    private static void closeAndAwaitEnd(ChangeFeed feed, Set<Thread> threads, long maxMillis) throws InterruptedException {
        long t0 = System.nanoTime();
        feed.close();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < maxMillis, "close took " + ms + " ms");
        for (Thread t : threads) {
            t.join(1_000);
            assertFalse(t.isAlive(), t.getName() + " still runs: " + Arrays.toString(t.getStackTrace()));
        }
    }

    private static Set<Thread> feedThreads() {
        Set<Thread> out = new HashSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("syncsqlite-feed")) {
                out.add(t);
            }
        }
        return out;
    }

    /** The pids of this database's backends whose application_name is LIKE {@code pattern}. */
    private static List<String> backends(RelayFixture f, String pattern) {
        return f.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                + " AND application_name LIKE '" + pattern + "' ORDER BY pid").stream().map(r -> r.get(0)).toList();
    }

    private static ConnectionPool.PgConnector connector(RelayFixture f, String name) {
        var config = f.config();
        return new ConnectionPool.PgConnector(config.pgUrl(), config.pgUser(), config.pgPassword(), name);
    }

    /** A connector whose sessions end after {@code millis} without a statement (idle_session_timeout). */
    private static ConnectionPool.PgConnector withIdleSessionTimeout(RelayFixture f, String name, int millis)
            throws SQLException {
        var config = f.config();
        String url = config.pgUrl() + (config.pgUrl().contains("?") ? "&" : "?")
                + "options=-c%20idle_session_timeout%3D" + millis;
        ConnectionPool.PgConnector connector = new ConnectionPool.PgConnector(url, config.pgUser(),
                config.pgPassword(), name + " probe");
        try (Connection c = connector.open(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT current_setting('idle_session_timeout')")) {
            rs.next();
            assertEquals(millis / 1000 + "s", rs.getString(1), "the test's setting applies");
        }
        return new ConnectionPool.PgConnector(url, config.pgUser(), config.pgPassword(), name);
    }

    private static ConnectionPool.PgConnector throughProxy(RelayFixture f, TcpProxy proxy, String name) {
        Matcher m = DB_URL.matcher(f.dbUrl());
        assertTrue(m.matches(), f.dbUrl());
        proxy.target(Integer.parseInt(m.group(1)));
        var config = f.config();
        String url = "jdbc:postgresql://127.0.0.1:" + proxy.port() + m.group(2) + "?sslmode=disable";
        return new ConnectionPool.PgConnector(url, config.pgUser(), config.pgPassword(), name);
    }
}
