package io.syncsqlite.protocol;

import java.nio.charset.StandardCharsets;

/**
 * PostgreSQL's cut of long names. PostgreSQL keeps at most 63 bytes of a table or column name
 * ({@code NAMEDATALEN - 1}), cutting a longer one at a character boundary, and still resolves the full name
 * in every statement; SQLite keeps names whole. A client and the relay match such a name to the cut one
 * PostgreSQL stored: the relay for what clients send, the client for what the feed brings.
 *
 * <p>Thread-safe: pure functions.
 */
public final class Identifiers {

    /** Bytes of a name PostgreSQL keeps. */
    public static final int MAX_BYTES = 63;

    private Identifiers() {
    }

    /** {@code name} as PostgreSQL stores it: its first 63 bytes of UTF-8, not splitting a character. */
    public static String clip(String name) {
        if (name.length() <= MAX_BYTES / 3) {
            return name; // at most 3 bytes per char (a surrogate pair is 4 bytes for 2 chars)
        }
        byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
        if (utf8.length <= MAX_BYTES) {
            return name;
        }
        int end = MAX_BYTES;
        while (end > 0 && (utf8[end] & 0xC0) == 0x80) {
            end--; // utf8[end] continues a character: cut before that character
        }
        return new String(utf8, 0, end, StandardCharsets.UTF_8);
    }

    /** Whether {@code name} could be a name PostgreSQL cut: 60 to 63 bytes long. */
    public static boolean maybeClipped(String name) {
        if (name.length() < 20 || name.length() > MAX_BYTES) {
            return false;
        }
        int bytes = name.getBytes(StandardCharsets.UTF_8).length;
        return bytes >= MAX_BYTES - 3 && bytes <= MAX_BYTES;
    }
}
