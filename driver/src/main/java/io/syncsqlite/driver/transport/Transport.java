package io.syncsqlite.driver.transport;

import io.syncsqlite.protocol.Message;

import java.io.IOException;

/**
 * A connection to one relay that carries protocol messages both ways. Incoming messages and the end of
 * the connection are reported to the {@link Listener} given when it was opened.
 *
 * <p>Implementations allow {@link #send} from one thread at a time (the sync client's own thread).
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

    /** Sends a WebSocket ping; the answer shows up as activity. */
    void ping() throws IOException;

    /** When anything (a message or a pong) last arrived, in {@code System.nanoTime()} units. */
    long lastActivityNanos();

    @Override
    void close();
}
