package io.syncsqlite.it.harness;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A loopback TCP proxy the tests control: it can cut every connection and refuse new ones (a client
 * going offline), switch to another target port (a relay restarted elsewhere), add latency in each
 * direction, and drop the traffic of the connections open now without closing them (a NAT or firewall
 * that forgot idle flows).
 *
 * <p>Thread-safe. Each accepted connection uses two daemon threads.
 */
public final class TcpProxy implements AutoCloseable {

    private final ServerSocket server;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final Set<Socket> blackHoled = ConcurrentHashMap.newKeySet();
    private volatile int targetPort;
    private volatile boolean online = true;
    private volatile long latencyMillis;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicBoolean cutAfterWelcome =
            new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicInteger connections = new java.util.concurrent.atomic.AtomicInteger();

    public TcpProxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread t = new Thread(this::acceptLoop, "tcp-proxy-" + server.getLocalPort());
        t.setDaemon(true);
        t.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    public String wsUrl() {
        return "ws://127.0.0.1:" + port() + "/sync";
    }

    public void target(int port) {
        this.targetPort = port;
    }

    /** Connections accepted and passed on so far (a client's reconnects show here). */
    public int connections() {
        return connections.get();
    }

    /** Holds each chunk of up to 64 KiB this long before passing it on (a slow link). */
    public void latency(long millis) {
        this.latencyMillis = millis;
    }

    /** Offline: cut every connection now and refuse new ones until set online again. */
    public void online(boolean on) {
        online = on;
        if (!on) {
            cutAll();
        }
    }

    /**
     * From now on, the bytes of every connection open now vanish in both directions, and the connections stay
     * open: neither end learns anything until it gives up waiting. Later connections pass as usual.
     */
    public void blackHoleOpenConnections() {
        blackHoled.addAll(sockets);
    }

    /**
     * The next relay welcome to pass, with whatever the relay sends in the 50 ms after it (its features, column
     * types and schema), reaches the client in one write, and the proxy closes that connection right behind it:
     * the client reads the messages and the connection's end together.
     */
    public void cutAfterNextWelcome() {
        cutAfterWelcome.set(true);
    }

    /** Whether a {@link #cutAfterNextWelcome} is still to happen. */
    public boolean cutAfterWelcomePending() {
        return cutAfterWelcome.get();
    }

    public void cutAll() {
        for (Socket s : sockets) {
            closeQuietly(s);
        }
        sockets.clear();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;
            }
            if (!online) {
                closeQuietly(client);
                continue;
            }
            connections.incrementAndGet();
            try {
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(upstream);
                if (!online) {
                    // Cut while this connection was being set up (cutAll ran before the adds): cut it too,
                    // or a client going "offline" right after connecting would stay online.
                    closeQuietly(client);
                    closeQuietly(upstream);
                    sockets.remove(client);
                    sockets.remove(upstream);
                    continue;
                }
                pump(client, upstream, false);
                pump(upstream, client, true);
            } catch (IOException e) {
                closeQuietly(client);
            }
        }
    }

    private void pump(Socket from, Socket to, boolean toClient) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[64 * 1024];
            // Not closed by try-with-resources: closing a socket's stream closes the socket, and the far end
            // of a black-holed flow must stay open (below).
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buf)) >= 0) {
                    long delay = latencyMillis;
                    if (delay > 0) {
                        Thread.sleep(delay);
                    }
                    if (blackHoled.contains(from)) {
                        continue;
                    }
                    if (toClient && contains(buf, n, WELCOME) && cutAfterWelcome.compareAndSet(true, false)) {
                        java.io.ByteArrayOutputStream burst = new java.io.ByteArrayOutputStream();
                        burst.write(buf, 0, n);
                        Thread.sleep(50);
                        while (in.available() > 0 && (n = in.read(buf, 0, Math.min(buf.length, in.available()))) > 0) {
                            burst.write(buf, 0, n);
                        }
                        out.write(burst.toByteArray());
                        out.flush();
                        break; // closes both ends
                    }
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException | InterruptedException e) {
                // connection cut: fall through and close both ends
            } finally {
                // A black-holed flow carries no FIN either: the other side is not told this side closed and
                // keeps its connection until it gives up by itself or the proxy is closed (cutAll).
                boolean dark = blackHoled.remove(from);
                closeQuietly(from);
                sockets.remove(from);
                if (!dark) {
                    closeQuietly(to);
                    sockets.remove(to);
                    blackHoled.remove(to);
                }
            }
        }, "tcp-proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    private static final byte[] WELCOME = "\"type\":\"welcome\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    /** Whether {@code buf[0, n)} holds {@code what} (a marker in a chunk of a connection's bytes). */
    public static boolean contains(byte[] buf, int n, byte[] what) {
        outer:
        for (int i = 0; i + what.length <= n; i++) {
            for (int j = 0; j < what.length; j++) {
                if (buf[i + j] != what[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    /** Closes {@code s}, ignoring that it was closed already. */
    public static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        cutAll();
    }
}
