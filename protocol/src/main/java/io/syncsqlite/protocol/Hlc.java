package io.syncsqlite.protocol;

/**
 * A hybrid logical clock timestamp: wall-clock milliseconds plus a logical counter, packed into one
 * {@code long} as {@code millis << 16 | counter} so that timestamps compare as plain numbers in SQLite,
 * PostgreSQL and on the wire. The 48 bits of milliseconds last until the year 10889; the 16-bit counter
 * allows 65,536 events within one millisecond before the clock borrows the next millisecond.
 *
 * <p>Ties between equal timestamps from different nodes are broken by node id wherever timestamps are
 * compared (see {@link #compare(long, String, long, String)}), so every replica orders events alike.
 *
 * <p>Immutable value; thread-safe.
 */
public record Hlc(long millis, int counter) implements Comparable<Hlc> {

    public static final int COUNTER_BITS = 16;
    public static final int MAX_COUNTER = (1 << COUNTER_BITS) - 1;
    public static final Hlc ZERO = new Hlc(0, 0);

    public Hlc {
        if (millis < 0 || millis >= (1L << (63 - COUNTER_BITS))) {
            throw new IllegalArgumentException("HLC millis out of range: " + millis);
        }
        if (counter < 0 || counter > MAX_COUNTER) {
            throw new IllegalArgumentException("HLC counter out of range: " + counter);
        }
    }

    public long packed() {
        return (millis << COUNTER_BITS) | counter;
    }

    public static Hlc unpack(long packed) {
        if (packed < 0) {
            throw new IllegalArgumentException("negative HLC: " + packed);
        }
        return new Hlc(packed >>> COUNTER_BITS, (int) (packed & MAX_COUNTER));
    }

    /** Packs milliseconds with a zero counter: the smallest timestamp of that millisecond. */
    public static long ofMillis(long millis) {
        return new Hlc(millis, 0).packed();
    }

    /**
     * Total order over (timestamp, node): the later timestamp wins, equal timestamps are ordered by node
     * id. This is the last-writer-wins order used by the relay's merge.
     */
    public static int compare(long hlcA, String nodeA, long hlcB, String nodeB) {
        int c = Long.compare(hlcA, hlcB);
        return c != 0 ? c : nodeA.compareTo(nodeB);
    }

    @Override
    public int compareTo(Hlc o) {
        return Long.compare(packed(), o.packed());
    }

    @Override
    public String toString() {
        return millis + "." + counter;
    }
}
