package io.syncsqlite.driver.sync;

import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.driver.jdbc.SyncSqlState;
import io.syncsqlite.protocol.IdRange;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The integer keys this node may give to new rows, per synced table with an {@code INTEGER PRIMARY KEY}:
 * ranges the relay reserved from the key's PostgreSQL sequence, so no other client and no PostgreSQL
 * writer ever uses them (docs/DESIGN.md, "Integer keys").
 *
 * <p>Ranges are stored in {@code _sync_idblock} when granted (right after they are handed out). What has been used is not written on every
 * insert (that would add a write to each one): on opening, the next free key of a range is one past the
 * largest key the table holds inside it. Keys handed out to transactions that rolled back are simply
 * skipped. The one reuse this allows is SQLite's own: after a restart, the key of the newest row of a range
 * can be given again if that row was deleted, which is what SQLite does for a rowid table anyway.
 *
 * <p>The client asks for a new range whenever a table holds fewer than {@code blockSize} keys, so a node
 * that was online once can insert at least {@code blockSize} rows per table offline.
 *
 * <p>Thread-safe: every method synchronizes on the stock; application threads take keys, the sync thread
 * adds ranges.
 */
public final class KeyStock {

    /** How many times one wait for keys asks the relay for them. */
    private static final int MAX_ASKS = 8;

    /** How long an insert waits for the first range of a table while the client is connected. */
    static final long FIRST_RANGE_WAIT_MS = 5000;

    private final int blockSize;
    /** Per lower-case table name: ranges in ascending order; element 0 of the head is its next free key. */
    private final Map<String, ArrayDeque<long[]>> ranges = new HashMap<>();
    private final Set<String> requested = new HashSet<>();
    /** Per table whose sequence takes runs: the consecutive keys a run needs. */
    private final Map<String, Integer> runs = new HashMap<>();
    private final Map<String, String> refusals = new HashMap<>();
    private volatile Runnable onLow = () -> { };
    /**
     * Set while another process syncs the file ({@link SyncLock}): that process hands out the keys of the
     * ranges both read from the file, from its own memory, so keys taken here would collide with its own.
     */
    private volatile boolean elsewhere;

    private KeyStock(int blockSize) {
        this.blockSize = blockSize;
    }

    /** A stock with nothing in it, for nodes that never sync. */
    static KeyStock empty(int blockSize) {
        return new KeyStock(blockSize);
    }

    /** Loads the stored ranges, skipping what the tables already use. */
    static KeyStock load(Connection raw, Map<String, TableInfo> synced, int blockSize) throws SQLException {
        KeyStock stock = new KeyStock(blockSize);
        Map<String, TableInfo> byLower = new HashMap<>();
        synced.values().forEach(t -> byLower.put(fold(t.name()), t));
        // Keys up to the end of a sequence's run are the sequence's (SyncNode.keepSequenceInStock): the
        // table's largest key does not tell how far it handed them out.
        Map<String, Long> sequenceEnds = new HashMap<>();
        try (Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery("SELECT substr(k, " + (SyncNode.SEQUENCE_KEY.length() + 1) + "), v"
                     + " FROM _sync_state WHERE k LIKE '" + SyncNode.SEQUENCE_KEY + "%'")) {
            while (rs.next()) {
                sequenceEnds.put(rs.getString(1), Long.parseLong(rs.getString(2).split(" ")[1]));
            }
        }
        try (Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery("SELECT tbl, lo, hi FROM _sync_idblock ORDER BY tbl, lo")) {
            while (rs.next()) {
                String table = rs.getString(1);
                TableInfo info = byLower.get(table);
                if (info == null || info.integerKey() == null) {
                    continue;
                }
                long lo = rs.getLong(2);
                long hi = rs.getLong(3);
                long next = Math.max(Math.max(lo, largestIn(raw, info, lo, hi) + 1),
                        sequenceEnds.getOrDefault(table, Long.MIN_VALUE) + 1);
                if (next <= hi) {
                    stock.ranges.computeIfAbsent(table, k -> new ArrayDeque<>()).add(new long[] {next, hi});
                }
            }
        }
        return stock;
    }

