package io.syncsqlite.protocol;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Identifiers#clip} against what PostgreSQL stores (its 63-byte cut never splits a character). */
class IdentifiersTest {

    @Test
    void cutsAtSixtyThreeBytesWithoutSplittingACharacter() {
        String ascii = "a".repeat(70);
        assertEquals("a".repeat(63), Identifiers.clip(ascii));
        String short63 = "b".repeat(63);
        assertSame(short63, Identifiers.clip(short63));
        // 62 ASCII bytes, then a 2-byte 'é': it does not fit whole in byte 63, so PostgreSQL stops at 62.
        String accent = "c".repeat(62) + "é" + "x";
        assertEquals("c".repeat(62), Identifiers.clip(accent));
        // 'é' as bytes 62-63 fits: kept.
        assertEquals("c".repeat(61) + "é", Identifiers.clip("c".repeat(61) + "éz"));
        String emoji = "d".repeat(61) + "\uD83D\uDE00"; // 4 bytes from byte 62: cut before it
        assertEquals("d".repeat(61), Identifiers.clip(emoji));
        assertTrue(Identifiers.clip("ü".repeat(40)).getBytes(StandardCharsets.UTF_8).length <= 63);
    }

    @Test
    void recognisesNamesThatMayHaveBeenCut() {
        assertTrue(Identifiers.maybeClipped("a".repeat(63)));
        assertTrue(Identifiers.maybeClipped("c".repeat(62)));
        assertFalse(Identifiers.maybeClipped("short"));
        assertFalse(Identifiers.maybeClipped("a".repeat(64)));
    }
}
