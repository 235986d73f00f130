package io.syncsqlite.relay.session;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RateLimitTest {

    @Test
    void aBurstPassesThenTheBucketRefillsAtTheRate() throws Exception {
        RateLimit r = new RateLimit(100, 50);
        for (int i = 0; i < 50; i++) {
            assertTrue(r.tryTake(), "burst " + i);
        }
        assertFalse(r.tryTake(), "the burst is spent");
        Thread.sleep(60); // about 6 tokens at 100/s
        assertTrue(r.tryTake());
    }
}
