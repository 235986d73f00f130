package io.syncsqlite.driver.transport;

import io.syncsqlite.protocol.Message;

import java.io.IOException;

/**
 * A connection to one relay that carries protocol messages both ways. Incoming messages and the end of
 * the connection are reported to the {@link Listener} given when it was opened.
 *
 * <p>Implementations allow {@link #send} and {@link #ping} from one thread at a time (the sync client's own
 * thread), and {@link #post} from any thread at any time.
 */
public interface Transport extends AutoCloseable {

    /** Receives what arrives; called on the transport's threads, so implementations only enqueue. */
    interface Listener {
        void onMessage(Message message);

        /** The connection ended; {@code cause} says why (a close code and reason, or an error). */
        void onClosed(String cause);
    }

    /** Sends one message, waiting until it is handed to the network. */
    void send(Message message) throws IOException;

    /** The same, for a message already encoded ({@link io.syncsqlite.protocol.MessageCodec#encode}). */
    void sendEncoded(String text) throws IOException;

    /**
     * Queues one message behind those being sent and returns at once, from any thread: for a small request
     * that must not wait for the thread that calls {@link #send} (key requests: that thread may be waiting
     * for SQLite's write lock held by the very insert that needs the keys). A failure shows as the
     * connection's end, or as the next {@link #send} failing.
     */
    void post(Message message);

    /** Sends a WebSocket ping; the answer shows up as activity. */
    void ping() throws IOException;

    /** When anything (a message or a pong) last arrived, in {@code System.nanoTime()} units. */
    long lastActivityNanos();

    /** When a message (not a pong) last arrived, in {@code System.nanoTime()} units. */
    long lastMessageNanos();

    /** Characters of every message handed to the connection so far (a measure of what went out, and when). */
    long sentChars();

    @Override
    void close();
}
