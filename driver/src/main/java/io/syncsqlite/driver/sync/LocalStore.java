package io.syncsqlite.driver.sync;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.driver.capture.Affinity;
import io.syncsqlite.driver.capture.Outbox;
import io.syncsqlite.driver.capture.OutboxDecoder;
import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.driver.capture.TriggerSql;
import io.syncsqlite.protocol.ChangeKind;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Identifiers;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.HybridClock;
import io.syncsqlite.protocol.JsonTrees;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.protocol.RowChange;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.function.Supplier;

/**
 * The sync client's side of the SQLite file: reads stamped transactions from the outbox, records
 * acknowledgements, applies the relay's feed, and prunes what is settled.
 *
 * <p>Every method runs in one SQLite transaction on the sync client's own connection, so a crash at any
 * point leaves the file consistent: the feed cursor moves in the same transaction as the rows it covers,
 * and outbox rows are removed only once their transaction's result has been applied from the feed.
 *
 * <p>Not thread-safe: owned by the sync client's thread.
 */
final class LocalStore implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(LocalStore.class.getName());

    private final Connection db;
    private final OutboxDecoder decoder;
    private final HybridClock clock;
    private final Supplier<Map<String, TableInfo>> tables;
    private final Map<String, PreparedStatement> statements = new HashMap<>();
    /**
     * What applying feed rows to a table needs, worked out once per table rather than per row (the SQL
     * text and the name maps showed as a third of the sync thread's time during an initial sync). Keyed
     * by identity: the catalog hands out the same {@link TableInfo} until the schema changes.
     */
    private final Map<TableInfo, Shape> shapes = new IdentityHashMap<>();

    /** @param clipped local columns by the lower-case names PostgreSQL cut to 63 bytes, for those it cut */
    private record Shape(Map<String, TableInfo.Column> byLower, Set<String> pkLower, String delete,
                         Map<List<Object>, String> upserts, Map<String, TableInfo.Column> clipped, LastUpsert last) {
    }

    /**
     * The upsert a table's last feed row used. Rows of a batch almost always have the same columns and nothing
     * pending, so comparing with the last one by identity skips hashing the shape's key (a list of columns and a
     * set of names) for each row, about a twentieth of the sync thread's Java time in an initial sync.
     */
    private static final class LastUpsert {
        String verb;
        List<TableInfo.Column> cols = List.of();
        Set<String> keep;
        String sql;

        boolean matches(String verb, List<TableInfo.Column> cols, Set<String> keep) {
            if (!verb.equals(this.verb) || this.keep != keep || this.cols.size() != cols.size()) {
                return false;
            }
            for (int i = 0; i < cols.size(); i++) {
                if (this.cols.get(i) != cols.get(i)) {
                    return false;
                }
            }
            return true;
        }
    }
    private final Set<String> counters;
    private final WriteGate gate;
    /** The pending overlay kept across feed batches (see {@link #overlay()}); null: build it from the outbox. */
    private PendingOverlay pending;
    /** The outbox seq of the last transaction marker {@link #pending} includes. */
    private long pendingThrough;
    /**
     * The newest transaction marker this store has acknowledged: every marker at or below it is
     * acknowledged (acknowledgements are cumulative), so the next acknowledgement only looks above it;
     * without this bound each one scanned every row still waiting for its feed echo, tens of thousands
     * during a catch-up. A marker, not the acknowledged id: a Welcome may name an id this file has no
     * marker for (its stamp lost), and a marker stamped later is always above every existing one (a stamp
     * takes the outbox's last row), so it stays above the bound. 0: none yet.
     */
    private long ackedThrough;
    /**
     * Whether this connection commits without syncing the WAL (SyncNode lowered it to NORMAL): the few
     * transactions that record what the relay cannot give back are then committed with FULL ({@link #durably}).
     */
    private boolean relaxed;
    /** PostgreSQL's column types for the conversions of {@link PgTypes}; sync thread only. */
    private PgTypes pgTypes = PgTypes.NONE;
    /** During a resync snapshot: the keys of every row it brought; null otherwise. */
    private Set<String> resyncSeen;

    LocalStore(Connection db, HybridClock clock, Supplier<Map<String, TableInfo>> tables) {
        this(db, clock, tables, Set.of());
    }

    /** @param counters declared counter columns, lower-case {@code table.column} ({@code sync.counters}) */
    LocalStore(Connection db, HybridClock clock, Supplier<Map<String, TableInfo>> tables, Set<String> counters) {
        this(db, clock, tables, counters, WriteGate.NONE);
    }

    /** Brackets each of this store's write transactions (see {@link SyncNode}'s application transactions). */
    interface WriteGate {
        WriteGate NONE = new WriteGate() {
            @Override
            public void enter() {
            }

            @Override
            public void exit() {
            }
        };

        void enter();

        void exit();
    }

    /** @param gate brackets each write transaction; the node uses it to keep out of application transactions */
    LocalStore(Connection db, HybridClock clock, Supplier<Map<String, TableInfo>> tables, Set<String> counters,
               WriteGate gate) {
        this.db = db;
        this.decoder = new OutboxDecoder(db);
        this.clock = clock;
        this.tables = tables;
        this.counters = counters;
        this.gate = gate;
    }

    /**
     * Records whether this process's sync client is connected, for the processes that leave the file's sync
     * to it ({@link SyncLock}): their {@code awaitSynced} needs a connected holder, not only a settled outbox.
     */
    void markOnline(boolean online) throws SQLException {
        inTransaction(() -> {
            setState(ONLINE, online ? 1 : 0);
            return null;
        });
    }

    /** Whether the process syncing the file says it is connected ({@link #markOnline}). */
    boolean holderOnline() throws SQLException {
        return stateLong(ONLINE) == 1;
    }

    private static final String ONLINE = "online";

    /**
     * Moves this node's clock past the one the file records, which another process syncing the file
     * advances as it applies the feed ({@link SyncLock}): writes made here then order after what it applied.
     */
    void observeFileClock() throws SQLException {
        clock.observe(stateLong("hlc"));
    }

    long cursor() throws SQLException {
        return stateLong("cursor");
    }

    /** Whether the newest outbox rows have no stamp (written without the driver, or a deferred stamp). */
    private boolean hasUnstamped() throws SQLException {
        try (Statement st = db.createStatement();
             ResultSet rs = st.executeQuery("SELECT hlc IS NULL FROM _sync_outbox ORDER BY seq DESC LIMIT 1")) {
            return rs.next() && rs.getBoolean(1);
        }
    }

    /** Stamps rows written without the driver (another program, or a write whose stamp was deferred). */
    void stampOrphans() throws SQLException {
        if (hasUnstamped()) {
            // A stamp is this node's own decision (the transaction's id and time), which the relay keeps.
            durably(() -> {
                try (ResultSet rs = prepared(Outbox.NEWEST_CLOCK).executeQuery()) {
                    rs.next();
                    clock.observe(rs.getLong(1)); // after another process's stamps too
                }
                PreparedStatement ps = prepared(Outbox.STAMP);
                ps.setLong(1, clock.now());
                ps.executeUpdate();
                return null;
            });
        }
    }

    /** The sync client's connection commits without syncing the WAL (see {@link #durably}). */
    void relaxed(boolean relaxed) {
        this.relaxed = relaxed;
    }

    /**
     * Applies a welcome: every transaction up to {@code appliedTx} is applied on the relay. Their real feed
     * positions are unknown (only the last one's, {@code appliedSeq}), and holding their columns until
     * {@code appliedSeq} could hide a later write by someone else forever. They are settled at the current
     * cursor instead: the relay sends an acknowledgement before the feed that contains it on the same
     * connection, so their results all lie ahead of the cursor and will be applied as they come (at worst
     * an older server value shows briefly before them).
     */
    void acknowledgeOnWelcome(long appliedTx, long appliedSeq) throws SQLException {
        acknowledge(appliedTx, Math.min(appliedSeq, cursor()));
    }

    /** Marks every transaction up to {@code tx} acknowledged at {@code seq} (from Welcome or Ack). */
    void acknowledge(long tx, long seq) throws SQLException {
        long newest = inTransaction(() -> {
            PreparedStatement ps = prepared("UPDATE _sync_outbox SET ack = ? WHERE seq > ? AND seq <= ?"
                    + " AND hlc IS NOT NULL AND ack IS NULL RETURNING seq");
            ps.setLong(1, seq);
            ps.setLong(2, ackedThrough);
            ps.setLong(3, tx);
            long marked = ackedThrough;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    marked = Math.max(marked, rs.getLong(1));
                }
            }
            pruneSettled();
            return marked;
        });
        ackedThrough = newest;
        if (pending != null) {
            pending.acknowledge(tx, seq);
            pending.prune(cursor());
        }
    }

    /**
     * Unacknowledged transactions after {@code afterTx}, up to about {@code maxRows} row changes. A single
     * transaction larger than that is returned whole, alone: a transaction is never split.
     *
     * @param withSeen give each transaction the feed position its writer had seen ({@link ClientTx#seen}),
     *                 where the file recorded it; only for a relay that reads it
     */
    List<ClientTx> pendingAfter(long afterTx, int maxRows, boolean withSeen) throws SQLException {
        List<ClientTx> out = new ArrayList<>();
        List<RowChange> changes = new ArrayList<>();
        int rows = 0;
        // No LIMIT: reading stops in Java after maxRows, or at the end of the first transaction.
        PreparedStatement ps = prepared("SELECT seq, hlc, ack, " + OutboxDecoder.COLUMNS + " FROM _sync_outbox"
                + " WHERE seq > ? ORDER BY seq");
        ps.setLong(1, afterTx);
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                if (rs.getInt(5) != Outbox.OP_NONE) {
                    OutboxDecoder.Captured c = decoder.decode(rs, 4);
                    toServer(c.table(), c.pk());
                    toServer(c.table(), c.values());
                    changes.add(rowChange(c));
                }
                if (rs.getObject(2) == null) {
                    continue;
                }
                // A marker: the transaction ends here. Its clock may be another process's on this file: this
                // node's next stamps follow it.
                clock.observe(rs.getLong(2));
                if (rs.getObject(3) == null) {
                    if (!out.isEmpty() && rows + changes.size() > maxRows) {
                        break;
                    }
                    rows += changes.size();
                    out.add(new ClientTx(rs.getLong(1), rs.getLong(2), changes, withSeen ? seen(rs.getLong(1)) : null));
                }
                changes = new ArrayList<>();
                if (rows >= maxRows) {
                    break;
                }
            }
        }
        return out;
    }

    /**
     * The feed position transaction {@code tx} was written with: the cursor of the last apply before its
     * rows (all of a transaction's rows lie on one side of an apply, which holds the write lock). Null when
     * the file has no record from before it (a transaction made before this driver recorded positions).
     */
    private Long seen(long tx) throws SQLException {
        PreparedStatement ps = prepared("SELECT cursor FROM _sync_seen WHERE seq < ? ORDER BY seq DESC LIMIT 1");
        ps.setLong(1, tx);
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getLong(1) : null;
        }
    }

    private void toServer(String table, ObjectNode values) {
        if (values != null) {
            pgTypes.toServer(table, values);
        }
    }

    /** PostgreSQL's column types, as the relay of the current connection sent them ({@link PgTypes#NONE}: none). */
    void columnTypes(PgTypes types) {
        this.pgTypes = types;
    }

    PgTypes columnTypes() {
        return pgTypes;
    }

    private RowChange rowChange(OutboxDecoder.Captured c) throws SQLException {
        String tbl = c.table();
        ObjectNode pkNode = c.pk();
        ObjectNode added = c.deltas() == null ? MessageCodec.JSON.createObjectNode() : OutboxDecoder.object(c.deltas());
        String changed = c.changed();
        if (c.op() == Outbox.OP_INSERT && !counters.isEmpty()) {
            // A declared counter's inserted value is an amount: if another client created the row first,
            // the relay adds it rather than resetting the counter.
            String prefix = tbl.toLowerCase(Locale.ROOT) + ".";
            for (Map.Entry<String, JsonNode> v : c.values().properties()) {
                if (v.getValue().isNumber() && !added.has(v.getKey())
                        && counters.contains(prefix + v.getKey().toLowerCase(Locale.ROOT))) {
                    added.set(v.getKey(), v.getValue());
                }
            }
        }
        return switch (c.op()) {
            case Outbox.OP_INSERT -> new RowChange(tbl, ChangeKind.INSERT, pkNode, c.values(), added);
            case Outbox.OP_UPDATE -> {
                ObjectNode all = c.values();
                ObjectNode only = MessageCodec.JSON.createObjectNode();
                int i = 0;
                for (Map.Entry<String, JsonNode> e : all.properties()) {
                    int index = i++;
                    if (changed != null && index < changed.length() && changed.charAt(index) == '1') {
                        only.set(e.getKey(), e.getValue());
                    }
                }
                // Amounts only for counters this update changed: a row of the same table that an application's
                // trigger wrote during a counter statement carries the statement's amounts, not its own.
                added.properties().removeIf(d -> only.properties().stream().noneMatch(v -> v.getKey().equalsIgnoreCase(d.getKey())));
                yield new RowChange(tbl, ChangeKind.UPDATE, pkNode, only, added);
            }
            case Outbox.OP_DELETE -> new RowChange(tbl, ChangeKind.DELETE, pkNode, MessageCodec.JSON.createObjectNode());
            default -> throw new SQLException("unknown outbox op " + c.op());
        };
    }

    /**
     * Applies feed entries in one transaction, keeping pending local columns, and moves the cursor to
     * {@code through} (if it is larger). Snapshot entries (position 0) stand for the state at
     * {@code snapshotBase}, the feed head the relay announced before taking the snapshot: writes
     * acknowledged at or below it are already in the snapshot.
     *
     * @return the rows that changed locally, for listeners
     */
    List<RemoteChange> applyFeed(List<FeedEntry> entries, long through) throws SQLException {
        return applyFeed(entries, through, 0);
    }

    List<RemoteChange> applyFeed(List<FeedEntry> entries, long through, long snapshotBase) throws SQLException {
        return applyFeed(entries, through, snapshotBase, false);
    }

    /**
     * @param durable commit with the WAL synced even on a relaxed connection: the batch that completes a
     *                snapshot, after which the relay considers the client's scope delivered and will not
     *                send it again
     */
    List<RemoteChange> applyFeed(List<FeedEntry> entries, long through, long snapshotBase, boolean durable)
            throws SQLException {
        List<RemoteChange> touched = applyFeedInTransaction(entries, through, snapshotBase, durable);
        if (pending != null) {
            pending.prune(cursor());
        }
        return touched;
    }

    private List<RemoteChange> applyFeedInTransaction(List<FeedEntry> entries, long through, long snapshotBase,
                                                      boolean durable) throws SQLException {
        Work<List<RemoteChange>> work = () -> {
            List<RemoteChange> touched = new ArrayList<>();
            long echoFrom = maxOutboxSeq();
            PendingOverlay overlay = entries.isEmpty() ? new PendingOverlay() : overlay();
            for (FeedEntry e : entries) {
                clock.observe(e.hlc());
                TableInfo t = localTable(e.table());
                if (t != null && applyEntry(t, e, e.seq() == 0 ? snapshotBase : e.seq(), overlay)) {
                    touched.add(new RemoteChange(t.name(), e.pk(), e.kind() == FeedKind.DELETE));
                }
            }
            // The capture triggers skip an apply (TriggerSql.NOT_APPLYING). Triggers that do not, written into the
            // file by an older syncsqlite sharing it, would capture it: those rows must not travel back to the relay.
            PreparedStatement del = prepared("DELETE FROM _sync_outbox WHERE seq > ?");
            del.setLong(1, echoFrom);
            del.executeUpdate();
            long cursor = cursor();
            if (cursor == 0 && resyncSeen == null) {
                // A plain first snapshot: once part of it is in the file, a cut-off must be followed by a resync
                // (a row the server deletes before the next one would stay otherwise); done, it needs none.
                if (through > 0) {
                    deleteState(Outbox.RESYNC_PENDING);
                } else if (!entries.isEmpty() && stateLong(Outbox.RESYNC_PENDING) == 0) {
                    setState(Outbox.RESYNC_PENDING, 1);
                }
            }
            if (through > cursor) {
                setState("cursor", through);
            }
            if (through > 0) {
                // Every local transaction from here on is written with the feed applied up to the cursor:
                // the outbox rows above echoFrom are this apply's own and were just removed.
                PreparedStatement seen = prepared("INSERT INTO _sync_seen (seq, cursor) VALUES (?, ?)"
                        + " ON CONFLICT (seq) DO UPDATE SET cursor = max(cursor, excluded.cursor)");
                seen.setLong(1, echoFrom);
                seen.setLong(2, Math.max(cursor, through));
                seen.executeUpdate();
            }
            // What this node has seen must survive a restart, or a later write could be stamped earlier.
            setState("hlc", clock.last());
            pruneSettled();
            return touched;
        };
        return durable ? durably(applying(work)) : inTransaction(applying(work));
    }

    /**
     * {@code work}, which writes synced tables on behalf of other nodes, with a row in
     * {@link Outbox#APPLYING} for its duration: only this transaction sees it, so an application trigger
     * that writes synced tables can skip these writes ({@code WHEN NOT EXISTS (SELECT 1 FROM
     * _sync_applying)}). Its writes were made where the change was made and arrive in the feed too; made
     * here again, they would stay here alone. The capture triggers skip these transactions the same way.
     */
    private <T> Work<T> applying(Work<T> work) {
        return () -> {
            prepared("INSERT INTO " + Outbox.APPLYING + " VALUES (1)").executeUpdate();
            T result = work.run();
            prepared("DELETE FROM " + Outbox.APPLYING).executeUpdate();
            return result;
        };
    }

    /** The file's node id ({@code _sync_state}). */
    String nodeId() throws SQLException {
        try (ResultSet rs = prepared("SELECT v FROM _sync_state WHERE k = 'node'").executeQuery()) {
            if (!rs.next()) {
                throw new SQLException("the file has no node id", "SY003");
            }
            return rs.getString(1);
        }
    }

    /**
     * Transactions stamped here and waiting for their answer with ids after {@code after} and at most
     * {@code through}, the first {@code limit} in id order: {id, clock} each (for {@link
     * io.syncsqlite.protocol.Message.ClockCheck}).
     */
    List<long[]> waitingThrough(long through, long after, int limit) throws SQLException {
        PreparedStatement ps = prepared("SELECT seq, hlc FROM _sync_outbox WHERE seq > ? AND seq <= ?"
                + " AND hlc IS NOT NULL AND ack IS NULL ORDER BY seq LIMIT ?");
        ps.setLong(1, after);
        ps.setLong(2, through);
        ps.setInt(3, limit);
        List<long[]> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(new long[] {rs.getLong(1), rs.getLong(2)});
            }
        }
        return out;
    }

    /**
     * The largest transaction id this file ever wrote: the outbox keeps its newest settled marker (also a
     * rejected one's), so its largest row number is never below it.
     */
    long largestTxId() throws SQLException {
        try (ResultSet rs = prepared("SELECT coalesce(max(seq), 0) FROM _sync_outbox").executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * Whether rows written without a stamp (by another program) lie at or below {@code tx}: in a file that
     * stamped {@code tx} itself, every unstamped row comes after it. Such rows in a copy were stamped by the
     * original, as one of its transactions up to {@code tx}.
     */
    boolean unstampedThrough(long tx) throws SQLException {
        PreparedStatement ps = prepared("SELECT 1 FROM _sync_outbox WHERE seq <= ? AND hlc IS NULL AND seq >"
                + " coalesce((SELECT max(seq) FROM _sync_outbox WHERE hlc IS NOT NULL), 0) LIMIT 1");
        ps.setLong(1, tx);
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next();
        }
    }

    /**
     * Drops the unstamped rows at or below {@code tx}, which the node applied as its own (see {@link
     * #unstampedThrough}): stamped here, they would go out again as this file's, with another clock.
     */
    void dropUnstampedThrough(long tx) throws SQLException {
        try {
            inTransaction(() -> {
                PreparedStatement ps = prepared("DELETE FROM _sync_outbox WHERE seq <= ? AND hlc IS NULL AND seq >"
                        + " coalesce((SELECT max(seq) FROM _sync_outbox WHERE hlc IS NOT NULL), 0)");
                ps.setLong(1, tx);
                ps.executeUpdate();
                return null;
            });
        } finally {
            pending = null; // rebuilt from the outbox
        }
    }

    /**
     * Gives the file a new node id, recording the old one ({@code node_before:<id>}, so that a {@code
     * sync.node} naming it still opens the file), and drops the integer key ranges reserved for the old one.
     *
     * @return the new id
     */
    String takeNewNodeId(String old) throws SQLException {
        String fresh = java.util.UUID.randomUUID().toString();
        inTransaction(() -> {
            PreparedStatement set = prepared("UPDATE _sync_state SET v = ? WHERE k = 'node'");
            set.setString(1, fresh);
            set.executeUpdate();
            PreparedStatement before = prepared("INSERT OR REPLACE INTO _sync_state (k, v) VALUES (?, ?)");
            before.setString(1, NODE_BEFORE + old);
            before.setString(2, fresh);
            before.executeUpdate();
            prepared("DELETE FROM _sync_idblock").executeUpdate();
            return null;
        });
        return fresh;
    }

    /** The {@code _sync_state} key prefix of a node id this file had before it took its own. */
    static final String NODE_BEFORE = "node_before:";

    /**
     * Records a rejection this process handled, for the other processes on the file ({@link
     * #rejectionsAfter}); keeps the newest 1,000.
     */
    void recordRejection(Rejection r) throws SQLException {
        inTransaction(() -> {
            insertRejection(r);
            return null;
        });
    }

    /** {@link #recordRejection}'s writes, in the caller's transaction. */
    private void insertRejection(Rejection r) throws SQLException {
        String changes;
        try {
            changes = MessageCodec.JSON.writeValueAsString(r.changes());
        } catch (JsonProcessingException e) {
            throw new SQLException("cannot encode a rejection's changes", "XX000", e);
        }
        PreparedStatement ps = prepared("INSERT OR REPLACE INTO _sync_rejected (tx, sql_state, reason, changes)"
                + " VALUES (?, ?, ?, ?)");
        ps.setLong(1, r.tx());
        ps.setString(2, r.sqlState() == null ? "" : r.sqlState());
        ps.setString(3, r.reason() == null ? "" : r.reason());
        ps.setString(4, changes);
        ps.executeUpdate();
        prepared("DELETE FROM _sync_rejected WHERE tx < (SELECT tx FROM _sync_rejected ORDER BY tx DESC"
                + " LIMIT 1 OFFSET 999)").executeUpdate();
    }

    /** The rejections the syncing process recorded for transactions after {@code tx}, in order. */
    List<Rejection> rejectionsAfter(long tx) throws SQLException {
        PreparedStatement ps = prepared("SELECT tx, sql_state, reason, changes FROM _sync_rejected WHERE tx > ?"
                + " ORDER BY tx");
        ps.setLong(1, tx);
        List<Rejection> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                List<RowChange> changes;
                try {
                    changes = MessageCodec.JSON.readValue(rs.getString(4), ROW_CHANGES);
                } catch (JsonProcessingException e) {
                    throw new SQLException("unreadable recorded rejection " + rs.getLong(1), "XX000", e);
                }
                out.add(new Rejection(rs.getLong(1), rs.getString(2), rs.getString(3), changes));
            }
        }
        return out;
    }

    private static final com.fasterxml.jackson.core.type.TypeReference<List<RowChange>> ROW_CHANGES =
            new com.fasterxml.jackson.core.type.TypeReference<>() { };

    /** Whether transaction {@code tx} is stamped here and neither acknowledged nor rejected yet. */
    boolean awaitsAnswer(long tx) throws SQLException {
        PreparedStatement ps = prepared("SELECT 1 FROM _sync_outbox WHERE seq = ? AND hlc IS NOT NULL AND ack IS NULL");
        ps.setLong(1, tx);
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next();
        }
    }

    /**
     * Reverts a rejected transaction: drops its outbox rows and restores the server's rows.
     *
     * @return the refused row changes, as they were captured
     */
    List<RowChange> reject(long tx, List<FeedEntry> current) throws SQLException {
        try {
            return rejectInTransaction(tx, current, null);
        } finally {
            pending = null; // the rejected transaction's rows are gone from the outbox: rebuild
        }
    }

    /**
     * As {@link #reject(long, List)}, and records the rejection ({@link #recordRejection}) in the same transaction:
     * recorded after the revert's commit, a process killed in between had reverted the transaction and told nobody,
     * there or in another process on the file, since a reverted transaction no longer awaits its answer (a fault
     * review's reading).
     */
    Rejection reject(long tx, String sqlState, String reason, List<FeedEntry> current) throws SQLException {
        try {
            Rejection[] out = new Rejection[1];
            rejectInTransaction(tx, current, refused -> {
                out[0] = new Rejection(tx, sqlState, reason, refused);
                insertRejection(out[0]);
            });
            return out[0];
        } finally {
            pending = null;
        }
    }

    /** Work done with a rejection's refused changes, inside its revert's transaction. */
    private interface Refused {
        void accept(List<RowChange> refused) throws SQLException;
    }

    private List<RowChange> rejectInTransaction(long tx, List<FeedEntry> current, Refused record) throws SQLException {
        return inTransaction(applying(() -> {
            PreparedStatement prev = prepared("SELECT coalesce(max(seq), 0) FROM _sync_outbox WHERE seq < ? AND hlc IS NOT NULL");
            prev.setLong(1, tx);
            long low;
            try (ResultSet rs = prev.executeQuery()) {
                low = rs.next() ? rs.getLong(1) : 0;
            }
            List<RowChange> refused = new ArrayList<>();
            PreparedStatement rows = prepared("SELECT " + OutboxDecoder.COLUMNS + " FROM _sync_outbox"
                    + " WHERE seq > ? AND seq <= ? AND op <> 0 ORDER BY seq");
            rows.setLong(1, low);
            rows.setLong(2, tx);
            try (ResultSet rs = rows.executeQuery()) {
                while (rs.next()) {
                    refused.add(rowChange(decoder.decode(rs, 1)));
                }
            }
            PreparedStatement del = prepared("DELETE FROM _sync_outbox WHERE seq > ? AND seq < ?");
            del.setLong(1, low);
            del.setLong(2, tx);
            del.executeUpdate();
            // The marker stays, emptied and settled, so transaction ids keep growing past it.
            PreparedStatement mark = prepared("UPDATE _sync_outbox SET " + Outbox.EMPTY_ANCHOR + ", ack = ? WHERE seq = ?");
            mark.setLong(1, cursor());
            mark.setLong(2, tx);
            mark.executeUpdate();
            long echoFrom = maxOutboxSeq();
            // The cached overlay may hold the refused transaction's columns as pending (a feed batch built it while
            // they were in the outbox): kept over the server's row, they were left as refused. Built again without them.
            pending = null;
            PendingOverlay overlay = overlay();
            for (FeedEntry e : current) {
                TableInfo t = localTable(e.table());
                if (t != null) {
                    applyEntry(t, e, 0, overlay);
                }
            }
            PreparedStatement delEcho = prepared("DELETE FROM _sync_outbox WHERE seq > ?");
            delEcho.setLong(1, echoFrom);
            delEcho.executeUpdate();
            pruneSettled();
            if (record != null) {
                record.accept(refused);
            }
            return refused;
        }));
    }

    /** Applies one feed row to {@code t}, the local table it names; whether a local row changed. */
    private boolean applyEntry(TableInfo t, FeedEntry e, long position, PendingOverlay overlay) throws SQLException {
        if (!t.hasPrimaryKey()) {
            return false;
        }
        Shape shape = shape(t);
        Map<String, TableInfo.Column> clipped = shape.clipped();
        if (!clipped.isEmpty()) {
            localNames(e.pk(), clipped);
            if (e.row() != null) {
                localNames(e.row(), clipped);
            }
        }
        if (pgTypes != PgTypes.NONE) {
            pgTypes.toLocal(t.name(), e.pk(), shape.byLower(), shape.pkLower());
            if (e.row() != null) {
                pgTypes.toLocal(t.name(), e.row(), shape.byLower(), shape.pkLower());
            }
        }
        String key = RowKey.of(t, e.pk());
        if (resyncSeen != null) {
            resyncSeen.add(key);
        }
        PendingOverlay.RowPending pending = overlay.at(key, position);
        if (e.kind() == FeedKind.DELETE) {
            if (pending.any()) {
                return false;
            }
            PreparedStatement ps = prepared(shape.delete());
            bindKey(ps, t, shape.byLower(), e.pk(), 1);
            return ps.executeUpdate() > 0;
        }
        if (pending.any() && pending.lastOp() == Outbox.OP_DELETE) {
            return false;
        }
        Map<String, TableInfo.Column> local = shape.byLower();
        List<TableInfo.Column> cols = new ArrayList<>();
        List<JsonNode> values = new ArrayList<>();
        Set<String> pkLower = shape.pkLower();
        for (Map.Entry<String, JsonNode> f : e.row().properties()) {
            String lower = f.getKey().toLowerCase(Locale.ROOT);
            TableInfo.Column c = local.get(lower);
            if (c == null) {
                continue;
            }
            cols.add(c);
            java.math.BigDecimal added = pending.columns().contains(lower) ? null : pending.deltas().get(lower);
            if (added != null && (f.getValue().isNumber() || f.getValue().isNull())) {
                // A counter with local increments the server has not counted yet: show both.
                java.math.BigDecimal server = f.getValue().isNull() ? java.math.BigDecimal.ZERO : f.getValue().decimalValue();
                values.add(MessageCodec.JSON.getNodeFactory().numberNode(server.add(added)));
            } else {
                values.add(f.getValue());
            }
        }
        // Every column goes into VALUES (a row that is new here must satisfy NOT NULL with the server's
        // values); columns with pending local writes are left out of the DO UPDATE, so they keep the
        // local value until the relay's merged result for them arrives.
        Set<String> keep = pkLower;
        if (!pending.columns().isEmpty()) {
            keep = new HashSet<>(pkLower);
            keep.addAll(pending.columns());
        }
        // counter columns are not kept: their value above is the server's plus the pending increments
        PreparedStatement ps = prepared(upsertSql(t, shape, cols, keep, "INSERT"));
        for (int i = 0; i < cols.size(); i++) {
            bind(ps, i + 1, cols.get(i), values.get(i));
        }
        try {
            return ps.executeUpdate() > 0;
        } catch (SQLException ex) {
            if (!isConstraint(ex)) {
                throw ex;
            }
            // A pending local row collides with the server's (a UNIQUE column). The server is the truth;
            // the local row's own push will be rejected and reverted.
            LOG.log(System.Logger.Level.DEBUG, "replacing a local row that conflicts with the server in {0}", t.name());
            PreparedStatement rp = prepared(upsertSql(t, shape, cols, pkLower, "INSERT OR REPLACE"));
            for (int i = 0; i < cols.size(); i++) {
                bind(rp, i + 1, cols.get(i), values.get(i));
            }
            return rp.executeUpdate() > 0;
        }
    }

    /**
     * The local table the feed means by {@code name}: by name, ignoring case, or, for a name PostgreSQL cut
     * to 63 bytes, the local table whose name it cut ({@link Identifiers}).
     */
    private TableInfo localTable(String name) {
        Map<String, TableInfo> all = tables.get();
        TableInfo t = all.get(name.toLowerCase(Locale.ROOT));
        if (t == null && Identifiers.maybeClipped(name)) {
            for (TableInfo candidate : all.values()) {
                if (Identifiers.clip(candidate.name()).equalsIgnoreCase(name)) {
                    return candidate;
                }
            }
        }
        return t;
    }

    /** Renames the fields of {@code values} that carry a column name PostgreSQL cut to the local column's. */
    private static void localNames(ObjectNode values, Map<String, TableInfo.Column> clipped) {
        List<String> cut = new ArrayList<>();
        values.fieldNames().forEachRemaining(f -> {
            if (clipped.containsKey(f.toLowerCase(Locale.ROOT))) {
                cut.add(f);
            }
        });
        for (String f : cut) {
            values.set(clipped.get(f.toLowerCase(Locale.ROOT)).name(), values.remove(f));
        }
    }

    private static boolean isConstraint(SQLException ex) {
        return ex instanceof org.sqlite.SQLiteException se
                && (se.getResultCode().code & 0xff) == org.sqlite.SQLiteErrorCode.SQLITE_CONSTRAINT.code;
    }

    private Shape shape(TableInfo t) {
        Shape shape = shapes.get(t);
        if (shape == null) {
            if (shapes.size() > 64) {
                shapes.clear(); // tables replaced by schema changes
            }
            Set<String> pkLower = new HashSet<>();
            t.pk().forEach(p -> pkLower.add(p.toLowerCase(Locale.ROOT)));
            Map<String, TableInfo.Column> clipped = new HashMap<>();
            for (TableInfo.Column c : t.columns()) {
                String cut = Identifiers.clip(c.name());
                if (!cut.equals(c.name())) {
                    clipped.put(cut.toLowerCase(Locale.ROOT), c);
                }
            }
            shape = new Shape(t.columnsByLowerName(), Set.copyOf(pkLower), deleteSql(t), new HashMap<>(), Map.copyOf(clipped),
                    new LastUpsert());
            shapes.put(t, shape);
        }
        return shape;
    }

    /** {@link #upsertSql(TableInfo, List, Set, String)}, the same String for the same shape of row. */
    private String upsertSql(TableInfo t, Shape shape, List<TableInfo.Column> cols, Set<String> keep, String verb) {
        LastUpsert last = shape.last();
        if (!last.matches(verb, cols, keep)) {
            last.sql = shape.upserts().computeIfAbsent(List.of(verb, cols, keep),
                    k -> upsertSql(t, cols, keep, verb));
            last.verb = verb;
            last.cols = cols;
            last.keep = keep;
        }
        return last.sql;
    }

    /** INSERT of {@code cols}; on a key conflict, updates every column except those in {@code keep}. */
    private String upsertSql(TableInfo t, List<TableInfo.Column> cols, Set<String> keep, String verb) {
        StringJoiner names = new StringJoiner(", ", "(", ")");
        StringJoiner marks = new StringJoiner(", ", "(", ")");
        StringJoiner sets = new StringJoiner(", ");
        StringJoiner current = new StringJoiner(", ", "(", ")");
        StringJoiner incoming = new StringJoiner(", ", "(", ")");
        String table = TriggerSql.quote(t.name());
        for (TableInfo.Column c : cols) {
            String col = TriggerSql.quote(c.name());
            names.add(col);
            marks.add("?");
            if (!keep.contains(c.name().toLowerCase(Locale.ROOT))) {
                sets.add(col + " = excluded." + col);
                // Byte for byte and storage class too: the column's own collation (NOCASE, RTRIM) and
                // SQLite's numeric comparison (1 = 1.0 in an untyped column) would call a real change equal.
                current.add(table + "." + col + " COLLATE BINARY").add("typeof(" + table + "." + col + ")");
                incoming.add("excluded." + col).add("typeof(excluded." + col + ")");
            }
        }
        String sql = verb + " INTO " + table + " " + names + " VALUES " + marks;
        if (verb.equals("INSERT")) {
            StringJoiner conflict = new StringJoiner(", ", "(", ")");
            t.pk().forEach(p -> conflict.add(TriggerSql.quote(p)));
            // A row that already holds these values is not written again: most of the feed a client
            // receives while it uploads is the echo of its own writes, and rewriting an identical row
            // costs a page write and a trigger evaluation for nothing.
            sql += " ON CONFLICT " + conflict + (sets.length() == 0 ? " DO NOTHING"
                    : " DO UPDATE SET " + sets + " WHERE " + current + " IS NOT " + incoming);
        }
        return sql;
    }

    private static String deleteSql(TableInfo t) {
        StringJoiner where = new StringJoiner(" AND ");
        t.pk().forEach(p -> where.add(TriggerSql.quote(p) + " = ?"));
        return "DELETE FROM " + TriggerSql.quote(t.name()) + " WHERE " + where;
    }

    private static void bindKey(PreparedStatement ps, TableInfo t, Map<String, TableInfo.Column> local, ObjectNode pk,
                                int from) throws SQLException {
        int i = from;
        for (String p : t.pk()) {
            JsonNode v = pk.get(p);
            if (v == null) {
                for (Map.Entry<String, JsonNode> f : pk.properties()) {
                    if (f.getKey().equalsIgnoreCase(p)) {
                        v = f.getValue();
                    }
                }
            }
            bind(ps, i++, local.get(p.toLowerCase(Locale.ROOT)), v);
        }
    }

    /** Binds a JSON value the way the column's affinity stores it. */
    static void bind(PreparedStatement ps, int index, TableInfo.Column c, JsonNode v) throws SQLException {
        if (v == null || v.isNull()) {
            ps.setNull(index, java.sql.Types.NULL);
        } else if (v.isBoolean()) {
            ps.setInt(index, v.booleanValue() ? 1 : 0);
        } else if (v.isIntegralNumber()) {
            if (v.canConvertToLong()) {
                ps.setLong(index, v.longValue());
            } else {
                ps.setString(index, v.bigIntegerValue().toString());
            }
        } else if (v.isNumber()) {
            if (c != null && c.affinity() == Affinity.TEXT) {
                // A TEXT column keeps every digit of a decimal (a double would keep 17, NUMERIC affinity 15).
                ps.setString(index, v.decimalValue().toPlainString());
            } else {
                ps.setDouble(index, v.doubleValue());
            }
        } else if (v.isTextual()) {
            String s = v.textValue();
            if (c != null && c.affinity() == Affinity.BLOB && s.startsWith("\\x") && RowKey.isHex(s, 2)) {
                ps.setBytes(index, hex(s, 2));
            } else if (c != null && c.affinity().numeric() && Affinity.infinity(s) != 0) {
                ps.setDouble(index, Affinity.infinity(s) * Double.POSITIVE_INFINITY);
            } else {
                ps.setString(index, s);
            }
        } else {
            // A document from PostgreSQL may be nested thousands of levels deep: toString() would stop at
            // 1,000 (Jackson's write limit) or overflow the stack.
            ps.setString(index, JsonTrees.text(v));
        }
    }

    private static byte[] hex(String s, int from) {
        byte[] out = new byte[(s.length() - from) / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(s.substring(from + 2 * i, from + 2 * i + 2), 16);
        }
        return out;
    }

    /**
     * The pending overlay for a feed batch: the cached one, brought up to date with the transactions
     * committed locally since the last call (only those rows are read and parsed), plus the open
     * transaction at the end of the outbox, which is read again each time.
     */
    private PendingOverlay overlay() throws SQLException {
        Map<String, TableInfo> all = tables.get();
        if (pending == null) {
            pending = new PendingOverlay();
            pendingThrough = 0;
        }
        List<OutboxDecoder.Captured> open = new ArrayList<>();
        PreparedStatement ps = prepared("SELECT seq, hlc, ack, " + OutboxDecoder.COLUMNS + " FROM _sync_outbox"
                + " WHERE seq > ? ORDER BY seq");
        ps.setLong(1, pendingThrough);
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                if (rs.getInt(5) != Outbox.OP_NONE) {
                    open.add(decoder.decode(rs, 4));
                }
                if (rs.getObject(2) != null) {
                    long seq = rs.getLong(1);
                    long ack = rs.getObject(3) == null ? Long.MAX_VALUE : rs.getLong(3);
                    addAll(pending, all, open, seq, ack);
                    open.clear();
                    pendingThrough = seq;
                }
            }
        }
        PendingOverlay openTransaction = new PendingOverlay();
        addAll(openTransaction, all, open, Long.MAX_VALUE, Long.MAX_VALUE);
        pending.tail(openTransaction);
        return pending;
    }

    private void addAll(PendingOverlay overlay, Map<String, TableInfo> all, List<OutboxDecoder.Captured> rows,
                        long tx, long ack) throws SQLException {
        for (OutboxDecoder.Captured r : rows) {
            TableInfo t = all.get(r.table().toLowerCase(Locale.ROOT));
            if (t == null || !t.hasPrimaryKey()) {
                continue;
            }
            RowChange rc = rowChange(r);
            Set<String> cols = new HashSet<>();
            rc.values().fieldNames().forEachRemaining(n -> cols.add(n.toLowerCase(Locale.ROOT)));
            Map<String, java.math.BigDecimal> added = new HashMap<>();
            for (Map.Entry<String, JsonNode> d : rc.deltas().properties()) {
                String lower = d.getKey().toLowerCase(Locale.ROOT);
                cols.remove(lower);
                added.put(lower, d.getValue().decimalValue());
            }
            overlay.add(RowKey.of(t, rc.pk()), tx, ack, r.op(), cols, added);
        }
    }

    /**
     * Removes transactions whose result the feed has delivered: acknowledged at a position at or below the
     * cursor, together with every older row. The newest such marker stays as an empty anchor.
     */
    private void pruneSettled() throws SQLException {
        PreparedStatement find = prepared("SELECT max(seq) FROM _sync_outbox WHERE hlc IS NOT NULL AND ack <= ?"
                + " AND seq < coalesce((SELECT min(seq) FROM _sync_outbox WHERE hlc IS NOT NULL"
                + " AND (ack IS NULL OR ack > ?)), 9223372036854775807)");
        long cursor = cursor();
        find.setLong(1, cursor);
        find.setLong(2, cursor);
        long anchor;
        try (ResultSet rs = find.executeQuery()) {
            if (!rs.next() || rs.getObject(1) == null) {
                return;
            }
            anchor = rs.getLong(1);
        }
        PreparedStatement del = prepared("DELETE FROM _sync_outbox WHERE seq < ?");
        del.setLong(1, anchor);
        del.executeUpdate();
        // The pairs below the one the oldest transaction after the anchor needs.
        PreparedStatement seen = prepared("DELETE FROM _sync_seen WHERE seq <"
                + " (SELECT max(seq) FROM _sync_seen WHERE seq < ? + 1)");
        seen.setLong(1, anchor);
        seen.executeUpdate();
        PreparedStatement empty = prepared("UPDATE _sync_outbox SET " + Outbox.EMPTY_ANCHOR + " WHERE seq = ? AND op <> 0");
        empty.setLong(1, anchor);
        empty.executeUpdate();
    }

    /** Number of local transactions not yet settled (acknowledged and applied back from the feed). */
    long unsettled() throws SQLException {
        PreparedStatement ps = prepared("SELECT count(*) FROM _sync_outbox WHERE hlc IS NOT NULL AND (ack IS NULL OR ack > ?)");
        ps.setLong(1, cursor());
        long n;
        try (ResultSet rs = ps.executeQuery()) {
            n = rs.next() ? rs.getLong(1) : 0;
        }
        return hasUnstamped() ? n + 1 : n;
    }

    private long maxOutboxSeq() throws SQLException {
        try (Statement st = db.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce(max(seq), 0) FROM _sync_outbox")) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    /**
     * The snapshot request waiting in the file ({@link Outbox#SNAPSHOT_NEEDED}): a number that grows with
     * every request, 0 for none. Reads only.
     */
    long snapshotRequest() throws SQLException {
        return stateLong(Outbox.SNAPSHOT_NEEDED);
    }

    /**
     * Whether the next connection must resync (read only, before the hello): a resync is under way
     * ({@link Outbox#RESYNC_PENDING}: begun, or a first snapshot cut off after some of its rows were applied),
     * or a snapshot is requested and the file had a feed position. A snapshot only brings rows, so rows the
     * server deleted meanwhile would stay; a resync removes the rows it does not bring when it completes
     * (pending local writes are kept), as for a resync the relay asks for. A file that never received a row
     * starts from a plain snapshot, which spares a new device's first sync the set of every key it gets.
     */
    boolean resyncDue(long request) throws SQLException {
        return stateLong(Outbox.RESYNC_PENDING) != 0 || request != 0 && cursor() > 0;
    }

    /**
     * Takes request {@code request} (a newer one stays for the next connection) and, with {@code resync},
     * resets the cursor and records the resync ({@link Outbox#RESYNC_PENDING}) until the transaction that
     * completes it ({@link #endResync}), so a connection lost or a restart in between starts it again. Called
     * once the relay has welcomed a hello sent with cursor 0: writing before the hello would wait for any
     * application transaction, which may itself wait for the key ranges this connection asks for first.
     */
    void takeSnapshotRequest(long request, boolean resync) throws SQLException {
        // Only this file knows a snapshot is needed: the reset must not be lost once the request is gone.
        durably(() -> {
            PreparedStatement ps = prepared("DELETE FROM _sync_state WHERE k = ? AND v = ?");
            ps.setString(1, Outbox.SNAPSHOT_NEEDED);
            ps.setLong(2, request);
            ps.executeUpdate();
            if (resync) {
                setState(Outbox.RESYNC_PENDING, 1);
                setState("cursor", 0);
            }
            return null;
        });
    }

    long stateLong(String key) throws SQLException {
        PreparedStatement ps = prepared("SELECT v FROM _sync_state WHERE k = ?");
        ps.setString(1, key);
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    private void setState(String key, long value) throws SQLException {
        PreparedStatement ps = prepared("INSERT INTO _sync_state (k, v) VALUES (?, ?)"
                + " ON CONFLICT (k) DO UPDATE SET v = excluded.v");
        ps.setString(1, key);
        ps.setLong(2, value);
        ps.executeUpdate();
    }

    private void deleteState(String key) throws SQLException {
        PreparedStatement ps = prepared("DELETE FROM _sync_state WHERE k = ?");
        ps.setString(1, key);
        ps.executeUpdate();
    }

    private PreparedStatement prepared(String sql) throws SQLException {
        PreparedStatement ps = statements.get(sql);
        if (ps == null) {
            if (statements.size() > 256) {
                for (PreparedStatement old : statements.values()) {
                    old.close();
                }
                statements.clear();
            }
            ps = db.prepareStatement(sql);
            statements.put(sql, ps);
        }
        return ps;
    }

    /**
     * Creates the tables of {@code schema} this file lacks (for {@code sync.schema=server}), in one
     * transaction on the sync client's connection.
     *
     * @return whether any table was created
     */
    boolean createMissingTables(io.syncsqlite.protocol.Message.Schema schema) throws SQLException {
        Set<String> existing = new HashSet<>();
        try (Statement st = db.createStatement();
             ResultSet rs = st.executeQuery("SELECT name FROM sqlite_schema WHERE type = 'table'")) {
            while (rs.next()) {
                // Also as PostgreSQL cuts a long name: the server's schema names the table so, and a table
                // the application created under its full name is the same table, not one to create.
                existing.add(rs.getString(1).toLowerCase(Locale.ROOT));
                existing.add(Identifiers.clip(rs.getString(1)).toLowerCase(Locale.ROOT));
            }
        }
        List<String> ddl = new ArrayList<>();
        for (io.syncsqlite.protocol.Message.Schema.TableDef t : schema.tables()) {
            if (existing.contains(t.name().toLowerCase(Locale.ROOT)) || t.name().toLowerCase(Locale.ROOT).startsWith("_sync_")) {
                continue;
            }
            StringJoiner cols = new StringJoiner(", ");
            for (io.syncsqlite.protocol.Message.Schema.ColumnDef c : t.columns()) {
                String type = pgTypes.declare(t.name(), c.name(), c.sqliteType()).replaceAll("[^A-Za-z]", "");
                cols.add(quoteIdent(c.name()) + " " + type);
            }
            StringJoiner pk = new StringJoiner(", ", "PRIMARY KEY (", ")");
            t.primaryKey().forEach(k -> pk.add(quoteIdent(k)));
            ddl.add("CREATE TABLE IF NOT EXISTS " + quoteIdent(t.name()) + " (" + cols + ", " + pk + ")");
        }
        if (ddl.isEmpty()) {
            return false;
        }
        inTransaction(() -> {
            try (Statement st = db.createStatement()) {
                for (String sql : ddl) {
                    st.execute(sql);
                }
            }
            return null;
        });
        return true;
    }

    private static String quoteIdent(String name) {
        return '"' + name.replace("\"", "\"\"") + '"';
    }

    /** The sync client's own connection (for the node's capture refresh after it created tables). */
    Connection connection() {
        return db;
    }

    /** The synced tables as last read from this file. */
    java.util.Collection<TableInfo> syncedTables() {
        return tables.get().values();
    }

    /**
     * A resync snapshot begins (the relay pruned history this file still needed, the user's scope changed, or
     * tables became synced here): note every row it brings. Recorded in the file until {@link #endResync}, so
     * that a restart after the snapshot's last batch but before the removal does not skip the removal.
     */
    void beginResync() throws SQLException {
        resyncSeen = new HashSet<>();
        if (stateLong(Outbox.RESYNC_PENDING) == 0) {
            durably(() -> {
                setState(Outbox.RESYNC_PENDING, 1);
                return null;
            });
        }
    }

    boolean resyncing() {
        return resyncSeen != null;
    }

    /**
     * Ends a resync snapshot: removes every local row of a synced table that the snapshot did not bring,
     * unless this client has a pending write on it (its own unsent or unsettled writes are kept and still
     * go up). The deletions are the server's state, not local writes: they do not travel back.
     *
     * @return the removed rows, for listeners
     */
    List<RemoteChange> endResync() throws SQLException {
        Set<String> seen = resyncSeen;
        resyncSeen = null;
        if (seen == null) {
            return List.of();
        }
        return durably(applying(() -> {
            long echoFrom = maxOutboxSeq();
            PendingOverlay overlay = overlay();
            List<RemoteChange> removed = new ArrayList<>();
            for (TableInfo t : tables.get().values()) {
                if (!t.hasPrimaryKey()) {
                    continue;
                }
                StringJoiner keyColumns = new StringJoiner(", ");
                t.pk().forEach(p -> keyColumns.add("r." + TriggerSql.quote(p)));
                // Each with its stored key values, not values rebuilt from JSON: a text key that looks like
                // \x41 would be bound as bytes, a BLOB key as its text. Keyed as the outbox's rows are
                // (OutboxDecoder.node), so a pending row matches its overlay entry: json_object's digits for
                // a REAL key differ from the decoder's, and a resync removed such a row (TypedCaptureReviewTest).
                List<Map.Entry<ObjectNode, Object[]>> gone = new ArrayList<>();
                try (Statement st = db.createStatement();
                     ResultSet rs = st.executeQuery("SELECT " + keyColumns + " FROM " + TriggerSql.quote(t.name()) + " AS r")) {
                    while (rs.next()) {
                        Object[] values = new Object[t.pk().size()];
                        ObjectNode pk = MessageCodec.JSON.createObjectNode();
                        for (int i = 0; i < values.length; i++) {
                            values[i] = rs.getObject(i + 1);
                            pk.set(t.pk().get(i), OutboxDecoder.node(values[i]));
                        }
                        String key = RowKey.of(t, pk);
                        if (!seen.contains(key) && !overlay.at(key, 0).any()) {
                            gone.add(Map.entry(pk, values));
                        }
                    }
                }
                try (PreparedStatement del = db.prepareStatement(deleteSql(t))) {
                    for (Map.Entry<ObjectNode, Object[]> row : gone) {
                        Object[] values = row.getValue();
                        for (int i = 0; i < values.length; i++) {
                            del.setObject(i + 1, values[i]);
                        }
                        if (del.executeUpdate() > 0) {
                            removed.add(new RemoteChange(t.name(), row.getKey(), true));
                        }
                    }
                }
            }
            PreparedStatement echo = prepared("DELETE FROM _sync_outbox WHERE seq > ?");
            echo.setLong(1, echoFrom);
            echo.executeUpdate();
            deleteState(Outbox.RESYNC_PENDING);
            return removed;
        }));
    }

    /** Stores key ranges the relay granted (see {@link KeyStock#store}). */
    void storeKeyRanges(String table, List<io.syncsqlite.protocol.IdRange> ranges, Long firstFree) throws SQLException {
        inTransaction(() -> {
            KeyStock.store(db, table, ranges, firstFree);
            return null;
        });
    }

    interface Work<T> {
        T run() throws SQLException;
    }

    /**
     * {@link #inTransaction}, committed with the WAL synced also on a relaxed connection: for what only this
     * file knows (a stamp, a needed snapshot) or what the relay will not send again (a completed snapshot).
     */
    private <T> T durably(Work<T> work) throws SQLException {
        if (!relaxed) {
            return inTransaction(work);
        }
        try (Statement st = db.createStatement()) {
            st.execute("PRAGMA synchronous = FULL");
        }
        try {
            return inTransaction(work);
        } finally {
            try (Statement st = db.createStatement()) {
                st.execute("PRAGMA synchronous = NORMAL");
            }
        }
    }

    private <T> T inTransaction(Work<T> work) throws SQLException {
        gate.enter();
        try (Statement st = db.createStatement()) {
            st.execute("BEGIN IMMEDIATE");
            try {
                T result = work.run();
                st.execute("COMMIT");
                return result;
            } catch (SQLException | RuntimeException e) {
                st.execute("ROLLBACK");
                throw e;
            }
        } finally {
            gate.exit();
        }
    }

    /** Closes the statements and the sync client's own SQLite connection. */
    @Override
    public void close() {
        for (PreparedStatement ps : statements.values()) {
            try {
                ps.close();
            } catch (SQLException ignored) {
                // closing anyway
            }
        }
        statements.clear();
        try {
            db.close();
        } catch (SQLException ignored) {
            // nothing more to release
        }
    }
}
