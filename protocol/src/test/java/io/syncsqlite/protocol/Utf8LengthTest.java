package io.syncsqlite.protocol;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link MessageCodec#utf8Length} decides where a transaction's parts are cut: it must match the bytes sent. */
class Utf8LengthTest {

    @Test
    void countsWhatUtf8EncodingProduces() {
        for (String s : new String[] {"", "plain ascii", "caf\u00e9 \u00fc\u00df", "\u4e2d\u6587\u5b57",
                "emoji \ud83d\ude00\ud83c\udf89 mixed \u00e9\u4e2d", "\u07ff\u0800\uffff", "x".repeat(10_000)}) {
            assertEquals(s.getBytes(StandardCharsets.UTF_8).length, MessageCodec.utf8Length(s), s);
        }
    }

    @Test
    void aLoneSurrogateCountsAsItsReplacement() {
        // String.getBytes writes '?' (1 byte) for it; the JDK's WebSocket refuses such text instead. What matters
        // is that the count is never lower than the encoding's: 3, the replacement character's size.
        assertEquals(3 + 1, MessageCodec.utf8Length("\ud83dx"));
    }
}
