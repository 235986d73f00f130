package io.syncsqlite.relay.apply;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.JsonTrees;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.relay.db.ConnectionPool;
import io.syncsqlite.relay.db.PgErrors;
import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.schema.Sql;
import io.syncsqlite.relay.schema.TableInfo;
import io.syncsqlite.relay.scope.Scope;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Applies client transactions to PostgreSQL with last-writer-wins merge per column, one PostgreSQL
 * transaction per client transaction (see {@link TxRun} for the steps).
 *
 * <p>Errors are classified by SQLState ({@link PgErrors}): deadlocks and serialization failures run the
 * transaction again (up to 5 attempts); data errors reject it, and the rejection is recorded as the
 * client's applied transaction in a transaction of its own, together with the current images of the rows
 * it touched, so a resend is answered rather than retried and the client converges even if it never sees
 * the {@link Message.Reject}; connection and server errors raise {@link ApplyFailure}.
 *
 * <p>An {@link Message.Ack} is returned only after PostgreSQL has committed.
 *
 * <p>Thread-safe: any number of threads may apply concurrently; each borrows its own connection.
 */
public final class PostgresChangeApplier implements ChangeApplier {

    private static final Logger log = LoggerFactory.getLogger(PostgresChangeApplier.class);
    private static final int MAX_ATTEMPTS = 5;
    private static final Duration BORROW_TIMEOUT = Duration.ofSeconds(30);

    // The node is recorded at its first hello, not only at its first push: a backfill (SchemaInstaller) is
    // skipped while no client exists, and a client that only reads exists too.
    private static final String POSITION = "WITH known AS (INSERT INTO syncsqlite.client (node) VALUES (?)"
            + " ON CONFLICT (node) DO NOTHING) "
            + "SELECT coalesce((SELECT applied_tx FROM syncsqlite.client WHERE node = ?), 0), "
            + "coalesce((SELECT applied_seq FROM syncsqlite.client WHERE node = ?), 0), "
            + "coalesce((SELECT max(seq) FROM syncsqlite.commit_log), 0), "
            + "coalesce((SELECT min(seq) FROM syncsqlite.commit_log), 0)";

    private final ConnectionPool pool;
    private final Catalog catalog;
    private final CatalogReload reload;
    private long lastReload = System.nanoTime() - java.util.concurrent.TimeUnit.SECONDS.toNanos(1);
    private final Map<TableInfo, TableStatements> statements = new ConcurrentHashMap<>();
    /**
     * Nodes whose last attempt timed out waiting for a lock (55P03), with when. For a minute after, their
     * attempts wait at most {@link #PROBE_LOCK_TIMEOUT_MS} for a lock: a client stuck behind a row someone
     * keeps locked comes back at once (its session lasted long enough to reset its backoff), and waiting the
     * whole bound each time kept one pooled connection busy for it almost all the time; a few such clients
     * were enough to starve everyone else (LockWaitEndToEndTest, LockWaitReviewTest).
     */
    private final Map<String, Long> lockTimedOut = new ConcurrentHashMap<>();
    private static final long PROBE_WINDOW_NANOS = java.util.concurrent.TimeUnit.MINUTES.toNanos(1);
    private static final int PROBE_LOCK_TIMEOUT_MS = 100;
    /** More nodes than this in {@link #lockTimedOut} makes the next entry drop the expired ones. */
    private static final int MAX_LOCK_TIMED_OUT = 10_000;

    public PostgresChangeApplier(ConnectionPool pool, Catalog catalog) {
        this(pool, catalog, null);
    }

    /**
     * @param reload reads the catalog again from PostgreSQL (installing capture on tables that now match),
     *               or null: used when a client names a table or column the relay does not know yet
     */
    public PostgresChangeApplier(ConnectionPool pool, Catalog catalog, CatalogReload reload) {
        this.pool = pool;
        this.catalog = catalog;
        this.reload = reload;
    }

    /** Reads the synced tables' schema again. */
    @FunctionalInterface
    public interface CatalogReload {
        Catalog read() throws SQLException;
    }

