package io.syncsqlite.relay.ops;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The relay's counters, rendered in the Prometheus text format (version 0.0.4) by hand: a handful of
 * counters, gauges and one histogram do not justify a metrics library on the relay's classpath.
 *
 * <p>Thread-safe: counters are {@link LongAdder}s and atomics, updated from session lanes and the feed
 * thread and read by the HTTP thread.
 */
public final class Metrics {

    /** Upper bounds (seconds) of the apply-latency histogram buckets. */
    private static final double[] BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    private final LongAdder txApplied = new LongAdder();
    private final LongAdder txRejected = new LongAdder();
    private final LongAdder rowsIn = new LongAdder();
    private final LongAdder entriesOut = new LongAdder();
    private final LongAdder connections = new LongAdder();
    private final AtomicLongArray applyBuckets = new AtomicLongArray(BUCKETS.length);
    private final LongAdder applyCount = new LongAdder();
    private final AtomicLong applyNanos = new AtomicLong();
    private volatile LongSupplier clients = () -> 0;
    private volatile LongSupplier feedHead = () -> 0;

    /** Where the gauges come from (the relay's session registry and its feed). */
    public void gauges(LongSupplier connectedClients, LongSupplier head) {
        this.clients = connectedClients;
        this.feedHead = head;
    }

    /** A client transaction was applied (acknowledged) or refused, with its rows and its duration. */
    public void applied(boolean acknowledged, int rows, long nanos) {
        (acknowledged ? txApplied : txRejected).increment();
        rowsIn.add(rows);
        applyCount.increment();
        applyNanos.addAndGet(nanos);
        double seconds = nanos / 1e9;
        for (int i = 0; i < BUCKETS.length; i++) {
            if (seconds <= BUCKETS[i]) {
                applyBuckets.incrementAndGet(i);
                break;
            }
        }
    }

    /** Feed entries (row images) sent to one client. */
    public void sent(int entries) {
        entriesOut.add(entries);
    }

    /** A client connection was accepted. */
    public void connected() {
        connections.increment();
    }

    /**
     * The metrics in the Prometheus text format.
     *
     * @param databaseHead the newest commit in PostgreSQL, or -1 if it could not be read
     */
    public String render(long databaseHead) {
        StringBuilder sb = new StringBuilder(2048);
        long head = feedHead.getAsLong();
        gauge(sb, "syncsqlite_clients_connected", "Client sessions connected now.", clients.getAsLong());
        counter(sb, "syncsqlite_connections_total", "Client connections accepted since start.", connections.sum());
        counter(sb, "syncsqlite_transactions_applied_total", "Client transactions applied and acknowledged.",
                txApplied.sum());
        counter(sb, "syncsqlite_transactions_rejected_total", "Client transactions refused by PostgreSQL.",
                txRejected.sum());
        counter(sb, "syncsqlite_rows_in_total", "Row changes received from clients (changes in).", rowsIn.sum());
        counter(sb, "syncsqlite_feed_entries_out_total", "Row images sent to clients (changes out).",
                entriesOut.sum());
        gauge(sb, "syncsqlite_feed_head", "Newest commit position the feed has read.", head);
        if (databaseHead >= 0) {
            gauge(sb, "syncsqlite_feed_lag_commits",
                    "Commits in PostgreSQL the feed has not read yet (0 when it keeps up).",
                    Math.max(0, databaseHead - head));
        }
        sb.append("# HELP syncsqlite_apply_seconds Time to apply one client transaction in PostgreSQL.\n")
                .append("# TYPE syncsqlite_apply_seconds histogram\n");
        long cumulative = 0;
        for (int i = 0; i < BUCKETS.length; i++) {
            cumulative += applyBuckets.get(i);
            sb.append("syncsqlite_apply_seconds_bucket{le=\"").append(BUCKETS[i]).append("\"} ")
                    .append(cumulative).append('\n');
        }
        long count = applyCount.sum();
        sb.append("syncsqlite_apply_seconds_bucket{le=\"+Inf\"} ").append(count).append('\n')
                .append("syncsqlite_apply_seconds_sum ").append(String.format(Locale.ROOT, "%.6f", applyNanos.get() / 1e9))
                .append('\n')
                .append("syncsqlite_apply_seconds_count ").append(count).append('\n');
        return sb.toString();
    }

    private static void counter(StringBuilder sb, String name, String help, long value) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(" counter\n")
                .append(name).append(' ').append(value).append('\n');
    }

    private static void gauge(StringBuilder sb, String name, String help, long value) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(" gauge\n")
                .append(name).append(' ').append(value).append('\n');
    }
}
