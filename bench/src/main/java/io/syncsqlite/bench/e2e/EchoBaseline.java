package io.syncsqlite.bench.e2e;

import org.java_websocket.WebSocket;
import org.java_websocket.handshake.ClientHandshake;
import org.java_websocket.server.WebSocketServer;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket.Listener;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

/**
 * Baseline of the latency scenario: round trips of 200-byte text messages between the JDK WebSocket
 * client and a Java-WebSocket echo server on loopback (the same server library as the relay).
 */
final class EchoBaseline {

    private EchoBaseline() {
    }

    /** Echoes slower than this are counted as stalls (see docs/BENCHMARKS-E2E.md). */
    static final long STALL_NANOS = TimeUnit.SECONDS.toNanos(1);

    /**
     * Round-trip times in nanoseconds of {@code count} echoes after {@code warmup} unmeasured ones. An echo
     * is waited for up to 60 s (a stall is reported, not hidden); only a longer silence fails.
     */
    static List<Double> roundTrips(int warmup, int count) throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        WebSocketServer server = new WebSocketServer(new InetSocketAddress("127.0.0.1", 0)) {
            @Override
            public void onOpen(WebSocket conn, ClientHandshake handshake) {
            }

            @Override
            public void onClose(WebSocket conn, int code, String reason, boolean remote) {
            }

            @Override
            public void onMessage(WebSocket conn, String message) {
                conn.send(message);
            }

            @Override
            public void onError(WebSocket conn, Exception ex) {
            }

            @Override
            public void onStart() {
                started.countDown();
            }
        };
        server.setTcpNoDelay(true);
        server.setReuseAddr(true);
        server.start();
        try {
            if (!started.await(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("echo server did not start");
            }
            SynchronousQueue<String> replies = new SynchronousQueue<>();
            HttpClient http = HttpClient.newHttpClient();
            java.net.http.WebSocket ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10))
                    .buildAsync(URI.create("ws://127.0.0.1:" + server.getPort() + "/"), new Listener() {
                        private final StringBuilder part = new StringBuilder();

                        @Override
                        public CompletionStage<?> onText(java.net.http.WebSocket webSocket, CharSequence data, boolean last) {
                            part.append(data);
                            if (last) {
                                String msg = part.toString();
                                part.setLength(0);
                                try {
                                    replies.put(msg);
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                }
                            }
                            webSocket.request(1);
                            return null;
                        }
                    }).get(10, TimeUnit.SECONDS);
            String payload = "x".repeat(200);
            List<Double> out = new ArrayList<>(count);
            for (int i = 0; i < warmup + count; i++) {
                long t0 = System.nanoTime();
                ws.sendText(payload, true).get(10, TimeUnit.SECONDS);
                String r = replies.poll(60, TimeUnit.SECONDS);
                long t1 = System.nanoTime();
                if (r == null) {
                    throw new IllegalStateException("echo " + i + " did not come back within 60 s");
                }
                if (t1 - t0 > STALL_NANOS) {
                    System.out.printf(java.util.Locale.ROOT, "   [2] ws echo STALL: echo %d of %d came back after %.1f s%n",
                            i, warmup + count, (t1 - t0) / 1e9);
                }
                if (i >= warmup) {
                    out.add((double) (t1 - t0));
                }
            }
            CompletableFuture<?> closing = ws.sendClose(java.net.http.WebSocket.NORMAL_CLOSURE, "done").toCompletableFuture();
            try {
                closing.get(5, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                ws.abort();
            }
            return out;
        } finally {
            server.stop(1000);
        }
    }
}
