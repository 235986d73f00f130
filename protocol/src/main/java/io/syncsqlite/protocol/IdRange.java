package io.syncsqlite.protocol;

/**
 * Integer key values {@code lo..hi} (both inclusive) reserved for one client: no other client and no
 * PostgreSQL writer will ever be given a value of the range.
 *
 * <p>Immutable; thread-safe.
 */
public record IdRange(long lo, long hi) {

    public IdRange {
        if (hi < lo) {
            throw new IllegalArgumentException("empty id range " + lo + ".." + hi);
        }
    }

    public long size() {
        return hi - lo + 1;
    }
}
