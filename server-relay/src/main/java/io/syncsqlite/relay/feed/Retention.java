package io.syncsqlite.relay.feed;

import io.syncsqlite.relay.db.ConnectionPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Prunes the feed's history: commits older than the retention, with their row images, leaving the newest
 * commit whatever its age (it is the feed's head). Without it {@code syncsqlite.change} and
 * {@code commit_log} grow with every change forever.
 *
 * <p>What pruning means for clients: one whose cursor lies before the oldest kept commit cannot be caught
 * up from the history and is resynced from a snapshot instead (its unsent writes are kept; see
 * {@code Message.Welcome#resync}). A connected client that falls that far behind is disconnected and
 * resynced the same way when it reconnects. Merge clocks ({@code row_clock}), including tombstones of
 * deleted rows, are kept: they decide merges, not catch-up.
 *
 * <p>Several relays may prune the same database: each run holds a transaction-level advisory lock, so
 * they take turns; each relay also learns the horizon from the database after every run.
 *
 * <p>Thread-safe: one daemon thread runs the prune; {@link #close} stops it.
 */
public final class Retention implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Retention.class);
    private static final long PRUNE_LOCK = 0x5953_5052_554e_4531L; // "SYPRUNE1"
    private static final Duration BORROW_TIMEOUT = Duration.ofSeconds(10);
    /** Commits taken out of the log per transaction at most (see {@link #pruneOnce}). */
    static final int CHUNK_COMMITS = 1000;
    /** Change rows of pruned commits deleted per transaction at most. */
    static final int CHUNK_ROWS = 5000;
    /**
     * ...and at most this many bytes of row images (always at least one row): an image is a whole row, up to
     * a client frame, and deleting it deletes its TOAST too, so 5,000 images of rows of a few MB were
     * gigabytes for one statement (about 1 s per 200 MB here).
     */
    static final long CHUNK_BYTES = 16L << 20;

    private final ConnectionPool pool;
    private final ChangeFeed feed;
    private final Duration keep;
    private final ScheduledExecutorService timer;

    private Retention(ConnectionPool pool, ChangeFeed feed, Duration keep) {
        this.pool = pool;
        this.feed = feed;
        this.keep = keep;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "syncsqlite-retention");
            t.setDaemon(true);
            return t;
        });
    }

    /** Prunes history older than {@code keep}, every {@code keep / 10} (between 1 s and 10 min). */
    public static Retention start(ConnectionPool pool, ChangeFeed feed, Duration keep) {
        Retention r = new Retention(pool, feed, keep);
        long every = Math.max(1000, Math.min(TimeUnit.MINUTES.toMillis(10), keep.toMillis() / 10));
        r.timer.scheduleWithFixedDelay(r::runQuietly, every, every, TimeUnit.MILLISECONDS);
        return r;
    }

    private void runQuietly() {
        try {
            pruneOnce();
        } catch (SQLException | RuntimeException e) {
            log.warn("pruning history failed (will retry): {}", e.toString());
        }
    }

    /**
     * One pruning run; returns the number of commits removed. Two kinds of transaction, each bounded so that
     * no statement grows with the history or with the size of its commits (a first run over months of
     * history, or over bulk imports of 100,000 rows per commit, must not outlast the statement timeout at
     * every attempt and never prune): up to {@link #CHUNK_COMMITS} commits leave {@code commit_log}, which is
     * all a reader needs to stop seeing them, and their xids are queued in {@code syncsqlite.pruned}; then
     * their change rows are deleted {@link #CHUNK_ROWS} or {@link #CHUNK_BYTES} at a time. A run that stopped
     * midway (a crash, an error) is finished by the next, from the queue.
     */
    public int pruneOnce() throws SQLException {
        deleteQueuedRows();
        int removed = 0;
        int chunk;
        do {
            chunk = inTurn(this::pruneCommits);
            removed += Math.max(chunk, 0);
            deleteQueuedRows();
        } while (chunk == CHUNK_COMMITS);
        if (removed > 0) {
            log.info("pruned {} commit(s) older than {} from the history", removed, keep);
        }
        return removed;
    }

    private void deleteQueuedRows() throws SQLException {
        while (inTurn(Retention::deleteRows) > 0) {
            // the next batch
        }
    }

    /** Work done in one transaction while holding the pruning turn. */
    @FunctionalInterface
    private interface Step {
        int run(Connection c) throws SQLException;
    }

    /**
     * Runs {@code step} in a transaction of its own if no other relay is pruning (the turn is a transaction
     * advisory lock), then learns the horizon; returns the step's count, or -1 if it was not this relay's turn.
     */
    private int inTurn(Step step) throws SQLException {
        Connection c = pool.borrow(BORROW_TIMEOUT);
        boolean broken = true;
        try {
            int done = -1;
            try (PreparedStatement lock = c.prepareStatement("SELECT pg_try_advisory_xact_lock(?)")) {
                lock.setLong(1, PRUNE_LOCK);
                try (ResultSet rs = lock.executeQuery()) {
                    rs.next();
                    if (rs.getBoolean(1)) {
                        done = step.run(c);
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT coalesce(min(seq), 0) FROM syncsqlite.commit_log");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                feed.raiseHorizon(rs.getLong(1));
            }
            c.commit();
            broken = false;
            return done;
        } finally {
            if (broken) {
                try {
                    c.rollback();
                } catch (SQLException ignored) {
                    // the connection is dropped below
                }
            }
            pool.release(c, broken);
        }
    }

    /** Removes up to {@link #CHUNK_COMMITS} old commits from the log and queues their rows; returns how many. */
    private int pruneCommits(Connection c) throws SQLException {
        // The cutoff position: the newest commit older than the retention, never the head itself, and at most
        // the CHUNK_COMMITS-th oldest.
        long cutoff;
        try (PreparedStatement ps = c.prepareStatement("SELECT coalesce(max(seq), 0) FROM syncsqlite.commit_log"
                + " WHERE committed_at < clock_timestamp() - ?::interval"
                + " AND seq < (SELECT max(seq) FROM syncsqlite.commit_log)"
                + " AND seq <= coalesce((SELECT seq FROM syncsqlite.commit_log ORDER BY seq OFFSET ? LIMIT 1),"
                + " 9223372036854775807)")) {
            ps.setString(1, keep.toMillis() + " milliseconds");
            ps.setInt(2, CHUNK_COMMITS - 1);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                cutoff = rs.getLong(1);
            }
        }
        if (cutoff == 0) {
            return 0;
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO syncsqlite.pruned (xid)"
                + " SELECT xid FROM syncsqlite.commit_log WHERE seq <= ? ON CONFLICT DO NOTHING")) {
            ps.setLong(1, cutoff);
            ps.executeUpdate();
        }
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM syncsqlite.commit_log WHERE seq <= ?")) {
            ps.setLong(1, cutoff);
            return ps.executeUpdate();
        }
    }

    /**
     * Deletes a batch of change rows of queued commits (found through the change log's xid index): up to
     * {@link #CHUNK_ROWS} rows whose images add up to at most {@link #CHUNK_BYTES}, or one row. When none was
     * left, the queue is done and emptied. Returns the rows deleted. {@code pg_column_size} reads an image's
     * stored size without fetching it.
     */
    private static int deleteRows(Connection c) throws SQLException {
        int deleted;
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM syncsqlite.change WHERE id IN"
                + " (SELECT s.id FROM (SELECT b.id, row_number() OVER w AS n, sum(b.size) OVER w AS upto"
                + "  FROM (SELECT x.id, coalesce(pg_column_size(x.\"row\"), 0) + coalesce(pg_column_size(x.old), 0) AS size"
                + "        FROM syncsqlite.pruned AS p JOIN syncsqlite.change AS x ON x.xid = p.xid LIMIT ?) AS b"
                + "  WINDOW w AS (ORDER BY b.id)) AS s WHERE s.n = 1 OR s.upto <= ?)")) {
            ps.setInt(1, CHUNK_ROWS);
            ps.setLong(2, CHUNK_BYTES);
            deleted = ps.executeUpdate();
        }
        if (deleted == 0) {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM syncsqlite.pruned")) {
                ps.executeUpdate();
            }
        }
        return deleted;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
