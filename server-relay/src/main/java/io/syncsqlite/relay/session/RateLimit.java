package io.syncsqlite.relay.session;

import java.util.function.LongSupplier;

/**
 * A token bucket: {@code perSecond} tokens refill each second up to {@code burst}.
 *
 * <p>Thread-safe (synchronized; called once per received frame, from the WebSocket threads).
 */
final class RateLimit {

    private final double perNano;
    private final double burst;
    private final LongSupplier clock;
    private double tokens;
    private long last;

    RateLimit(int perSecond, int burst) {
        this(perSecond, burst, System::nanoTime);
    }

    /** @param clock nanoseconds, as {@link System#nanoTime} (a test's own clock) */
    RateLimit(int perSecond, int burst, LongSupplier clock) {
        this.perNano = perSecond / 1e9;
        this.burst = burst;
        this.clock = clock;
        this.tokens = burst;
        this.last = clock.getAsLong();
    }

    /** Takes one token; false when the bucket is empty. */
    synchronized boolean tryTake() {
        long now = clock.getAsLong();
        tokens = Math.min(burst, tokens + (now - last) * perNano);
        last = now;
        if (tokens < 1) {
            return false;
        }
        tokens -= 1;
        return true;
    }
}
