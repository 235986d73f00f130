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

    /**
     * How far ahead of the relay's clock a relay accepts a transaction's timestamp (it closes the session
     * with 1008 beyond that, and the client keeps the transaction pending).
     */
    public static final long MAX_AHEAD_OF_RELAY_MS = 10 * 60_000L;

    /**
     * How far ahead of this node's wall clock an observed timestamp can move the clock: half the relay's
     * bound, leaving the other half for the difference between this device's clock and the relay's. A
     * row stamped further ahead (a clock set to next year, before relays bounded clocks) would otherwise
     * carry every node that sees it past that bound, and the relay would refuse all their writes.
     */
    public static final long MAX_OBSERVED_AHEAD_MS = MAX_AHEAD_OF_RELAY_MS / 2;

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

    /**
     * Records a timestamp seen from another node, so that later local events order after it; one more
     * than {@link #MAX_OBSERVED_AHEAD_MS} ahead of the wall clock moves the clock only that far (later
     * local writes then lose to it by last-writer-wins, rather than being refused by the relay).
     */
    public synchronized void observe(long remote) {
        long bounded = Math.min(remote, Hlc.ofMillis(wall.millis() + MAX_OBSERVED_AHEAD_MS));
        if (bounded > last) {
            last = bounded;
        }
    }

    /** The latest timestamp issued or observed, without advancing the clock. */
    public synchronized long last() {
        return last;
    }
}
