package io.syncsqlite.driver.transport;

import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.protocol.ProtocolException;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@link Transport} over the JDK's own {@link java.net.http.WebSocket} client: no extra dependency in
 * the application's classpath, and not the Java-WebSocket client whose rare multi-second stalls were
 * measured here (NOTES.md). Stalls of any origin are still survived: the sync client pings, times out
 * acknowledgements and reconnects, and every resend is idempotent.
 *
 * <p>Threading: JDK listener callbacks arrive on the HTTP client's threads and are passed straight to
 * the {@link Transport.Listener}; {@link #send} must be called by one thread at a time, {@link #post} by
 * any. The JDK's socket refuses a text message while another is being sent, so every text message is
 * chained behind the one before it.
 */
public final class WebSocketTransport implements Transport, WebSocket.Listener {

    private static final Duration SEND_TIMEOUT = Duration.ofSeconds(30);

    private final Transport.Listener listener;
    private final StringBuilder partial = new StringBuilder();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile WebSocket socket;
    private volatile long lastActivity = System.nanoTime();
    private volatile long lastMessage = lastActivity;
    /** Characters of every text message queued so far (written under this transport's lock). */
    private volatile long sentChars;
    /** The last text message handed to the socket; the next one is sent when it completes. */
    private CompletableFuture<WebSocket> lastText = CompletableFuture.completedFuture(null);

    private WebSocketTransport(Transport.Listener listener) {
        this.listener = listener;
    }

    /** Opens a connection, waiting at most {@code timeout} for the handshake. */
    public static WebSocketTransport connect(HttpClient http, URI uri, Duration timeout, Transport.Listener listener)
            throws IOException {
        return connect(http, uri, timeout, null, listener);
    }

    /**
     * Opens a connection presenting {@code token} (a JWT, sent as {@code Authorization: Bearer}; null: none),
     * waiting at most {@code timeout} for the handshake. The token never appears in exceptions or logs.
     */
    public static WebSocketTransport connect(HttpClient http, URI uri, Duration timeout, String token,
                                             Transport.Listener listener) throws IOException {
        WebSocketTransport t = new WebSocketTransport(listener);
        try {
            WebSocket.Builder builder = http.newWebSocketBuilder().connectTimeout(timeout);
            if (token != null && !token.isBlank()) {
                builder.header("Authorization", "Bearer " + token.trim());
            }
            t.socket = builder
                    .buildAsync(uri, t)
                    .get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
            return t;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while connecting to " + uri, e);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new IOException("cannot connect to " + uri + ": " + cause, cause);
        }
    }

    @Override
    public void send(Message message) throws IOException {
        await(queue(MessageCodec.encode(message)));
    }

    @Override
    public void sendEncoded(String text) throws IOException {
        await(queue(text));
    }

    @Override
    public void post(Message message) {
        queue(MessageCodec.encode(message));
    }

    private synchronized CompletableFuture<WebSocket> queue(String text) {
        WebSocket s = socket;
        sentChars += text.length();
        // thenCompose: a failed send fails every one queued behind it, and the sync thread's next send.
        lastText = lastText.thenCompose(previous -> s.sendText(text, true));
        return lastText;
    }

    @Override
    public void ping() throws IOException {
        await(socket.sendPing(ByteBuffer.allocate(0)));
    }

    private void await(CompletableFuture<WebSocket> f) throws IOException {
        try {
            f.get(SEND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while sending", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("send failed: " + (e instanceof ExecutionException ? e.getCause() : e), e);
        }
    }

    @Override
    public long lastActivityNanos() {
        return lastActivity;
    }

    @Override
    public long lastMessageNanos() {
        return lastMessage;
    }

    @Override
    public long sentChars() {
        return sentChars;
    }

    @Override
    public void onOpen(WebSocket webSocket) {
        webSocket.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        lastActivity = System.nanoTime();
        lastMessage = lastActivity;
        partial.append(data);
        if (last) {
            String text = partial.toString();
            partial.setLength(0);
            try {
                listener.onMessage(MessageCodec.decodeFromRelay(text));
            } catch (ProtocolException e) {
                fail("relay sent an invalid message: " + e.getMessage());
                return null;
            }
        }
        webSocket.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
        fail("relay sent a binary frame");
        return null;
    }

    @Override
    public CompletionStage<?> onPong(WebSocket webSocket, ByteBuffer message) {
        lastActivity = System.nanoTime();
        webSocket.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        if (closed.compareAndSet(false, true)) {
            listener.onClosed("closed by relay: " + statusCode + " " + reason);
        }
        return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
        if (closed.compareAndSet(false, true)) {
            listener.onClosed("connection error: " + error);
        }
    }

    private void fail(String why) {
        if (closed.compareAndSet(false, true)) {
            socket.abort();
            listener.onClosed(why);
        }
    }

    @Override
    public void close() {
        WebSocket s = socket;
        if (closed.compareAndSet(false, true) && s != null) {
            // abort() rather than a close handshake: the client only closes when giving up on this
            // connection (stall, shutdown), and waiting for the relay's answer would not help.
            s.abort();
        }
    }
}
