package io.syncsqlite.driver;

import io.syncsqlite.driver.sync.SyncNode;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The sync client's side of a node's gate, reached by reflection for tests of the gate (TodayReviewTest,
 * GateReviewTest): {@code enter()} and {@code exit()} as LocalStore's write transactions call them, and the node's
 * counts of connections holding open queries and of open application transactions, and whether it waits for its
 * turn; plus the two tests' shared helpers.
 *
 * <p>Not thread-safe beyond what the node's own fields are.
 */
final class GateProbe {
    private final Object gate;
    private final Method enter;
    private final Method exit;
    private final AtomicInteger reads;
    private final Set<?> transactions;
    private final Field waiting;
    private final Field yields;
    private final SyncNode node;

    GateProbe(SyncNode node) throws Exception {
        Field f = SyncNode.class.getDeclaredField("syncGate");
        f.setAccessible(true);
        gate = f.get(node);
        Class<?> type = Class.forName("io.syncsqlite.driver.sync.LocalStore$WriteGate");
        enter = type.getDeclaredMethod("enter");
        exit = type.getDeclaredMethod("exit");
        enter.setAccessible(true);
        exit.setAccessible(true);
        Field r = SyncNode.class.getDeclaredField("appReads");
        r.setAccessible(true);
        reads = (AtomicInteger) r.get(node);
        Field t = SyncNode.class.getDeclaredField("appTransactions");
        t.setAccessible(true);
        transactions = (Set<?>) t.get(node);
        waiting = SyncNode.class.getDeclaredField("syncWaiting");
        waiting.setAccessible(true);
        yields = SyncNode.class.getDeclaredField("syncYields");
        yields.setAccessible(true);
        this.node = node;
    }

    /**
     * Waits until the sync client waits for its turn (someone holds the gate), at most {@code maxMillis}; false if it
     * did not in that time (it entered at once, or has not asked yet).
     */
    boolean awaitWaiting(long maxMillis) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMillis);
        while (System.nanoTime() < deadline) {
            if (waiting.getBoolean(node)) {
                return true;
            }
            Thread.sleep(1);
        }
        return false;
    }

    /** Whether the sync client, past its first second, lets new application work in while it waits on. */
    boolean yielding() throws IllegalAccessException {
        return yields.getBoolean(node);
    }

    /** Waits until the sync client lets new application work in while it waits on, at most {@code maxMillis}. */
    boolean awaitYielding(long maxMillis) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMillis);
        while (System.nanoTime() < deadline) {
            if (yielding()) {
                return true;
            }
            Thread.sleep(1);
        }
        return false;
    }

    /**
     * Waits until the sync client, having let new work in while it waited on ({@code syncYields}), holds it back again,
     * at most {@code maxMillis}; false if that did not happen in that time.
     */
    boolean awaitYieldingEnded(long maxMillis) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMillis);
        boolean seen = false;
        while (System.nanoTime() < deadline) {
            boolean now = yielding();
            if (seen && !now && waiting.getBoolean(node)) {
                return true;
            }
            seen |= now;
            Thread.sleep(1);
        }
        return false;
    }

    /** The node behind a driver connection. */
    static SyncNode node(java.sql.Connection c) throws java.sql.SQLException {
        return c.unwrap(io.syncsqlite.driver.jdbc.SyncConnection.class).node();
    }

    /** A driver connection to {@code file} whose node runs a sync client (to a relay that is not there). */
    static java.sql.Connection open(java.nio.file.Path file) throws java.sql.SQLException {
        return java.sql.DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0&sync.server=ws://127.0.0.1:9/sync");
    }

    /** A plain sqlite-jdbc connection to {@code file}: commits as the sync client's own connection would. */
    static java.sql.Connection raw(java.nio.file.Path file) throws java.sql.SQLException {
        return java.sql.DriverManager.getConnection("jdbc:sqlite:" + file);
    }

    static void exec(java.sql.Connection c, String... sql) throws java.sql.SQLException {
        try (java.sql.Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    /** Enters and exits at once; returns how long entering waited, in ms. */
    long enterMillis() throws Exception {
        long t0 = System.nanoTime();
        enter.invoke(gate);
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        exit.invoke(gate);
        return took;
    }

    void enter() throws Exception {
        enter.invoke(gate);
    }

    void exit() throws Exception {
        exit.invoke(gate);
    }

    int openReads() {
        return reads.get();
    }

    int openTransactions() {
        synchronized (transactions) {
            return transactions.size();
        }
    }
}
