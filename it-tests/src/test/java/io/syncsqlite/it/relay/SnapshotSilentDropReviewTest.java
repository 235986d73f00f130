package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Found in review of f574c5c: a kept snapshot connection whose idle TCP flow was dropped silently (a NAT or
 * firewall idle timeout: no reset, packets vanish) raised no error, so the next snapshot blocked on it for
 * the kernel's TCP timeout. Kept snapshot connections are now checked with a timed round trip before reuse.
 */
class SnapshotSilentDropReviewTest {

    /** Forwards to PostgreSQL; can black-hole (without closing) the flows of existing snapshot connections. */
    static final class Proxy implements AutoCloseable {
        final class Pair {
            final Socket client;
            final Socket upstream;
            volatile boolean snapshot;
            volatile boolean frozen;
            final StringBuilder seen = new StringBuilder();

            Pair(Socket client, Socket upstream) {
                this.client = client;
                this.upstream = upstream;
            }
        }

        private final ServerSocket server;
        private final int target;
        private final Set<Pair> pairs = ConcurrentHashMap.newKeySet();
        private volatile boolean closed;

        Proxy(int target) throws IOException {
            this.target = target;
            server = new ServerSocket();
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Thread t = new Thread(this::accept, "review-proxy");
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return server.getLocalPort();
        }

        private void accept() {
            while (!closed) {
                try {
                    Socket c = server.accept();
                    Socket u = new Socket(InetAddress.getLoopbackAddress(), target);
                    Pair p = new Pair(c, u);
                    pairs.add(p);
                    pump(p, c, u, true);
                    pump(p, u, c, false);
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void pump(Pair p, Socket from, Socket to, boolean fromClient) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[64 * 1024];
                try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                    int n;
                    while ((n = in.read(buf)) >= 0) {
                        if (fromClient && p.seen.length() < 4096) {
                            p.seen.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                            if (p.seen.indexOf("syncsqlite-relay snapshot") >= 0) {
                                p.snapshot = true;
                            }
                        }
                        if (p.frozen) {
                            continue; // dropped on the floor, like a flow a middlebox forgot
                        }
                        out.write(buf, 0, n);
                        out.flush();
                    }
                } catch (IOException ignored) {
                    // cut
                } finally {
                    close(from);
                    close(to);
                }
            }, "review-proxy-pump");
            t.setDaemon(true);
            t.start();
        }

        int freezeSnapshotFlows() {
            int n = 0;
            for (Pair p : pairs) {
                if (p.snapshot) {
                    p.frozen = true;
                    n++;
                }
            }
            return n;
        }

        private static void close(Socket s) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closed
            }
        }

        @Override
        public void close() throws IOException {
            closed = true;
            server.close();
            for (Pair p : pairs) {
                close(p.client);
                close(p.upstream);
            }
        }
    }

    @Test
    void aSnapshotAfterTheKeptConnectionsFlowWasSilentlyDroppedStillCompletes() throws Exception {
        try (RelayFixture f = RelayFixture.start("rvdrop", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 50) AS g");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            Matcher m = Pattern.compile("^jdbc:postgresql://[^/?]*:(\\d+)(/[^?]*).*$").matcher(f.dbUrl());
            if (!m.matches()) {
                throw new IllegalStateException(f.dbUrl());
            }
            try (Proxy proxy = new Proxy(Integer.parseInt(m.group(1)))) {
                RelayConfig base = f.config();
                String url = "jdbc:postgresql://127.0.0.1:" + proxy.port() + m.group(2) + "?sslmode=disable";
                Relay relay = Relay.start(RelayConfig.of(url, base.pgUser(), base.pgPassword())
                        .withHost("127.0.0.1").withPort(0).withPoolSize(4));
                try {
                    try (TestClient a = TestClient.connect(relay.uri())) {
                        a.hello("rvdrop-a", 0);
                        a.awaitCursor(head);
                    }
                    Thread.sleep(300);
                    assertEquals(1, proxy.freezeSnapshotFlows(), "one kept snapshot connection");
                    try (TestClient b = TestClient.connect(relay.uri())) {
                        b.hello("rvdrop-b", 0);
                        b.awaitCursor(head); // 20 s
                        assertEquals(50, b.entries().size());
                    }
                } finally {
                    proxy.close(); // unblocks anything stuck on a frozen flow
                    relay.close();
                }
            }
        }
    }
}
