package io.syncsqlite.protocol;

import java.time.InstantSource;

/**
 * The hybrid logical clock of one node (Kulkarni et al., 2014): {@link #now()} never returns the same
 * or an earlier value twice, and {@link #observe(long)} moves the clock past every timestamp the node
 * has seen, so a write made after seeing a change is always stamped later than that change, even when
 * the wall clocks of the two nodes disagree.
 *
 * <p>The wall clock is injected so that tests can drive it; production code passes
 * {@link InstantSource#system()}.
 *
 * <p>Thread-safe: all methods synchronize on the clock.
 */
public final class HybridClock {

    private final InstantSource wall;
    private long last;

    public HybridClock(InstantSource wall, long start) {
        this.wall = wall;
        this.last = start;
    }

    public HybridClock(InstantSource wall) {
        this(wall, 0);
    }

    /** A new timestamp, greater than every timestamp this clock returned or observed before. */
    public synchronized long now() {
        long physical = Hlc.ofMillis(wall.millis());
        last = Math.max(physical, last + 1);
        return last;
    }

    /** Records a timestamp seen from another node, so that later local events order after it. */
    public synchronized void observe(long remote) {
        if (remote > last) {
            last = remote;
        }
    }

    /** The latest timestamp issued or observed, without advancing the clock. */
    public synchronized long last() {
        return last;
    }
}
