package io.syncsqlite.relay.ws;

import io.syncsqlite.relay.db.ConnectionPool;
import io.syncsqlite.relay.feed.ChangeFeed;
import io.syncsqlite.relay.session.ClientSession;
import org.java_websocket.WebSocket;
import org.java_websocket.handshake.HandshakeImpl1Client;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The connection slot and the session of each connection end exactly once, whatever order Java-WebSocket
 * reports open and close in (it calls them on different threads; these tests call them in each order
 * deterministically, on one thread, with a stand-in connection).
 */
class RelayWebSocketServerTest {

    private final AtomicInteger ended = new AtomicInteger();
    private final AtomicReference<Runnable> duringOpen = new AtomicReference<>(() -> { });
    private final RelayWebSocketServer server = new RelayWebSocketServer(new InetSocketAddress("127.0.0.1", 0),
            1 << 20, null, 10, (out, remote, principal) -> {
                duringOpen.get().run();
                // A session whose work runs inline; it ends (and counts) once, however often it is closed.
                // The feed never connects: these sessions end before they say hello.
                ChangeFeed feed = new ChangeFeed(new ConnectionPool.PgConnector("jdbc:postgresql://unused/none", null, null,
                        "test"), null, null, 0, 1);
                return new ClientSession(out, null, null, feed, null, Runnable::run,
                        remote, ended::incrementAndGet);
            });

    @AfterEach
    void stop() throws InterruptedException {
        server.stop(0);
    }

    /** A connection whose state the test sets; it remembers its attachment as Java-WebSocket's does. */
    private static WebSocket connection(AtomicBoolean open) {
        AtomicReference<Object> attachment = new AtomicReference<>();
        return (WebSocket) Proxy.newProxyInstance(WebSocket.class.getClassLoader(), new Class<?>[]{WebSocket.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "isOpen" -> open.get();
                    case "isClosed" -> !open.get();
                    case "getAttachment" -> attachment.get();
                    case "setAttachment" -> {
                        attachment.set(args[0]);
                        yield null;
                    }
                    case "close", "closeConnection" -> {
                        open.set(false);
                        yield null;
                    }
                    case "getRemoteSocketAddress" -> new InetSocketAddress("127.0.0.1", 1);
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "test connection";
                    default -> method.getReturnType() == boolean.class ? false : null;
                });
    }

    @Test
    void aConnectionClosedAfterItOpenedEndsOnce() {
        AtomicBoolean open = new AtomicBoolean(true);
        WebSocket conn = connection(open);
        server.onOpen(conn, new HandshakeImpl1Client());
        assertEquals(1, server.connections());
        open.set(false);
        server.onClose(conn, 1000, "", true);
        server.onClose(conn, 1006, "", false); // reported twice: still one end
        assertEquals(0, server.connections());
        assertEquals(1, ended.get());
    }

    @Test
    void aCloseReportedWhileTheSessionStartsEndsItOnceOpenHasFinished() {
        AtomicBoolean open = new AtomicBoolean(true);
        WebSocket conn = connection(open);
        duringOpen.set(() -> {
            open.set(false);
            server.onClose(conn, 1006, "", true); // another thread, while onOpen has no session yet
        });
        server.onOpen(conn, new HandshakeImpl1Client());
        assertEquals(0, server.connections(), "the slot is given back");
        assertEquals(1, ended.get(), "the session is ended");
    }

    @Test
    void aConnectionThatIsNoLongerOpenWhenItsSessionStartsIsEndedWithoutACloseReport() {
        AtomicBoolean open = new AtomicBoolean(true);
        WebSocket conn = connection(open);
        duringOpen.set(() -> open.set(false)); // the peer vanished; Java-WebSocket never reports it
        server.onOpen(conn, new HandshakeImpl1Client());
        assertEquals(0, server.connections());
        assertEquals(1, ended.get());
        server.onClose(conn, 1006, "", true); // if it does report it after all: nothing more
        assertEquals(0, server.connections());
        assertEquals(1, ended.get());
    }
}
