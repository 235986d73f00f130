package io.syncsqlite.relay.feed;

import io.syncsqlite.relay.db.ConnectionPool;
import io.syncsqlite.relay.db.SessionLimits;
import io.syncsqlite.relay.schema.Catalog;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The relay's view of PostgreSQL's commit-ordered change log: one per relay.
 *
 * <p>A dedicated thread ({@code syncsqlite-feed}) holds its own connection and reads the commits after
 * {@link #head()} into a bounded {@link TailBuffer}, then wakes the registered {@link Listener}s. Sessions
 * then read from the buffer, or from PostgreSQL through the pool when they are behind it ({@link #read}).
 * It reads when woken and at least every 500 ms (a missed wake-up costs latency, never a commit). Two
 * things wake it: {@link #poke()}, called by this relay right after each commit of its own, and a second
 * thread ({@code syncsqlite-feed-listen}) that LISTENs on {@code syncsqlite_feed} on a connection of its
 * own, for commits made by anyone else (another relay, {@code psql}). Why not one thread that reads on its
 * LISTEN connection, as before: pgjdbc returns from {@code getNotifications} only after a 1 ms read that
 * checks for more messages, and PostgreSQL signals the listener after the commit returns, so a
 * notification reached the feed about 1.1 ms after the commit that sent it, a fifth of the time from one
 * client's commit to another client seeing it (docs/BENCHMARKS.md, "Where a change's milliseconds go").
 *
 * <p>Snapshots for new clients ({@link #tryOpenSnapshot}) use connections of their own, at most
 * {@code maxSnapshots} at once; a session that finds no free slot is woken when one frees. Those
 * connections are kept for the next snapshot: a reconnecting fleet means one snapshot per client, and
 * opening a PostgreSQL connection for each (a new server process, 3-16 ms on our machines) was most of
 * what a snapshot of a small database cost.
 *
 * <p>Thread-safe: {@link #read}, {@link #head}, listener registration and snapshots may be used from any
 * thread; listeners are called on the feed thread and must return quickly.
 */
public final class ChangeFeed implements AutoCloseable {

    private final java.util.concurrent.atomic.AtomicLong horizon = new java.util.concurrent.atomic.AtomicLong();

    /** Woken when the feed has new commits. Must not block. */
    public interface Listener {
        void onFeedAdvanced();
    }

    private static final Logger log = LoggerFactory.getLogger(ChangeFeed.class);
    /** Longest time between two reads of the feed when nothing wakes it, by default. */
    public static final Duration POLL = Duration.ofMillis(500);
    /** How often an idle LISTEN connection is checked with a round trip, so a dead one is replaced. */
    private static final long LISTEN_CHECK_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final int PAGE_COMMITS = 500;
    private static final Duration BORROW_TIMEOUT = Duration.ofSeconds(30);
    /**
     * Longest one round trip of the feed's connection may take. A page is at most {@link FeedReader#MAX_ROWS}
     * rows, so only a connection whose packets stopped arriving takes this long (a failover whose old server
     * went dark, a partition); without a limit the feed, and every client with it, would wait for the kernel
     * to give up on TCP (about 15 minutes). On timeout the connection is dropped and the feed reconnects.
     */
    private static final int NETWORK_TIMEOUT_MILLIS = 30_000;

    private final ConnectionPool.PgConnector connector;
    private final ConnectionPool pool;
    private final Catalog catalog;
    private final long bufferEntries;
    private volatile String stopped;
    private final Set<Listener> listeners = ConcurrentHashMap.newKeySet();
    private final Object snapshotLock = new Object();
    private final Queue<Runnable> snapshotWaiters = new ArrayDeque<>();
    private final int maxSnapshots;
    private int openSnapshots;
    private final ConnectionPool snapshotConnections;
    private volatile TailBuffer buffer;
    /** Whether commits carry parsed rows for per-user scopes (set before {@link #start}). */
    private volatile boolean parseRows;
    private volatile boolean closed;
    private final Duration poll;
    private final boolean listen;
    /** Released to make the feed thread read now; a release during a read makes it read once more. */
    private final Semaphore wake = new Semaphore(0);
    private Thread thread;
    private Thread listenThread;
    private Connection readConnection;

    public ChangeFeed(ConnectionPool.PgConnector connector, ConnectionPool pool, Catalog catalog,
                      long bufferEntries, int maxSnapshots) {
        this(connector, pool, catalog, bufferEntries, maxSnapshots, POLL, true, null);
    }

    /**
     * @param poll        longest time between two reads when nothing wakes the feed ({@link #POLL})
     * @param listen      whether to LISTEN for commits made by others; without it they are read only every
     *                    {@code poll} (or when this relay commits and pokes the feed)
     * @param limits      the lock and statement bounds of the snapshot connections (null: the server's)
     */
    public ChangeFeed(ConnectionPool.PgConnector connector, ConnectionPool pool, Catalog catalog,
                      long bufferEntries, int maxSnapshots, Duration poll, boolean listen, SessionLimits limits) {
        this.poll = poll;
        this.listen = listen;
        this.connector = connector;
        this.pool = pool;
        this.catalog = catalog;
        this.bufferEntries = bufferEntries;
        this.maxSnapshots = maxSnapshots;
        // Checked on every reuse: a snapshot is rare enough for one more round trip, and one stuck on a
        // silently dropped connection would hold a snapshot slot for every client behind it. No bound on
        // idling in a transaction: a snapshot's transaction waits for its client between pages.
        this.snapshotConnections = new ConnectionPool(
                connector.withApplicationName(connector.applicationName() + " snapshot"), maxSnapshots, Duration.ZERO,
                limits == null ? null : limits.withoutIdleBound());
    }

    /** Makes every commit carry its entries parsed ({@link FeedCommit#rows}), for per-user scopes. */
    public void parseRows() {
        parseRows = true;
    }

    /** Connects, reads the current head and starts the feed thread (and the LISTEN thread). */
    public synchronized void start() throws SQLException {
        readConnection = openReadConnection();
        try {
            buffer = new TailBuffer(bufferEntries, currentHead(readConnection));
        } catch (SQLException | RuntimeException e) {
            ConnectionPool.closeQuietly(readConnection);
            throw e;
        }
        thread = new Thread(this::run, "syncsqlite-feed");
        thread.setDaemon(true);
        thread.start();
        if (listen) {
            listenThread = new Thread(this::listen, "syncsqlite-feed-listen");
            listenThread.setDaemon(true);
            listenThread.start();
        }
    }

    /**
     * Makes the feed read now: called after this relay committed something the feed carries, so its
     * clients need not wait for PostgreSQL's notification. Cheap, never blocks; wake-ups that come while
     * the feed is reading make it read once more, not once each.
     */
    public void poke() {
        if (wake.availablePermits() == 0) {
            wake.release();
        }
    }

    /** The newest commit the feed has read. */
    public long head() {
        return buffer.head();
    }

    /** The synced tables this feed serves (current, see {@link Catalog#replaceWith}). */
    public Catalog catalog() {
        return catalog;
    }

    /**
     * The oldest commit position still in PostgreSQL's history as last seen (0 if none was pruned): a
     * session whose position is below {@code horizon() - 1} can no longer be caught up from the history.
     */
    public long horizon() {
        return horizon.get();
    }

    /** Records that history before {@code oldestKept} is gone (by this relay's pruning or another's). */
    public void raiseHorizon(long oldestKept) {
        horizon.accumulateAndGet(oldestKept, Math::max);
    }

    public void addListener(Listener l) {
        listeners.add(l);
    }

    public void removeListener(Listener l) {
        listeners.remove(l);
    }

    /**
     * Up to {@code maxCommits} complete commits after {@code cursor} (or the first part of one too big to
     * read at once, see {@link FeedCommit#more()}): from memory if the buffer still holds them, else from PostgreSQL (which may return commits the feed thread has not seen yet; they
     * are committed, so that is as correct and only earlier).
     */
    public List<FeedCommit> read(long cursor, int maxCommits) throws SQLException {
        List<FeedCommit> fromBuffer = buffer.after(cursor, maxCommits);
        if (fromBuffer != null) {
            return fromBuffer;
        }
        return inTransaction(c -> {
            List<FeedCommit> commits = FeedReader.readAfter(c, cursor, maxCommits, FeedReader.MAX_ROWS, FeedReader.SESSION_BYTES,
                    catalog.names(), parseRows).commits();
            // Read after the commits: pruning removes the oldest first, so if the oldest kept commit is
            // still at or before cursor + 1 now, nothing this read needed was missing (see horizon()).
            try (java.sql.Statement st = c.createStatement();
                 java.sql.ResultSet rs = st.executeQuery("SELECT coalesce(min(seq), 0) FROM syncsqlite.commit_log")) {
                if (rs.next()) {
                    raiseHorizon(rs.getLong(1));
                }
            }
            return commits;
        });
    }

    /**
     * The next part of a commit read in parts ({@link FeedCommit#more()}), from PostgreSQL; null if
     * retention pruned the commit since its first part was read.
     */
    public FeedCommit readRest(FeedCommit part) throws SQLException {
        return inTransaction(c -> FeedReader.readRest(c, part.seq(), part.lastId(), FeedReader.MAX_ROWS, FeedReader.SESSION_BYTES,
                catalog.names(), parseRows));
    }

    /** Work a session does on a pooled connection, in one transaction. */
    @FunctionalInterface
    public interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /** Runs {@code work} on a connection from the pool and commits. */
    public <T> T inTransaction(Work<T> work) throws SQLException {
        Connection c = pool.borrow(BORROW_TIMEOUT);
        // Unless the work commits, the connection is closed rather than reused: its transaction is still
        // open, and the next borrower would commit whatever the work left half done (SQLException,
        // RuntimeException or Error alike).
        boolean broken = true;
        try {
            T result = work.run(c);
            c.commit();
            broken = false;
            return result;
        } finally {
            pool.release(c, broken);
        }
    }

    /**
     * Opens a consistent snapshot of every synced table, or returns {@code null} if too many snapshots
     * are being sent already; then {@code wakeup} runs once a slot is free (the caller tries again).
     */
    public Snapshot tryOpenSnapshot(Runnable wakeup) throws SQLException {
        return tryOpenSnapshot(wakeup, null);
    }

    /** The same, with only the rows {@code scope} holds (every row if it is null). */
    public Snapshot tryOpenSnapshot(Runnable wakeup, io.syncsqlite.relay.scope.Scope scope) throws SQLException {
        synchronized (snapshotLock) {
            if (openSnapshots >= maxSnapshots) {
                snapshotWaiters.add(wakeup);
                return null;
            }
            openSnapshots++;
        }
        try {
            return openSnapshot(scope, true);
        } catch (SQLException | RuntimeException e) {
            snapshotClosed();
            throw e;
        }
    }

    private Snapshot openSnapshot(io.syncsqlite.relay.scope.Scope scope, boolean retry) throws SQLException {
        Connection c = snapshotConnections.borrow(BORROW_TIMEOUT);
        try {
            return Snapshot.open(c, catalog, scope, broken -> {
                snapshotConnections.release(c, broken);
                snapshotClosed();
            });
        } catch (SQLException e) {
            snapshotConnections.release(c, true);
            // A kept connection may have died while idle (PostgreSQL restarted, an idle timeout, a
            // terminated backend): once more, on a new one, before the session sees a failure.
            String state = e.getSQLState();
            if (retry && state != null && (state.startsWith("08") || state.startsWith("57P"))) {
                log.debug("snapshot connection failed ({}); opening a new one", state);
                snapshotConnections.discardIdle();
                return openSnapshot(scope, false);
            }
            throw e;
        } catch (RuntimeException e) {
            snapshotConnections.release(c, true);
            throw e;
        }
    }

    private void snapshotClosed() {
        List<Runnable> waiting;
        synchronized (snapshotLock) {
            openSnapshots--;
            waiting = List.copyOf(snapshotWaiters);
            snapshotWaiters.clear();
        }
        // Wake every waiter, not one: a waiter may have disconnected meanwhile, and a wake-up it swallows
        // would leave the others waiting. Those that lose the race for the slot register again.
        for (Runnable r : waiting) {
            r.run();
        }
    }

    @Override
    public void close() {
        closed = true;
        snapshotConnections.close(); // snapshots still open close their connections as they end
        wake.release();
        List<Thread> threads;
        synchronized (this) {
            threads = Stream.of(thread, listenThread).filter(Objects::nonNull).toList();
        }
        for (Thread t : threads) {
            try {
                // The feed thread is woken above; the LISTEN thread notices within one wait for notifications.
                t.join(POLL.toMillis() * 4L);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        listeners.clear();
    }

    /**
     * Why the feed thread stopped for good (an {@link Error} out of a read or a listener), or null while it
     * runs: clients then receive nothing until the relay restarts, so {@code /health} reports it.
     */
    public String failure() {
        return stopped;
    }

    private void run() {
        try {
            follow();
        } catch (Error e) {
            stopped = e.toString();
            log.error("change feed stopped: no client receives changes until the relay restarts", e);
            throw e;
        }
    }

    private void follow() {
        Connection c = readConnection;
        boolean failing = false;
        while (!closed) {
            try {
                if (c == null) {
                    c = openReadConnection();
                }
                // Taken before the read: a poke that comes while it runs leaves a permit, so its commit is
                // read by the next turn, not left for the poll.
                wake.drainPermits();
                readNew(c);
                if (failing && !closed) {
                    log.info("change feed reconnected to PostgreSQL at seq {}", head());
                    failing = false;
                }
                if (!closed) { // close() sets it before its wake-up, which drainPermits may have taken
                    wake.tryAcquire(poll.toNanos(), TimeUnit.NANOSECONDS);
                }
            } catch (SQLException | RuntimeException e) {
                if (!failing && !closed) {
                    log.warn("change feed lost PostgreSQL (SQLState {}); retrying every second", sqlState(e));
                }
                failing = true;
                ConnectionPool.closeQuietly(c);
                c = null;
                sleep(1000);
            } catch (InterruptedException e) {
                break;
            }
        }
        ConnectionPool.closeQuietly(c);
    }

    /**
     * The LISTEN thread: wakes the feed on every notification of a commit it has not read. After each
     * (re)connect it wakes the feed once, for notifications sent while it was not listening. A connection
     * idle for {@link #LISTEN_CHECK_NANOS} is checked with a round trip: waiting for a notification never
     * fails on a connection whose server went dark, and the feed would fall back to its poll unnoticed.
     */
    private void listen() {
        Connection c = null;
        boolean failing = false;
        long checked = System.nanoTime();
        while (!closed) {
            try {
                if (c == null) {
                    c = openListenConnection();
                    checked = System.nanoTime();
                    poke();
                    if (failing) {
                        log.info("change feed listens to PostgreSQL again");
                        failing = false;
                    }
                }
                PGNotification[] notes = c.unwrap(PGConnection.class).getNotifications((int) POLL.toMillis());
                if (notes != null && notes.length > 0 && newest(notes) > head()) {
                    poke();
                }
                // Also while notifications flow: receiving them sends nothing, and a pooler's idle timeout
                // counts only what the client sends.
                if (System.nanoTime() - checked > LISTEN_CHECK_NANOS) {
                    try (Statement st = c.createStatement()) {
                        st.execute("SELECT 1");
                    }
                    checked = System.nanoTime();
                }
            } catch (SQLException | RuntimeException e) {
                if (!failing && !closed) {
                    log.warn("change feed stopped listening to PostgreSQL (SQLState {}); reading every {} ms"
                            + " until it listens again", sqlState(e), poll.toMillis());
                }
                failing = true;
                ConnectionPool.closeQuietly(c);
                c = null;
                sleep(1000);
            }
        }
        ConnectionPool.closeQuietly(c);
    }

    private void readNew(Connection c) throws SQLException {
        while (!closed) {
            FeedReader.Page read = FeedReader.readAfter(c, buffer.head(), PAGE_COMMITS, FeedReader.MAX_ROWS, FeedReader.MAX_BYTES,
                    catalog.names(), parseRows);
            List<FeedCommit> page = read.commits();
            if (page.isEmpty()) {
                return;
            }
            if (page.get(0).more()) {
                // Too big to hold: sessions read it from PostgreSQL in parts (readRest).
                buffer.skipPast(page.get(0).seq());
            } else {
                buffer.append(page);
            }
            for (Listener l : listeners) {
                try {
                    l.onFeedAdvanced();
                } catch (RuntimeException e) {
                    log.warn("feed listener failed", e);
                }
            }
            // Everything visible was read. A commit that becomes visible from now on is not lost by stopping
            // here: its poke or notification comes after its commit, so after the drainPermits that preceded
            // this read, and wakes the next turn (and the poll is there besides). Asking again until a page
            // came back empty cost a second query per commit.
            if (read.whole()) {
                return;
            }
        }
    }

    /**
     * The newest commit position the notifications announce ({@code commit_mark()} sends its {@code seq}
     * as the payload), or {@link Long#MAX_VALUE} if one does not parse: a commit this relay made and
     * already read (it pokes the feed itself) needs no second read.
     */
    private static long newest(PGNotification[] notes) {
        long newest = 0;
        for (PGNotification n : notes) {
            try {
                newest = Math.max(newest, Long.parseLong(n.getParameter()));
            } catch (NumberFormatException e) {
                return Long.MAX_VALUE;
            }
        }
        return newest;
    }

    private Connection openReadConnection() throws SQLException {
        Connection c = connector.open();
        try {
            c.setNetworkTimeout(Runnable::run, NETWORK_TIMEOUT_MILLIS);
        } catch (SQLException e) {
            ConnectionPool.closeQuietly(c);
            throw e;
        }
        return c;
    }

    private Connection openListenConnection() throws SQLException {
        Connection c = connector.withApplicationName(connector.applicationName() + " listen").open();
        try (Statement st = c.createStatement()) {
            c.setNetworkTimeout(Runnable::run, NETWORK_TIMEOUT_MILLIS);
            st.execute("LISTEN syncsqlite_feed");
            if (c.getMetaData().getDatabaseMajorVersion() >= 14) {
                // This connection sends a statement only every few seconds (receiving notifications is not
                // activity): a server-wide idle_session_timeout would end it over and over, each time
                // leaving others' commits to the poll while it reconnects.
                st.execute("SET idle_session_timeout = 0");
            }
        } catch (SQLException e) {
            ConnectionPool.closeQuietly(c);
            throw e;
        }
        return c;
    }

    private static long currentHead(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT coalesce(max(seq), 0) FROM syncsqlite.commit_log");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String sqlState(Exception e) {
        return e instanceof SQLException s ? s.getSQLState() : e.getClass().getSimpleName();
    }

    private void sleep(long millis) {
        long end = System.currentTimeMillis() + millis;
        while (!closed && System.currentTimeMillis() < end) {
            try {
                Thread.sleep(Math.min(100, millis));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