    private static long largestIn(Connection raw, TableInfo t, long lo, long hi) throws SQLException {
        String key = '"' + t.integerKey().name().replace("\"", "\"\"") + '"';
        String table = '"' + t.name().replace("\"", "\"\"") + '"';
        try (PreparedStatement ps = raw.prepareStatement(
                "SELECT max(" + key + ") FROM " + table + " WHERE " + key + " BETWEEN ? AND ?")) {
            ps.setLong(1, lo);
            ps.setLong(2, hi);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getObject(1) != null ? rs.getLong(1) : Long.MIN_VALUE;
            }
        }
    }

    private void refuseIfElsewhere(String table) throws SQLException {
        if (elsewhere) {
            throw new SQLException("no integer key for a new row of " + table + ": another process syncs this file"
                    + " and hands out the keys the relay reserved for it; give the key explicitly, or insert through"
                    + " that process (this one takes over once it ends)", SyncSqlState.NO_KEYS.code());
        }
    }

    /** Another process syncs the file from now on: this one hands out no keys (see {@link #take}). */
    void syncedElsewhere() {
        elsewhere = true;
    }

    /**
     * This process syncs the file again: the stock is read afresh from the file, past the keys the other
     * process used meanwhile.
     */
    void reload(Connection raw, Map<String, TableInfo> synced) throws SQLException {
        KeyStock fresh = load(raw, synced, blockSize);
        synchronized (this) {
            ranges.clear();
            ranges.putAll(fresh.ranges);
            requested.clear();
            elsewhere = false;
        }
    }

    /**
     * Called when a table's stock runs low, never under this stock's lock: the action may send the request
     * itself ({@link SyncClient#keysLow}).
     */
    synchronized void onLow(Runnable action) {
        this.onLow = action;
    }

    /**
     * Takes the next key of {@code table}, waiting up to {@code waitMs} for a first range when none is
     * in stock.
     *
     * @throws SQLException SY004 when no key is available
     */
    public long take(String table, long waitMs) throws SQLException {
        String t = fold(table);
        refuseIfElsewhere(table);
        long key;
        boolean ask;
        synchronized (this) {
            key = poll(t);
            ask = key != Long.MIN_VALUE && low(t) && !requested.contains(t);
        }
        if (key == Long.MIN_VALUE) {
            key = waitFor(waitMs, () -> {
                long k = poll(t);
                if (k != Long.MIN_VALUE) {
                    return k;
                }
                if (refusals.containsKey(t)) {
                    throw new SQLException("no integer key for a new row of " + table + ": the relay refused to"
                            + " allocate keys (" + refusals.get(t) + ")", SyncSqlState.NO_KEYS.code());
                }
                return null;
            }, () -> new SQLException("no integer key in stock for a new row of " + table + ": keys of synced"
                    + " tables come from the relay (so that clients never collide), and this client has"
                    + " not received any for this table yet, or used up its stock offline; connect to"
                    + " the relay once, raise sync.idBlock, or give the key explicitly",
                    SyncSqlState.NO_KEYS.code()));
            ask = true; // the stock may be low again; the action asks only if it is
        }
        if (ask) {
            onLow.run();
        }
        return key;
    }

    /**
     * Takes up to {@code want} and at least {@code min} consecutive keys of {@code table},
     * for a sequence table that hands out ranges of ids ({@link SyncNode#keepSequenceInStock}). Ranges in
     * stock shorter than {@code min} are passed over and kept for keyless inserts; ranges that touch were
     * joined when granted. Waits for ranges as {@link #take} does.
     *
     * @return {@code {lo, hi}}
     * @throws SQLException SY004 when no such run is in stock
     */
    long[] takeRun(String table, long want, long min, long waitMs) throws SQLException {
        String t = fold(table);
        refuseIfElsewhere(table);
        long[] run = waitFor(waitMs, () -> {
            long[] r = pollRun(t, want, min);
            if (r == null && refusals.containsKey(t)) {
                throw new SQLException("no ids in stock for the sequence of " + table + ": ids of synced tables"
                        + " come from the relay (so that clients never collide), which refused to allocate them ("
                        + refusals.get(t) + ")", SyncSqlState.NO_KEYS.code());
            }
            return r;
        }, () -> new SQLException("no ids in stock for the sequence of " + table + ": ids of synced tables come"
                + " from the relay (so that clients never collide), and this client has no run of " + min
                + " consecutive ones for it; connect to the relay once, or raise sync.idBlock",
                SyncSqlState.NO_KEYS.code()));
        onLow.run(); // the stock may be low now; the action asks only if it is
        return run;
    }

    /**
     * Waits up to {@code waitMs} until {@code table} has {@code min} consecutive keys in stock (or the relay
     * refused it); returns either way, the caller taking them fails clearly if they did not come.
     */
    void awaitRun(String table, long min, long waitMs) {
        String t = fold(table);
        try {
            waitFor(waitMs, () -> longestRun(t) >= min || refusals.containsKey(t) ? Boolean.TRUE : null, () -> null);
        } catch (SQLException interrupted) {
            // the caller's own attempt reports it
        }
    }

    /** A check made under this stock's lock: what was waited for, {@code null} for not yet. */
    private interface Check<T> {
        T check() throws SQLException;
    }

    /**
     * Runs {@code check} until it gives something, for at most {@code waitMs}: the answer, or
     * {@code timeout}'s exception ({@code null} from it: return {@code null}). Before each wait the relay is
     * asked for keys ({@link #onLow}, outside the lock; a request in flight is not repeated), a bounded number
     * of times: a waiter is woken by every grant, also one another waiter took or one too short for it.
     */
    private <T> T waitFor(long waitMs, Check<T> check, java.util.function.Supplier<SQLException> timeout)
            throws SQLException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        int asks = 0;
        boolean ask = false;
        while (true) {
            if (ask) {
                onLow.run();
            }
            synchronized (this) {
                T found = check.check();
                if (found != null) {
                    return found;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    SQLException e = timeout.get();
                    if (e == null) {
                        return null;
                    }
                    throw e;
                }
                if (!ask && asks < MAX_ASKS) {
                    asks++;
                    ask = true; // checked again after asking, before waiting, so no grant is missed
                    continue;
                }
                ask = false;
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SQLException("interrupted while waiting for keys", SyncSqlState.NO_KEYS.code(), e);
                }
            }
        }
    }

    /**
     * Whether {@code table} needs more keys: fewer than a block, or no run as long as its sequence takes
     * while the stock is still small (grants that never touch, from a sequence with a step above one, would
     * otherwise be asked for without end).
     */
    private boolean low(String table) {
        long count = count(table);
        int run = runs.getOrDefault(table, 0);
        return count < blockSize || longestRun(table) < run && count < 4L * Math.max(blockSize, run);
    }

    private long longestRun(String table) {
        long best = 0;
        ArrayDeque<long[]> d = ranges.get(table);
        if (d != null) {
            for (long[] r : d) {
                best = Math.max(best, r[1] - r[0] + 1);
            }
        }
        return best;
    }

    /**
     * The first run of at least {@code min} keys, up to {@code want} long. Shorter ranges before it stay in
     * stock for keyless inserts. A run never holds a key given before: taken runs leave the stock, and
     * {@link #load} resumes above the recorded runs.
     */
    private long[] pollRun(String table, long want, long min) {
        ArrayDeque<long[]> d = ranges.get(table);
        if (d == null) {
            return null;
        }
        for (java.util.Iterator<long[]> it = d.iterator(); it.hasNext(); ) {
            long[] r = it.next();
            long size = Math.min(want, r[1] - r[0] + 1);
            if (size >= min) {
                long[] run = {r[0], r[0] + size - 1};
                r[0] += size;
                if (r[0] > r[1]) {
                    it.remove();
                }
                return run;
            }
        }
        return null;
    }

    private long poll(String table) {
        ArrayDeque<long[]> d = ranges.get(table);
        while (d != null && !d.isEmpty()) {
            long[] head = d.peekFirst();
            if (head[0] <= head[1]) {
                return head[0]++;
            }
            d.pollFirst();
        }
        return Long.MIN_VALUE;
    }

    private long count(String table) {
        long n = 0;
        ArrayDeque<long[]> d = ranges.get(table);
        if (d != null) {
            for (long[] r : d) {
                n += r[1] - r[0] + 1;
            }
        }
        return n;
    }

    /** Keys in stock for {@code table}. */
    public synchronized long available(String table) {
        return count(fold(table));
    }

    /**
     * The tables among {@code keyed} that need a new range and have no request in flight, marked as
     * requested; the caller sends one request of {@link #requestSize} keys for each.
     */
    synchronized List<String> toRequest(Iterable<String> keyed) {
        List<String> out = new ArrayList<>();
        for (String table : keyed) {
            String t = fold(table);
            if (!requested.contains(t) && !refusals.containsKey(t) && low(t)) {
                requested.add(t);
                out.add(table);
            }
        }
        return out;
    }

    /** Forgets that {@code tables} were asked for: the request was sent on a connection that had ended. */
    synchronized void unrequest(List<String> tables) {
        tables.forEach(t -> requested.remove(fold(t)));
    }

    /**
     * Forgets requests in flight (the connection they were sent on is gone) and refusals (the next relay,
     * or this one after a catalog change, may know the table).
     */
    synchronized void connectionLost() {
        requested.clear();
        refusals.clear();
    }

    /** Adds granted ranges and wakes inserts waiting for a key. */
    synchronized void granted(String table, List<IdRange> granted) {
        String t = fold(table);
        requested.remove(t);
        ArrayDeque<long[]> d = ranges.computeIfAbsent(t, k -> new ArrayDeque<>());
        for (IdRange r : granted) {
            long[] last = d.peekLast();
            if (last != null && last[1] + 1 == r.lo()) {
                last[1] = r.hi(); // ranges that touch are one run (a sequence takes runs of consecutive keys)
            } else {
                d.add(new long[] {r.lo(), r.hi()});
            }
        }
        notifyAll();
    }

    /** The relay cannot allocate keys for {@code table}; inserts that need one fail with {@code reason}. */
    synchronized void refused(String table, String reason) {
        String t = fold(table);
        requested.remove(t);
        refusals.put(t, reason);
        notifyAll();
    }

    /** The first key still free in stock per table, so exhausted stored ranges can be deleted. */
    synchronized Map<String, Long> firstFree() {
        Map<String, Long> out = new LinkedHashMap<>();
        ranges.forEach((t, d) -> {
            if (!d.isEmpty()) {
                out.put(t, d.peekFirst()[0]);
            }
        });
        return out;
    }

    /**
     * Stores granted ranges in {@code _sync_idblock} and deletes the ranges of that table that are used
     * up. Runs inside the caller's transaction on the sync client's connection, before the ranges are
     * handed out, so a key is never given from a range the file does not remember.
     */
    static void store(Connection db, String table, List<IdRange> granted, Long firstFree) throws SQLException {
        String t = fold(table);
        if (firstFree != null) {
            try (PreparedStatement ps = db.prepareStatement("DELETE FROM _sync_idblock WHERE tbl = ? AND hi < ?")) {
                ps.setString(1, t);
                ps.setLong(2, firstFree);
                ps.executeUpdate();
            }
        }
        try (PreparedStatement ps = db.prepareStatement(
                "INSERT OR IGNORE INTO _sync_idblock (tbl, lo, hi) VALUES (?, ?, ?)")) {
            for (IdRange r : granted) {
                ps.setString(1, t);
                ps.setLong(2, r.lo());
                ps.setLong(3, r.hi());
                ps.executeUpdate();
            }
        }
    }

    int blockSize() {
        return blockSize;
    }

    /**
     * How many keys to ask for at once for {@code table}: {@code sync.idBlock}, or more for a sequence whose
     * runs need more consecutive keys than that ({@link #needRuns}).
     */
    synchronized int requestSize(String table) {
        return Math.max(blockSize, runs.getOrDefault(fold(table), 0));
    }

    /** The sequence of {@code table} takes runs of {@code min} consecutive keys: requests ask for at least that. */
    synchronized void needRuns(String table, long min) {
        runs.merge(fold(table), (int) Math.min(Integer.MAX_VALUE, min), Math::max);
    }

    static String fold(String table) {
        return table.toLowerCase(Locale.ROOT);
    }
}
