package io.syncsqlite.protocol;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NodeCopiesTest {

    private static final long APPLIED_TX = 10;
    private static final long APPLIED_HLC = Hlc.ofMillis(5_000);

    @Test
    void resendsOfTheOwnFileAreNeverACopys() {
        assertFalse(NodeCopies.fromCopy(10, APPLIED_HLC, APPLIED_TX, APPLIED_HLC), "the applied one itself");
        assertFalse(NodeCopies.fromCopy(9, APPLIED_HLC - 1, APPLIED_TX, APPLIED_HLC), "an earlier one");
        assertFalse(NodeCopies.fromCopy(1, Hlc.ofMillis(1), APPLIED_TX, APPLIED_HLC));
    }

    @Test
    void aReusedIdWithAnotherClockIsACopys() {
        assertTrue(NodeCopies.fromCopy(10, APPLIED_HLC + 1, APPLIED_TX, APPLIED_HLC), "the same id, later");
        assertTrue(NodeCopies.fromCopy(10, APPLIED_HLC - 1, APPLIED_TX, APPLIED_HLC), "the same id, earlier");
        assertTrue(NodeCopies.fromCopy(9, APPLIED_HLC, APPLIED_TX, APPLIED_HLC), "an earlier id, not earlier");
        assertTrue(NodeCopies.fromCopy(3, APPLIED_HLC + 1_000, APPLIED_TX, APPLIED_HLC));
    }

    @Test
    void nothingIsDecidedPastTheKnownId() {
        assertFalse(NodeCopies.fromCopy(11, APPLIED_HLC - 5, APPLIED_TX, APPLIED_HLC));
    }
}
