package io.syncsqlite.it.support;

import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.protocol.ProtocolException;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A raw protocol client over the JDK's {@link WebSocket}, independent of the driver: it sends exactly
 * the messages a test asks for and records everything the relay sends back, in order.
 *
 * <p>By default it answers every {@code changes} with a {@code progress} for its new cursor, as a
 * well-behaved client does; {@link #autoProgress(boolean)} turns that off to test flow control.
 *
 * <p>Thread-safe: the JDK calls the listener on its own threads; recorded state is guarded by the
 * client's monitor, and sends go through one thread so they never overlap (the JDK forbids that).
 */
public final class TestClient implements AutoCloseable {

    public static final Duration TIMEOUT = Duration.ofSeconds(20);

    private final List<Message> received = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();
    private final ExecutorService sender = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "test-client-send");
        t.setDaemon(true);
        return t;
    });
    private WebSocket ws;
    private long cursor;
    private boolean autoProgress = true;
    private Integer closeCode;
    private String closeReason;

    private TestClient() {
    }

    public static TestClient connect(URI uri) {
        return connect(uri, null);
    }

    /** Connects presenting {@code token} as {@code Authorization: Bearer} (none if null). */
    public static TestClient connect(URI uri, String token) {
        TestClient client = new TestClient();
        WebSocket.Builder builder = HttpClient.newHttpClient().newWebSocketBuilder();
        if (token != null) {
            builder.header("Authorization", "Bearer " + token);
        }
        client.ws = builder
                .connectTimeout(Duration.ofSeconds(10))
                .buildAsync(uri, client.new Listener())
                .orTimeout(20, TimeUnit.SECONDS)
                .join();
        return client;
    }

    /** Sends hello and waits for the welcome. */
    public Message.Welcome hello(String node, long cursor) {
        synchronized (this) {
            this.cursor = cursor;
        }
        send(new Message.Hello(Message.PROTOCOL_VERSION, node, cursor));
        return awaitMessage(Message.Welcome.class);
    }

    public void push(ClientTx... txs) {
        send(new Message.Push(List.of(txs)));
    }

    public void send(Message m) {
        sendText(MessageCodec.encode(m));
    }

    public void sendText(String text) {
        run(() -> ws.sendText(text, true));
    }

    public void sendBinary(byte[] data) {
        run(() -> ws.sendBinary(ByteBuffer.wrap(data), true));
    }

    public void sendProgress(long cursor) {
        send(new Message.Progress(cursor));
    }

    public synchronized void autoProgress(boolean on) {
        this.autoProgress = on;
    }

    /** The ack or reject of transaction {@code tx}. */
    public Message awaitOutcome(long tx) {
        return await(() -> {
            for (Message m : received) {
                if (m instanceof Message.Ack a && a.tx() == tx || m instanceof Message.Reject r && r.tx() == tx) {
                    return m;
                }
            }
            return null;
        }, "ack or reject of tx " + tx);
    }

    public Message.Ack awaitAck(long tx) {
        Message m = awaitOutcome(tx);
        if (m instanceof Message.Ack a) {
            return a;
        }
        throw new AssertionError("tx " + tx + " was not acknowledged: " + m);
    }

    public Message.Reject awaitReject(long tx) {
        Message m = awaitOutcome(tx);
        if (m instanceof Message.Reject r) {
            return r;
        }
        throw new AssertionError("tx " + tx + " was not rejected: " + m);
    }

    /** Waits until the client's cursor (the last non-zero {@code through}) reaches {@code seq}. */
    public void awaitCursor(long seq) {
        await(() -> cursor >= seq ? Boolean.TRUE : null, "cursor " + seq);
    }

    public <T extends Message> T awaitMessage(Class<T> type) {
        return await(() -> {
            for (Message m : received) {
                if (type.isInstance(m)) {
                    return type.cast(m);
                }
            }
            return null;
        }, type.getSimpleName());
    }

    /** Sends a clock check and waits for its answer: the first transaction named that is a copy's, or 0. */
    public long clockCheck(List<Long> txs, List<Long> hlcs) {
        long before = messages().stream().filter(m -> m instanceof Message.ClockCheckResult).count();
        send(new Message.ClockCheck(txs, hlcs));
        return await(() -> received.stream().filter(m -> m instanceof Message.ClockCheckResult).skip(before)
                .map(m -> ((Message.ClockCheckResult) m).firstCopied()).findFirst().orElse(null), "clock check result");
    }

    /** Waits for the relay to close the connection; returns the close code. */
    public int awaitClose() {
        return await(() -> closeCode, "close");
    }

    /**
     * Waits until {@code condition} (evaluated under the client's monitor) returns non-null.
     * No fixed sleeps: woken by every message.
     */
    public synchronized <T> T await(Supplier<T> condition, String what) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (true) {
            T value = condition.get();
            if (value != null) {
                return value;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("timed out waiting for " + what + "; received " + summary()
                        + (errors.isEmpty() ? "" : "; errors " + errors));
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
        }
    }

    public synchronized List<Message> messages() {
        return List.copyOf(received);
    }

    public synchronized List<Message.Changes> changes() {
        return received.stream().filter(Message.Changes.class::isInstance).map(Message.Changes.class::cast).toList();
    }

    /** Every feed entry received, in order. */
    public synchronized List<FeedEntry> entries() {
        List<FeedEntry> out = new ArrayList<>();
        for (Message m : received) {
            if (m instanceof Message.Changes c) {
                out.addAll(c.entries());
            }
        }
        return out;
    }

    public synchronized long cursor() {
        return cursor;
    }

    public synchronized Integer closeCode() {
        return closeCode;
    }

    public synchronized String closeReason() {
        return closeReason;
    }

    public synchronized List<String> errors() {
        return List.copyOf(errors);
    }

    /** Closes normally (1000), waiting briefly for the relay's answer, then drops the connection. */
    @Override
    public void close() {
        try {
            if (closeCode() == null && !ws.isOutputClosed()) {
                run(() -> ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye"));
                synchronized (this) {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                    while (closeCode == null && System.nanoTime() < deadline) {
                        TimeUnit.NANOSECONDS.timedWait(this, deadline - System.nanoTime());
                    }
                }
            }
        } catch (RuntimeException | InterruptedException ignored) {
            // Already closing, or the relay is gone.
        }
        ws.abort();
        sender.shutdownNow();
    }

    private String summary() {
        List<String> s = new ArrayList<>();
        for (Message m : received) {
            String text = m.toString();
            s.add(text.length() > 200 ? text.substring(0, 200) + "..." : text);
        }
        return s + (closeCode == null ? "" : " closed " + closeCode + " " + closeReason);
    }

    private void run(Supplier<CompletableFuture<WebSocket>> send) {
        try {
            sender.submit(() -> send.get().get(20, TimeUnit.SECONDS)).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("send failed", e);
        }
    }

    private synchronized void onMessage(String text) {
        Message m;
        try {
            m = MessageCodec.decode(text);
        } catch (ProtocolException e) {
            errors.add("undecodable: " + e.getMessage());
            notifyAll();
            return;
        }
        received.add(m);
        if (m instanceof Message.Changes c) {
            if (c.through() != 0) {
                cursor = c.through();
            }
            if (autoProgress) {
                long at = cursor;
                sender.execute(() -> {
                    try {
                        ws.sendText(MessageCodec.encode(new Message.Progress(at)), true).get(20, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        synchronized (TestClient.this) {
                            errors.add("progress failed: " + e);
                        }
                    }
                });
            }
        }
        notifyAll();
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder();

        @Override
        public void onOpen(WebSocket webSocket) {
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                onMessage(text);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            synchronized (TestClient.this) {
                errors.add("unexpected binary frame");
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            synchronized (TestClient.this) {
                closeCode = statusCode;
                closeReason = reason;
                TestClient.this.notifyAll();
            }
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            synchronized (TestClient.this) {
                errors.add(String.valueOf(error));
                if (closeCode == null) {
                    closeCode = -1;
                    closeReason = String.valueOf(error);
                }
                TestClient.this.notifyAll();
            }
        }
    }
}
