package io.syncsqlite.driver.sync;

import io.syncsqlite.driver.config.SyncUrl;
import io.syncsqlite.driver.transport.Transport;
import io.syncsqlite.driver.transport.WebSocketTransport;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.MessageCodec;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The background loop that keeps one SQLite file in sync with a relay.
 *
 * <p>One thread per file does everything: connect, handshake, push local transactions, record
 * acknowledgements, apply the feed. Network callbacks only put events on its queue. A single owner means
 * no locks around the SQLite connection or the protocol state, and a strict order of effects: an
 * acknowledgement is recorded before any feed message that came after it is applied.
 *
 * <p>Failure handling: any I/O problem, protocol violation, missed heartbeat or acknowledgement timeout
 * drops the connection and reconnects with jittered exponential backoff, rotating through the configured
 * relays. Nothing is lost by that: the outbox keeps every unacknowledged transaction, the relay tells on
 * reconnect which it already applied, and applying again is idempotent on both sides. A local commit never
 * waits for any of this.
 *
 * <p>Thread-safety: {@link #nudge()}, {@link #status()} and {@link #stop()} may be called from any thread;
 * everything else runs on the client's own thread.
 */
final class SyncClient implements Runnable {

    private static final System.Logger LOG = System.getLogger(SyncClient.class.getName());
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final long HEARTBEAT_NANOS = TimeUnit.SECONDS.toNanos(10);
    /**
     * A connection welcomed this long ago held: losing it resets the reconnect backoff. Shorter-lived ones keep
     * growing it, so a relay that welcomes and then drops every connection is not retried in a tight loop.
     */
    private static final long STABLE_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long SILENCE_LIMIT_NANOS = TimeUnit.SECONDS.toNanos(30);
    /**
     * A connection that received messages and then went quiet this long is pinged once, and a ping must be
     * answered (by its pong or anything else) within {@link #PONG_TIMEOUT_NANOS}. The JDK's WebSocket client loses
     * the end of a connection whose FIN it reads while one message is being handed over (before the next is asked
     * for): its receiving side stops with an InternalError, and neither {@code onClose} nor {@code onError} ever
     * comes. That is right after a burst of messages, so the connection is pinged then; waiting for the next
     * heartbeat and the silence limit left a client cut moments after its welcome "connected" to nothing for up to
     * 30 s (CutAfterConnectTest; twice in fuzz runs). Pongs do not count as messages here, or an idle connection
     * would ping without end.
     */
    private static final long PROBE_AFTER_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    /**
     * How long a ping, once written, may go unanswered, plus the time the slowest uplink designed for
     * ({@link #SLOWEST_UPLINK_BYTES_PER_SECOND}) takes to carry what may be ahead of it: every message sent since
     * the oldest one not yet answered ({@link #inFlight}). The relay reads the ping only after those bytes, and
     * answers nothing before the last part of a big transaction (with a flat 5 s, a 2 MB upload over a slow link
     * was dropped and resent for ever: LargeTransactionReviewTest, LivenessReviewTest). Anything that arrives
     * answers it, so a relay streaming big messages (whose pong waits behind them) is not taken for dead while
     * bytes come.
     */
    private static final long PONG_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** The slowest uplink the client's timings allow for (see {@link #MESSAGE_BYTES}). */
    private static final long SLOWEST_UPLINK_BYTES_PER_SECOND = 43_000;
    private static final long ACK_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final int MAX_UNACKED_TXS = 5000;
    private static final long REFRESH_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** One slow count (a GC pause, a cold cache) must not leave the status stale for long. */
    private static final long MAX_REFRESH_NANOS = TimeUnit.SECONDS.toNanos(1);

    private sealed interface Event permits Incoming, Closed, Nudge {
    }

    /** A message that arrived on the connection {@code from} listens to. */
    private record Incoming(Link from, Message message) implements Event {
    }

    /** The end of the connection {@code from} listens to. */
    private record Closed(Link from, String cause) implements Event {
    }

    private record Nudge() implements Event {
    }

    private static final Nudge NUDGE = new Nudge();

    private final SyncUrl config;
    /**
     * The file's node id, read again at every connection: a client that finds its file is a copy takes a new
     * one ({@link #takeOwnNodeId}), and a process taking over the file's sync from another must use the
     * one that process may have taken.
     */
    private volatile String nodeId;
    private final LocalStore store;
    private final KeyStock keys;
    private final Supplier<List<String>> keyedTables;
    private final Consumer<List<RemoteChange>> onRemoteChange;
    private final Consumer<Rejection> onRejection;
    private final Consumer<SnapshotProgress> onSnapshot;
    private final Supplier<String> token;
    private final SqlConsumer<java.sql.Connection> onTablesCreated;
    /**
     * Re-reads the synced tables from the file, reading only (the application may hold the write lock), and
     * without asking this client to reconnect: it is about to take the request itself.
     */
    private final SqlConsumer<java.sql.Connection> reloadCatalog;

    /** A callback that may fail with an SQLException. */
    @FunctionalInterface
    interface SqlConsumer<T> {
        void accept(T value) throws SQLException;
    }
    private final HttpClient http;
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final Thread thread;

    private volatile boolean running = true;
    private volatile boolean connected;
    private volatile String relay;
    private volatile String lastError;
    private volatile Instant lastSync;
    private volatile long unsettled = -1;
    private volatile long cursorSnapshot;
    private volatile long refreshed;
    private volatile boolean resyncRequested;
    /**
     * The current connection once its hello is sent, for key requests from application threads
     * ({@link #keysLow}); null between connections.
     */
    private volatile Transport keyLane;
    /** When the current connection was welcomed (sync thread only). */
    private long connectedAtNanos;
    /** What {@link SchemaCheck} found at the last connect (empty until the relay answered). */
    private volatile List<String> schemaDifferences = List.of();
    private long snapshotBase;
    /** Rows of the snapshot in progress received so far (sync thread only). */
    private long snapshotReceived;
    private final java.util.concurrent.atomic.AtomicLong nudges = new java.util.concurrent.atomic.AtomicLong();

    private long lastRefreshNanos = System.nanoTime() - REFRESH_NANOS;
    /** The least time between two refreshes while messages keep coming (see {@link #refreshCounters}). */
    private long refreshIntervalNanos = REFRESH_NANOS;
    private boolean refreshPending;
    private Transport transport;
    private final SyncLock lock;
    /** Run when this process takes over the file's sync from another ({@link SyncLock}). */
    private final SqlConsumer<java.sql.Connection> onSyncing;
    /** Whether another process holds the file's {@link SyncLock} (this one then only waits for it). */
    private volatile boolean elsewhere;
    private volatile boolean holderOnline;
    /** Transactions stamped by this process while another synced the file (guarded by itself). */
    private final java.util.LinkedHashSet<Long> ownStamps = new java.util.LinkedHashSet<>();
    /** The newest recorded rejection read (sync thread only). */
    private long rejectionsSeen;
    private long sentThroughTx;
    /** Whether this connection's relay reads {@link ClientTx#seen} (it named {@link Message#FEATURE_SEEN}). */
    private boolean relayReadsSeen;
    /**
     * The largest message the relay accepts, when it reads transactions in parts ({@link
     * Message#FEATURE_PARTS}); 0 for a relay before parts, which gets every transaction whole.
     */
    private int relayLargestMessage;
    /** Whether this connection's relay answers {@link Message.ClockCheck} ({@link Message#FEATURE_CLOCKS}). */
    private boolean relayChecksClocks;
    private long ackedThroughTx;
    private long oldestUnackedSentNanos;
    private int serverIndex;

    SyncClient(SyncUrl config, String nodeId, LocalStore store, KeyStock keys, Supplier<List<String>> keyedTables,
               Consumer<List<RemoteChange>> onRemoteChange, Consumer<Rejection> onRejection,
               Consumer<SnapshotProgress> onSnapshot, Supplier<String> token, javax.net.ssl.SSLContext tls,
               SqlConsumer<java.sql.Connection> onTablesCreated, SqlConsumer<java.sql.Connection> reloadCatalog,
               SyncLock lock, SqlConsumer<java.sql.Connection> onSyncing) {
        this.lock = lock;
        this.onSyncing = onSyncing;
        // The node tried for the lock when it opened; a process that did not get it gives no keys out until
        // this client takes the lock and runs onSyncing, however soon that is.
        this.elsewhere = !lock.held();
        if (elsewhere) {
            lastError = ELSEWHERE;
        }
        this.config = config;
        this.nodeId = nodeId;
        this.store = store;
        this.keys = keys;
        this.keyedTables = keyedTables;
        this.onRemoteChange = onRemoteChange;
        this.onRejection = onRejection;
        this.onSnapshot = onSnapshot;
        this.token = token;
        this.onTablesCreated = onTablesCreated;
        this.reloadCatalog = reloadCatalog;
        HttpClient.Builder http = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT);
        if (tls != null) {
            http.sslContext(tls);
        }
        this.http = http.build();
        this.thread = new Thread(this, "syncsqlite-sync-" + nodeId);
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /**
     * Tells the client that local transactions were committed. Cheap; never blocks.
     *
     * @return a generation number; {@link #refreshedGeneration()} reaches it once the client has counted
     *         the work committed before this call
     */
    long nudge() {
        long g = nudges.incrementAndGet();
        events.offer(NUDGE);
        return g;
    }

    long refreshedGeneration() {
        return refreshed;
    }

    /**
     * Asks for a fresh snapshot: a table became synced locally after feed positions for it were passed
     * (an application that creates its tables after opening the connection), so rows of it already
     * streamed were skipped. Snapshot rows are idempotent upserts; pending local writes are kept. The request
     * itself was recorded in the file with the table's capture ({@code Outbox.SNAPSHOT_NEEDED}), so it
     * survives a restart before the next connection; this only makes a connected client reconnect to take it.
     */
    void requestResync() {
        resyncRequested = true;
        events.offer(NUDGE);
    }

    /**
     * A table's key stock ran low: asks the relay for more at once, from the calling thread, when connected.
     * Not through this client's thread: it may be waiting for SQLite's write lock (to apply the feed, store a
     * grant), held by application transactions that wait for these keys; under two threads inserting through
     * Hibernate, requests queued behind it came too late for 5-second waits. The nudge still brings the
     * request on the next turn of the loop when no connection is up yet.
     */
    void keysLow() {
        Transport lane;
        while ((lane = keyLane) != null) {
            List<String> asked = keys.toRequest(keyedTables.get());
            for (String table : asked) {
                lane.post(new Message.IdRequest(table, keys.requestSize(table)));
            }
            if (keyLane == lane) {
                break; // marked while the connection was current: its end clears the marks (connectionLost)
            }
            // The connection ended meanwhile (this thread may have been paused across a reconnect): the
            // requests went nowhere, and marks set after the next connection's connectionLost would keep it
            // from ever asking. Unmark, and ask again on the connection there is now.
            keys.unrequest(asked);
        }
        events.offer(NUDGE);
    }

    /**
     * Whether key ranges may arrive soon: connected, or still trying the first connection. An insert that
     * needs a key waits for them only then; offline it fails at once instead of stalling the application.
     */
    boolean mayReceiveKeys() {
        // keyLane: a connection past its hello, cleared the moment the connection ends (connected is only
        // cleared once this client's thread gets there). Else only the first attempt, not yet failed.
        return keyLane != null || !connected && running && lastError == null;
    }

    SyncStatus status() {
        return new SyncStatus(connected, relay, unsettled, cursorSnapshot, lastSync, lastError, schemaDifferences);
    }

    void stop() {
        running = false;
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether another process syncs the file; this one then sends and applies nothing. */
    boolean syncedElsewhere() {
        return elsewhere;
    }

    /** The node id this client connects as (the file's, read again at each connection). */
    String nodeId() {
        return nodeId;
    }

    /** While {@link #syncedElsewhere}: whether that process said it is connected (read every turn). */
    boolean holderOnline() {
        return holderOnline;
    }

    /**
     * Whether this process may sync the file now ({@link SyncLock}). While another process does, the status
     * says so, the counters follow the file that process settles, and this node's clock follows what that
     * process has seen (its applies move the file's clock), so writes here still order after them.
     */
    private boolean holdsTheFile() throws SQLException {
        if (lock.tryAcquire()) {
            if (elsewhere) {
                onSyncing.accept(store.connection());
                elsewhere = false;
                lastError = null;
                LOG.log(System.Logger.Level.INFO, "this process syncs the file now: the other one ended");
            }
            return true;
        }
        elsewhere = true;
        lastError = ELSEWHERE;
        store.observeFileClock();
        holderOnline = store.holderOnline();
        refreshCounters();
        tellOwnRejections();
        return false;
    }

    /**
     * While another process syncs the file: tells this process's listeners of the rejections that process
     * recorded ({@link LocalStore#recordRejection}) for transactions stamped here.
     */
    private void tellOwnRejections() throws SQLException {
        for (Rejection r : store.rejectionsAfter(rejectionsSeen)) {
            rejectionsSeen = r.tx();
            boolean own;
            synchronized (ownStamps) {
                own = ownStamps.remove(r.tx());
            }
            if (own) {
                onRejection.accept(r);
            }
        }
    }

    /**
     * Records that this process stamped transaction {@code tx} while another syncs the file, so that its
     * rejection is told here ({@link #tellOwnRejections}). The newest 10,000 are kept.
     */
    void stampedHere(long tx) {
        synchronized (ownStamps) {
            ownStamps.add(tx);
            if (ownStamps.size() > 10_000) {
                ownStamps.remove(ownStamps.iterator().next());
            }
        }
    }

    static final String ELSEWHERE = "another process syncs this file (this one captures its writes for it)";

    @Override
    public void run() {
        long backoff = 100;
        refreshCounters();
        while (running) {
            try {
                if (!holdsTheFile()) {
                    waitForNudgeOr(ELSEWHERE_RETRY_MS);
                    continue;
                }
            } catch (InterruptedException e) {
                break;
            } catch (SQLException | RuntimeException e) {
                lastError = e.getMessage();
                try {
                    waitForNudgeOr(ELSEWHERE_RETRY_MS);
                } catch (InterruptedException ie) {
                    break;
                }
                continue;
            }
            URI uri = config.servers().get(serverIndex % config.servers().size());
            relay = uri.toString();
            boolean immediately = false;
            try {
                session(uri);
                backoff = 100;
            } catch (InterruptedException e) {
                break;
            } catch (ReconnectForSnapshot | ReconnectAsNewNode e) {
                // Deliberate, with the relay reachable a moment ago: no reason to wait.
                immediately = true;
                LOG.log(System.Logger.Level.DEBUG, "sync connection to {0}: {1}", uri, e.getMessage());
            } catch (IOException | SQLException | RuntimeException e) {
                lastError = e.getMessage();
                LOG.log(System.Logger.Level.DEBUG, "sync connection to {0} ended: {1}", uri, e.toString());
            } finally {
                // The status says offline first: recording it in the file below may wait for SQLite's lock.
                boolean was = connected;
                connected = false;
                keyLane = null;
                keys.connectionLost();
                if (transport != null) {
                    transport.close();
                    transport = null;
                }
                if (was && System.nanoTime() - connectedAtNanos > STABLE_NANOS) {
                    // The connection held: its loss starts a new streak of attempts, not the old one's backoff
                    // (which would otherwise only ever grow, to reconnectMaxMs after a few losses a day).
                    backoff = 100;
                }
                if (was) {
                    markOnline(false);
                }
            }
            if (!running) {
                break;
            }
            serverIndex++;
            if (immediately) {
                continue;
            }
            try {
                long jitter = ThreadLocalRandom.current().nextLong(backoff / 2 + 1);
                waitForNudgeOr(backoff / 2 + jitter);
            } catch (InterruptedException e) {
                break;
            }
            backoff = Math.min(config.reconnectMaxMs(), backoff * 2);
        }
        store.close();
        lock.release();
    }

    /**
     * Records the connection's state for processes that leave the sync to this one; a failure (the file busy
     * beyond its timeout) costs them only an {@code awaitSynced} that waits longer, not this connection.
     */
    private void markOnline(boolean online) {
        try {
            store.markOnline(online);
        } catch (SQLException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "could not record the connection''s state: {0}", e.toString());
        }
    }

    /** How often a process whose file another process syncs tries to take over, and refreshes its status. */
    private static final long ELSEWHERE_RETRY_MS = 250;

    /**
     * Waits {@code millis} before the next attempt. Local commits do not shorten the wait (reconnect
     * storms help nobody), but they refresh the status counters.
     */
    private void waitForNudgeOr(long millis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        long left;
        while (running && (left = deadline - System.nanoTime()) > 0) {
            Event e = events.poll(refreshPending ? Math.min(left, REFRESH_NANOS) : left, TimeUnit.NANOSECONDS);
            if (e instanceof Nudge || e == null && refreshPending) {
                refreshCounters();
            }
        }
    }

    private void session(URI uri) throws IOException, SQLException, InterruptedException {
        events.clear();
        Link link = new Link();
        Transport t = WebSocketTransport.connect(http, uri, CONNECT_TIMEOUT, token.get(), link);
        // Messages after this are pinged about once quiet (PROBE_AFTER_NANOS), the welcome's burst included.
        long probedAt = System.nanoTime();
        link.transport = t;
        transport = t;
        // The request itself is in the file (written with the table's capture); the flag only brought us here.
        // Cleared before the request is read: one made after the read sets it again, and this session ends
        // to take it.
        resyncRequested = false;
        long request = store.snapshotRequest();
        if (request != 0) {
            // Another program may have created the table: this node's catalog must have it before the
            // snapshot comes, or its rows would be skipped once more with the request already taken. Read
            // only: an application transaction may hold the write lock, waiting for the keys this
            // connection is about to ask for.
            reloadCatalog.accept(store.connection());
        }
        boolean localResync = store.resyncDue(request);
        if (localResync) {
            LOG.log(System.Logger.Level.INFO, "resyncing from a snapshot: tables became synced here, or the file holds"
                    + " rows from before its first complete snapshot");
        }
        store.columnTypes(PgTypes.NONE);
        relayReadsSeen = false;
        relayChecksClocks = false;
        relayLargestMessage = 0;
        nodeId = store.nodeId();
        t.send(new Message.Hello(Message.PROTOCOL_VERSION, nodeId, localResync ? 0 : store.cursor()));
        // Key requests go right behind the hello, before this thread touches SQLite again (see onMessage).
        keys.connectionLost();
        requestKeys();
        keyLane = t;
        // Always: the answer is checked against the local tables (SchemaCheck), and with
        // sync.schema=server it also creates the tables this file lacks.
        t.send(new Message.SchemaRequest(Message.FEATURES_VERSION));
        Message.Welcome welcome = awaitWelcome(link);
        List<Message> early = new ArrayList<>();
        early.add(awaitHolding(link, Message.Schema.class, early));
        long settleThrough = relayChecksClocks ? copiedThrough(link, welcome.appliedTx(), early) : -1;
        if (settleThrough >= 0) {
            takeOwnNodeId(welcome, settleThrough);
            throw new ReconnectAsNewNode();
        }
        snapshotBase = welcome.head();
        snapshotReceived = 0;
        if (welcome.resync()) {
            LOG.log(System.Logger.Level.INFO, "the relay no longer has the history since this file''s cursor {0}:"
                    + " resyncing from a snapshot", store.cursor());
        }
        if (request != 0 || localResync) {
            store.takeSnapshotRequest(request, localResync);
        }
        if (welcome.resync() || localResync) {
            store.beginResync();
        }
        for (Message.Reject lost : welcome.rejected()) {
            // A rejection whose answer was lost with an earlier connection: the welcome's appliedTx would
            // settle the transaction as accepted. Only one still waiting for its answer is reverted.
            if (store.awaitsAnswer(lost.tx())) {
                reject(lost);
            }
        }
        store.acknowledgeOnWelcome(welcome.appliedTx(), welcome.appliedSeq());
        sentThroughTx = welcome.appliedTx();
        ackedThroughTx = welcome.appliedTx();
        inFlight.clear();
        uploadProgressNanos = 0;
        connected = true;
        markOnline(true);
        connectedAtNanos = System.nanoTime();
        lastError = null;
        lastSync = Instant.now();
        LOG.log(System.Logger.Level.DEBUG, "connected to {0} as {1}", uri, nodeId);
        long lastPing = System.nanoTime();
        long pingedAt = 0;
        long pongDue = 0;
        boolean pingOut = false;
        for (Message m : early) {
            handle(m);
        }
        push();
        while (running) {
            if (resyncRequested) {
                // Checked on every turn, not only on the nudge that came with it: a request made while the
                // welcome was awaited had its nudge consumed there.
                throw new ReconnectForSnapshot();
            }
            long wait = refreshPending ? REFRESH_NANOS : TimeUnit.SECONDS.toNanos(1);
            // Woken for the probe and the pong's deadline on time, not up to a second late.
            if (pingOut) {
                wait = Math.min(wait, Math.max(1, pongDue - System.nanoTime()));
            } else if (t.lastMessageNanos() - probedAt > 0) {
                wait = Math.min(wait, Math.max(1, t.lastMessageNanos() + PROBE_AFTER_NANOS - System.nanoTime()));
            }
            Event e = events.poll(wait, TimeUnit.NANOSECONDS);
            if (e == null && refreshPending) {
                refreshCounters();
            }
            if (e instanceof Incoming in && in.from() == link) {
                handle(in.message());
                lastSync = Instant.now();
            } else if (e instanceof Closed c && c.from() == link) {
                throw new IOException(c.cause());
            } else if (e instanceof Nudge && resyncRequested) {
                continue;
            } else if (e instanceof Nudge) {
                // A write made outside an auto-commit wrap (a RETURNING query, another program) may be unstamped.
                requestKeys(); // first: stamping may wait for SQLite's write lock
                store.stampOrphans();
                push();
            }
            long now = System.nanoTime();
            boolean ping = false;
            if (now - lastPing > HEARTBEAT_NANOS) {
                store.stampOrphans();
                push();
                ping = true;
                lastPing = now;
            } else if (!pingOut && t.lastMessageNanos() - probedAt > 0
                    && now - t.lastMessageNanos() >= PROBE_AFTER_NANOS) {
                ping = true;
            }
            if (ping) {
                long ahead = inFlight.isEmpty() ? 0 : t.sentChars() - inFlight.peekFirst().charsBefore();
                // Before sending: ping() returns when the JDK completes the send, which on a loaded machine came after
                // the pong had arrived; that pong, older than the ping, was not taken for its answer, and the live
                // connection was ended 5 s later (in LockWaitEndToEndTest, under a lock wait the resend then queued
                // behind, doubling the wait).
                pingedAt = System.nanoTime();
                t.ping();
                probedAt = pingedAt;
                pongDue = pingedAt + PONG_TIMEOUT_NANOS
                        + TimeUnit.SECONDS.toNanos(1) * ahead / SLOWEST_UPLINK_BYTES_PER_SECOND;
                pingOut = true;
            }
            // Parts of a big transaction that the relay took in count too: it answers only after the last one.
            long heard = Math.max(t.lastActivityNanos(), uploadProgressNanos);
            if (pingOut && heard - pingedAt >= 0) {
                pingOut = false;
            } else if (pingOut && System.nanoTime() - pongDue > 0) {
                throw new IOException("relay did not answer a ping within "
                        + TimeUnit.NANOSECONDS.toSeconds(pongDue - pingedAt) + " s");
            }
            if (now - heard > SILENCE_LIMIT_NANOS) {
                throw new IOException("relay silent for " + TimeUnit.NANOSECONDS.toSeconds(now - heard) + " s");
            }
            if (sentThroughTx > ackedThroughTx && now - oldestUnackedSentNanos > ACK_TIMEOUT_NANOS) {
                throw new IOException("no acknowledgement for transaction " + (ackedThroughTx + 1) + " within 30 s");
            }
        }
    }

    /**
     * Whether this file is a copy of its node's, told by what the relay applied under the node's id: it is
     * when the relay did not apply, under its id and with its clock, a transaction of this file that waits
     * for its answer at or below the welcome's {@code appliedTx} ({@link Message.ClockCheck}, asked only when
     * there are such transactions: after a lost acknowledgement, or in a copy), or when the relay applied ids
     * past every one this file wrote (a backup restored after the original wrote more; a new file given a
     * {@code sync.node} that synced before), or ids past rows this file has not stamped yet (rows another
     * program wrote, which the original stamped and sent).
     *
     * @return -1 when it is not a copy; otherwise the last transaction to settle as the node's (those after it
     *         were written here only)
     */
    private long copiedThrough(Link link, long appliedTx, List<Message> early)
            throws SQLException, IOException, InterruptedException {
        long after = 0;
        while (true) {
            List<long[]> waiting = store.waitingThrough(appliedTx, after, Message.MAX_CLOCK_CHECK);
            if (waiting.isEmpty()) {
                break;
            }
            link.transport.send(new Message.ClockCheck(waiting.stream().map(w -> w[0]).toList(),
                    waiting.stream().map(w -> w[1]).toList()));
            long first = awaitHolding(link, Message.ClockCheckResult.class, early).firstCopied();
            if (first != 0) {
                // Every later transaction of this file was written after that one, by the copy too.
                return first - 1;
            }
            after = waiting.get(waiting.size() - 1)[0];
        }
        return appliedTx > store.largestTxId() || store.unstampedThrough(appliedTx) ? appliedTx : -1;
    }

    /**
     * This file is a copy of its node's (a restored backup, a cloned disk, a new file given a configured
     * {@code sync.node} that had synced before): the relay applied transactions under this node's id that
     * this file did not write ({@link #copiedThrough}). What the node applied of this file's
     * transactions is settled as usual; the file then takes a node id of its own, and its later transactions,
     * which the relay would take for resends of the original's under the old id, are sent again under the new
     * one at the next connection. Key ranges reserved for the old id are dropped: the original may still hand
     * them out.
     */
    private void takeOwnNodeId(Message.Welcome welcome, long settleThrough) throws SQLException {
        for (Message.Reject lost : welcome.rejected()) {
            if (lost.tx() <= settleThrough && store.awaitsAnswer(lost.tx())) {
                reject(lost);
            }
        }
        store.acknowledgeOnWelcome(settleThrough, welcome.appliedSeq());
        store.dropUnstampedThrough(settleThrough);
        String old = nodeId;
        nodeId = store.takeNewNodeId(old);
        onSyncing.accept(store.connection());
        LOG.log(System.Logger.Level.WARNING, "this file is a copy of node {0}''s (the relay applied its"
                + " transaction {1}, which this file did not write): it syncs as node {2} from now on, and its"
                + " transactions after {3} are sent again under that id", old, welcome.appliedTx(), nodeId,
                settleThrough);
    }

    /** The session ends on purpose, to say hello under the file's new node id ({@link #takeOwnNodeId}). */
    private static final class ReconnectAsNewNode extends IOException {
        ReconnectAsNewNode() {
            super("reconnecting under the file's own node id: it is a copy of another file");
        }
    }

    /** The session ends on purpose, to take a snapshot request at the next connect. */
    private static final class ReconnectForSnapshot extends IOException {
        ReconnectForSnapshot() {
            super("reconnecting for a snapshot: tables became synced locally");
        }
    }

    /**
     * One connection's listener. Its events carry it, so that a callback the previous connection was still
     * making when this one began (a message in delivery when it was aborted) is never taken for this
     * connection's: they were tagged with whichever transport was current when they were queued.
     */
    private final class Link implements Transport.Listener {
        /** The connection, once open (its end may be told before: see {@link #onClosed}). */
        private volatile Transport transport;

        @Override
        public void onMessage(Message message) {
            if (message instanceof Message.IdGrant grant) {
                // Handed out at once, on the network thread: an insert waiting for its first key may hold
                // SQLite's write lock, which this client's own thread needs before it can get to it.
                acceptGrant(grant);
            }
            events.offer(new Incoming(this, message));
        }

        @Override
        public void onClosed(String cause) {
            Transport closed = transport;
            if (closed != null && keyLane == closed) {
                // Told at once, not when this client's thread gets here (it may be waiting for SQLite's
                // write lock): key requests stop going to a dead connection, and an insert that needs a
                // key from now on fails fast, as offline (mayReceiveKeys). One already waiting keeps
                // waiting: the next connection, often a moment away, asks again.
                keyLane = null;
                keys.connectionLost();
            }
            // A connection ended before it was handed over (transport still null) is told all the same: the
            // welcome is waited for next, and ends on this.
            events.offer(new Closed(this, cause));
        }
    }

    private Message.Welcome awaitWelcome(Link link) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new IOException("relay sent no welcome within 10 s");
            }
            Event e = events.poll(left, TimeUnit.NANOSECONDS);
            if (e instanceof Closed c && c.from() == link) {
                throw new IOException(c.cause());
            }
            if (e instanceof Incoming in && in.from() == link) {
                if (in.message() instanceof Message.Welcome w) {
                    return w;
                }
                throw new IOException("relay sent " + in.message().getClass().getSimpleName() + " before welcome");
            }
        }
    }

    /**
     * Waits for the relay's message of {@code type} (the schema, the answer to a clock check) before anything
     * is pushed or applied, the welcome's repeated rejections included: values are converted by the column
     * types that come before the schema ({@link PgTypes}), and a push without them would send epoch
     * milliseconds that PostgreSQL's date columns refuse. Column types and features are taken at once; feed
     * messages that came before (the feed starts with the welcome) are added to {@code early}, in order, to be
     * handled once the welcome is.
     */
    private <T extends Message> T awaitHolding(Link link, Class<T> type, List<Message> early)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new IOException("relay sent nothing for 10 s while this client waited for its "
                        + type.getSimpleName());
            }
            Event e = events.poll(left, TimeUnit.NANOSECONDS);
            if (e instanceof Closed c && c.from() == link) {
                throw new IOException(c.cause());
            }
            if (e instanceof Incoming in && in.from() == link) {
                // 10 s of silence, not 10 s in all: relays send the schema behind up to four feed messages
                // of 4 MiB (a first snapshot), which a slow link takes longer than that to bring; giving up
                // made such a client start its snapshot again on every connection, for ever. What is held
                // here is bounded by the relay's window of four unconfirmed messages.
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                if (type.isInstance(in.message())) {
                    return type.cast(in.message());
                } else if (in.message() instanceof Message.ColumnTypes types) {
                    store.columnTypes(PgTypes.of(types.tables(), config.sqliteSettings()));
                } else if (in.message() instanceof Message.Features features) {
                    relayReadsSeen = features.names().contains(Message.FEATURE_SEEN);
                    relayChecksClocks = features.names().contains(Message.FEATURE_CLOCKS);
                    relayLargestMessage = Message.largestMessage(features.names());
                } else {
                    early.add(in.message());
                }
            }
        }
    }

    private void reject(Message.Reject reject) throws SQLException {
        LOG.log(System.Logger.Level.WARNING, "relay rejected local transaction {0} ({1}): {2}",
                reject.tx(), reject.sqlState(), reject.reason());
        // Recorded with the revert, for another process on the file that wrote it
        Rejection r = store.reject(reject.tx(), reject.sqlState(), reject.reason(), reject.current());
        onRejection.accept(r);
    }

    private void handle(Message m) throws SQLException, IOException {
        if (m instanceof Message.Ack ack) {
            store.acknowledge(ack.tx(), ack.seq());
            ackedThroughTx = Math.max(ackedThroughTx, ack.tx());
            answered(ack.tx());
            oldestUnackedSentNanos = System.nanoTime();
            push();
        } else if (m instanceof Message.Reject reject) {
            reject(reject);
            ackedThroughTx = Math.max(ackedThroughTx, reject.tx());
            answered(reject.tx());
            oldestUnackedSentNanos = System.nanoTime();
            push();
        } else if (m instanceof Message.PartReceived) {
            // The relay is taking in a big transaction's parts: it answers after the last one, so the wait for
            // the answer starts again (the transport counted the message as a sign of life).
            oldestUnackedSentNanos = System.nanoTime();
        } else if (m instanceof Message.IdGrant grant) {
            // Already handed out (acceptGrant); stored now only to keep unused keys across a restart. A range
            // lost to a crash before this point is simply never used.
            if (grant.error() == null && !grant.ranges().isEmpty()) {
                requestKeys(); // first: storing may wait for SQLite's write lock
                store.storeKeyRanges(grant.table(), grant.ranges(), keys.firstFree().get(KeyStock.fold(grant.table())));
            }
        } else if (m instanceof Message.ColumnTypes types) {
            store.columnTypes(PgTypes.of(types.tables(), config.sqliteSettings()));
        } else if (m instanceof Message.Features features) {
            relayReadsSeen = features.names().contains(Message.FEATURE_SEEN);
            relayLargestMessage = Message.largestMessage(features.names());
        } else if (m instanceof Message.Schema schema) {
            if (config.schemaFromServer() && store.createMissingTables(schema)) {
                // Capture on the new tables, then a fresh snapshot so their rows arrive (see requestResync).
                onTablesCreated.accept(store.connection());
            }
            List<String> differences = SchemaCheck.differences(store.syncedTables(), schema, store.columnTypes());
            schemaDifferences = differences;
            if (!differences.isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "the local schema differs from the relay''s: {0}",
                        String.join("; ", differences));
            }
        } else if (m instanceof Message.Resync resync) {
            // The user's scope changed on the relay: a snapshot of the new scope follows.
            LOG.log(System.Logger.Level.INFO, "the relay resyncs this file: what it may see has changed");
            snapshotBase = resync.head();
            snapshotReceived = 0;
            store.beginResync();
        } else if (m instanceof Message.Changes changes) {
            // The batch that completes a snapshot is kept durably: the relay will not send it again.
            boolean completes = changes.through() > 0 && (changes.snapshotTotal() > 0 || store.resyncing());
            List<RemoteChange> touched = store.applyFeed(changes.entries(), changes.through(), snapshotBase, completes);
            if (changes.through() > 0 && store.resyncing()) {
                touched = new java.util.ArrayList<>(touched);
                touched.addAll(store.endResync());
            }
            transport.send(new Message.Progress(store.cursor()));
            if (changes.snapshotTotal() > 0) {
                snapshotReceived += changes.entries().size();
                boolean done = changes.through() > 0;
                onSnapshot.accept(new SnapshotProgress(snapshotReceived, changes.snapshotTotal(), done));
                if (done) {
                    snapshotReceived = 0;
                }
            }
            if (!touched.isEmpty()) {
                onRemoteChange.accept(touched);
            }
        } else {
            throw new IOException("unexpected message from relay: " + m.getClass().getSimpleName());
        }
        refreshCounters();
    }

    /** This client's own SQLite connection (see {@link LocalStore#connection()}). */
    java.sql.Connection localConnection() {
        return store.connection();
    }

    /** Makes granted keys available to inserts (any thread). */
    private void acceptGrant(Message.IdGrant grant) {
        if (grant.error() != null || grant.ranges().isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "relay allocates no keys for table {0}: {1}", grant.table(),
                    grant.error());
            keys.refused(grant.table(), grant.error() == null ? "no keys granted" : grant.error());
        } else {
            keys.granted(grant.table(), grant.ranges());
        }
    }

    /** Asks for a key range for every table whose stock is low and has no request in flight. */
    private void requestKeys() throws IOException {
        for (String table : keys.toRequest(keyedTables.get())) {
            transport.send(new Message.IdRequest(table, keys.requestSize(table)));
        }
    }

    private void push() throws SQLException, IOException {
        while (sentThroughTx - ackedThroughTx < MAX_UNACKED_TXS && inFlight.size() < MAX_MESSAGES_IN_FLIGHT) {
            List<ClientTx> txs = store.pendingAfter(sentThroughTx, config.batchRows(), relayReadsSeen);
            if (txs.isEmpty()) {
                break;
            }
            if (sentThroughTx == ackedThroughTx) {
                oldestUnackedSentNanos = System.nanoTime();
            }
            send(txs);
            sentThroughTx = txs.get(txs.size() - 1).id();
        }
        refreshCounters();
    }

    /**
     * Sends pending transactions: in one push when it fits ({@link #messageBytes}), else packed into pushes
     * that fit, and a transaction that does not fit alone in parts (an import of a million rows in one
     * transaction would otherwise be refused with 1009 on every resend and hold up everything behind it). A
     * single change larger than the relay's limit still does not fit: its part is refused as the whole push
     * was. Each message sent is remembered until its last transaction is answered ({@link #inFlight}).
     */
    private void send(List<ClientTx> txs) throws IOException {
        int target = messageBytes();
        long before = transport.sentChars();
        if (target == 0) {
            transport.send(new Message.Push(txs));
            inFlight.add(new InFlight(txs.get(txs.size() - 1).id(), before));
            return;
        }
        String text = MessageCodec.encode(new Message.Push(txs));
        if (text.length() <= target / 3 || MessageCodec.utf8Length(text) <= target) {
            transport.sendEncoded(text);
            inFlight.add(new InFlight(txs.get(txs.size() - 1).id(), before));
            return;
        }
        // Packed greedily, in order: sent one push per transaction, a batch of thousands of small ones
        // overflowed the relay's queue of waiting messages (1008) on every connection.
        List<ClientTx> group = new ArrayList<>();
        long size = 0;
        for (ClientTx tx : txs) {
            long bytes = MessageCodec.utf8Length(MessageCodec.JSON.writeValueAsString(tx)) + 1;
            if (!group.isEmpty() && size + bytes > target - PART_ENVELOPE_BYTES) {
                transport.send(new Message.Push(group));
                inFlight.add(new InFlight(group.get(group.size() - 1).id(), before));
                before = transport.sentChars();
                group = new ArrayList<>();
                size = 0;
            }
            if (bytes > target - PART_ENVELOPE_BYTES) {
                sendParts(tx, target);
                inFlight.add(new InFlight(tx.id(), before));
                before = transport.sentChars();
            } else {
                group.add(tx);
                size += bytes;
            }
        }
        if (!group.isEmpty()) {
            transport.send(new Message.Push(group));
            inFlight.add(new InFlight(group.get(group.size() - 1).id(), before));
        }
    }

    /**
     * The size messages to the relay are kept to, once it reads parts: at most {@link #MESSAGE_BYTES}, within
     * its limit. A message is one WebSocket frame, which nothing else (a pong, on either side) can pass while
     * it is on the wire: on a slow uplink a frame of the relay's whole 16 MiB took minutes, and both sides
     * took the connection for dead. 0 for a relay before parts, which gets everything as before.
     */
    private int messageBytes() {
        return relayLargestMessage == 0 ? 0 : Math.min(relayLargestMessage, MESSAGE_BYTES);
    }

    /**
     * See {@link #messageBytes}: 24 s of a 43 kB/s uplink ({@link #SLOWEST_UPLINK_BYTES_PER_SECOND}), within the
     * 30 s a send may take; above what a batch
     * of ordinary rows takes ({@code sync.batchRows} of 2,000 rows of 150 bytes is 300 kB), which then goes
     * whole, encoded once, as before.
     */
    static final int MESSAGE_BYTES = 1 << 20;

    /** Messages sent and not yet answered, beyond which no more are sent (the relay closes past 1,000). */
    private static final int MAX_MESSAGES_IN_FLIGHT = 64;

    /** A message sent and not yet answered: its last transaction, and {@link Transport#sentChars} before it. */
    private record InFlight(long lastTx, long charsBefore) {
    }

    /** Each message (or parts of one transaction) sent on this connection and not yet answered, oldest first. */
    private final java.util.ArrayDeque<InFlight> inFlight = new java.util.ArrayDeque<>();

    /** When the last part of a transaction went out: the relay answers only after the last one. */
    private long uploadProgressNanos;

    private void answered(long tx) {
        while (!inFlight.isEmpty() && inFlight.peekFirst().lastTx() <= tx) {
            inFlight.pollFirst();
        }
    }

    /** Room left in a message for its envelope: type, the transaction's id, clock and seen, and the last flag. */
    private static final int PART_ENVELOPE_BYTES = 512;

    private void sendParts(ClientTx tx, int target) throws IOException {
        long budget = Math.max(1, target - PART_ENVELOPE_BYTES);
        List<io.syncsqlite.protocol.RowChange> part = new ArrayList<>();
        long size = 0;
        int sent = 0;
        for (io.syncsqlite.protocol.RowChange change : tx.changes()) {
            long bytes = MessageCodec.utf8Length(MessageCodec.JSON.writeValueAsString(change)) + 1;
            if (!part.isEmpty() && size + bytes > budget) {
                transport.send(new Message.PushPart(new ClientTx(tx.id(), tx.hlc(), part, tx.seen()), false));
                uploadProgressNanos = System.nanoTime();
                sent++;
                part = new ArrayList<>();
                size = 0;
            }
            part.add(change);
            size += bytes;
        }
        transport.send(new Message.PushPart(new ClientTx(tx.id(), tx.hlc(), part, tx.seen()), true));
        // The answer cannot come before the last part: its wait starts now.
        uploadProgressNanos = System.nanoTime();
        oldestUnackedSentNanos = uploadProgressNanos;
        LOG.log(System.Logger.Level.DEBUG, "sent transaction {0} ({1} changes) in {2} parts", tx.id(),
                tx.changes().size(), sent + 1);
    }


    /**
     * Refreshes the status counters, at most every {@link #REFRESH_NANOS}, and at most one twentieth of the
     * time (but at least every {@link #MAX_REFRESH_NANOS} while busy): counting unsettled transactions reads the whole outbox (7 ms for 50k rows waiting to be sent,
     * which made every 50 ms refresh cost the catch-up a seventh of this thread), and doing it after every
     * message made a large catch-up quadratic. A skipped refresh is done when the loop is idle once the
     * interval has passed.
     */
    private void refreshCounters() {
        long now = System.nanoTime();
        if (now - lastRefreshNanos < refreshIntervalNanos) {
            refreshPending = true;
            return;
        }
        long generation = nudges.get();
        try {
            unsettled = store.unsettled();
            cursorSnapshot = store.cursor();
            refreshed = generation;
            lastRefreshNanos = now;
            refreshIntervalNanos = Math.min(MAX_REFRESH_NANOS, Math.max(REFRESH_NANOS, 20 * (System.nanoTime() - now)));
            refreshPending = false;
        } catch (SQLException e) {
            lastError = e.getMessage();
        }
    }
}
