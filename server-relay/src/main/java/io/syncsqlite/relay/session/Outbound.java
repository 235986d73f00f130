package io.syncsqlite.relay.session;

/**
 * The sending side of one client connection, as a session sees it.
 *
 * <p>Implementations are thread-safe and never throw for a connection that is already closed.
 */
public interface Outbound {

    void send(String text);

    /** Closes with a WebSocket close code; {@code reason} is at most 123 bytes of UTF-8. */
    void close(int code, String reason);
}
