package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.KeyStock;
import io.syncsqlite.driver.sync.SyncNode;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.sync.FixesReviewTest.Part;
import jakarta.persistence.EntityManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.reflect.Field;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Review of commit 18adae8: key requests sent from the application thread that found a table's stock low
 * ({@code SyncClient.keysLow} through {@code Transport.post}), and {@code KeyStock}'s waits rewritten around
 * one {@code waitFor}.
 */
class KeyRequestReviewTest {

    private static final String PG_ITEM = "CREATE TABLE item (id bigserial PRIMARY KEY, name text NOT NULL)";
    private static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)";
    private static final String[] PG_THREE = {
        PG_ITEM,
        "CREATE TABLE thing (id bigserial PRIMARY KEY, name text NOT NULL)",
        "CREATE TABLE gadget (id bigserial PRIMARY KEY, name text NOT NULL)"};
    private static final String[] LOCAL_THREE = {
        LOCAL_ITEM,
        "CREATE TABLE thing (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE gadget (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"};

    @TempDir
    Path dir;

    // ------------------------------------------------------------------------------------------ findings

    /**
     * An application thread that found the stock low read the connection to send its key request on, and
     * was descheduled while the client lost that connection and made a new one (GC pause, a busy machine;
     * the reconnect is immediate for a snapshot request). It then marks the table as "requested" after the new
     * connection forgot earlier requests, but sends the request on the dead connection; the new connection's
     * own request round sees the table as requested and sends nothing. The user then inserts on a client
     * that is connected and expects keys as usual; the pause is reproduced deterministically by holding the
     * two threads at {@code keyedTables.get()} inside {@code keysLow} / {@code requestKeys}.
     */
    @Test
    void aKeyRequestPostedOnTheConnectionBeforeAReconnectDoesNotStarveTheTable() throws Exception {
        try (Cluster cl = Cluster.start("krr_stale", dir, PG_ITEM).clientParams("&sync.idBlock=3")) {
            Client a = cl.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item (name) VALUES ('warm')");
            awaitStock(a, "item", 3);
            a.awaitSynced();
            SyncNode node = a.node();
            Object client = field(node, "client");
            Field f = client.getClass().getDeclaredField("keyedTables");
            f.setAccessible(true);
            @SuppressWarnings("unchecked")
            Supplier<List<String>> original = (Supplier<List<String>>) f.get(client);
            AtomicReference<Thread> victim = new AtomicReference<>();
            CountDownLatch victimIn = new CountDownLatch(1);
            CountDownLatch victimGo = new CountDownLatch(1);
            CountDownLatch syncIn = new CountDownLatch(1);
            CountDownLatch syncGo = new CountDownLatch(1);
            java.util.concurrent.atomic.AtomicBoolean armSync = new java.util.concurrent.atomic.AtomicBoolean();
            f.set(client, (Supplier<List<String>>) () -> {
                Thread me = Thread.currentThread();
                if (me == victim.get() && victimIn.getCount() > 0) {
                    victimIn.countDown();
                    awaitQuietly(victimGo);
                } else if (armSync.get() && me.getName().startsWith("syncsqlite-sync-") && syncIn.getCount() > 0) {
                    syncIn.countDown();
                    awaitQuietly(syncGo);
                }
                return original.get();
            });
            ConcurrentLinkedQueue<Object> victimResult = new ConcurrentLinkedQueue<>();
            Thread v = new Thread(() -> {
                try {
                    while (victimIn.getCount() > 0) {
                        victimResult.add(node.nextKey("item"));
                    }
                } catch (Throwable e) {
                    victimResult.add(e);
                }
            }, "victim");
            victim.set(v);
            v.start();
            assertTrue(victimIn.await(20, TimeUnit.SECONDS), "the victim never found the stock low: " + victimResult);
            // The victim holds the connection it read; the client loses that connection and makes a new one.
            a.offline();
            await().atMost(Duration.ofSeconds(20)).until(() -> !node.status().connected());
            armSync.set(true);
            a.online();
            assertTrue(syncIn.await(20, TimeUnit.SECONDS), "the sync thread never asked for keys on the new connection");
            victimGo.countDown(); // between the new connection's connectionLost() and its requestKeys()
            v.join(10_000);
            syncGo.countDown();
            await().atMost(Duration.ofSeconds(20)).until(() -> node.status().connected());
            KeyStock stock = (KeyStock) field(node, "keys");
            Set<Long> keys = new HashSet<>();
            for (int i = 0; i < 10; i++) {
                long start = System.nanoTime();
                try {
                    keys.add(node.nextKey("item"));
                } catch (SQLException e) {
                    fail("key " + (i + 1) + " failed after " + (System.nanoTime() - start) / 1_000_000 + " ms on a"
                            + " connected client (" + e.getSQLState() + ": " + e.getMessage() + "); connected="
                            + node.status().connected() + ", requests in flight per the stock: "
                            + field(stock, "requested") + ", in stock: " + node.keysAvailable("item"));
                }
            }
            assertEquals(10, keys.size());
        }
    }

    /**
     * The situation the commit is about (another program's transaction holds SQLite's write lock, so this
     * client's sync thread waits for it to apply a change from PostgreSQL), and the device then goes offline.
     * The user inserts through the open transaction until the stock is used up and expects the next insert to
     * fail fast with SY004, as it does offline otherwise, not to stall for the 5-second first-range wait.
     */
    @Test
    void offlineWhileTheSyncThreadWaitsForTheWriteLockAnInsertFailsFast() throws Exception {
        try (Cluster cl = Cluster.start("krr_offline_locked", dir, PG_ITEM).clientParams("&sync.idBlock=3")) {
            Client a = cl.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item (name) VALUES ('warm')");
            awaitStock(a, "item", 3);
            a.awaitSynced();
            try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + a.file());
                 Statement st = other.createStatement()) {
                st.execute("BEGIN IMMEDIATE");
                try {
                    cl.pg("INSERT INTO item (name) VALUES ('psql')");
                    Thread.sleep(700); // the change arrives, and a's sync thread waits for the lock to apply it
                    a.offline();
                    // The connection's end reached the client (its key lane is cleared): keys from now on fail
                    // fast. A fixed pause was not always enough on a loaded machine.
                    Object client = field(a.node(), "client");
                    await().atMost(Duration.ofSeconds(10)).until(() -> field(client, "keyLane") == null);
                    long failedAfter = -1;
                    String state = null;
                    int taken = 0;
                    for (int i = 0; i < 20 && failedAfter < 0; i++) {
                        long start = System.nanoTime();
                        try {
                            a.node().nextKey("item");
                            taken++;
                        } catch (SQLException e) {
                            failedAfter = (System.nanoTime() - start) / 1_000_000;
                            state = e.getSQLState();
                        }
                    }
                    boolean connected = a.node().status().connected();
                    assertTrue(failedAfter >= 0, "offline, 20 keys came from a stock of a few");
                    assertEquals("SY004", state);
                    assertTrue(failedAfter < 2000, "offline, the key after " + taken + " from stock failed only after "
                            + failedAfter + " ms (status connected=" + connected + ")");
                } finally {
                    st.execute("ROLLBACK");
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ what works

    /**
     * Offline with the stock used up: the user expects the next keyless insert to fail at once with SY004
     * (a clear message), not to wait.
     */
    @Test
    void offlineInsertFailsFastOnceTheStockIsUsedUp() throws Exception {
        try (Cluster cl = Cluster.start("krr_offline", dir, PG_ITEM).clientParams("&sync.idBlock=3")) {
            Client a = cl.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item (name) VALUES ('warm')");
            awaitStock(a, "item", 3);
            a.awaitSynced();
            a.offline();
            await().atMost(Duration.ofSeconds(20)).until(() -> !a.node().status().connected());
            int rows = 0;
            SQLException failure = null;
            long failedAfter = -1;
            for (int i = 0; i < 20 && failure == null; i++) {
                long start = System.nanoTime();
                try {
                    a.exec("INSERT INTO item (name) VALUES (?)", "off" + i);
                    rows++;
                } catch (SQLException e) {
                    failure = e;
                    failedAfter = (System.nanoTime() - start) / 1_000_000;
                }
            }
            assertTrue(failure != null, "20 rows offline from a stock of a few");
            assertTrue(rows >= 3, "rows from stock: " + rows);
            assertEquals("SY004", rootState(failure));
            assertTrue(failedAfter < 1000, "failed after " + failedAfter + " ms");
            a.online();
            a.awaitSynced();
            assertEquals((long) rows + 1, cl.pgRows("SELECT count(*) AS n FROM item").get(0).get("n"));
        }
    }

    /**
     * Many application threads take keys of three tables at once on a client with small ranges
     * ({@code sync.idBlock=10}). The user expects every key to come (no SY004), no key twice, and no table
     * asked for more than one range at a time (the stock settles at under two ranges; every key the relay drew
     * is either used or in stock).
     */
    @Test
    void manyThreadsTakeKeysOfSeveralTablesWithoutDuplicatesOrSurplusRequests() throws Exception {
        try (Cluster cl = Cluster.start("krr_many", dir, PG_THREE).clientParams("&sync.idBlock=10")) {
            Client a = cl.client("a", LOCAL_THREE);
            SyncNode node = a.node();
            String[] tables = {"item", "thing", "gadget"};
            int threads = 8;
            int perThread = 150;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<List<long[]>>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int offset = t;
                results.add(pool.submit(() -> {
                    List<long[]> got = new ArrayList<>();
                    for (int i = 0; i < perThread; i++) {
                        int table = (i + offset) % tables.length;
                        got.add(new long[] {table, node.nextKey(tables[table])});
                    }
                    return got;
                }));
            }
            List<Set<Long>> perTable = List.of(new HashSet<>(), new HashSet<>(), new HashSet<>());
            int total = 0;
            for (Future<List<long[]>> r : results) {
                for (long[] k : r.get(60, TimeUnit.SECONDS)) {
                    perTable.get((int) k[0]).add(k[1]);
                    total++;
                }
            }
            pool.shutdown();
            assertEquals(threads * perThread, total);
            assertEquals(total, perTable.stream().mapToInt(Set::size).sum(), "a key was given twice");
            // The last requests are answered: until then a range drawn in PostgreSQL may not be in stock yet.
            KeyStock stock = (KeyStock) field(node, "keys");
            await().atMost(Duration.ofSeconds(20)).until(() -> ((Set<?>) field(stock, "requested")).isEmpty());
            for (int i = 0; i < tables.length; i++) {
                String t = tables[i];
                int used = perTable.get(i).size();
                await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                    long available = node.keysAvailable(t);
                    assertTrue(available <= 20, t + ": " + available + " keys in stock, more than two ranges");
                    long drawn = ((Number) cl.pgRows("SELECT last_value AS v FROM " + t + "_id_seq").get(0).get("v")).longValue();
                    assertEquals(drawn, used + available, t + ": keys drawn vs used + in stock");
                });
            }
        }
    }

    /**
     * Several application connections insert keyless rows into two tables at once, each in its own
     * auto-commit transaction, on a client with small ranges ({@code sync.idBlock=5}). The user expects every
     * insert to succeed and every row in PostgreSQL.
     */
    @Test
    void concurrentConnectionsInsertIntoTwoTables() throws Exception {
        try (Cluster cl = Cluster.start("krr_conns", dir, PG_THREE).clientParams("&sync.idBlock=5")) {
            Client a = cl.client("a", LOCAL_THREE);
            int threads = 4;
            int perThread = 60;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int who = t;
                results.add(pool.submit(() -> {
                    try (Connection c = DriverManager.getConnection(a.url());
                         PreparedStatement item = c.prepareStatement("insert into item (name) values (?)");
                         PreparedStatement thing = c.prepareStatement("insert into thing (name) values (?)")) {
                        for (int i = 0; i < perThread; i++) {
                            PreparedStatement ps = i % 2 == 0 ? item : thing;
                            ps.setString(1, who + "-" + i);
                            ps.executeUpdate();
                        }
                    }
                    return perThread;
                }));
            }
            for (Future<Integer> r : results) {
                r.get(120, TimeUnit.SECONDS);
            }
            pool.shutdown();
            a.awaitSynced();
            assertEquals((long) threads * perThread / 2, cl.pgRows("SELECT count(*) AS n FROM item").get(0).get("n"));
            assertEquals((long) threads * perThread / 2, cl.pgRows("SELECT count(DISTINCT id) AS n FROM thing").get(0).get("n"));
        }
    }

    /**
     * An insert waits for keys while the key request is lost in a connection that went dark; the connection
     * is then cut and the client reconnects at once. The user expects the waiting insert to get its key from
     * the new connection within the 5-second wait.
     */
    @Test
    void aWaitingInsertGetsItsKeyAfterTheConnectionIsReplaced() throws Exception {
        try (Cluster cl = Cluster.start("krr_replace", dir, PG_ITEM).clientParams("&sync.idBlock=3")) {
            Client a = cl.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item (name) VALUES ('warm')");
            awaitStock(a, "item", 3);
            a.awaitSynced();
            SyncNode node = a.node();
            a.proxy().blackHoleOpenConnections();
            while (node.keysAvailable("item") > 0) {
                node.nextKey("item");
            }
            ConcurrentLinkedQueue<Object> result = new ConcurrentLinkedQueue<>();
            Thread w = new Thread(() -> {
                long start = System.nanoTime();
                try {
                    result.add(node.nextKey("item"));
                } catch (Throwable e) {
                    result.add(e);
                }
                result.add((System.nanoTime() - start) / 1_000_000);
            }, "waiter");
            w.start();
            awaitWaiting(w);
            a.proxy().cutAll();
            w.join(10_000);
            List<Object> r = new ArrayList<>(result);
            assertEquals(2, r.size(), "waiter still waiting: " + r);
            assertTrue(r.get(0) instanceof Long, "waiter failed: " + r);
        }
    }

    /**
     * An insert waiting for keys (the request lost in a connection gone dark) is interrupted, as an executor
     * shutting down does. The user expects it to end at once with SY004 and the thread's interrupt kept.
     */
    @Test
    void anInterruptedWaitEndsAtOnceWithSY004() throws Exception {
        try (Cluster cl = Cluster.start("krr_interrupt", dir, PG_ITEM).clientParams("&sync.idBlock=3")) {
            Client a = cl.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item (name) VALUES ('warm')");
            awaitStock(a, "item", 3);
            a.awaitSynced();
            SyncNode node = a.node();
            a.proxy().blackHoleOpenConnections();
            while (node.keysAvailable("item") > 0) {
                node.nextKey("item");
            }
            ConcurrentLinkedQueue<Object> result = new ConcurrentLinkedQueue<>();
            Thread w = new Thread(() -> {
                try {
                    result.add(node.nextKey("item"));
                } catch (SQLException e) {
                    result.add(e.getSQLState());
                }
                result.add(Thread.currentThread().isInterrupted());
            }, "waiter");
            w.start();
            awaitWaiting(w);
            long start = System.nanoTime();
            w.interrupt();
            w.join(3000);
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals(List.of("SY004", true), new ArrayList<>(result), "after " + ms + " ms");
            assertTrue(ms < 1000, "interrupted wait ended after " + ms + " ms");
        }
    }

    /**
     * Two threads persist through one Hibernate factory (default {@code @GeneratedValue}: a sequence table
     * taking runs of keys) on a fresh client whose ranges are small ({@code sync.idBlock=3}): the first run
     * must come while the other thread inserts (the CI case behind the change). SQLITE_BUSY between
     * Hibernate's two isolated sequence transactions is SQLite's own and is retried (as in
     * SequenceSecondReviewTest); the user expects no persist to fail for want of ids (SY004) while online, no
     * id twice, and every row in PostgreSQL.
     */
    @Test
    void twoHibernateThreadsOnAFreshClientWithSmallRanges() throws Exception {
        try (Cluster cl = Cluster.start("krr_jpa", dir, FixesReviewTest.PART_PG).clientParams("&sync.idBlock=3")) {
            Client a = cl.client("a", FixesReviewTest.PART_LOCAL);
            List<Long> ids = Collections.synchronizedList(new ArrayList<>());
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            try (EntityManagerFactory f = JpaReviewTest.emf(a, java.util.Map.of("hibernate.connection.pool_size", "6"), Part.class)) {
                ExecutorService pool = Executors.newFixedThreadPool(2);
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < 2; t++) {
                    String who = "t" + t;
                    done.add(pool.submit(() -> {
                        int committed = 0;
                        for (int attempt = 0; committed < 4 && attempt < 40; attempt++) {
                            int r = attempt;
                            try {
                                ids.addAll(JpaReviewTest.tx(f, em -> {
                                    List<Long> got = new ArrayList<>();
                                    for (int k = 0; k < 40; k++) {
                                        Part x = new Part();
                                        x.name = who + "-" + r + "-" + k;
                                        em.persist(x);
                                        got.add(x.id);
                                    }
                                    return got;
                                }));
                                committed++;
                            } catch (RuntimeException e) {
                                String root = root(e);
                                if (root.contains("no ids in stock") || root.contains("no integer key")) {
                                    failures.add(who + " attempt " + r + ": " + root);
                                }
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> d : done) {
                    d.get(180, TimeUnit.SECONDS);
                }
                pool.shutdown();
            }
            assertEquals(List.of(), new ArrayList<>(failures));
            assertEquals(320, ids.size());
            assertEquals(320, new HashSet<>(ids).size(), "an id was handed out twice");
            a.awaitSynced();
            assertEquals(320L, cl.pgRows("SELECT count(*) AS n FROM part").get(0).get("n"));
        }
    }

    private static String root(Throwable e) {
        Throwable r = e;
        while (r.getCause() != null) {
            r = r.getCause();
        }
        return r.getMessage() == null ? r.toString() : r.getMessage();
    }

    // ------------------------------------------------------------------------------------------ helpers

    private static void awaitStock(Client c, String table, long atLeast) {
        await().atMost(Duration.ofSeconds(20)).until(() -> c.node().keysAvailable(table) >= atLeast);
    }

    private static Object field(Object target, String name) throws ReflectiveOperationException {
        Field f = target.getClass().getDeclaredField(name);
        f.setAccessible(true);
        Object value = f.get(target);
        if (value != null && name.equals("requested")) {
            synchronized (target) {
                return new HashSet<>((Set<?>) value);
            }
        }
        return value;
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String rootState(SQLException e) {
        SQLException s = e;
        while (s.getCause() instanceof SQLException next && s.getSQLState() == null) {
            s = next;
        }
        return s.getSQLState();
    }

    /** Until {@code t} waits (for keys, in KeyStock's timed wait), rather than a fixed pause. */
    private static void awaitWaiting(Thread t) {
        await().atMost(Duration.ofSeconds(10)).until(() -> t.getState() == Thread.State.TIMED_WAITING);
    }
}
