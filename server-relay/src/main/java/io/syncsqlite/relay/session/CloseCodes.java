package io.syncsqlite.relay.session;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The WebSocket close codes of the protocol (docs/DESIGN.md, "Close codes").
 *
 * <p>Thread-safe: constants and a pure function.
 */
public final class CloseCodes {

    /** The relay is shutting down. */
    public static final int GOING_AWAY = 1001;
    /** Malformed message, or a message out of order. */
    public static final int PROTOCOL_ERROR = 1002;
    /** Binary frame: the protocol is text only. */
    public static final int UNSUPPORTED_DATA = 1003;
    /** The client sends faster than the relay applies. */
    public static final int POLICY_VIOLATION = 1008;
    /** A frame over the relay's size limit. */
    public static final int TOO_BIG = 1009;
    /** The relay cannot serve the client now (database unreachable); reconnect and resend. */
    public static final int INTERNAL_ERROR = 1011;
    /** RFC 6455 "try again later": the relay is at its connection limit. */
    public static final int TRY_AGAIN_LATER = 1013;
    /** No valid token: missing, forged, expired, wrong audience (an application code, as 4000-4999 are). */
    public static final int UNAUTHORIZED = 4401;
    /**
     * A transaction reuses an id applied for its node with another clock: the client's file is a copy of the
     * node's ({@link io.syncsqlite.protocol.NodeCopies}); it reconnects, learns the applied clock and takes a
     * node id of its own.
     */
    public static final int COPIED_NODE = 4409;

    private static final int MAX_REASON_BYTES = 120;

    private CloseCodes() {
    }

    /** The reason cut to 120 bytes of UTF-8 without splitting a character (close frames carry 123). */
    public static String reason(String text) {
        if (text == null) {
            return "";
        }
        CharsetEncoder enc = StandardCharsets.UTF_8.newEncoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        ByteBuffer out = ByteBuffer.allocate(MAX_REASON_BYTES);
        CharBuffer in = CharBuffer.wrap(text);
        enc.encode(in, out, true);
        out.flip();
        return StandardCharsets.UTF_8.decode(out).toString();
    }
}
