package io.syncsqlite.relay.session;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CloseCodesTest {

    @Test
    void reasonsAreCutTo120BytesWithoutSplittingCharacters() {
        assertEquals("short", CloseCodes.reason("short"));
        assertEquals(120, CloseCodes.reason("x".repeat(500)).getBytes(StandardCharsets.UTF_8).length);
        String cut = CloseCodes.reason("é".repeat(100)); // two bytes each
        assertEquals(60, cut.length());
        assertTrue(cut.chars().allMatch(c -> c == 'é'));
        String emoji = CloseCodes.reason("a" + "😀".repeat(40)); // four bytes each, after one byte
        assertEquals(1 + 4 * 29, emoji.getBytes(StandardCharsets.UTF_8).length);
        assertEquals("", CloseCodes.reason(null));
    }
}
