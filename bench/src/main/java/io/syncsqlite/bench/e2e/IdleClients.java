package io.syncsqlite.bench.e2e;

import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.protocol.ProtocolException;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Issue 7, item 6: many idle clients on one relay. The relay runs in its own JVM ({@code RelayMain}, as
 * an operator starts it), so its memory can be read without the clients' own: resident set size from
 * {@code /proc} and used heap after a full GC (through {@code jcmd}), before and after the clients
 * connect. The clients speak the protocol directly over the JDK's WebSocket client (one shared
 * HttpClient): a hello, then nothing but a progress after each feed message. Then one row is written in
 * PostgreSQL and the time until every client has received it is measured.
 *
 * <p>Not thread-safe; one run at a time.
 */
final class IdleClients {

    /** What one run measured. */
    record Result(int clients, double rssPerClientKiB, double heapPerClientKiB, double fanOutP50Ms,
                  double fanOutMaxMs, double connectSeconds) {
    }

    private IdleClients() {
    }

    static Result run(String dbUrl, String user, String password, int count, Path log) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        List<String> cmd = new ArrayList<>(List.of(
                System.getProperty("java.home") + File.separator + "bin" + File.separator + "java",
                "-cp", System.getProperty("java.class.path"),
                "-Dlogback.configurationFile=io/syncsqlite/relay/relay-logback.xml",
                "io.syncsqlite.relay.RelayMain", "--pg-url", dbUrl, "--pg-user", user,
                "--host", "127.0.0.1", "--port", String.valueOf(port)));
        if (password != null && !password.isEmpty()) {
            cmd.add("--pg-password");
            cmd.add(password);
        }
        Process relay = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        List<WebSocket> sockets = new ArrayList<>();
        try {
            awaitListening(relay, port, log);
            Thread.sleep(500);
            long rss0 = rssKiB(relay.pid());
            long heap0 = heapAfterGcKiB(relay.pid());
            URI uri = URI.create("ws://127.0.0.1:" + port + "/sync");
            CountDownLatch welcomed = new CountDownLatch(count);
            CountDownLatch received = new CountDownLatch(count);
            AtomicLong writtenAt = new AtomicLong();
            long[] arrival = new long[count];
            long c0 = System.nanoTime();
            for (int batch = 0; batch < count; batch += 100) {
                List<CompletableFuture<WebSocket>> pending = new ArrayList<>();
                for (int i = batch; i < Math.min(count, batch + 100); i++) {
                    pending.add(http.newWebSocketBuilder().buildAsync(uri,
                            new Client(i, welcomed, received, writtenAt, arrival)));
                }
                for (CompletableFuture<WebSocket> f : pending) {
                    WebSocket ws = f.get(30, TimeUnit.SECONDS);
                    sockets.add(ws);
                }
                for (int i = batch; i < Math.min(count, batch + 100); i++) {
                    sockets.get(i).sendText(MessageCodec.encode(
                            new Message.Hello(Message.PROTOCOL_VERSION, "idle-" + i, 0)), true).get(10, TimeUnit.SECONDS);
                }
            }
            if (!welcomed.await(120, TimeUnit.SECONDS)) {
                throw new IllegalStateException((count - welcomed.getCount()) + " of " + count + " clients welcomed");
            }
            double connectSeconds = (System.nanoTime() - c0) / 1e9;
            Thread.sleep(1000); // snapshots of the empty table delivered, sessions idle
            long rss1 = rssKiB(relay.pid());
            long heap1 = heapAfterGcKiB(relay.pid());
            try (var c = java.sql.DriverManager.getConnection(dbUrl, user, password == null ? "" : password);
                 var st = c.createStatement()) {
                writtenAt.set(System.nanoTime());
                st.executeUpdate("INSERT INTO bench_row (id, n, body) VALUES ('fan-out', 1, 'one change for everyone')");
            }
            if (!received.await(120, TimeUnit.SECONDS)) {
                throw new IllegalStateException((count - received.getCount()) + " of " + count + " clients got the change");
            }
            List<Double> ms = new ArrayList<>(count);
            for (long t : arrival) {
                ms.add((t - writtenAt.get()) / 1e6);
            }
            return new Result(count, (rss1 - rss0) / (double) count, (heap1 - heap0) / (double) count,
                    Series.percentile(ms, 50), ms.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN),
                    connectSeconds);
        } finally {
            for (WebSocket ws : sockets) {
                ws.abort();
            }
            relay.destroyForcibly();
            relay.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** One idle client: answers every feed message with a progress, and notes when the change arrives. */
    private static final class Client implements WebSocket.Listener {
        private final int index;
        private final CountDownLatch welcomed;
        private final CountDownLatch received;
        private final AtomicLong writtenAt;
        private final long[] arrival;
        private final StringBuilder text = new StringBuilder();

        Client(int index, CountDownLatch welcomed, CountDownLatch received, AtomicLong writtenAt, long[] arrival) {
            this.index = index;
            this.welcomed = welcomed;
            this.received = received;
            this.writtenAt = writtenAt;
            this.arrival = arrival;
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                String frame = text.toString();
                text.setLength(0);
                try {
                    Message m = MessageCodec.decode(frame);
                    if (m instanceof Message.Welcome) {
                        welcomed.countDown();
                    } else if (m instanceof Message.Changes ch) {
                        if (ch.through() > 0) {
                            ws.sendText(MessageCodec.encode(new Message.Progress(ch.through())), true);
                        }
                        if (writtenAt.get() != 0 && ch.entries().stream().anyMatch(e -> e.table().equals("bench_row"))
                                && arrival[index] == 0) {
                            arrival[index] = System.nanoTime();
                            received.countDown();
                        }
                    }
                } catch (ProtocolException e) {
                    throw new IllegalStateException("client " + index + ": " + e.getMessage(), e);
                }
            }
            ws.request(1);
            return null;
        }
    }

    private static void awaitListening(Process p, int port, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IllegalStateException("relay exited: " + Files.readString(log, StandardCharsets.UTF_8));
            }
            try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return;
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        throw new IllegalStateException("relay did not listen within 60 s");
    }

    private static long rssKiB(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS for " + pid);
    }

    private static final Pattern USED = Pattern.compile("used (\\d+)K");

    /** Used heap of {@code pid} right after a full GC, read with the JDK's jcmd. */
    private static long heapAfterGcKiB(long pid) throws Exception {
        String jcmd = System.getProperty("java.home") + File.separator + "bin" + File.separator + "jcmd";
        run(jcmd, String.valueOf(pid), "GC.run");
        String out = run(jcmd, String.valueOf(pid), "GC.heap_info");
        Matcher m = USED.matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("cannot read the heap of " + pid + ": " + out);
        }
        return Long.parseLong(m.group(1));
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
        }
        return out;
    }
}
