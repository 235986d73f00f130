package io.syncsqlite.driver.sync;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The local writes that the feed must not overwrite yet: every outbox row of a transaction that is not
 * acknowledged, or acknowledged at a feed position the client has not applied yet.
 *
 * <p>For a feed entry at position {@code s}, a pending write hides the server's value of its columns when
 * its transaction's acknowledgement position is greater than {@code s} (or unknown). Once the feed passes
 * the acknowledgement position, the server's merged value (which already accounts for that write) is
 * applied. This is what keeps the client from showing server state that lacks its own writes, and what
 * makes it end on the server's value when its write lost the merge.
 *
 * <p>The overlay is kept across feed batches and maintained as things happen (transactions added as they
 * are read from the outbox, acknowledgements, settled writes pruned) rather than rebuilt from the whole
 * outbox for every batch: during the catch-up of a client with a large offline backlog, rebuilding meant
 * parsing every pending row again per batch, the largest cost of the whole upload.
 *
 * <p>Not thread-safe: built and used by the sync client's thread.
 */
final class PendingOverlay {

    /**
     * One pending outbox row: its transaction (the outbox seq of its marker), its ack position (MAX_VALUE
     * while unknown), kind, the columns it set, and the amounts it added to counter columns.
     */
    private static final class Pending {
        final String rowKey;
        final long tx;
        long ackSeq;
        final int op;
        final Set<String> columns;
        final Map<String, BigDecimal> deltas;

        Pending(String rowKey, long tx, long ackSeq, int op, Set<String> columns, Map<String, BigDecimal> deltas) {
            this.rowKey = rowKey;
            this.tx = tx;
            this.ackSeq = ackSeq;
            this.op = op;
            this.columns = columns;
            this.deltas = deltas;
        }
    }

    private final Map<String, List<Pending>> byRow = new HashMap<>();
    /** Unacknowledged writes by transaction, for {@link #acknowledge}. */
    private final TreeMap<Long, List<Pending>> unacked = new TreeMap<>();
    /** Acknowledged writes by ack position, for {@link #prune}. */
    private final TreeMap<Long, List<Pending>> acked = new TreeMap<>();
    /** Writes of the transaction still open at the end of the outbox (re-read each time), or null. */
    private PendingOverlay tail;

    /**
     * Adds one pending row of transaction {@code tx} ({@code Long.MAX_VALUE} for the open transaction at the
     * end of the outbox), acknowledged at {@code ackSeq} or {@code Long.MAX_VALUE}.
     */
    void add(String rowKey, long tx, long ackSeq, int op, Set<String> lowerColumns, Map<String, BigDecimal> deltas) {
        Pending p = new Pending(rowKey, tx, ackSeq, op, lowerColumns, deltas);
        byRow.computeIfAbsent(rowKey, k -> new ArrayList<>()).add(p);
        if (ackSeq == Long.MAX_VALUE) {
            unacked.computeIfAbsent(tx, k -> new ArrayList<>()).add(p);
        } else {
            acked.computeIfAbsent(ackSeq, k -> new ArrayList<>()).add(p);
        }
    }

    /** Replaces the writes of the open transaction at the end of the outbox. */
    void tail(PendingOverlay openTransaction) {
        this.tail = openTransaction;
    }

    /** Every transaction up to {@code tx} is acknowledged at feed position {@code seq}. */
    void acknowledge(long tx, long seq) {
        Iterator<Map.Entry<Long, List<Pending>>> it = unacked.headMap(tx, true).entrySet().iterator();
        while (it.hasNext()) {
            for (Pending p : it.next().getValue()) {
                p.ackSeq = seq;
                acked.computeIfAbsent(seq, k -> new ArrayList<>()).add(p);
            }
            it.remove();
        }
    }

    /** Forgets writes acknowledged at or below {@code cursor}: the feed has passed them for good. */
    void prune(long cursor) {
        Iterator<Map.Entry<Long, List<Pending>>> it = acked.headMap(cursor, true).entrySet().iterator();
        while (it.hasNext()) {
            for (Pending p : it.next().getValue()) {
                List<Pending> list = byRow.get(p.rowKey);
                if (list != null) {
                    list.remove(p);
                    if (list.isEmpty()) {
                        byRow.remove(p.rowKey);
                    }
                }
            }
            it.remove();
        }
    }

    boolean isEmpty() {
        return byRow.isEmpty() && (tail == null || tail.isEmpty());
    }

    /**
     * The view of one row for a feed entry at position {@code seq}: writes acknowledged at or below it are
     * already part of that state. Callers pass the snapshot's base position for snapshot entries, and 0 to
     * count every pending write.
     */
    RowPending at(String rowKey, long seq) {
        List<Pending> list = byRow.get(rowKey);
        List<Pending> open = tail == null ? null : tail.byRow.get(rowKey);
        if (list == null && open == null) {
            return RowPending.NONE;
        }
        Set<String> cols = new HashSet<>();
        Map<String, BigDecimal> deltas = new HashMap<>();
        boolean any = false;
        int lastOp = 0;
        for (List<Pending> l : open == null ? List.of(list) : list == null ? List.of(open) : List.of(list, open)) {
            for (Pending p : l) {
                if (p.ackSeq > seq) {
                    any = true;
                    cols.addAll(p.columns);
                    p.deltas.forEach((c, d) -> deltas.merge(c, d, BigDecimal::add));
                    lastOp = p.op;
                }
            }
        }
        return any ? new RowPending(true, lastOp, cols, deltas) : RowPending.NONE;
    }

    /**
     * What is pending on one row.
     *
     * @param any     whether anything is pending
     * @param lastOp  the last pending operation's outbox op code
     * @param columns lower-case names of columns with pending values
     * @param deltas  pending increments of counter columns, by lower-case name
     */
    record RowPending(boolean any, int lastOp, Set<String> columns, Map<String, BigDecimal> deltas) {
        static final RowPending NONE = new RowPending(false, 0, Set.of(), Map.of());
    }
}