    /**
     * Re-reads the catalog after a client named an unknown table (42P01) or column (42703), at most once
     * a second: a column added in PostgreSQL, or a new table, is picked up without a restart.
     *
     * @return whether the catalog was read again since the client named it
     */
    private boolean reloadFor(InvalidChange e) {
        return ("42P01".equals(e.sqlState()) || "42703".equals(e.sqlState())) && refreshCatalog();
    }

    /**
     * Reads the catalog again for a name a client used that it does not know, unless a read that began after the
     * call has already done so; reads are at least a second apart, so a caller may wait up to a second for its
     * turn (on its own session's lane). Before, a call within a second of the last read answered "not read", and
     * the transaction naming a column just added in PostgreSQL was rejected and reverted on its client when
     * another name had been looked up a moment before (MigrationInOneCallTest, two columns added in turn).
     */
    @Override
    public boolean refreshCatalog() {
        if (reload == null) {
            return false;
        }
        long asked = System.nanoTime();
        synchronized (this) {
            if (lastReload - asked >= 0) {
                return true; // another caller's read began after this call: it saw what this one would
            }
            long wait = lastReload + java.util.concurrent.TimeUnit.SECONDS.toNanos(1) - System.nanoTime();
            if (wait > 0) {
                try {
                    java.util.concurrent.TimeUnit.NANOSECONDS.sleep(wait);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            lastReload = System.nanoTime();
            try {
                catalog.replaceWith(reload.read());
                log.info("schema read again from PostgreSQL after a client named an unknown table or column");
                return true;
            } catch (SQLException ex) {
                log.warn("could not read the schema again: SQLState {}", PgErrors.sqlState(ex));
                return false;
            }
        }
    }

    /** A piece of work on a pooled connection, in its own transaction. */
    @FunctionalInterface
    private interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /**
     * Runs {@code work} on a pooled connection and commits; rolls back on a database error, and drops the
     * connection when the rollback fails or anything else goes wrong (its transaction state is then unknown).
     */
    private <T> T inPooledTransaction(Work<T> work) throws SQLException {
        Connection c = pool.borrow(BORROW_TIMEOUT);
        boolean broken = false;
        try {
            T result = work.run(c);
            c.commit();
            return result;
        } catch (SQLException e) {
            broken = !rollbackQuietly(c);
            throw e;
        } catch (RuntimeException | Error e) {
            broken = true;
            throw e;
        } finally {
            pool.release(c, broken);
        }
    }

    @Override
    public ClientPosition position(String node) throws SQLException {
        return inPooledTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement(POSITION)) {
                ps.setString(1, node);
                ps.setString(2, node);
                ps.setString(3, node);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return new ClientPosition(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4));
                }
            }
        });
    }

    @Override
    public Message apply(String node, ClientTx tx, Scope scope) throws ApplyFailure {
        List<Op> ops;
        try {
            ops = Validation.validate(catalog, tx);
        } catch (InvalidChange e) {
            try {
                if (!reloadFor(e)) {
                    throw e;
                }
                ops = Validation.validate(catalog, tx);
            } catch (InvalidChange still) {
                log.info("rejected tx {} of node {} before PostgreSQL: SQLState {}", tx.id(), node, still.sqlState());
                return refusedBeforePostgres(node, tx, still, scope);
            }
        }
        int compensations = 0;
        boolean inOrder = false;
        boolean upsertClocks = false;
        Set<String> upsertRows = new HashSet<>();
        Map<String, Integer> conflicts = new java.util.HashMap<>();
        boolean noOnConflict = false;
        int keyRaces = 0;
        for (int attempt = 1; ; attempt++) {
            Connection c = borrow();
            boolean broken = false;
            TxRun run = new TxRun(c, this::statements, node, tx, ops, inOrder, scope, catalog, upsertClocks, upsertRows);
            try {
                Long last = lockTimedOut.get(node);
                if (last != null && System.nanoTime() - last < PROBE_WINDOW_NANOS) {
                    try (java.sql.Statement st = c.createStatement()) {
                        st.execute("SET LOCAL lock_timeout = " + PROBE_LOCK_TIMEOUT_MS);
                    }
                }
                Message answer = run.run();
                lockTimedOut.remove(node);
                return answer;
            } catch (CopiedNode e) {
                throw new ApplyFailure(e.getMessage(), e);
            } catch (SQLException e) {
                broken = !rollbackQuietly(c);
                PgErrors.Action action = broken ? PgErrors.Action.RECONNECT : PgErrors.classify(e);
                String raced = broken || keyRaces >= MAX_ATTEMPTS ? null : keyConflict(c, e);
                if (raced != null) {
                    // A row or a clock row appeared for a key read without one. Usually a direct writer's insert:
                    // the next attempt reads the row and merges into it. If the same table conflicts again, the row
                    // is one the read cannot see, created within this transaction after it (an application
                    // trigger's): that table's rows are then upserted (ON CONFLICT for it only; upserting at once
                    // would overwrite a second direct insert instead of merging it). Clock rows are upserted. A key
                    // the presence read cannot see at all is rejected after the last attempt.
                    upsertClocks = true;
                    if (!raced.isEmpty() && !noOnConflict && conflicts.merge(raced, 1, Integer::sum) > 1) {
                        upsertRows.add(raced);
                    }
                    keyRaces++;
                    attempt--;
                    continue;
                }
                if (!broken && !upsertRows.isEmpty() && PgErrors.refusesOnConflict(e)) {
                    // A deferrable key, or an INSERT rule: PostgreSQL refuses ON CONFLICT for the table. Plain
                    // inserts again: a direct writer's row is read by then.
                    upsertRows.clear();
                    noOnConflict = true;
                    attempt--;
                    continue;
                }
                if (action == PgErrors.Action.REJECT && run.reordered()) {
                    // The regrouped writes may be what the constraint saw: decide on the original order.
                    inOrder = true;
                    attempt--;
                    continue; // the finally releases the connection

                }
                switch (action) {
                    case RETRY -> {
                        if (attempt >= MAX_ATTEMPTS) {
                            throw new ApplyFailure("tx " + tx.id() + " failed " + attempt + " times with SQLState "
                                    + PgErrors.sqlState(e), e);
                        }
                        log.debug("tx {} of node {}: SQLState {}, attempt {} of {}", tx.id(), node,
                                PgErrors.sqlState(e), attempt, MAX_ATTEMPTS);
                        backoff(attempt);
                    }
                    case REJECT -> {
                        if ("23503".equals(PgErrors.sqlState(e)) && compensations < MAX_ATTEMPTS) {
                            boolean restored;
                            try {
                                restored = restoreParents(c, tx, ops, e, scope);
                            } catch (SQLException ce) {
                                // Not an answer about the data (lock timeout, deadlock, lost connection):
                                // the transaction is not rejected; the client resends it later.
                                boolean lockTimeout = PgErrors.isLockTimeout(ce);
                                if (lockTimeout) {
                                    lockTimedOut(node);
                                }
                                broken = !rollbackQuietly(c)
                                        || PgErrors.classify(ce) != PgErrors.Action.RETRY && !lockTimeout;
                                throw new ApplyFailure("could not restore the parents of tx " + tx.id()
                                        + ": SQLState " + PgErrors.sqlState(ce), ce);
                            }
                            if (restored) {
                                compensations++;
                                continue;
                            }
                        }
                        try {
                            return reject(c, node, tx, ops, e, scope);
                        } catch (CopiedNode e2) {
                            throw new ApplyFailure(e2.getMessage(), e2);
                        } catch (SQLException e2) {
                            broken = !rollbackQuietly(c);
                            throw new ApplyFailure("could not record the rejection of tx " + tx.id(), e2);
                        }
                    }
                    case RECONNECT -> {
                        if (PgErrors.isLockTimeout(e)) {
                            lockTimedOut(node);
                        } else {
                            // A lock timeout leaves a healthy connection once rolled back; anything else here
                            // may not have.
                            broken = true;
                        }
                        throw new ApplyFailure("database error applying tx " + tx.id() + ": SQLState "
                                + PgErrors.sqlState(e), e);
                    }
                }
            } catch (RuntimeException | Error e) {
                // A bug, not a database answer: the connection's transaction holds writes that have not
                // passed the scope check after them; closing it is the only way to be sure none commits.
                broken = true;
                if (e instanceof Error err) {
                    throw err;
                }
                throw new ApplyFailure("relay error applying tx " + tx.id(), e);
            } finally {
                pool.release(c, broken);
            }
        }
    }

    /**
     * Records a refused transaction as applied, logs the current state of the rows it touched (into the
     * feed, and into the Reject for the client to revert to), all in one new transaction.
     */
    private Message reject(Connection c, String node, ClientTx tx, List<Op> ops, SQLException cause, Scope scope)
            throws SQLException {
        String sqlState = PgErrors.sqlState(cause);
        long[] client = TxRun.lockClient(c, node);
        if (client[0] >= tx.id()) {
            // Another session of the same node settled this transaction meanwhile (or a copy's file did).
            return TxRun.resend(c, node, tx, client);
        }
        Scope now = scope == null ? null : scope.asOf(c);
        Set<String> named = new java.util.HashSet<>();
        ops.forEach(op -> named.add(op.table().name() + '\0' + op.pkJson()));
        List<Op> collided = colliding(c, ops, cause).stream()
                .filter(op -> !named.contains(op.table().name() + '\0' + op.pkJson())).toList();
        List<Op> read = new ArrayList<>(ops);
        read.addAll(collided);
        lockForRead(c, node, tx, read);
        List<FeedEntry> current = new ArrayList<>(visible(currentRows(c, node, ops), now));
        for (FeedEntry e : currentRows(c, node, collided)) {
            // Rows holding the values the transaction's rows collided with, which it did not name: only those the
            // user may see. Turned into deletes like the rest, they told the user the key of another user's row
            // holding the value (an e-mail address, say; ScopeSecurityReviewTest).
            if (now == null || e.row() != null && now.contains(e.table(), e.row())) {
                current.add(e);
            }
        }
        ClockHistory.markCommit(c, node, tx, client[0]);
        // Under a scope, PostgreSQL's detail may describe rows of other users: only its message is sent.
        String reason = PgErrors.describe(cause, scope == null);
        record(c, node, tx.id(), sqlState, reason, current);
        c.commit();
        log.info("rejected tx {} of node {}: SQLState {}", tx.id(), node, sqlState);
        if (log.isDebugEnabled()) {
            log.debug("rejection of tx {} of node {}: {}", tx.id(), node, PgErrors.describe(cause));
        }
        return new Message.Reject(tx.id(), sqlState, reason, current);
    }

    private static final String UNIQUE_COLUMNS = """
            SELECT array_agg(a.attname ORDER BY k.ord), bool_and(k.att <> 0)
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
            CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, ord)
            LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att
            WHERE i.indisunique AND ic.relname = ? AND n.nspname = ? AND k.ord <= i.indnkeyatts""";

    /**
     * Takes the relay's key locks of the rows a rejection logs, and locks those that exist and their clock rows,
     * before their current images are read: read under another relay session's transaction on one of them (or a
     * direct writer's), an image was logged after that transaction's in the feed though it was older, and every
     * client took the stale value for good (a counter missing another device's amount, FuzzConvergenceReviewTest
     * seed 404001). Keys PostgreSQL refuses as data (too long for the key's type, U+0000 in text) have no row and
     * cannot be locked: they are found one by one and left out, and the others locked together (a savepoint rolled
     * back releases the locks taken in it, so one refused key left every row unlocked: RejectRaceReviewTest).
     */
    private void lockForRead(Connection c, String node, ClientTx tx, List<Op> ops) throws SQLException {
        if (lockedForRead(c, node, tx, ops, true)) {
            return;
        }
        List<Op> lockable = new ArrayList<>();
        for (Op op : ops) {
            if (lockedForRead(c, node, tx, List.of(op), false)) {
                lockable.add(op);
            }
        }
        if (!lockable.isEmpty()) {
            lockedForRead(c, node, tx, lockable, true);
        }
    }

    /**
     * Whether {@code ops}' rows could be locked (false: PostgreSQL refused one of their keys as data); with
     * {@code keep} the locks are kept, else released (a probe).
     */
    private boolean lockedForRead(Connection c, String node, ClientTx tx, List<Op> ops, boolean keep) throws SQLException {
        Savepoint sp = c.setSavepoint();
        try {
            new TxRun(c, this::statements, node, tx, ops, false, null, catalog, false, Set.of()).lockOnly();
        } catch (SQLException e) {
            if (PgErrors.classify(e) != PgErrors.Action.REJECT) {
                throw e;
            }
            c.rollback(sp);
            return false;
        }
        if (keep) {
            c.releaseSavepoint(sp);
        } else {
            c.rollback(sp);
        }
        return true;
    }

    /**
     * For a unique violation (23505), the rows that already hold the values the transaction's rows collided
     * with, so that the rejection reports them too. A client that took such a value with REPLACE deleted the
     * row holding it locally, and SQLite fired no trigger for that delete: without its current image in the
     * rejection the client's revert would leave it deleted there alone. Empty when the index is not a plain
     * one over columns of a synced table, or the lookup fails (the rejection goes out without them).
     */
    private List<Op> colliding(Connection c, List<Op> ops, SQLException cause) throws SQLException {
        if (!"23505".equals(PgErrors.sqlState(cause)) || !(cause instanceof org.postgresql.util.PSQLException pe)
                || pe.getServerErrorMessage() == null) {
            return List.of();
        }
        var m = pe.getServerErrorMessage();
        TableInfo t = m.getTable() == null ? null : catalog.table(m.getTable());
        if (t == null || m.getConstraint() == null || m.getSchema() == null) {
            return List.of();
        }
        Savepoint sp = c.setSavepoint();
        try {
            List<String> cols = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(UNIQUE_COLUMNS)) {
                ps.setString(1, m.getConstraint());
                ps.setString(2, m.getSchema());
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next() || rs.getArray(1) == null || !rs.getBoolean(2)) {
                        c.releaseSavepoint(sp);
                        return List.of(); // an expression index
                    }
                    for (Object o : (Object[]) rs.getArray(1).getArray()) {
                        cols.add((String) o);
                    }
                }
            }
            List<String> probes = new ArrayList<>();
            for (Op op : ops) {
                if (op.table() != t) {
                    continue;
                }
                ObjectNode probe = MessageCodec.JSON.createObjectNode();
                for (String col : cols) {
                    var v = op.values().has(col) ? op.values().get(col) : op.pk().get(col);
                    if (v == null || v.isNull()) {
                        probe = null;
                        break;
                    }
                    probe.set(col, v);
                }
                if (probe != null) {
                    probes.add(probe.toString());
                }
            }
            List<Op> out = new ArrayList<>();
            if (!probes.isEmpty()) {
                String q = t.qualifiedName();
                StringBuilder on = new StringBuilder();
                for (String col : cols) {
                    on.append(on.length() == 0 ? "" : " AND ").append("r.").append(Sql.ident(col)).append(" = k.").append(Sql.ident(col));
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT DISTINCT " + Sql.pkObject("r.", t.primaryKey())
                        + "::text FROM jsonb_populate_recordset(NULL::" + q + ", ?::jsonb) AS k JOIN " + q + " AS r ON " + on)) {
                    ps.setString(1, "[" + String.join(",", probes) + "]");
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            ObjectNode pk = object(rs.getString(1));
                            if (ops.stream().noneMatch(op -> op.table() == t && op.pk().equals(pk))) {
                                out.add(new Op(t, io.syncsqlite.protocol.ChangeKind.UPDATE, pk,
                                        MessageCodec.JSON.createObjectNode(), rs.getString(1), null));
                            }
                        }
                    }
                }
            }
            c.releaseSavepoint(sp);
            return out;
        } catch (SQLException e) {
            if (PgErrors.classify(e) != PgErrors.Action.REJECT) {
                throw e;
            }
            c.rollback(sp);
            return List.of();
        }
    }

    /** How long a rejection is repeated to its client at each connect ({@link #rejections}). */
    static final String REJECTION_KEPT = "30 days";

    private static void record(Connection c, String node, long tx, String sqlState, String reason,
                               List<FeedEntry> current) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM syncsqlite.rejection WHERE node = ?"
                + " AND at < now() - interval '" + REJECTION_KEPT + "'; INSERT INTO syncsqlite.rejection"
                + " (node, tx, sql_state, reason, \"current\") VALUES (?, ?, ?, ?, ?::jsonb) ON CONFLICT DO NOTHING")) {
            ps.setString(1, node);
            ps.setString(2, node);
            ps.setLong(3, tx);
            ps.setString(4, sqlState == null ? "" : sqlState);
            ps.setString(5, reason);
            String rows = MessageCodec.JSON.writeValueAsString(current);
            if (rows.contains("\\u0000")) {
                // jsonb cannot hold U+0000: the delete of a key with it (currentRows) is left out of the record. The
                // answer itself carries it; only a client whose answer was lost and that hears this one again at
                // its next connection keeps that row.
                List<FeedEntry> kept = new ArrayList<>();
                for (FeedEntry e : current) {
                    if (!MessageCodec.JSON.writeValueAsString(e).contains("\\u0000")) {
                        kept.add(e);
                    }
                }
                rows = MessageCodec.JSON.writeValueAsString(kept);
            }
            ps.setString(6, rows);
            ps.execute();
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("cannot encode the rows of a rejection", e);
        }
    }

    @Override
    public long firstCopied(String node, Message.ClockCheck check) throws SQLException {
        return inPooledTransaction(c -> ClockHistory.firstCopied(c, node, check.txs(), check.hlcs()));
    }

    @Override
    public List<Message.Reject> rejections(String node) throws SQLException {
        return inPooledTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT tx, sql_state, reason, \"current\"::text FROM"
                    + " (SELECT * FROM syncsqlite.rejection WHERE node = ? AND at > now() - interval '" + REJECTION_KEPT
                    + "' ORDER BY tx DESC LIMIT 100) AS r ORDER BY tx")) {
                ps.setString(1, node);
                List<Message.Reject> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new Message.Reject(rs.getLong(1), rs.getString(2), rs.getString(3),
                                entries(rs.getString(4))));
                    }
                }
                return out;
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new SQLException("unreadable recorded rejection of node " + node, "XX000", e);
            }
        });
    }

    private static final com.fasterxml.jackson.core.type.TypeReference<List<FeedEntry>> FEED_ENTRIES =
            new com.fasterxml.jackson.core.type.TypeReference<>() { };

    /** A rejection's recorded rows, whose documents may be deeper than a tree is written (see JsonTrees). */
    private static List<FeedEntry> entries(String json) throws com.fasterxml.jackson.core.JsonProcessingException {
        JsonNode tree = JsonTrees.deep(json);
        for (JsonNode entry : tree) {
            if (entry.get("row") instanceof ObjectNode row) {
                JsonTrees.bound(row);
            }
        }
        return MessageCodec.JSON.treeToValue(tree, MessageCodec.JSON.getTypeFactory().constructType(FEED_ENTRIES));
    }

    /**
     * For a transaction refused before PostgreSQL (its names or values do not validate): answers with the
     * current images of the rows it names that the relay can address, for the client to revert to (a client
     * reverts only the rows a {@link Message.Reject} carries, so without them a synced row written in the same
     * transaction as, say, a local-only table kept the refused value for good). No row is logged: nothing was
     * written, and a resend is refused again the same way. Records its clock (its id is processed, though the
     * node's applied id does not move: a resend of it is not a copy's, see {@link ClockHistory}) and the
     * rejection, which the welcome repeats (an answer lost with the connection was settled as applied once a
     * later transaction was). A resend of an id PostgreSQL applied before the catalog changed is only
     * acknowledged ({@link TxRun#resend}).
     *
     * @throws ApplyFailure the rows cannot be read now: the client resends later instead of keeping values
     *                      the relay refused
     */
    private Message refusedBeforePostgres(String node, ClientTx tx, InvalidChange why, Scope scope)
            throws ApplyFailure {
        List<Op> ops = Validation.addressable(catalog, tx);
        Connection c = borrow();
        boolean broken = false;
        try {
            long[] client = TxRun.lockClient(c, node);
            if (client[0] >= tx.id()) {
                // A resend of what PostgreSQL applied before the catalog changed (or a copy's): no rejection.
                return TxRun.resend(c, node, tx, client);
            }
            ClockHistory.record(c, node, tx);
            List<FeedEntry> current = ops.isEmpty() ? List.of()
                    : visible(currentRows(c, null, ops), scope == null ? null : scope.asOf(c));
            record(c, node, tx.id(), why.sqlState(), why.getMessage(), current);
            c.commit();
            return new Message.Reject(tx.id(), why.sqlState(), why.getMessage(), current);
        } catch (CopiedNode e) {
            throw new ApplyFailure(e.getMessage(), e);
        } catch (SQLException e) {
            broken = !rollbackQuietly(c);
            throw new ApplyFailure("could not read the rows of refused tx " + tx.id() + ": SQLState "
                    + PgErrors.sqlState(e), e);
        } finally {
            pool.release(c, broken);
        }
    }

    /**
     * The client reverts to these; a row outside its scope is one it must not see: it reverts to none, without the
     * row's clock (which told when its user last wrote it; ScopeSecurityReviewTest).
     */
    private static List<FeedEntry> visible(List<FeedEntry> current, Scope scope) {
        if (scope == null) {
            return current;
        }
        return current.stream().map(e -> e.row() == null || scope.contains(e.table(), e.row()) ? e
                : new FeedEntry(0, e.table(), FeedKind.DELETE, e.pk(), null, 0)).toList();
    }

    /**
     * The current image (or a delete) of each row {@code ops} name, logged into the feed as the outcome of
     * {@code node}'s transaction, or, with {@code node} null, only read.
     */
    private List<FeedEntry> currentRows(Connection c, String node, List<Op> ops) throws SQLException {
        Map<TableInfo, Set<String>> keys = new LinkedHashMap<>();
        for (Op op : ops) {
            keys.computeIfAbsent(op.table(), t -> new LinkedHashSet<>()).add(op.pkJson());
        }
        List<FeedEntry> current = new ArrayList<>();
        for (Map.Entry<TableInfo, Set<String>> e : keys.entrySet()) {
            readCurrentOrAbsent(c, node, e.getKey(), new ArrayList<>(e.getValue()), current);
        }
        return current;
    }

    /**
     * {@link #readCurrent} of {@code keys}; when PostgreSQL refuses one of them as data (the reason for the
     * rejection, perhaps: text with U+0000), each half again, down to the keys refused alone: such a key has no row
     * in PostgreSQL, so the client reverts to none. Skipped with the table's other keys, as they once were, the row
     * stayed on the device alone for good, though its application was told the transaction was reverted.
     */
    private void readCurrentOrAbsent(Connection c, String node, TableInfo table, List<String> keys, List<FeedEntry> current)
            throws SQLException {
        if (readCurrent(c, node, table, keys, current)) {
            return;
        }
        if (keys.size() == 1) {
            current.add(new FeedEntry(0, table.name(), FeedKind.DELETE, object(keys.get(0)), null, 0));
            return;
        }
        int half = keys.size() / 2;
        readCurrentOrAbsent(c, node, table, keys.subList(0, half), current);
        readCurrentOrAbsent(c, node, table, keys.subList(half, keys.size()), current);
    }

    /**
     * Adds the current image (or a delete) of each of {@code keys} of {@code table} to {@code current}, logged as
     * {@link #currentRows} says; false, with nothing added, when PostgreSQL refuses one of the keys as data.
     */
    private boolean readCurrent(Connection c, String node, TableInfo table, List<String> keys, List<FeedEntry> current)
            throws SQLException {
        Savepoint sp = c.setSavepoint();
        TableStatements st = statements(table);
        List<FeedEntry> read = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(node == null ? st.readCurrent() : st.logCurrent())) {
            int i = 1;
            if (node != null) {
                ps.setString(i++, node);
            }
            ps.setString(i, "[" + String.join(",", keys) + "]");
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String row = rs.getString(2);
                    read.add(new FeedEntry(0, table.name(), row == null ? FeedKind.DELETE : FeedKind.UPSERT,
                            object(rs.getString(1)), row == null ? null : object(row), rs.getLong(3)));
                }
            }
            c.releaseSavepoint(sp);
        } catch (SQLException ex) {
            if (PgErrors.classify(ex) != PgErrors.Action.REJECT) {
                throw ex;
            }
            c.rollback(sp);
            return false;
        }
        current.addAll(read);
        return true;
    }

    private void lockTimedOut(String node) {
        long now = System.nanoTime();
        if (lockTimedOut.size() >= MAX_LOCK_TIMED_OUT) {
            lockTimedOut.values().removeIf(since -> now - since >= PROBE_WINDOW_NANOS);
        }
        lockTimedOut.put(node, now);
    }

    /**
     * See {@link Compensation}; false (and the transaction is rejected) if nothing could be restored.
     *
     * @throws SQLException an error that says nothing about the data (a lock timeout, a deadlock, a lost
     *                      connection): the transaction must not be rejected for it
     */
    private boolean restoreParents(Connection c, ClientTx tx, List<Op> ops, SQLException violation, Scope scope)
            throws SQLException {
        try {
            boolean restored = Compensation.restoreParents(c, catalog, violation, ops, tx.hlc(), scope);
            if (restored) {
                log.info("tx {}: restored deleted parent rows it refers to", tx.id());
            }
            return restored;
        } catch (SQLException e) {
            rollbackQuietly(c);
            if (PgErrors.classify(e) != PgErrors.Action.REJECT) {
                throw e;
            }
            log.debug("tx {}: compensation failed: SQLState {}", tx.id(), PgErrors.sqlState(e));
            return false;
        }
    }

    private TableStatements statements(TableInfo table) {
        return statements.computeIfAbsent(table, t -> new TableStatements(t, catalog.tables().indexOf(t)));
    }

    private static ObjectNode object(String json) throws SQLException {
        try {
            return JsonTrees.row(json);
        } catch (IOException | ClassCastException e) {
            throw new SQLException("unexpected JSON from PostgreSQL", "XX000", e);
        }
    }

    private Connection borrow() throws ApplyFailure {
        try {
            return pool.borrow(BORROW_TIMEOUT);
        } catch (SQLException e) {
            throw new ApplyFailure("no database connection", e);
        }
    }

    /** Rolls back; false if even that failed, which means the connection is unusable. */
    private static boolean rollbackQuietly(Connection c) {
        try {
            c.rollback();
            return true;
        } catch (SQLException e) {
            return false;
        }
    }

    /** {@link PgErrors#keyConflict}, null when the catalog lookup itself fails (the error then counts as it is). */
    private static String keyConflict(Connection c, SQLException e) {
        try {
            return PgErrors.keyConflict(c, e);
        } catch (SQLException lookup) {
            e.addSuppressed(lookup);
            return null;
        }
    }

    private static void backoff(int attempt) {
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(5, 20L * attempt + 10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
