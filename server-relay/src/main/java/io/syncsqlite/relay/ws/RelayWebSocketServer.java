package io.syncsqlite.relay.ws;

import io.syncsqlite.relay.auth.TokenVerifier;
import io.syncsqlite.relay.session.ClientSession;
import io.syncsqlite.relay.session.CloseCodes;
import io.syncsqlite.relay.session.Outbound;
import org.java_websocket.WebSocket;
import org.java_websocket.drafts.Draft_6455;
import org.java_websocket.exceptions.WebsocketNotConnectedException;
import org.java_websocket.framing.CloseFrame;
import org.java_websocket.framing.TextFrame;
import org.java_websocket.handshake.ClientHandshake;
import org.java_websocket.server.WebSocketServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The relay's WebSocket endpoint (Java-WebSocket). Frames larger than the configured limit are refused
 * by the library's draft with close code 1009 before they are buffered; dead peers are dropped after
 * 30 s without a pong.
 *
 * <p><b>Threads.</b> Java-WebSocket runs one selector thread and a few decoder threads; they call
 * {@code onOpen}, {@code onMessage}, {@code onClose} and {@code onError}. Those callbacks only hand the
 * event to the connection's {@link ClientSession}, which queues it on its own lane: no database work,
 * and nothing that blocks, ever runs on these threads. {@link #stopAccepting} and {@link #started} may
 * be called from any thread.
 */
public final class RelayWebSocketServer extends WebSocketServer {

    private static final Logger log = LoggerFactory.getLogger(RelayWebSocketServer.class);

    private final SessionFactory sessions;
    private final int maxConnections;
    private final java.util.concurrent.atomic.AtomicInteger active = new java.util.concurrent.atomic.AtomicInteger();
    private final TokenVerifier verifier;
    private final java.util.concurrent.ScheduledExecutorService expiries;
    private final java.util.Map<WebSocket, java.util.concurrent.ScheduledFuture<?>> expiring =
            new java.util.concurrent.ConcurrentHashMap<>();
    private final CompletableFuture<Void> started = new CompletableFuture<>();
    /**
     * Each connection from onOpen to onClose: {@link #OPENING} while onOpen runs, then its session;
     * {@link #CLOSED} if onClose came while onOpen still ran. Java-WebSocket calls the two on different
     * threads and does not order them, and a session must be ended exactly once.
     */
    private final java.util.Map<WebSocket, Object> states = new java.util.concurrent.ConcurrentHashMap<>();
    private static final Object OPENING = "opening";
    private static final Object CLOSED = "closed";
    private volatile boolean accepting = true;

    /**
     * @param verifier checks the JWT of every new connection ({@code Authorization: Bearer}), or null to
     *                 trust every client
     * @param maxConnections authenticated connections served at once; more are closed with 1013
     * @param sessions creates the session of a new connection
     */
    public RelayWebSocketServer(InetSocketAddress address, int maxFrameBytes, TokenVerifier verifier,
                                int maxConnections, SessionFactory sessions) {
        super(address, Math.max(2, Runtime.getRuntime().availableProcessors()),
                List.of(new Draft_6455(Collections.emptyList(), maxFrameBytes)));
        this.sessions = sessions;
        this.maxConnections = maxConnections;
        this.verifier = verifier;
        this.expiries = verifier == null ? null : java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "syncsqlite-token-expiry");
            t.setDaemon(true);
            return t;
        });
        setConnectionLostTimeout(30);
        setReuseAddr(true);
        setTcpNoDelay(true);
        setDaemon(true);
    }

    /** Creates the session of a new connection. */
    @FunctionalInterface
    public interface SessionFactory {
        /**
         * @param out       the connection's outbound side
         * @param remote    the remote address, for logs
         * @param principal the verified token's user, or null when the relay does not authenticate
         */
        ClientSession open(Outbound out, String remote, TokenVerifier.Principal principal);
    }

    /** Completes when the server listens, or exceptionally if it cannot bind. */
    public CompletableFuture<Void> started() {
        return started;
    }

    /** Connections counted against the limit now: those with a session that has not ended. */
    public int connections() {
        return active.get();
    }

    /** New connections are closed with 1001 from now on. */
    public void stopAccepting() {
        accepting = false;
    }

    @Override
    public void onStart() {
        started.complete(null);
    }

    @Override
    public void onOpen(WebSocket conn, ClientHandshake handshake) {
        states.put(conn, OPENING);
        ClientSession s = null;
        try {
            s = start(conn, handshake);
        } catch (RuntimeException e) {
            // A bug (a verifier failing in an unexpected way): refuse the connection rather than leave it
            // open without a session.
            log.warn("connection from {} could not be opened", conn.getRemoteSocketAddress(), e);
            conn.close(CloseCodes.INTERNAL_ERROR, "relay error");
        } finally {
            if (s == null) {
                // Refused (and closed), or failed: nothing to end later.
                states.remove(conn);
                cancelExpiry(conn);
            }
        }
        if (s == null) {
            return;
        }
        conn.setAttachment(s);
        // The peer may have vanished meanwhile, and Java-WebSocket either called onClose on another thread
        // (while this ran), or never will: when the socket fails while the handshake is still being
        // decoded, it closes the channel, finds no connection to report, and then marks it open anyway.
        // Either way the session ends here, or its slot and its feed listener would leak.
        if (!states.replace(conn, OPENING, s) || !conn.isOpen() || !channelOpen(conn)) {
            if (states.remove(conn, s) || states.remove(conn, CLOSED)) {
                cancelExpiry(conn);
                ended(s, CloseFrame.ABNORMAL_CLOSE, true);
                conn.closeConnection(CloseFrame.ABNORMAL_CLOSE, "connection lost"); // no-op if already closed
            }
        }
    }

    private static boolean channelOpen(WebSocket conn) {
        return !(conn instanceof org.java_websocket.WebSocketImpl impl) || impl.getChannel() == null
                || impl.getChannel().isOpen();
    }

    /** Authenticates and counts the connection and starts its session; null if it was refused and closed. */
    private ClientSession start(WebSocket conn, ClientHandshake handshake) {
        if (!accepting) {
            conn.close(CloseCodes.GOING_AWAY, "relay shutting down");
            return null;
        }
        InetSocketAddress remote = conn.getRemoteSocketAddress();
        TokenVerifier.Principal principal = null;
        if (verifier != null) {
            principal = authenticate(conn, handshake, remote);
            if (principal == null) {
                return null;
            }
        }
        if (active.incrementAndGet() > maxConnections) {
            active.decrementAndGet();
            log.warn("connection from {} refused: {} connections already", remote, maxConnections);
            conn.close(CloseCodes.TRY_AGAIN_LATER, "relay at its connection limit, try again later");
            return null;
        }
        try {
            return sessions.open(new SocketOutbound(conn), remote == null ? "?" : remote.toString(), principal);
        } catch (RuntimeException e) {
            // No session to close later: give the slot back here, or the limit would shrink for good.
            active.decrementAndGet();
            log.warn("connection from {}: session could not start", remote, e);
            conn.close(CloseCodes.INTERNAL_ERROR, "relay error");
            return null;
        }
    }

    private void cancelExpiry(WebSocket conn) {
        java.util.concurrent.ScheduledFuture<?> expiry = expiring.remove(conn);
        if (expiry != null) {
            expiry.cancel(false);
        }
    }

    /** Gives the connection's slot back and tells its session; called exactly once per started session. */
    private void ended(ClientSession s, int code, boolean remote) {
        active.decrementAndGet();
        s.onClosed(code, remote);
    }

    /**
     * Verifies the connection's token; refuses it with {@link CloseCodes#UNAUTHORIZED} and the reason, or
     * schedules its end for when the token expires (the client reconnects with a fresh one).
     */
    private TokenVerifier.Principal authenticate(WebSocket conn, ClientHandshake handshake, InetSocketAddress remote) {
        String header = handshake.getFieldValue("Authorization");
        String token = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : null;
        try {
            TokenVerifier.Principal p = verifier.verify(token);
            long delay = java.time.Duration.between(java.time.Instant.now(), p.expiresAt()).toMillis();
            expiring.put(conn, expiries.schedule(() -> conn.close(CloseCodes.UNAUTHORIZED, "token expired"),
                    Math.max(0, delay), java.util.concurrent.TimeUnit.MILLISECONDS));
            log.debug("connection from {} authenticated as {}", remote, p.subject());
            return p;
        } catch (TokenVerifier.Refused e) {
            log.info("connection from {} refused: {}", remote, e.getMessage());
            conn.close(CloseCodes.UNAUTHORIZED, "unauthorized: " + e.getMessage());
            return null;
        }
    }

    @Override
    public void onMessage(WebSocket conn, String message) {
        if (conn instanceof org.java_websocket.WebSocketImpl impl) {
            // A message is as good a sign of life as a pong: a client uploading a big transaction in parts has
            // its pongs queued behind them, and the library counts only pongs.
            impl.updateLastPong();
        }
        ClientSession s = conn.getAttachment();
        if (s != null) {
            s.onText(message);
        }
    }

    @Override
    public void onMessage(WebSocket conn, ByteBuffer message) {
        ClientSession s = conn.getAttachment();
        if (s != null) {
            s.onBinary();
        }
    }

    @Override
    public void onClose(WebSocket conn, int code, String reason, boolean remote) {
        cancelExpiry(conn);
        Object[] was = new Object[1];
        // A session is ended here; a connection whose onOpen still runs is marked, and onOpen ends it.
        states.computeIfPresent(conn, (k, v) -> {
            was[0] = v;
            return v == OPENING ? CLOSED : null;
        });
        if (was[0] instanceof ClientSession s) {
            ended(s, code, remote);
        }
    }

    @Override
    public void onError(WebSocket conn, Exception ex) {
        if (conn == null) {
            // A server-level failure, such as the port being taken.
            if (!started.completeExceptionally(ex)) {
                log.error("WebSocket server failed", ex);
            }
            return;
        }
        ClientSession s = conn.getAttachment();
        log.debug("connection error (node {})", s == null ? null : s.node(), ex);
    }

    /** Sends through Java-WebSocket, whose send and close are thread-safe. */
    private static final class SocketOutbound implements Outbound {
        private final WebSocket conn;

        SocketOutbound(WebSocket conn) {
            this.conn = conn;
        }

        @Override
        public void send(String text) {
            // conn.send(String) checks, byte by byte, that the UTF-8 it has just encoded is valid UTF-8: 12%
            // of the relay's CPU while it streams a snapshot. A String always encodes to valid UTF-8 (an
            // unpaired surrogate becomes '?', as there), so the frame is built here and sent unchecked.
            TextFrame frame = new TextFrame();
            frame.setPayload(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            try {
                conn.sendFrame(frame);
            } catch (WebsocketNotConnectedException e) {
                // Closed meanwhile; the session learns it through onClose.
            }
        }

        @Override
        public void close(int code, String reason) {
            conn.close(code, reason);
        }
    }
}
