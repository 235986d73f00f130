package io.syncsqlite.relay.session;

import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.HybridClock;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.protocol.ProtocolException;
import io.syncsqlite.relay.apply.ApplyFailure;
import io.syncsqlite.relay.apply.ChangeApplier;
import io.syncsqlite.relay.db.PgErrors;
import io.syncsqlite.relay.feed.ChangeFeed;
import io.syncsqlite.relay.feed.FeedCommit;
import io.syncsqlite.relay.feed.FeedJson;
import io.syncsqlite.relay.feed.FeedRow;
import io.syncsqlite.relay.feed.Snapshot;
import io.syncsqlite.relay.keys.KeyAllocator;
import io.syncsqlite.relay.ops.Metrics;
import io.syncsqlite.relay.auth.TokenVerifier;
import io.syncsqlite.relay.scope.Scope;
import io.syncsqlite.relay.scope.ScopeRules;
import io.syncsqlite.relay.schema.TableInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One connected client: the protocol state machine (hello → welcome, then push → ack/reject and
 * changes ← progress), flow control, and the snapshot for a new client.
 *
 * <p><b>Threads.</b> The WebSocket server calls {@link #onText}, {@link #onBinary} and {@link #onClosed}
 * on its own threads, and the feed calls {@link #onFeedAdvanced} on the feed thread; none of them does
 * any work beyond queueing it on the session's {@link SerialLane}, which runs everything else (decoding,
 * database work, sending) one task at a time on the relay's worker pool. Because applies and feed sends
 * share the lane, the {@code ack} of a transaction is always sent before any {@code changes} containing
 * its commit (docs/DESIGN.md, "Invariant"). The fields from {@code state} on are touched by lane tasks
 * only; the volatile and atomic ones before them are shared across threads.
 *
 * <p>Errors stay inside the session: a bad message closes this connection only (1002, 1003, 1008),
 * and a database failure closes it with 1011 so that the client reconnects and resends.
 *
 * <p>Thread-safe in the sense above: the public methods may be called from any thread; everything else
 * is confined to the lane.
 */
public final class ClientSession implements ChangeFeed.Listener {

    private static final Logger log = LoggerFactory.getLogger(ClientSession.class);

    static final int MAX_UNCONFIRMED = 4;
    static final int MAX_ENTRIES = 1000;
    static final long MAX_BYTES = 4L << 20;
    private static final int MAX_QUEUED_MESSAGES = 1000;
    static final int MAX_MESSAGES_PER_SECOND = 1000;
    /**
     * How far ahead of the relay's clock a transaction's HLC may be. A timestamp far in the future would
     * win every last-writer-wins decision on the rows it touches until the world's clocks caught up with
     * it (forever, for year 9999), so such a transaction is not applied: the session closes with 1008 and
     * the client keeps it pending, to be accepted once the relay's clock has reached it. Ten minutes
     * tolerates any NTP-synchronised device; drivers observe remote clocks only up to half of it.
     */
    static final long MAX_CLOCK_AHEAD_MS = HybridClock.MAX_AHEAD_OF_RELAY_MS;
    private static final int READ_COMMITS = 256;

    private enum State { AWAIT_HELLO, ACTIVE }

    private final Outbound out;
    private final ChangeApplier applier;
    private final KeyAllocator keys;
    private final Metrics metrics;
    private final ChangeFeed feed;
    private final SerialLane lane;
    private final String remote;
    private final Runnable onEnd;
    private final ScopeRules scopes;
    private final TokenVerifier.Principal principal;
    private final AtomicInteger queued = new AtomicInteger();
    /** The client's last applied transaction when it said hello (resends up to it are only acknowledged). */
    private long appliedAtHello;
    /**
     * Messages per second a client may send: a syncing client sends a push per batch and a progress per
     * feed message, far below this; a flood closes the connection before it costs the relay.
     */
    private final RateLimit rate = new RateLimit(MAX_MESSAGES_PER_SECOND, 2 * MAX_MESSAGES_PER_SECOND);
    private final AtomicBoolean pumpQueued = new AtomicBoolean();
    private final AtomicBoolean ended = new AtomicBoolean();
    private volatile boolean closed;
    private volatile boolean draining;
    private volatile String node;

    private State state = State.AWAIT_HELLO;
    /** What this user may see and write (set at hello); null when the relay has no scopes. */
    private Scope scope;
    /** The digest of the scope of the snapshot being sent, stored once the client confirms its end. */
    private String scopeDigest;
    private long scopeDigestThrough;
    /**
     * The type this client knows for each column ({@link #typedKey}, PostgreSQL's names): sent to it, or found
     * since and needing no conversion; null when it did not ask for types (an earlier client). Lane only.
     */
    private java.util.Map<String, String> typed;
    /**
     * Catalog columns found to match {@link #typed}, by identity: a push then costs one identity lookup per
     * value; a catalog read again has new column objects, which are checked once more. Lane only.
     */
    private final java.util.Set<io.syncsqlite.relay.schema.ColumnInfo> checked =
            java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private long sentThrough;
    /** The feed head when a reconnecting client said hello: batches before it are compacted. */
    private long catchUpThrough;
    private boolean snapshotPending;
    private Snapshot snapshot;
    /**
     * Pushes that arrived while this session's snapshot waited for a connection (Lane only). The client takes the
     * snapshot's rows for the state at the head it was told ({@code welcome}/{@code resync}), so its writes
     * acknowledged above that head are kept on top of them; a write applied while the snapshot waited was then in
     * the snapshot too, and counted twice (a counter) or put back over a later write (a column) on that device,
     * for good (CrashFaultReviewTest). Held, they are applied once the snapshot is open, after its state.
     */
    private final List<Message.Push> held = new ArrayList<>();
    /** The feed position of the last transaction this session acknowledged (Lane only). */
    private long lastAckSeq;
    /**
     * Whether the client asked for {@link Message.Features} (every such client reads {@code partReceived}); an earlier
     * one is not sent it for held pushes, and may reconnect after 30 s without an answer (Lane only).
     */
    private boolean readsPartReceived;
    /** Whether {@link #keepHeldAlive} is scheduled (Lane only). */
    private boolean heldKeepalive;
    private static final long HELD_KEEPALIVE_SECONDS = 10;
    private final FlowWindow window = new FlowWindow();
    private final ArrayDeque<FeedCommit> backlog = new ArrayDeque<>();
    private FeedCommit partial;
    private int partialIndex;
    /** The largest message the WebSocket server accepts (announced to clients that read {@code parts:}). */
    private final int maxMessageBytes;
    /** The parts received so far of a transaction sent in {@link Message.PushPart}s, or null. Lane only. */
    private ClientTx parts;
    private final List<io.syncsqlite.protocol.RowChange> partChanges = new ArrayList<>();
    private long partBytes;

    /**
     * How many bytes of parts one transaction may take, as a multiple of the message limit: the relay holds a
     * transaction's changes in memory until its last part arrives (about ten times their JSON once parsed),
     * so a larger one is refused with 1009, as a message over the limit is.
     */
    static final int MAX_PARTS_PER_LIMIT = 4;

    /**
     * @param onEnd runs once on the lane when the session has released everything (for the registry)
     */
    public ClientSession(Outbound out, ChangeApplier applier, KeyAllocator keys, ChangeFeed feed, Metrics metrics,
                         Executor workers, String remote, Runnable onEnd) {
        this(out, applier, keys, feed, metrics, workers, remote, onEnd, null, null);
    }

    public ClientSession(Outbound out, ChangeApplier applier, KeyAllocator keys, ChangeFeed feed, Metrics metrics,
                         Executor workers, String remote, Runnable onEnd, ScopeRules scopes,
                         TokenVerifier.Principal principal) {
        this(out, applier, keys, feed, metrics, workers, remote, onEnd, scopes, principal,
                io.syncsqlite.relay.RelayConfig.DEFAULT_MAX_FRAME_BYTES);
    }

    /**
     * @param scopes          the relay's per-user scope rules, or null for none
     * @param principal       the authenticated user (required with {@code scopes}), or null
     * @param maxMessageBytes the largest message the WebSocket server accepts (it closes with 1009 above it)
     */
    public ClientSession(Outbound out, ChangeApplier applier, KeyAllocator keys, ChangeFeed feed, Metrics metrics,
                         Executor workers, String remote, Runnable onEnd, ScopeRules scopes,
                         TokenVerifier.Principal principal, int maxMessageBytes) {
        this.maxMessageBytes = maxMessageBytes;
        if (scopes != null && principal == null) {
            throw new IllegalArgumentException("per-user scopes need an authenticated user");
        }
        this.scopes = scopes;
        this.principal = principal;
        this.out = out;
        this.applier = applier;
        this.keys = keys;
        this.metrics = metrics;
        this.feed = feed;
        this.lane = new SerialLane(workers, failure -> close(CloseCodes.INTERNAL_ERROR, "relay error: resend later"));
        this.remote = remote;
        this.onEnd = onEnd;
    }

    /** The client's node id once it said hello, else null. */
    public String node() {
        return node;
    }

    /** A text frame arrived (WebSocket thread). */
    public void onText(String text) {
        if (closed || draining) {
            return;
        }
        if (!rate.tryTake()) {
            close(CloseCodes.POLICY_VIOLATION, "message rate exceeded");
            return;
        }
        if (queued.incrementAndGet() > MAX_QUEUED_MESSAGES) {
            close(CloseCodes.POLICY_VIOLATION, "too many messages waiting to be applied");
            return;
        }
        lane.submit(() -> {
            queued.decrementAndGet();
            handle(text);
        });
    }

    /** A binary frame arrived (WebSocket thread): the protocol is text only. */
    public void onBinary() {
        close(CloseCodes.UNSUPPORTED_DATA, "binary frames are not supported");
    }

    /** The connection is closed, by either side (WebSocket thread). */
    public void onClosed(int code, boolean byClient) {
        closed = true;
        log.info("node {} disconnected ({}, code {})", node != null ? node : "(no hello)",
                byClient ? "by client" : "by relay", code);
        lane.submit(this::end);
    }

    /** New commits are in the feed (feed thread). */
    @Override
    public void onFeedAdvanced() {
        requestPump();
    }

    /**
     * Stops taking new messages and completes once the task running now (an apply and its acks) has
     * finished. Messages still queued are dropped; the client resends them after reconnecting.
     */
    public CompletableFuture<Void> drain() {
        draining = true;
        CompletableFuture<Void> done = new CompletableFuture<>();
        lane.submit(() -> done.complete(null));
        return done;
    }

    /** Decodes and dispatches one client message (lane). */
    private void handle(String text) {
        if (closed || draining) {
            return;
        }
        Message m;
        try {
            m = MessageCodec.decode(text);
        } catch (ProtocolException e) {
            close(CloseCodes.PROTOCOL_ERROR, e.getMessage());
            return;
        }
        try {
            if (state == State.AWAIT_HELLO) {
                if (m instanceof Message.Hello hello) {
                    hello(hello);
                } else {
                    close(CloseCodes.PROTOCOL_ERROR, "the first message must be hello");
                }
            } else if (parts != null && m instanceof Message.Push) {
                // Other messages may come between parts (progress, and key requests, which the client sends
                // from any thread), but transactions follow each other.
                close(CloseCodes.PROTOCOL_ERROR, "transaction " + parts.id() + " is missing its last part");
            } else if (m instanceof Message.Push push) {
                push(push);
            } else if (m instanceof Message.PushPart part) {
                part(part, MessageCodec.utf8Length(text));
            } else if (m instanceof Message.Progress progress) {
                window.confirm(progress.cursor());
                if (scopeDigestThrough > 0 && progress.cursor() >= scopeDigestThrough) {
                    // The client has applied the whole snapshot of this scope: a reconnect need not resync.
                    String digest = scopeDigest;
                    long from = scopeDigestThrough;
                    feed.inTransaction(c -> {
                        Scope.storeDigest(c, node, digest, from);
                        return null;
                    });
                    scopeDigest = null;
                    scopeDigestThrough = 0;
                }
                pump();
            } else if (m instanceof Message.IdRequest request) {
                TableInfo table = feed.catalog().table(request.table()); // folds case
                if (scope != null && table != null && !scope.writable(table.name())) {
                    // Drawing from the sequence of a table one may not write only burns its values.
                    send(MessageCodec.encode(new Message.IdGrant(request.table(), List.of(),
                            "table " + request.table() + " is not writable for this user")));
                } else {
                    send(MessageCodec.encode(keys.allocate(request)));
                }
            } else if (m instanceof Message.ClockCheck check) {
                long first = applier.firstCopied(node, check);
                if (first != 0) {
                    log.warn("node {}: tx {} was not applied under that id with its clock: the client's file is a copy"
                            + " of the node's", node, first);
                }
                send(MessageCodec.encode(new Message.ClockCheckResult(first)));
            } else if (m instanceof Message.SchemaRequest request) {
                // Tables the user cannot see are not described either.
                java.util.function.Predicate<String> visible = scope == null ? t -> true : scope::visible;
                if (request.version() >= Message.FEATURES_VERSION) {
                    readsPartReceived = true;
                    send(MessageCodec.encode(new Message.Features(List.of(Message.FEATURE_SEEN,
                            Message.FEATURE_CLOCKS, Message.partsFeature(maxMessageBytes)))));
                }
                if (request.version() >= Message.COLUMN_TYPES_VERSION) {
                    Message.ColumnTypes types = io.syncsqlite.relay.schema.SqliteSchema.columnTypes(feed.catalog(), visible);
                    typed = new java.util.HashMap<>();
                    types.tables().forEach((t, columns) -> columns.forEach((c, type) -> typed.put(typedKey(t, c), type)));
                    send(MessageCodec.encode(types));
                }
                Message.Schema schema = io.syncsqlite.relay.schema.SqliteSchema.of(feed.catalog());
                send(MessageCodec.encode(new Message.Schema(
                        schema.tables().stream().filter(t -> visible.test(t.name())).toList())));
            } else {
                close(CloseCodes.PROTOCOL_ERROR, "unexpected " + m.getClass().getSimpleName().toLowerCase()
                        + " message");
            }
        } catch (SQLException e) {
            databaseFailure(e);
        }
    }

    /**
     * Binds a node id to the first user who authenticates with it and returns that user: node ids are
     * chosen by clients, and one user reusing another's would share its transaction numbering.
     */
    private static String bindNode(java.sql.Connection c, String node, String subject) throws SQLException {
        try (java.sql.PreparedStatement ps = c.prepareStatement("INSERT INTO syncsqlite.client (node, subject)"
                + " VALUES (?, ?) ON CONFLICT (node) DO UPDATE SET subject = coalesce(syncsqlite.client.subject,"
                + " excluded.subject) RETURNING subject")) {
            ps.setString(1, node);
            ps.setString(2, subject);
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private void hello(Message.Hello hello) throws SQLException {
        if (hello.version() != Message.PROTOCOL_VERSION) {
            close(CloseCodes.PROTOCOL_ERROR, "unsupported protocol version " + hello.version());
            return;
        }
        String badNode = Message.nodeIdProblem(hello.node());
        if (badNode != null) {
            close(CloseCodes.PROTOCOL_ERROR, badNode);
            return;
        }
        if (principal != null && principal.subject() != null) {
            String owner = feed.inTransaction(c -> bindNode(c, hello.node(), principal.subject()));
            if (!principal.subject().equals(owner)) {
                close(CloseCodes.POLICY_VIOLATION, "node id is in use by another user");
                return;
            }
        }
        boolean scopeChanged = false;
        if (scopes != null) {
            Scope s = scopes.scopeFor(principal.subject(), principal.claims());
            Scope.Stored stored = feed.inTransaction(c -> {
                s.reloadMemberships(c);
                return Scope.stored(c, hello.node());
            });
            scope = s;
            // A cursor below the snapshot that gave the client this scope comes from an older copy of its file (or a
            // client that lies): catching up from there replayed commits from before the user could see their rows,
            // filtered by today's scope (ScopeSecurityReviewTest).
            scopeChanged = !s.digest().equals(stored.digest()) || hello.cursor() < stored.from();
        }
        ChangeApplier.ClientPosition position = applier.position(hello.node());
        appliedAtHello = position.appliedTx();
        metrics.connected();
        node = hello.node();
        state = State.ACTIVE;
        // A cursor before the retained history (see Retention) cannot be caught up: resync from a snapshot.
        // So is one whose scope changed while it was away: the feed would never remove rows it lost.
        boolean resync = hello.cursor() > 0 && (hello.cursor() < position.horizon() - 1 || scopeChanged);
        long cursor = resync ? 0 : hello.cursor();
        sentThrough = cursor;
        snapshotPending = cursor == 0;
        catchUpThrough = cursor == 0 ? 0 : position.head();
        log.info("node {} connected from {} (cursor {}, applied tx {})", node, remote, hello.cursor(),
                position.appliedTx());
        if (hello.cursor() > position.head()) {
            log.warn("node {} has cursor {} beyond the feed head {}: was the database replaced?", node,
                    hello.cursor(), position.head());
        }
        if (resync) {
            log.info("node {} is behind the retained history (cursor {}, oldest kept {}) or its scope changed:"
                    + " resyncing it", node, hello.cursor(), position.horizon());
        }
        send(MessageCodec.encode(new Message.Welcome(position.appliedTx(), position.appliedSeq(), position.head(),
                resync, applier.rejections(node))));
        feed.addListener(this);
        pump();
    }

    /**
     * Collects the parts of one transaction and applies it when the last arrives. The parts must name the
     * same transaction (id, clock, seen) and follow each other: another transaction in between closes the session,
     * and so does a transaction whose parts exceed {@link #MAX_PARTS_PER_LIMIT} times the message limit
     * (1009: the client keeps it, as one message over the limit).
     *
     * @param bytes the message's length in UTF-8 bytes, as the message limit counts it
     */
    private void part(Message.PushPart part, long bytes) throws SQLException {
        ClientTx tx = part.tx();
        if (parts == null) {
            parts = tx;
            partChanges.clear();
            partBytes = 0;
        } else if (parts.id() != tx.id() || parts.hlc() != tx.hlc() || !java.util.Objects.equals(parts.seen(), tx.seen())) {
            close(CloseCodes.PROTOCOL_ERROR, "a part of transaction " + tx.id() + " arrived before the last part of "
                    + "transaction " + parts.id());
            return;
        }
        partBytes += bytes;
        if (partBytes > (long) MAX_PARTS_PER_LIMIT * maxMessageBytes) {
            log.warn("node {}: tx {} takes more than {} bytes in parts; closing", node, tx.id(),
                    (long) MAX_PARTS_PER_LIMIT * maxMessageBytes);
            close(CloseCodes.TOO_BIG, "transaction " + tx.id() + " is larger than " + MAX_PARTS_PER_LIMIT
                    + " times the relay's message limit (--max-frame-bytes " + maxMessageBytes + ")");
            return;
        }
        partChanges.addAll(tx.changes());
        if (!part.last()) {
            send(MessageCodec.encode(new Message.PartReceived(tx.id())));
        } else {
            ClientTx whole = new ClientTx(tx.id(), tx.hlc(), List.copyOf(partChanges), tx.seen());
            parts = null;
            partChanges.clear();
            push(new Message.Push(List.of(whole)));
        }
    }

    private void push(Message.Push push) throws SQLException {
        if (!held.isEmpty() || snapshotPending && !openSnapshot()) {
            held.add(push);
            heldAnswerLater();
            if (!heldKeepalive) {
                heldKeepalive = true;
                keepHeldAlive();
            }
            return;
        }
        apply(push);
        pump();
    }

    /**
     * Tells the client the last held transaction will be answered later ({@code partReceived}, which starts its wait
     * for an answer again): a snapshot may wait for a slot longer than the client waits for an acknowledgement
     * (30 s), and a client that gave up would reconnect and wait for a slot anew.
     */
    private void heldAnswerLater() {
        List<ClientTx> txs = held.get(held.size() - 1).txs();
        if (readsPartReceived && !txs.isEmpty()) {
            send(MessageCodec.encode(new Message.PartReceived(txs.get(txs.size() - 1).id())));
        }
    }

    /** Repeats {@link #heldAnswerLater} every {@value #HELD_KEEPALIVE_SECONDS} s while pushes are held. */
    private void keepHeldAlive() {
        CompletableFuture.delayedExecutor(HELD_KEEPALIVE_SECONDS, java.util.concurrent.TimeUnit.SECONDS).execute(() ->
                lane.submit(() -> {
                    if (closed || held.isEmpty()) {
                        heldKeepalive = false;
                        return;
                    }
                    heldAnswerLater();
                    keepHeldAlive();
                }));
    }

    /** Applies a push's transactions and answers each (Lane only; {@link #push} without the pump). */
    private void apply(Message.Push push) throws SQLException {
        for (ClientTx tx : push.txs()) {
            if (closed) {
                return;
            }
            // ClientTx's constructor has already refused a negative HLC. A resend of a transaction already
            // applied (stamped before relays bounded clocks) is let through, to be acknowledged.
            long aheadMs = Hlc.unpack(tx.hlc()).millis() - System.currentTimeMillis();
            if (aheadMs > MAX_CLOCK_AHEAD_MS && tx.id() > appliedAtHello) {
                log.warn("node {}: tx {} is stamped {} s ahead of the relay's clock; closing, the client keeps it",
                        node, tx.id(), aheadMs / 1000);
                close(CloseCodes.POLICY_VIOLATION, "transaction clock is " + aheadMs / 1000
                        + " s ahead of the relay's: check the device clock");
                return;
            }
            if (typed != null && !typesSentFor(tx)) {
                // Its values of that column may be unconverted (epoch milliseconds for a date): PostgreSQL would
                // refuse them, and the client would revert the rows. The next connection brings the types.
                log.info("node {}: tx {} writes a column added since its column types were sent; closing so that"
                        + " it reconnects for them and resends", node, tx.id());
                close(CloseCodes.INTERNAL_ERROR, "column types changed: reconnect and resend");
                return;
            }
            Message answer;
            long t0 = System.nanoTime();
            try {
                answer = applier.apply(node, tx, scope);
                // Applied or rejected in PostgreSQL, the transaction marked a commit: the feed reads it now
                // rather than on PostgreSQL's notification, about a millisecond later (an answer that marked
                // nothing, a resend's, costs one read that finds nothing).
                feed.poke();
                metrics.applied(answer instanceof Message.Ack, tx.changes().size(), System.nanoTime() - t0);
            } catch (ApplyFailure e) {
                if (e.getCause() instanceof io.syncsqlite.relay.apply.CopiedNode) {
                    log.warn("node {}: {}; closing so that it takes a node id of its own", node, e.getMessage());
                    close(CloseCodes.COPIED_NODE, "transaction " + tx.id() + " reuses an id applied with another"
                            + " clock: this file is a copy of the node's");
                    return;
                }
                SQLException cause = e.getCause() instanceof SQLException s ? s : null;
                log.warn("node {}: {}; closing so that the client resends", node, e.getMessage());
                if (cause != null && log.isDebugEnabled()) {
                    log.debug("node {}: apply failure", node, cause);
                }
                close(CloseCodes.INTERNAL_ERROR, "relay cannot apply now, resend later");
                return;
            }
            if (answer instanceof Message.Ack ack) {
                lastAckSeq = Math.max(lastAckSeq, ack.seq());
            }
            send(MessageCodec.encode(answer));
        }
    }

    private static String typedKey(String table, String column) {
        return table.toLowerCase(java.util.Locale.ROOT) + '\u0000' + column.toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * Whether this client knows the type of every column {@code tx} writes, where the type is one it converts
     * ({@link Message.ColumnTypes#CONVERTED}) or was one: a column or table added in PostgreSQL while the
     * client was connected, or a column whose type changed (bigint to timestamptz: the client's numbers would
     * be refused; timestamp to timestamptz: converted by the old type, hours off, silently). A name missing
     * from the catalog makes it read the catalog again first; one still unknown is left to the apply, which
     * refuses it as before. Types found that need no conversion are remembered.
     */
    private boolean typesSentFor(ClientTx tx) {
        changes:
        for (io.syncsqlite.protocol.RowChange change : tx.changes()) {
            TableInfo table = feed.catalog().table(change.table());
            if (table == null && applier.refreshCatalog()) {
                table = feed.catalog().table(change.table());
            }
            if (table == null || scope != null && !scope.visible(table.name())) {
                continue; // unknown, or never described to this user: the apply refuses the write
            }
            for (ObjectNode values : new ObjectNode[] {change.pk(), change.values()}) {
                if (values == null) {
                    continue;
                }
                for (java.util.Iterator<String> it = values.fieldNames(); it.hasNext(); ) {
                    String name = it.next();
                    io.syncsqlite.relay.schema.ColumnInfo column = table.column(name);
                    if (column == null && applier.refreshCatalog()) {
                        table = feed.catalog().table(change.table());
                        if (table == null) {
                            continue changes;
                        }
                        column = table.column(name);
                    }
                    if (column == null || checked.contains(column)) {
                        continue;
                    }
                    String key = typedKey(table.name(), column.name());
                    String known = typed.get(key);
                    String now = column.valueType();
                    if (now.equals(known)) {
                        checked.add(column);
                        continue;
                    }
                    if (Message.ColumnTypes.CONVERTED.contains(now)
                            || known != null && Message.ColumnTypes.CONVERTED.contains(known)) {
                        return false;
                    }
                    typed.put(key, now);
                    checked.add(column);
                }
            }
        }
        return true;
    }

    private void requestPump() {
        if (pumpQueued.compareAndSet(false, true)) {
            lane.submit(() -> {
                pumpQueued.set(false);
                try {
                    pump();
                } catch (SQLException e) {
                    databaseFailure(e);
                }
            });
        }
    }

    /** Sends feed messages while the client has fewer than {@link #MAX_UNCONFIRMED} unconfirmed. */
    private void pump() throws SQLException {
        while (state == State.ACTIVE && !closed && !draining && window.size() < MAX_UNCONFIRMED) {
            boolean sent = snapshotPending ? sendSnapshotBatch() : sendFeedBatch();
            if (!sent) {
                return;
            }
        }
    }

    /**
     * Opens this session's pending snapshot if a connection is free, then applies the pushes {@link #held} for it;
     * false when it still waits (woken when another snapshot finishes).
     */
    private boolean openSnapshot() throws SQLException {
        if (snapshot == null) {
            snapshot = feed.tryOpenSnapshot(this::requestPump, scope);
            if (snapshot == null) {
                return false;
            }
            // The snapshot read the memberships in its own transaction (Snapshot.open).
            scopeDigest = scope == null ? null : scope.digest();
            List<Message.Push> waiting = new ArrayList<>(held);
            held.clear();
            for (Message.Push p : waiting) {
                if (closed) {
                    break;
                }
                apply(p);
            }
        }
        return true;
    }

    private boolean sendSnapshotBatch() throws SQLException {
        if (!openSnapshot() || closed) {
            return false;
        }
        List<String> entries = snapshot.next(MAX_ENTRIES, MAX_BYTES);
        boolean last = snapshot.exhausted();
        long through = last ? snapshot.through() : 0;
        long total = snapshot.total();
        if (last) {
            // Before the send: the connection goes back to the pool before the client can act on the last
            // batch (a client that reconnects at once, or the next one, finds it free instead of opening one).
            snapshot.close();
            snapshot = null;
            snapshotPending = false;
            sentThrough = through;
            scopeDigestThrough = scopeDigest == null ? 0 : through;
        }
        send(FeedJson.changes(entries, through, total));
        metrics.sent(entries.size());
        window.sent(through);
        return true;
    }

    /**
     * Sends the next commits after {@link #sentThrough}, as many whole commits as fit in one message.
     * A single commit too big for one message goes out in parts with {@code through} 0, the last part
     * carrying its seq, so a client's cursor only ever lands on a commit boundary.
     */
    private boolean sendFeedBatch() throws SQLException {
        if (partial != null) {
            sendPartial();
            return true;
        }
        if (backlog.isEmpty()) {
            fillBacklog();
            if (snapshotPending) {
                return true; // the scope changed: a resync snapshot replaces these commits
            }
            if (backlog.isEmpty()) {
                return false;
            }
            if (sentThrough < feed.horizon() - 1) {
                // History this client still needed was pruned while it was connected (it fell behind by more
                // than the retention): reconnecting makes it resync instead of silently skipping commits.
                backlog.clear();
                close(CloseCodes.GOING_AWAY, "history pruned: reconnect to resync");
                return false;
            }
        }
        List<String> entries = new ArrayList<>();
        List<String> rowKeys = new ArrayList<>();
        long bytes = 0;
        long through = sentThrough;
        while (!backlog.isEmpty()) {
            FeedCommit c = backlog.peekFirst();
            if (c.entries().size() > MAX_ENTRIES || c.bytes() > MAX_BYTES || c.more()) {
                if (entries.isEmpty()) {
                    partial = backlog.pollFirst();
                    partialIndex = 0;
                    sendPartial();
                    return true;
                }
                break;
            }
            if (entries.size() + c.entries().size() > MAX_ENTRIES || bytes + c.bytes() > MAX_BYTES) {
                break;
            }
            entries.addAll(c.entries());
            rowKeys.addAll(c.keys());
            bytes += c.bytes();
            through = c.seq();
            backlog.pollFirst();
        }
        // Compacted only while catching up on what happened while the client was away; a live client
        // gets every commit's images as they were committed.
        boolean catchingUp = sentThrough < catchUpThrough;
        List<String> batch = catchingUp ? compact(entries, rowKeys) : entries;
        send(FeedJson.changes(batch, through, 0));
        metrics.sent(batch.size());
        window.sent(through);
        sentThrough = through;
        return true;
    }

    /**
     * Reads the next commits into the backlog, each reduced to what this user may see. A commit that may
     * change the user's memberships makes the session read them again first; if they changed, rows
     * entered or left the scope that the feed will never mention again, so the session resyncs the client
     * instead ({@link Message.Resync} and a snapshot of the new scope).
     */
    private void fillBacklog() throws SQLException {
        List<FeedCommit> commits = feed.read(sentThrough, READ_COMMITS);
        if (scope == null) {
            backlog.addAll(commits);
            return;
        }
        for (FeedCommit c : commits) {
            if (touchesMembership(c) && feed.inTransaction(scope::reloadMemberships)) {
                resyncScope();
                return;
            }
            backlog.add(visible(c));
        }
    }

    /** The user's scope changed: drop what was queued and send a snapshot of the new scope. */
    private void resyncScope() throws SQLException {
        backlog.clear();
        partial = null;
        // Not the scope the client holds any more: nothing is stored until the new snapshot is confirmed.
        scopeDigest = null;
        scopeDigestThrough = 0;
        feed.inTransaction(c -> {
            Scope.storeDigest(c, node, null, 0);
            return null;
        });
        log.info("node {}: the scope of user {} changed; resyncing it", node, scope.subject());
        // Not below this session's own acknowledgements: the in-memory head may not have read them yet, and the snapshot
        // (opened after this) holds them, as for the welcome's head (see held).
        send(MessageCodec.encode(new Message.Resync(Math.max(feed.head(), lastAckSeq))));
        snapshotPending = true;
    }

    private boolean touchesMembership(FeedCommit c) {
        if (!scope.hasMemberships()) {
            return false;
        }
        for (FeedRow r : c.rows()) {
            if (scope.touchesMembership(r.table(), r.row(), r.old(), r.row() == null)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The part of a commit this user may see: images of rows in scope; a delete for a row the change took
     * out of the scope (its previous scoped values were in it); deletes of rows that were in scope (or
     * whose previous values were not logged); deletes of keys that had no row, to the client whose write
     * named them only. Everything else is left out, so a client never receives a
     * row outside its scope, in the live feed or in catch-up (which compacts what this leaves).
     */
    private FeedCommit visible(FeedCommit c) {
        List<String> entries = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        long bytes = 0;
        for (int i = 0; i < c.rows().size(); i++) {
            FeedRow r = c.rows().get(i);
            String entry;
            if (!scope.visible(r.table())) {
                continue;
            } else if (r.row() != null) {
                if (scope.contains(r.table(), r.row())) {
                    entry = c.entries().get(i);
                } else if (r.old() != null && scope.contains(r.table(), before(r))) {
                    entry = r.deletion();
                } else {
                    continue;
                }
            } else if (r.noRowOrigin() != null) {
                // A key that had no row: only the client whose transaction named it needs the outcome
                // (to others it would only reveal that someone wrote to that key).
                if (!r.noRowOrigin().equals(node)) {
                    continue;
                }
                entry = c.entries().get(i);
            } else if (r.old() == null || scope.contains(r.table(), r.old())) {
                // A delete of a row that was in scope, or whose previous values were not logged.
                entry = c.entries().get(i);
            } else {
                continue;
            }
            entries.add(entry);
            keys.add(c.keys().get(i));
            bytes += entry.length();
        }
        return new FeedCommit(c.seq(), entries, keys, bytes, null, c.more(), c.lastId());
    }

    /** The scoped values of an updated row before the update: the new image with the changed ones restored. */
    private static JsonNode before(FeedRow r) {
        ObjectNode o = r.row().deepCopy();
        r.old().fields().forEachRemaining(f -> o.set(f.getKey(), f.getValue()));
        return o;
    }

    /**
     * Keeps only the last image of each row among {@code entries} (several commits, for a client catching
     * up from its cursor to the head it found at hello): entries are whole row images, so the last one is the row's state at the batch's end, and it
     * keeps its own position for the client's pending overlay. A row updated a thousand times while a
     * client was away costs it one entry per batch, not a thousand.
     */
    static List<String> compact(List<String> entries, List<String> keys) {
        Map<String, Integer> last = new HashMap<>(keys.size() * 2);
        for (int i = 0; i < keys.size(); i++) {
            last.put(keys.get(i), i);
        }
        if (last.size() == entries.size()) {
            return entries;
        }
        List<String> out = new ArrayList<>(last.size());
        for (int i = 0; i < entries.size(); i++) {
            if (last.get(keys.get(i)) == i) {
                out.add(entries.get(i));
            }
        }
        return out;
    }

    private void sendPartial() throws SQLException {
        while (partialIndex >= partial.entries().size() && partial.more()) {
            // A commit too big to read at once: its next part, from PostgreSQL.
            FeedCommit next = feed.readRest(partial);
            if (next == null) {
                // Pruned between two parts: the client has part of it and can only resync.
                partial = null;
                close(CloseCodes.GOING_AWAY, "history pruned: reconnect to resync");
                return;
            }
            if (scope != null) {
                if (touchesMembership(next) && feed.inTransaction(scope::reloadMemberships)) {
                    resyncScope();
                    return;
                }
                next = visible(next);
            }
            partial = next;
            partialIndex = 0;
        }
        List<String> all = partial.entries();
        List<String> part = new ArrayList<>();
        long bytes = 0;
        while (partialIndex < all.size() && part.size() < MAX_ENTRIES
                && (part.isEmpty() || bytes + all.get(partialIndex).length() <= MAX_BYTES)) {
            String e = all.get(partialIndex++);
            part.add(e);
            bytes += e.length();
        }
        boolean last = partialIndex >= all.size() && !partial.more();
        long through = last ? partial.seq() : 0;
        send(FeedJson.changes(part, through, 0));
        metrics.sent(part.size());
        window.sent(through);
        if (last) {
            sentThrough = partial.seq();
            partial = null;
        }
    }

    private void databaseFailure(SQLException e) {
        log.warn("node {}: database error (SQLState {}); closing so that the client reconnects", node,
                PgErrors.sqlState(e));
        log.debug("node {}: database error", node, e);
        close(CloseCodes.INTERNAL_ERROR, "relay database error");
    }

    private void send(String text) {
        if (!closed) {
            out.send(text);
        }
    }

    /** Closes the connection (from any thread). */
    private void close(int code, String reason) {
        closed = true;
        out.close(code, CloseCodes.reason(reason));
        lane.submit(this::end);
    }

    /** Releases what the session holds; runs on the lane, once. */
    private void end() {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        feed.removeListener(this);
        if (snapshot != null) {
            snapshot.close();
            snapshot = null;
        }
        backlog.clear();
        partial = null;
        onEnd.run();
    }
}
