package io.syncsqlite.driver.sync;

import java.math.BigDecimal;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

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
 * <p>Not thread-safe: built and used by the sync client's thread.
 */
final class PendingOverlay {

    /**
     * One pending outbox row: its ack position (MAX_VALUE when unknown), kind, the columns it set, and the
     * amounts it added to counter columns.
     */
    private record Pending(long ackSeq, int op, Set<String> columns, Map<String, BigDecimal> deltas) {
    }

    private final Map<String, java.util.List<Pending>> byRow = new HashMap<>();

    void add(String rowKey, long ackSeq, int op, Set<String> lowerColumns, Map<String, BigDecimal> deltas) {
        byRow.computeIfAbsent(rowKey, k -> new java.util.ArrayList<>()).add(new Pending(ackSeq, op, lowerColumns, deltas));
    }

    boolean isEmpty() {
        return byRow.isEmpty();
    }

    /**
     * The view of one row for a feed entry at position {@code seq}: writes acknowledged at or below it are
     * already part of that state. Callers pass the snapshot's base position for snapshot entries, and 0 to
     * count every pending write.
     */
    RowPending at(String rowKey, long seq) {
        java.util.List<Pending> list = byRow.get(rowKey);
        if (list == null) {
            return RowPending.NONE;
        }
        Set<String> cols = new HashSet<>();
        Map<String, BigDecimal> deltas = new HashMap<>();
        boolean any = false;
        int lastOp = 0;
        for (Pending p : list) {
            if (p.ackSeq > seq) {
                any = true;
                cols.addAll(p.columns);
                p.deltas.forEach((c, d) -> deltas.merge(c, d, BigDecimal::add));
                lastOp = p.op;
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
