package io.syncsqlite.relay.session;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** On a clock of the test's own: with the machine's, time passing during the burst refilled it (flaky under load). */
class RateLimitTest {

    @Test
    void aBurstPassesThenTheBucketRefillsAtTheRate() {
        AtomicLong now = new AtomicLong(1_000_000_000L);
        RateLimit r = new RateLimit(100, 50, now::get);
        for (int i = 0; i < 50; i++) {
            assertTrue(r.tryTake(), "burst " + i);
        }
        assertFalse(r.tryTake(), "the burst is spent");
        now.addAndGet(9_000_000); // 0.9 of a token at 100/s
        assertFalse(r.tryTake(), "not a whole token yet");
        now.addAndGet(2_000_000);
        assertTrue(r.tryTake(), "a token after 11 ms");
        assertFalse(r.tryTake());
        now.addAndGet(10_000_000_000L); // long idle: refills to the burst, not beyond
        for (int i = 0; i < 50; i++) {
            assertTrue(r.tryTake(), "refilled " + i);
        }
        assertFalse(r.tryTake(), "capped at the burst");
    }
}
