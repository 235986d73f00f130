package io.syncsqlite.driver;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.sync.SyncNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Review of the read/transaction gate between the application and the node's sync client ({@code SyncNode.appRead},
 * {@code appTransaction}, {@code syncGate}; {@code SyncConnection.read/claimRead/readEnded/endUnclaimedRead};
 * {@code DelegatingStatement.ReadResultSet/endRead}), with real SQLite files and no relay (port 9 is never reachable).
 *
 * <p>As in TodayReviewTest the gate is observed from the sync client's side: the test enters and exits
 * {@code SyncNode.syncGate} (as {@code LocalStore.inTransaction} does around each of its write transactions) and
 * measures how long entering waits (bounded: {@code SYNC_WAIT_MS}, then {@code SYNC_IDLE_MS} for a connection that does
 * nothing); a leaked count shows as a wait of a second or more at every sync write. A sync commit is simulated by a plain sqlite-jdbc connection writing between enter and exit.
 *
 * <p>Found (fail): {@link #queryRunByExecuteAndNeverFetchedEndsWithItsStatement},
 * {@link #getMoreResultsEndsTheQuerysRead}, {@link #metadataQueryInAutoCommitHoldsTheGate},
 * {@link #transactionOnAnotherConnectionOfTheThreadHoldingAQueryDoesNotStall},
 * {@link #connectionSharedByTwoThreadsBalancesTheGate}, {@link #interruptedThreadStillKeepsItsTransactionApart}.
 * Passing regressions:
 * {@link #autoCommitSwitchedWhileAQueryIsOpenBalancesTheGate}.
 */
class GateReviewTest {

    @TempDir
    Path dir;

    private Connection open() throws SQLException {
        return GateProbe.open(dir.resolve("app.db"));
    }

    /** A plain sqlite-jdbc connection to the same file: commits as the sync client's own connection would. */
    private Connection raw() throws SQLException {
        return GateProbe.raw(dir.resolve("app.db"));
    }

    private static void exec(Connection c, String... sql) throws SQLException {
        GateProbe.exec(c, sql);
    }

    private static SyncNode node(Connection c) throws SQLException {
        return GateProbe.node(c);
    }

    private static void seed(Connection c) throws SQLException {
        exec(c, "CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)",
                "INSERT INTO item VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)",
                "CREATE TABLE IF NOT EXISTS side (id INTEGER PRIMARY KEY, v TEXT)");
    }


    /**
     * A query run by {@code execute} whose result set is never fetched, in a statement that is then closed: HikariCP's
     * {@code connectionTestQuery} ({@code try (Statement s = c.createStatement()) { s.execute("SELECT 1"); }}, at
     * every borrow after idling and at every keepalive), Spring's ScriptUtils and Liquibase's SQL changes (they
     * {@code execute} each statement and only look at the update count). sqlite-jdbc finalizes the statement, so no
     * snapshot is held, yet the connection keeps its registration until it runs another statement or closes: a pooled
     * connection returned idle after a keepalive makes every sync write wait its full bound (1 s).
     *
     * <p>FOUND (fails): the count stays 1 and entering waits about 1000 ms. Cause: {@code SyncConnection.read} leaves
     * the read unclaimed for {@code getResultSet} when execute answers true, and neither
     * {@code DelegatingStatement.close} nor anything else but the connection's next {@code run} or close ends an
     * unclaimed read ({@code endUnclaimedRead}).
     */
    @Test
    @Timeout(30)
    void queryRunByExecuteAndNeverFetchedEndsWithItsStatement() throws Exception {
        try (Connection c = open()) {
            seed(c);
            GateProbe sync = new GateProbe(node(c));
            try (Statement st = c.createStatement()) {
                assertTrue(st.execute("SELECT 1"));
            }
            long waited = sync.enterMillis();
            assertTrue(sync.openReads() == 0 && waited < 500, "statement closed, yet the gate counts "
                    + sync.openReads() + " open read(s) and the sync client waited " + waited + " ms");
        }
    }

    /**
     * The generic way of reading whatever {@code execute} produced: fetch the result set, then
     * {@code getMoreResults()} to move on (JDBC: it closes the current result set; sqlite-jdbc does). The query's
     * statement is reset, SQLite holds no snapshot, but the driver still counts the read until the statement runs
     * again or is closed.
     *
     * <p>FOUND (fails): the count stays 1 and entering waits about 1000 ms. Cause:
     * {@code DelegatingStatement.getMoreResults()} / {@code getMoreResults(int)} forward to sqlite-jdbc without
     * {@code endRead()} (nor {@code endUnclaimedRead} for a read not fetched yet).
     */
    @Test
    @Timeout(30)
    void getMoreResultsEndsTheQuerysRead() throws Exception {
        try (Connection c = open()) {
            seed(c);
            GateProbe sync = new GateProbe(node(c));
            try (Statement st = c.createStatement()) {
                assertTrue(st.execute("SELECT id FROM item ORDER BY id"));
                ResultSet rs = st.getResultSet();
                assertTrue(rs.next());
                assertFalse(st.getMoreResults());
                assertEquals(-1, st.getUpdateCount());
                assertTrue(rs.isClosed(), "getMoreResults closed the result set");
                long waited = sync.enterMillis();
                assertTrue(sync.openReads() == 0 && waited < 500, "no result set is open, yet the gate counts "
                        + sync.openReads() + " open read(s) and the sync client waited " + waited + " ms");
            }
        }
    }

    /**
     * "Empty every table" as test helpers and tools do it, on one auto-commit connection: list the tables through
     * {@code DatabaseMetaData.getTables} and, while iterating that result set, {@code DELETE FROM} each. The listing's
     * statement holds a read snapshot exactly as an auto-commit query does, and the sync client commits meanwhile (here
     * simulated: it enters the gate, commits through its own connection, exits). Plain sqlite-jdbc with one connection
     * never fails so; the gate promises the same for open auto-commit queries.
     *
     * <p>FOUND (fails): the sync client enters at once and the DELETE fails with SQLITE_BUSY_SNAPSHOT. Cause:
     * {@code SyncDatabaseMetaData.beforeQuery} / {@code SyncConnection.beforeRead} only register reads inside a
     * transaction; metadata result sets in auto-commit mode never take the read gate ({@code SyncConnection.read}).
     */
    @Test
    @Timeout(30)
    void metadataQueryInAutoCommitHoldsTheGate() throws Exception {
        try (Connection c = open(); Connection raw = raw()) {
            seed(c);
            exec(c, "CREATE TABLE other (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO other VALUES (1, 'x')");
            GateProbe sync = new GateProbe(node(c));
            long[] enteredAt = new long[1];
            CompletableFuture<Void> writer;
            long closedAt;
            try (ResultSet tables = c.getMetaData().getTables(null, null, "%", new String[]{"TABLE"});
                 Statement st = c.createStatement()) {
                assertTrue(tables.next());
                writer = CompletableFuture.runAsync(() -> {
                    try {
                        sync.enter();
                        enteredAt[0] = System.nanoTime();
                        try (Statement w = raw.createStatement()) {
                            w.executeUpdate("INSERT INTO side VALUES (100, 'sync')");
                        } finally {
                            sync.exit();
                        }
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                sync.awaitWaiting(2_000); // the sync client wants to write now
                do {
                    String table = tables.getString("TABLE_NAME");
                    if (!table.equals("side")) {
                        try {
                            st.executeUpdate("DELETE FROM " + table);
                        } catch (SQLException e) {
                            fail("DELETE FROM " + table + " while listing the tables failed: " + e.getMessage(), e);
                        }
                    }
                    // Before next(): the listing's read ends when next() finds no more rows, not only at close(), and
                    // the sync client may then go ahead (measured after the loop, it sometimes came 0 ms "early").
                    closedAt = System.nanoTime();
                } while (tables.next());
            }
            writer.get(10, TimeUnit.SECONDS);
            assertTrue(enteredAt[0] >= closedAt, "the sync client committed "
                    + TimeUnit.NANOSECONDS.toMillis(closedAt - enteredAt[0]) + " ms before the listing's last row was done");
        }
    }

    /**
     * The cross-connection form of TodayReviewTest's nested lookup: one thread iterates an auto-commit query on pooled
     * connection A (a streamed result) and, per row, runs a short transaction on pooled connection B of the same
     * file (a service call taking another connection). While the sync client waits for A's query, B's transaction
     * start waits for the sync client, which waits for A, which waits for B: both sit until the sync client's bound
     * (1 s) runs out, then the sync client commits under A's still open query, and B proceeds only after that write.
     * Per row with a pending sync write that is a 1 s stall, and the gate's promise for A is broken.
     *
     * <p>Checks: B's transaction (begin, a lookup, commit) returns promptly and the sync client does not enter before
     * A's query is closed. FOUND (fails): B takes about 1.1 s and the sync client enters while A's query is open.
     * Cause: {@code SyncNode.appTransaction} (and {@code appRead}) wait on the sync client's flags whenever the
     * connection itself holds no read ({@code SyncConnection.inAppTransaction}: {@code mayWait = openReads == 0}); the
     * node does not know that the waiting thread is the one holding the read the sync client waits for.
     */
    @Test
    @Timeout(30)
    void transactionOnAnotherConnectionOfTheThreadHoldingAQueryDoesNotStall() throws Exception {
        try (Connection a = open(); Connection b = open()) {
            seed(a);
            GateProbe sync = new GateProbe(node(a));
            long[] enteredAt = new long[1];
            long closedAt;
            long transactionMs;
            CompletableFuture<Void> writer;
            try (Statement outer = a.createStatement(); ResultSet rs = outer.executeQuery("SELECT id FROM item ORDER BY id")) {
                assertTrue(rs.next());
                writer = CompletableFuture.runAsync(() -> {
                    try {
                        sync.enter();
                        enteredAt[0] = System.nanoTime();
                        Thread.sleep(300); // the sync client's write transaction
                        sync.exit();
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                sync.awaitWaiting(2_000); // the sync client now waits for A's open query
                long t0 = System.nanoTime();
                b.setAutoCommit(false);
                try (PreparedStatement lookup = b.prepareStatement("SELECT name FROM item WHERE id = ?")) {
                    lookup.setLong(1, rs.getLong(1));
                    try (ResultSet l = lookup.executeQuery()) {
                        assertTrue(l.next());
                    }
                }
                b.commit();
                b.setAutoCommit(true);
                transactionMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                closedAt = System.nanoTime();
            }
            writer.get(10, TimeUnit.SECONDS);
            assertTrue(transactionMs < 500 && enteredAt[0] >= closedAt, "B's transaction took " + transactionMs
                    + " ms, and the sync client entered " + TimeUnit.NANOSECONDS.toMillis(closedAt - enteredAt[0])
                    + " ms before A's query was closed");
        }
    }

    /**
     * Two threads share one connection, each with its own statement, each running auto-commit queries read to their
     * end (sqlite-jdbc serializes the calls on its database handle, so this works there). When both threads are done,
     * nothing is open, so the node must count no read.
     *
     * <p>Checks: after the threads end, the node counts 0 reads and the sync client enters at once.
     * FOUND (fails, 3 runs of 3): the node is left counting 1 or 2 reads (2 from one connection, whose own count
     * allows one) and every sync write waits 1 s for good. Cause: {@code SyncConnection.openReads} / {@code unclaimedRead} are plain fields changed by
     * {@code read} and {@code readEnded} from both threads without synchronization: a lost update leaves the count up
     * (every sync write then waits 1 s, for good) or releases it twice (the node's {@code appReads} goes below the
     * reads really open, so another connection's open query no longer holds the sync client back).
     */
    @Test
    @Timeout(60)
    void connectionSharedByTwoThreadsBalancesTheGate() throws Exception {
        try (Connection c = open()) {
            seed(c);
            GateProbe sync = new GateProbe(node(c));
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(3000);
            Runnable loop = () -> {
                try (PreparedStatement ps = c.prepareStatement("SELECT id FROM item WHERE id > ?")) {
                    while (System.nanoTime() < until) {
                        ps.setInt(1, 0);
                        try (ResultSet rs = ps.executeQuery()) {
                            while (rs.next()) {
                                rs.getLong(1);
                            }
                        }
                    }
                } catch (SQLException e) {
                    throw new RuntimeException(e);
                }
            };
            CompletableFuture<Void> one = CompletableFuture.runAsync(loop);
            CompletableFuture<Void> two = CompletableFuture.runAsync(loop);
            one.get(20, TimeUnit.SECONDS);
            two.get(20, TimeUnit.SECONDS);
            int counted = sync.openReads();
            long waited = sync.enterMillis();
            assertTrue(counted == 0 && waited < 500, "no query is open, yet the node counts " + counted
                    + " read(s); the sync client waited " + waited + " ms");
        }
    }

    /**
     * A thread whose interrupt flag is set (a task cancelled with {@code Future.cancel(true)} that still finishes its
     * database work; sqlite-jdbc ignores the flag) begins a read-then-write transaction while the sync client writes.
     * The gate's wait returns at once on the flag (and sets it again), so the transaction takes its snapshot under
     * the sync client's write, and its UPDATE fails with SQLITE_BUSY_SNAPSHOT, which neither plain sqlite-jdbc nor the
     * same thread without the flag meets.
     *
     * <p>Checks: either the transaction's first statement refuses to run (an SQLException saying it was interrupted)
     * or the whole read-then-write succeeds. FOUND (fails): the UPDATE fails with SQLITE_BUSY_SNAPSHOT. Cause:
     * {@code SyncNode.awaitGate} returns on InterruptedException as though the wait were over, and
     * {@code appTransaction} / {@code appRead} go on regardless.
     */
    @Test
    @Timeout(30)
    void interruptedThreadStillKeepsItsTransactionApart() throws Exception {
        try (Connection c = open(); Connection raw = raw()) {
            seed(c);
            GateProbe sync = new GateProbe(node(c));
            java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    sync.enter();
                    try {
                        entered.countDown();
                        Thread.sleep(300);
                        try (Statement w = raw.createStatement()) {
                            w.executeUpdate("INSERT INTO side VALUES (100, 'sync')");
                        }
                    } finally {
                        sync.exit();
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            assertTrue(entered.await(5, TimeUnit.SECONDS));
            c.setAutoCommit(false);
            int qty;
            Thread.currentThread().interrupt();
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT qty FROM item WHERE id = 1")) {
                assertTrue(rs.next());
                qty = rs.getInt(1);
            } catch (SQLException refused) {
                Thread.interrupted();
                writer.get(10, TimeUnit.SECONDS);
                return; // refusing to run an interrupted thread's transaction is acceptable
            } finally {
                Thread.interrupted();
            }
            writer.get(10, TimeUnit.SECONDS);
            try (Statement st = c.createStatement()) {
                st.executeUpdate("UPDATE item SET qty = " + (qty + 1) + " WHERE id = 1");
                c.commit();
            } catch (SQLException e) {
                fail("the read-then-write of an interrupted thread failed: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Regression: a connection with an auto-commit query open switches to manual commit, updates a row, commits, goes
     * back to auto-commit, finishes reading, and runs a SAVEPOINT/RELEASE through SQL: the node ends with no read and
     * no transaction counted, and the sync client enters at once. Passes.
     */
    @Test
    @Timeout(30)
    void autoCommitSwitchedWhileAQueryIsOpenBalancesTheGate() throws Exception {
        try (Connection c = open()) {
            seed(c);
            GateProbe sync = new GateProbe(node(c));
            try (Statement outer = c.createStatement(); ResultSet rs = outer.executeQuery("SELECT id FROM item ORDER BY id");
                 Statement st = c.createStatement()) {
                assertTrue(rs.next());
                c.setAutoCommit(false);
                st.executeUpdate("UPDATE item SET qty = qty + 1 WHERE id = " + rs.getLong(1));
                c.commit();
                c.setAutoCommit(true);
                assertEquals(1, sync.openReads());
                assertEquals(0, sync.openTransactions());
                st.execute("SAVEPOINT sp");
                st.executeUpdate("UPDATE item SET qty = qty + 1 WHERE id = 2");
                st.execute("RELEASE sp");
                while (rs.next()) {
                    rs.getLong(1);
                }
            }
            long waited = sync.enterMillis();
            assertTrue(sync.openReads() == 0 && sync.openTransactions() == 0 && waited < 500, "reads "
                    + sync.openReads() + ", transactions " + sync.openTransactions() + ", waited " + waited + " ms");
        }
    }
}
