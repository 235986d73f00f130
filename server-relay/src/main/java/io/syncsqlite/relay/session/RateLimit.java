package io.syncsqlite.relay.session;

/**
 * A token bucket: {@code perSecond} tokens refill each second up to {@code burst}.
 *
 * <p>Thread-safe (synchronized; called once per received frame, from the WebSocket threads).
 */
final class RateLimit {

    private final double perNano;
    private final double burst;
    private double tokens;
    private long last = System.nanoTime();

    RateLimit(int perSecond, int burst) {
        this.perNano = perSecond / 1e9;
        this.burst = burst;
        this.tokens = burst;
    }

    /** Takes one token; false when the bucket is empty. */
    synchronized boolean tryTake() {
        long now = System.nanoTime();
        tokens = Math.min(burst, tokens + (now - last) * perNano);
        last = now;
        if (tokens < 1) {
            return false;
        }
        tokens -= 1;
        return true;
    }
}
