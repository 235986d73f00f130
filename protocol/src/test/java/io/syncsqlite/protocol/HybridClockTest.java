package io.syncsqlite.protocol;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HybridClockTest {

    private final AtomicLong wall = new AtomicLong(1_700_000_000_000L);
    private final InstantSource source = () -> Instant.ofEpochMilli(wall.get());

    @Test
    void nowIsStrictlyIncreasingWithinOneMillisecond() {
        HybridClock clock = new HybridClock(source);
        long a = clock.now();
        long b = clock.now();
        assertTrue(b > a);
        assertEquals(Hlc.unpack(a).millis(), Hlc.unpack(b).millis());
        assertEquals(1, Hlc.unpack(b).counter() - Hlc.unpack(a).counter());
    }

    @Test
    void wallClockGoingBackwardsNeverMovesTheClockBack() {
        HybridClock clock = new HybridClock(source);
        long a = clock.now();
        wall.addAndGet(-60_000);
        long b = clock.now();
        assertTrue(b > a, "a clock that went back must still issue later timestamps");
    }

    @Test
    void observingAFutureTimestampOrdersLaterEventsAfterIt() {
        HybridClock clock = new HybridClock(source);
        long remote = Hlc.ofMillis(wall.get() + 5_000);
        clock.observe(remote);
        assertTrue(clock.now() > remote);
    }

    @Test
    void aTimestampFarInTheFutureMovesTheClockOnlyToTheBound() {
        HybridClock clock = new HybridClock(source);
        clock.observe(Hlc.ofMillis(wall.get() + 365L * 86_400_000L));
        long next = clock.now();
        long ahead = Hlc.unpack(next).millis() - wall.get();
        assertTrue(ahead <= HybridClock.MAX_OBSERVED_AHEAD_MS, "a year-ahead row must not carry this node past"
                + " what relays accept: " + ahead + " ms ahead");
        assertTrue(ahead >= HybridClock.MAX_OBSERVED_AHEAD_MS - 1, "but as far as the bound allows: " + ahead);
        assertTrue(HybridClock.MAX_OBSERVED_AHEAD_MS < HybridClock.MAX_AHEAD_OF_RELAY_MS);
    }

    @Test
    void startValueIsRespectedAfterRestart() {
        long persisted = Hlc.ofMillis(wall.get() + 10_000) + 7;
        HybridClock clock = new HybridClock(source, persisted);
        assertTrue(clock.now() > persisted);
    }

    @Test
    void packingRoundTripsAndComparesAsNumbers() {
        Hlc h = new Hlc(1_700_000_000_123L, 42);
        assertEquals(h, Hlc.unpack(h.packed()));
        assertTrue(new Hlc(5, 0).packed() > new Hlc(4, Hlc.MAX_COUNTER).packed());
        assertThrows(IllegalArgumentException.class, () -> new Hlc(1, Hlc.MAX_COUNTER + 1));
        assertThrows(IllegalArgumentException.class, () -> Hlc.unpack(-1));
    }

    @Test
    void tiesAreBrokenByNodeId() {
        assertTrue(Hlc.compare(10, "b", 10, "a") > 0);
        assertTrue(Hlc.compare(10, "a", 11, "a") < 0);
        assertEquals(0, Hlc.compare(10, "a", 10, "a"));
    }
}
