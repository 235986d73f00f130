package io.syncsqlite.driver.jdbc;

import io.syncsqlite.driver.capture.CaptureInstaller;
import io.syncsqlite.driver.capture.Outbox;
import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.driver.sql.KeyRewriter;
import io.syncsqlite.driver.sql.SchemaListing;
import io.syncsqlite.driver.sql.SqlClassifier;
import io.syncsqlite.driver.sql.SqlInfo;
import io.syncsqlite.driver.sql.StatementKind;
import io.syncsqlite.driver.sync.SyncNode;

import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A connection to a synced SQLite file: the one place where every statement's transaction is decided.
 *
 * <p>All execution paths of the statements it creates funnel into {@link #run(SqlInfo, SqlCall)}, which
 * tracks transactions begun through JDBC ({@code setAutoCommit(false)}) and through SQL text
 * ({@code BEGIN}, {@code SAVEPOINT} outside a transaction), and stamps every committing transaction that
 * may have written with one HLC (see {@link Outbox#STAMP}). An auto-commit write is wrapped in
 * {@code BEGIN ... COMMIT} so that its capture and its stamp commit atomically with it. DDL refreshes the
 * capture triggers inside the same transaction.
 *
 * <p>Not thread-safe, like the sqlite-jdbc connection it wraps: one thread at a time. Several connections
 * to one file may be used from several threads; they share one {@link SyncNode}.
 */
public class SyncConnection extends DelegatingConnection implements SyncNode.GateHolder {

    private static final SqlClassifier CLASSIFIER = new SqlClassifier();
    /** SQLite's result code for a statement that has finished; sqlite-jdbc's error for a query that returns no rows. */
    private static final int SQLITE_DONE = 101;

    private final SyncNode node;
    private final PreparedStatement stamp;
    private final Control begin = new Control("BEGIN");
    private final Control commit = new Control("COMMIT");
    private final Control rollback = new Control("ROLLBACK");
    private final PreparedStatement markEnd;
    private final PreparedStatement annotate;
    /** A transaction opened with SQL text while JDBC auto-commit is on. */
    private boolean sqlTransaction;
    /**
     * Open savepoints of a {@link #sqlTransaction} that a SAVEPOINT opened (innermost first): releasing
     * the last of them commits. Names may repeat; RELEASE removes up to the innermost one of that name.
     */
    private final java.util.ArrayDeque<String> savepoints = new java.util.ArrayDeque<>();
    private boolean openedBySavepoint;
    /** Reads SQLite's last_insert_rowid() for {@link GeneratedKeys}. */
    private final PreparedStatement lastRowid;
    /** sqlite-jdbc's switch for its keys query after each INSERT; null if the delegate is not sqlite-jdbc's. */
    private final org.sqlite.SQLiteConnectionConfig keysConfig;
    /** sqlite-jdbc's database of {@link #delegate}, for its {@code changes()}; null for another driver's connection. */
    private final org.sqlite.core.DB db;
    /** Whether {@link #run} holds a transaction of its own (an auto-commit write it wraps) open now. */
    private boolean driverTransaction;
    /** Whether the open transaction ran anything that may have written. */
    private boolean dirty;
    /** Whether this connection is inside an application transaction, from its first statement to its end. */
    private boolean inAppTransaction;
    /**
     * This connection's auto-commit queries still open (each result set ends its count when read to its end or closed,
     * or when its statement runs again or is closed): SQLite keeps such a query's read snapshot, which a write on this
     * connection meanwhile (updating each row while iterating) must upgrade, so a sync commit in between fails that
     * write as it would an application transaction's. Atomic: sqlite-jdbc lets several threads share a connection,
     * and a result set may be closed on another thread.
     */
    private final java.util.concurrent.atomic.AtomicInteger openReads = new java.util.concurrent.atomic.AtomicInteger();
    /**
     * Moves at the start and at the end of each statement {@link #run} runs, odd while one runs: the sync client,
     * past its first second at the gate, waits on for a connection that still works (SyncNode.Watch).
     */
    private final java.util.concurrent.atomic.AtomicInteger activity = new java.util.concurrent.atomic.AtomicInteger();
    /** How many times this connection began to hold the gate (a transaction, or its first open query; SyncNode.Watch). */
    private final java.util.concurrent.atomic.AtomicInteger holds = new java.util.concurrent.atomic.AtomicInteger();
    /**
     * An auto-commit write with RETURNING whose result set is still open: SQLite commits it only once that is read
     * to its end or closed, so the sync client is nudged again then ({@link #readEnded}); nudged only as it ran, it
     * found nothing yet and the rows waited for its 10 s heartbeat (JooqReviewTest).
     */
    private volatile boolean committedOnReadEnd;
    /** The thread's count of connections it holds reads on, taken when this connection's count left 0. */
    private java.util.concurrent.atomic.AtomicInteger readsOfThread;
    /**
     * Per thread: on how many connections it holds open auto-commit queries. Such a thread does not wait for the sync
     * client (which waits for those queries) when it reads or begins a transaction on any connection: a query open on
     * one pooled connection and a short transaction on another, per row, stalled the bound and let the sync client
     * commit under the query (GateReviewTest).
     */
    private static final ThreadLocal<java.util.concurrent.atomic.AtomicInteger> THREAD_READS =
            ThreadLocal.withInitial(java.util.concurrent.atomic.AtomicInteger::new);
    /** The connection whose running query registered a read that no result set has claimed yet ({@link #claimRead}). */
    private static final ThreadLocal<SyncConnection> CLAIMABLE = new ThreadLocal<>();
    /** The open transaction ran DDL: the node's synced tables are re-read when it ends. */
    private boolean schemaChanged;
    private boolean closed;

    public SyncConnection(Connection delegate, SyncNode node) throws SQLException {
        super(delegate);
        this.node = node;
        this.stamp = delegate.prepareStatement(Outbox.STAMP);
        this.markEnd = delegate.prepareStatement(Outbox.MARK_END);
        this.annotate = delegate.prepareStatement(Outbox.ANNOTATE_DELTAS);
        this.lastRowid = delegate.prepareStatement("SELECT last_insert_rowid()");
        this.keysConfig = delegate.isWrapperFor(org.sqlite.SQLiteConnection.class)
                ? delegate.unwrap(org.sqlite.SQLiteConnection.class).getConnectionConfig() : null;
        this.db = delegate.isWrapperFor(org.sqlite.SQLiteConnection.class)
                ? delegate.unwrap(org.sqlite.SQLiteConnection.class).getDatabase() : null;
        node.opened(this);
    }

    @Override
    public boolean readsOpen() {
        return openReads.get() > 0;
    }

    @Override
    public int activity() {
        return activity.get();
    }

    @Override
    public int holds() {
        return holds.get();
    }

    /** Rows of one of its result sets were read: the connection is at work (by two, so that the count stays even). */
    void rowsRead() {
        activity.addAndGet(2);
    }

    /** Whether the next statement commits by itself (JDBC auto-commit, no transaction opened with SQL). */
    boolean autoCommitting() throws SQLException {
        return delegate.getAutoCommit() && !sqlTransaction;
    }

    /** The synced file this connection belongs to: status, listeners, waiting for sync. */
    public SyncNode node() {
        return node;
    }

    SqlInfo classify(String sql) {
        return node.withColumns(sql, CLASSIFIER.classify(sql));
    }

    /** As {@link #classify}, for a statement prepared by sqlite-jdbc, which prepares only the first of several. */
    private SqlInfo classifyPrepared(String sql) {
        return SqlClassifier.firstStatementOnly(classify(sql), sql);
    }

    /** Runs {@code call} (which executes a statement of kind {@code info}) in the right transaction. */
    <T> T run(SqlInfo info, SqlCall<T> call) throws SQLException {
        return run(info, null, call);
    }

    /**
     * As {@link #run(SqlInfo, SqlCall)}, for a counter statement: the rows it captures are marked, inside
     * its transaction, with the amounts it added ({@code deltas}, a JSON object), so that the relay adds
     * them rather than overwriting.
     */
    <T> T run(SqlInfo info, String deltas, SqlCall<T> call) throws SQLException {
        return run(info, deltas, call, false);
    }

    /**
     * As {@link #run(SqlInfo, SqlCall)}, for {@code executeBatch}: when an entry fails in auto-commit mode,
     * the entries before it stay committed, as sqlite-jdbc leaves them (it runs them one by one), rather
     * than disappear after the application was told of their update counts.
     *
     * <p>A failure that ends the transaction itself (a trigger's {@code RAISE(ROLLBACK)}, {@code OR ROLLBACK},
     * {@code ON CONFLICT ROLLBACK}) would take the wrapping transaction, and the earlier entries, with it. So
     * when the batch's SQL or the file's schema (a trigger or table, outside the driver's own) says
     * {@code ROLLBACK}, an auto-commit batch runs unwrapped, each entry committing by itself as with
     * sqlite-jdbc (capture is part of each entry's statement), and what it captured is stamped right after,
     * in a transaction of its own: as slow as sqlite-jdbc's own auto-commit batch.
     *
     * @param sqlSaysRollback whether the batch's SQL contains {@code ROLLBACK} ({@link #saysRollback}); false for
     *                        batches that must run wrapped (counter amounts are annotated in the transaction)
     */
    <T> T runBatch(SqlInfo info, boolean sqlSaysRollback, SqlCall<T> call) throws SQLException {
        checkOpen();
        try {
            refuseUnfollowableAlters(info); // before the first entry runs, on both paths below
        } catch (SQLException refused) {
            // What a failed batch throws, with no entry run (JDBC callers and ORMs catch this type for batches).
            throw new java.sql.BatchUpdateException(refused.getMessage(), refused.getSQLState(),
                    refused.getErrorCode(), new int[0], refused);
        }
        if (autoCommitting() && (sqlSaysRollback || node.schemaSaysRollback(delegate, schemaChanged))) {
            T r;
            try {
                r = call.call();
            } catch (SQLException | RuntimeException e) {
                try {
                    stampAlone(); // the entries before the failing one committed, as they captured
                } catch (SQLException stampFailed) {
                    e.addSuppressed(stampFailed); // the sync client stamps them when nudged
                }
                throw e;
            }
            stampAlone();
            return r;
        }
        return run(info, null, call, true);
    }

    /** Sets {@link Outbox#REPLACING} (with the outbox's end), and clears it (returning both); prepared on first use. */
    private PreparedStatement replacingOn;
    private PreparedStatement replacingOff;

    /**
     * {@code call} (a statement that resolves conflicts by REPLACE) with {@link Outbox#REPLACING} holding a
     * row while it runs: the capture triggers of tables with UNIQUE keys besides their primary key then log a
     * delete of every other row holding a new row's unique values, before SQLite's REPLACE evicts it without
     * firing its delete trigger (TriggerSql). Set whatever the table: an application trigger's inner insert
     * into another table takes the outer statement's REPLACE too. Such a BEFORE trigger cannot know whether
     * the row will be written at all ({@code ON CONFLICT DO NOTHING} after {@code OR REPLACE}, an application
     * trigger's {@code RAISE(IGNORE)}, a stale trigger of a dropped index), so after the statement the deletes it
     * logged of rows that still exist are taken out again ({@link TriggerSql#phantomDeletes}). Must run inside
     * the statement's transaction, where nobody else sees the row: not for a statement run unwrapped in
     * auto-commit mode (a {@code RETURNING} statement, a batch in a schema that says ROLLBACK), whose evictions
     * stay uncaptured. Only when the file has such triggers at all ({@link SyncNode#hasEvictionTriggers}).
     */
    private <T> SqlCall<T> evicting(SqlCall<T> call) {
        return () -> {
            if (replacingOn == null) {
                // Its rowid is the connection's last_insert_rowid(), which the insert so leaves as it was: a
                // statement that inserts nothing (UPDATE OR REPLACE, INSERT OR IGNORE that ignored) must not show the
                // flag's rowid to getGeneratedKeys or to the application (JdbcParityReviewTest).
                replacingOn = delegate.prepareStatement("INSERT INTO " + Outbox.REPLACING
                        + " (rowid, mark, evicted) SELECT last_insert_rowid(), coalesce(max(seq), 0), 0 FROM _sync_outbox");
                replacingOff = delegate.prepareStatement("DELETE FROM " + Outbox.REPLACING + " RETURNING mark, evicted");
            }
            replacingOn.executeUpdate();
            SQLException failed = null;
            try {
                return call.call();
            } catch (SQLException e) {
                failed = e;
                throw e;
            } finally {
                try {
                    // Also after a failure: the application's transaction goes on, and a failed batch keeps its
                    // earlier entries. No row: the failure ended the transaction, and what it logged went with it.
                    long mark = -1;
                    try (ResultSet rs = replacingOff.executeQuery()) {
                        if (rs.next() && rs.getInt(2) != 0) {
                            mark = rs.getLong(1);
                        }
                    }
                    if (mark >= 0) {
                        dropPhantomEvictions(mark);
                    }
                } catch (SQLException e) {
                    if (failed == null) {
                        throw e;
                    }
                    failed.addSuppressed(e);
                }
            }
        };
    }

    /**
     * Whether {@code info}'s statement may evict rows by REPLACE (its SQL says so, or its table's constraints
     * do: {@link SyncNode#replacesByDefault}) in a file whose triggers log evictions.
     */
    private boolean mayEvict(SqlInfo info) throws SQLException {
        StatementKind k = info.kind();
        if (!info.replaces() && k != StatementKind.INSERT && k != StatementKind.UPDATE && k != StatementKind.DELETE
                && k != StatementKind.UNKNOWN) {
            return false;
        }
        // Reading the schema inside an application transaction, before its first write, would take a snapshot
        // that another process's commit makes the write fail on: there, an unknown answer is taken as yes.
        boolean mayRead = delegate.getAutoCommit() && !sqlTransaction;
        return node.hasEvictionTriggers(delegate, schemaChanged, mayRead)
                && (info.replaces() || node.replacesByDefault(delegate, info.table(), k, schemaChanged, mayRead));
    }

    /** Takes out the deletes logged after {@code mark} of rows that still exist (see {@link #evicting}). */
    private void dropPhantomEvictions(long mark) throws SQLException {
        List<String> tables = new ArrayList<>();
        try (PreparedStatement ps = delegate.prepareStatement(
                "SELECT DISTINCT tbl FROM _sync_outbox WHERE seq > ? AND op = " + Outbox.OP_DELETE)) {
            ps.setLong(1, mark);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
        }
        for (String table : tables) {
            // Read here, not from the published tables: the table may have been created in this transaction.
            io.syncsqlite.driver.capture.TableInfo t = io.syncsqlite.driver.capture.SchemaReader.readTable(delegate, table);
            if (t == null || !t.hasPrimaryKey()) {
                continue;
            }
            try (PreparedStatement ps = delegate.prepareStatement(io.syncsqlite.driver.capture.TriggerSql.phantomDeletes(t))) {
                ps.setLong(1, mark);
                ps.executeUpdate();
            }
        }
    }

    /**
     * Whether {@code sql} mentions ROLLBACK anywhere, in any case (an {@code OR ROLLBACK}; a false alarm costs
     * speed only). Asked at every auto-commit batch, so it copies nothing.
     */
    static boolean saysRollback(String sql) {
        if (sql == null) {
            return false;
        }
        for (int i = 0, last = sql.length() - 8; i <= last; i++) {
            if (sql.regionMatches(true, i, "ROLLBACK", 0, 8)) {
                return true;
            }
        }
        return false;
    }

    private <T> T run(SqlInfo info, String deltas, SqlCall<T> call, boolean keepDone) throws SQLException {
        activity.incrementAndGet();
        try {
            return runStatement(info, deltas, call, keepDone);
        } finally {
            activity.incrementAndGet();
        }
    }

    private <T> T runStatement(SqlInfo info, String deltas, SqlCall<T> call, boolean keepDone) throws SQLException {
        checkOpen();
        StatementKind kind = info.kind();
        refuseUnfollowableAlters(info);
        boolean jdbcAuto = delegate.getAutoCommit();
        boolean autoCommitting = jdbcAuto && !sqlTransaction;
        if (!autoCommitting || kind == StatementKind.BEGIN || kind == StatementKind.SAVEPOINT) {
            inAppTransaction(true);
        }
        switch (kind) {
            case READ:
                if (autoCommitting && node.syncsHere()) {
                    return read(call);
                }
                return call.call();
            case PRAGMA:
                return call.call();
            case ROLLBACK_TO: {
                T r = call.call();
                afterRollbackTo();
                if (schemaChanged) {
                    node.forgetSchemaAnswers(); // it may have undone DDL of this transaction
                }
                return r;
            }
            case BEGIN: {
                T r = call.call();
                if (jdbcAuto) {
                    sqlTransaction = true;
                    openedBySavepoint = false;
                    savepoints.clear();
                    dirty = false;
                }
                return r;
            }
            case SAVEPOINT: {
                T r = call.call();
                if (autoCommitting) {
                    sqlTransaction = true;
                    openedBySavepoint = true;
                    savepoints.clear();
                    dirty = false;
                }
                if (sqlTransaction && info.name() != null) {
                    savepoints.push(info.name());
                }
                return r;
            }
            case COMMIT:
                return sqlTransaction || !jdbcAuto ? finishSqlTransaction(call) : call.call();
            case RELEASE:
                if (sqlTransaction && openedBySavepoint && releasesLast(info.name())) {
                    return finishSqlTransaction(call);
                }
                T released = call.call();
                popThrough(info.name());
                return released;
            case ROLLBACK: {
                T r = call.call();
                forgetRebuilds();
                if (sqlTransaction || !jdbcAuto) {
                    endSqlTransaction();
                    dirty = false;
                }
                transactionEnded();
                return r;
            }
            default:
                break;
        }
        // Several statements in one string that may REPLACE (and neither manage the transaction nor say
        // ROLLBACK: SqlClassifier.severalReplace) run in a transaction of the driver's in auto-commit mode too,
        // as a batch does, so that the eviction flag is set inside it: the statements before a failing one
        // stay committed, as they would have without the driver.
        boolean wrapSeveral = kind == StatementKind.UNKNOWN && autoCommitting && info.replaces() && mayEvict(info)
                && !node.schemaSaysRollback(delegate, schemaChanged);
        if (!(autoCommitting && (info.returning() || kind == StatementKind.UNKNOWN && !wrapSeveral)) && mayEvict(info)) {
            call = evicting(call);
        }
        if (!autoCommitting) {
            dirty = true;
            if (!kind.changesSchema() || kind == StatementKind.UNKNOWN) {
                return inTransaction(info, deltas, call);
            }
            // DDL: its capture is rewritten right after it, which may refuse the new schema (a table that would
            // become synced while it holds NULL keys or stray bytes). A failed statement must leave nothing behind,
            // as SQLite's own failures do, so the DDL and the driver's work around it are undone together. Not for
            // several statements in one string, which may manage the transaction themselves.
            try (Statement st = delegate.createStatement()) {
                st.execute("SAVEPOINT _sync_ddl");
                T r;
                try {
                    r = inTransaction(info, deltas, call);
                } catch (SQLException | RuntimeException e) {
                    try {
                        st.execute("ROLLBACK TO _sync_ddl");
                        st.execute("RELEASE _sync_ddl");
                        afterRollbackTo();
                        node.forgetSchemaAnswers();
                    } catch (SQLException undo) {
                        e.addSuppressed(undo);
                    }
                    throw e;
                }
                st.execute("RELEASE _sync_ddl");
                return r;
            }
        }
        if (info.returning()) {
            // Its rows are read after this call returns and SQLite cannot commit while they are open:
            // SQLite commits it when it is done, and the sync client stamps its rows when nudged. Its result set
            // holds a read, as a query's does, and the nudge comes again when that ends.
            committedOnReadEnd = true;
            T r = read(call);
            node.committed();
            return r;
        }
        if (kind == StatementKind.UNKNOWN && !wrapSeveral) {
            // Several statements, or a form the lexer does not know: it may manage transactions itself, so it
            // runs as written; its captured rows are stamped right after, in a transaction of their own.
            T r;
            try {
                r = call.call();
            } catch (SQLException | RuntimeException e) {
                // The statements before the failing one ran (and in auto-commit mode committed): the capture follows
                // their schema changes, and their rows are stamped, as after a success.
                try {
                    afterUnwrapped();
                } catch (SQLException after) {
                    e.addSuppressed(after);
                }
                throw e;
            }
            afterUnwrapped();
            return r;
        }
        begin.run();
        driverTransaction = true;
        boolean ended = false;
        try {
            T r;
            try {
                r = deltas == null ? call.call() : counted(info, deltas, call);
            } catch (SQLException e) {
                if (keepDone || wrapSeveral) {
                    // sqlite-jdbc runs an auto-commit batch entry by entry: the entries before the failing one
                    // stay committed. So they do here (the failing entry's statement undid its own rows).
                    try {
                        stampNow();
                        commit.run();
                        ended = true;
                        node.committed();
                    } catch (SQLException commitFailed) {
                        e.addSuppressed(commitFailed); // rolled back below
                    }
                }
                throw e;
            }
            if (kind.changesSchema()) {
                refreshCapture(true);
                schemaChanged = true;
            }
            stampNow();
            commit.run();
            ended = true;
            node.committed();
            return r;
        } catch (SQLException | RuntimeException e) {
            if (!ended) {
                rollbackQuietly(e);
            }
            throw e;
        } finally {
            driverTransaction = false;
            transactionEnded();
        }
    }

    /**
     * After SQL run as written (several statements, or a form the lexer does not know): the capture follows the
     * schema, and the rows it captured are stamped in a transaction of their own.
     */
    private void afterUnwrapped() throws SQLException {
        try {
            refreshCapture(false);
            stampAlone();
        } catch (SQLException e) {
            if (!isTransactionOpenError(e)) {
                throw e;
            }
            // The SQL began a transaction (e.g. "BEGIN; INSERT ..."): it stays open until its COMMIT.
            sqlTransaction = true;
            openedBySavepoint = false;
            dirty = true;
            refreshCapture(true);
            schemaChanged = true;
        }
    }

    /**
     * As {@link #run(SqlInfo, String, SqlCall)}, for an {@code execute}/{@code executeUpdate}, which
     * sqlite-jdbc would follow with its generated-keys query: {@code keys} reads them more cheaply.
     *
     * @param inserts whether the SQL is one sqlite-jdbc reads keys after ({@link GeneratedKeys#inserts})
     */
    <T> T runKeyed(GeneratedKeys keys, boolean inserts, SqlInfo info, String deltas, SqlCall<T> call)
            throws SQLException {
        if (keysConfig == null || !keysConfig.isGetGeneratedKeys()) {
            return run(info, deltas, call); // not sqlite-jdbc's, or its keys turned off by the application
        }
        return run(info, deltas, () -> {
            keysConfig.setGetGeneratedKeys(false);
            T r;
            try {
                r = call.call();
            } finally {
                keysConfig.setGetGeneratedKeys(true);
            }
            // Before anything else runs: capture bookkeeping after SQL that is not classified may insert.
            keys.executed(this, inserts);
            return r;
        });
    }

    /**
     * Runs sqlite-jdbc's {@code Statement.executeUpdate(String)} (or {@code executeLargeUpdate}) of {@code info}.
     * sqlite-jdbc counts it as the growth of SQLite's {@code total_changes} over the call, which counts the rows
     * that triggers write, the capture triggers' outbox rows among them: a one-row INSERT into a synced table said
     * 2 (and JdbcTemplate.update(sql) returns this count). For an INSERT, UPDATE or DELETE the count is
     * {@code changes()} instead, the rows the statement itself changed: what sqlite-jdbc's prepared statements and
     * batches count, with or without the driver (an application's own triggers' rows are left out too, as there).
     * Several statements in one string ({@code changes()} would count only the last) are counted as sqlite-jdbc
     * counts them, less the outbox rows they added (unless the string says ROLLBACK or evicted rows by REPLACE, where
     * sqlite-jdbc's count is kept): the outbox's end is read before and after, the first time after
     * writing it down in the application's transaction ({@link #markOutboxEnd}), since a read before the write would
     * fail the write with SQLITE_BUSY_SNAPSHOT should another connection commit in between. Other statements keep
     * sqlite-jdbc's count (DDL fires no trigger), and so do writes to other tables than synced ones: through a
     * view's INSTEAD OF trigger {@code changes()} is 0.
     */
    long directChanges(SqlInfo info, String sql, SqlCall<? extends Number> call) throws SQLException {
        StatementKind kind = info.kind();
        // Not when the string may roll back (a ROLLBACK takes outbox rows away again), nor after REPLACE evicted rows
        // (the eviction flag's update is counted too, once per row that evicted): sqlite-jdbc's count there.
        if (db != null && kind == StatementKind.UNKNOWN && !saysRollback(sql)) {
            try (PreparedStatement end = delegate.prepareStatement(OUTBOX_END)) {
                long before = autoCommitting() ? outboxEnd(end) : markOutboxEnd();
                long count = call.call().longValue();
                long captured = outboxEnd(end) - before;
                if (captured < 0 || mayEvict(info) && evicted()) {
                    return count;
                }
                return Math.max(0, count - captured);
            }
        }
        long count = call.call().longValue();
        if (db != null && (kind == StatementKind.INSERT || kind == StatementKind.UPDATE || kind == StatementKind.DELETE)
                && published(info.table())) {
            return db.changes();
        }
        return count;
    }

    /** Runs one batch entry alone and counts it as sqlite-jdbc's batch counts an entry: {@code changes()}. */
    long batchEntry(SqlCall<? extends Number> call) throws SQLException {
        long count = call.call().longValue();
        return db != null ? db.changes() : count;
    }

    /**
     * Rewrites the capture for the schema as it is now ({@link SyncNode#refreshCapture}), leaving SQLite's
     * {@code last_insert_rowid()} as the application's statement left it: a new table shape is recorded with an
     * INSERT into {@code _sync_layouts}, whose id an application reading its last key (or getGeneratedKeys after
     * several statements) would otherwise get. It is put back by inserting that rowid into a temporary table,
     * dropped at once (DROP changes no rowid), so that no table of the driver's stays in the connection's metadata.
     */
    private void refreshCapture(boolean inTransaction) throws SQLException {
        long rowid = lastInsertRowid();
        node.refreshCapture(delegate, inTransaction, rebuilds.isEmpty() && dropped.isEmpty()
                ? CaptureInstaller.Rebuilding.NONE : rebuilding());
        if (lastInsertRowid() != rowid) {
            try (Statement st = delegate.createStatement()) {
                st.execute("CREATE TEMP TABLE IF NOT EXISTS _sync_rowid (r INTEGER PRIMARY KEY)");
                st.execute("INSERT INTO temp._sync_rowid (r) VALUES (" + rowid + ")");
                st.execute("DROP TABLE temp._sync_rowid");
            }
        }
    }

    /** SQLite's last_insert_rowid() of this connection. */
    long lastInsertRowid() throws SQLException {
        try (ResultSet rs = lastRowid.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * Refuses ALTER TABLE forms on a synced table that sync cannot follow: dropping or renaming a column,
     * or renaming the table, would silently stop syncing that data (PostgreSQL and the other clients keep
     * the old name, and rows would carry a column nobody else has). Adding a column is followed. For several
     * statements in one string, or a batch, each ALTER among them ({@link SqlInfo#alters}) is checked before
     * any statement runs, so a refused one leaves nothing half done.
     */
    private void refuseUnfollowableAlters(SqlInfo info) throws SQLException {
        if (info.kind() == StatementKind.ALTER_TABLE && info.table() != null
                && rebuilds.containsKey(info.table().toLowerCase(java.util.Locale.ROOT))) {
            throw new SQLException("ALTER TABLE " + info.table() + " is refused: synced table "
                    + rebuilds.get(info.table().toLowerCase(java.util.Locale.ROOT)).table() + " was renamed to it to be"
                    + " rebuilt; copy its rows into the table created anew and drop it", SyncSqlState.SCHEMA_CHANGE_REFUSED.code());
        }
        if (info.kind() == StatementKind.ALTER_TABLE && !rebuildBegins(info) && !replacementFollows(info)) {
            refuseUnfollowableAlter(info);
        }
        for (SqlInfo alter : info.alters()) {
            refuseUnfollowableAlter(alter);
            if (alter.renamedTo() != null && published(alter.renamedTo()) && !shadowedByTemp(alter.renamedTo())) {
                // The end of a rebuild (create new_t, copy, drop t, rename new_t to t) is followed only statement by
                // statement, where the drop keeps t's rows and the rename is compared with them.
                throw new SQLException("ALTER TABLE " + alter.table() + " RENAME TO " + alter.renamedTo() + " is refused"
                        + " among several statements (a batch, or one string): " + alter.renamedTo() + " is a synced"
                        + " table, and its rebuild is followed only when each of its statements runs alone",
                        SyncSqlState.SCHEMA_CHANGE_REFUSED.code());
            }
        }
    }

    /**
     * A synced table being rebuilt in the application's transaction, as SQLite migration tools change a table (Liquibase's
     * {@code addColumn}: {@code ALTER TABLE t RENAME TO t_temporary}, {@code CREATE TABLE t (...)}, {@code INSERT INTO t
     * SELECT ... FROM t_temporary}, {@code DROP TABLE t_temporary}): its shape and where the outbox ended before.
     */
    private record Rebuild(String table, String renamedTo, TableInfo shape, long mark) {
    }

    /** The rebuilds of the open transaction, by the lower-case name each table was renamed to. */
    private final Map<String, Rebuild> rebuilds = new HashMap<>();
    /** The rebuilds this transaction ended, checked again at its commit: a ROLLBACK TO may have undone their end. */
    private final List<Rebuild> endedRebuilds = new ArrayList<>();

    /**
     * Whether {@code info}, a statement of its own, renames a synced table away inside the application's transaction:
     * a rebuild begins, followed instead of refused. The renamed table is not synced (its rows are copied, not
     * changed), the synced table keeps its record while it is missing, the rows the copy captures into the table
     * created under its name are taken out when the renamed table is dropped, and that drop is refused unless the
     * new table keeps the key and every column ({@link #rebuildEnds}); a commit before it is refused.
     */
    private boolean rebuildBegins(SqlInfo info) throws SQLException {
        if (info.renamedTo() == null || info.table() == null || autoCommitting() || driverTransaction
                || !synced(info.table()) || shadowedByTemp(info.table())) {
            return false;
        }
        TableInfo shape = node.syncedTables().get(info.table().toLowerCase(java.util.Locale.ROOT));
        if (shape == null) {
            return false; // synced only within this transaction: nothing synced to keep
        }
        rebuilds.put(info.renamedTo().toLowerCase(java.util.Locale.ROOT),
                new Rebuild(shape.name(), info.renamedTo(), shape, markOutboxEnd()));
        return true;
    }

    /**
     * Before {@code DROP TABLE} of a table a rebuild renamed away: refused (SY002) unless the table created under the
     * synced table's name keeps its key and every column, so that what syncs is still the same table.
     */
    private Rebuild rebuildEnds(SqlInfo info) throws SQLException {
        if (info.kind() != StatementKind.DROP_TABLE || info.table() == null || rebuilds.isEmpty()) {
            return null;
        }
        Rebuild r = rebuilds.get(info.table().toLowerCase(java.util.Locale.ROOT));
        if (r == null) {
            return null;
        }
        String why = whyNotKept(r.shape(), r.renamedTo(), r.table());
        if (why != null) {
            throw new SQLException("DROP TABLE " + info.table() + " is refused: it ends a rebuild of synced table "
                    + r.table() + ", and " + why + " (the copy is not captured, so a row left out or changed would never"
                    + " reach the server: change rows before the rebuild or after it)",
                    SyncSqlState.SCHEMA_CHANGE_REFUSED.code());
        }
        return r;
    }

    /**
     * Why table {@code to} cannot stand for synced table {@code from} of shape {@code shape} (both in main), or null
     * when it can: it must keep the key and every column, and hold exactly the same rows, compared on the old columns
     * both ways (a rebuild's copy is not captured, so a row left out, a value changed or converted by a new column
     * type, a row added or deleted in between would otherwise never reach the server).
     */
    private String whyNotKept(TableInfo shape, String from, String to) throws SQLException {
        return whyNotKept(shape, from, "main." + io.syncsqlite.driver.capture.TriggerSql.quote(from), to);
    }

    /** As {@link #whyNotKept(TableInfo, String, String)}, the rows of {@code from} being in {@code rows}, qualified. */
    private String whyNotKept(TableInfo shape, String from, String rows, String to) throws SQLException {
        TableInfo now = io.syncsqlite.driver.capture.SchemaReader.readTable(delegate, to);
        List<String> had = lower(shape.columns().stream().map(TableInfo.Column::name).toList());
        List<String> has = now == null ? List.of() : lower(now.columns().stream().map(TableInfo.Column::name).toList());
        List<String> missing = had.stream().filter(c -> !has.contains(c)).toList();
        return now == null ? "no table " + to + " exists"
                : !missing.isEmpty() ? to + " lacks " + String.join(", ", missing)
                : !lower(now.pk()).equals(lower(shape.pk())) ? to + " has another primary key"
                : !sameRows(shape, rows, "main." + io.syncsqlite.driver.capture.TriggerSql.quote(to))
                        ? to + " does not hold the same rows and values as " + from
                : null;
    }

    /**
     * Whether tables {@code a} and {@code b} (qualified) hold the same rows, compared on the columns of {@code shape}
     * byte for byte: a column's own collation (NOCASE, RTRIM) would take a copy that changed letter case or trailing
     * spaces for the same rows.
     */
    private boolean sameRows(TableInfo shape, String a, String b) throws SQLException {
        String cols = String.join(", ", shape.columns().stream()
                .map(c -> io.syncsqlite.driver.capture.TriggerSql.quote(c.name()) + " COLLATE BINARY").toList());
        try (Statement st = delegate.createStatement();
             ResultSet rs = st.executeQuery("SELECT EXISTS (SELECT " + cols + " FROM " + a + " EXCEPT SELECT " + cols
                     + " FROM " + b + ") OR EXISTS (SELECT " + cols + " FROM " + b + " EXCEPT SELECT " + cols + " FROM " + a
                     + ")")) {
            return rs.next() && !rs.getBoolean(1);
        }
    }

    private static List<String> lower(List<String> names) {
        return names.stream().map(n -> n.toLowerCase(java.util.Locale.ROOT)).toList();
    }

    /** The rebuilds of the open transaction as the capture wants them. */
    private CaptureInstaller.Rebuilding rebuilding() {
        Map<String, String> renamed = new HashMap<>();
        rebuilds.forEach((to, r) -> renamed.put(to, r.table().toLowerCase(java.util.Locale.ROOT)));
        return new CaptureInstaller.Rebuilding(renamed, dropped.keySet());
    }

    /**
     * Before a commit: refused (SY002, the transaction left open) while a table a rebuild renamed away still exists,
     * since the synced table would stop syncing under its old name. A rebuild undone by a rollback to a savepoint
     * leaves no such table.
     */
    private void refuseUnfinishedRebuilds() throws SQLException {
        List<Rebuild> all = new ArrayList<>(rebuilds.values());
        all.addAll(endedRebuilds);
        for (Rebuild r : all) {
            if (tableExists(r.renamedTo()) || !tableExists(r.table())) {
                throw new SQLException("commit refused: synced table " + r.table() + " was renamed to "
                        + r.renamedTo() + ", which was not dropped after the table was created again; sync"
                        + " cannot follow a renamed table (roll back, or finish the rebuild)",
                        SyncSqlState.SCHEMA_CHANGE_REFUSED.code());
            }
        }
        if (!dropped.isEmpty()) {
            // A synced table dropped in the transaction kept its record for a rename to its name: without one, it is
            // dropped for good, and so is its record (a table created under its name later is a new one).
            try (Statement st = delegate.createStatement()) {
                for (Dropped d : dropped.values()) {
                    st.execute("DROP TABLE IF EXISTS temp." + io.syncsqlite.driver.capture.TriggerSql.quote(d.copy()));
                }
            }
            dropped.clear();
            refreshCapture(true);
        }
        forgetRebuilds();
    }

    private void forgetRebuilds() {
        rebuilds.clear();
        endedRebuilds.clear();
        created.clear();
        dropped.clear();
    }

    /** Whether the open transaction holds anything {@link #refuseUnfinishedRebuilds} must check or forget. */
    private boolean rebuildsToCheck() {
        return !rebuilds.isEmpty() || !endedRebuilds.isEmpty() || !created.isEmpty() || !dropped.isEmpty();
    }

    /**
     * After a rollback to a savepoint: a rebuild whose renamed table is gone again was undone (its rename rolled back),
     * and is forgotten, or a later table of that name would be taken for it.
     */
    private void afterRollbackTo() throws SQLException {
        for (java.util.Iterator<Created> it = created.values().iterator(); it.hasNext(); ) {
            if (!tableExists(it.next().name())) {
                it.remove();
            }
        }
        for (java.util.Iterator<Dropped> it = dropped.values().iterator(); it.hasNext(); ) {
            if (!tableExists("temp", it.next().copy())) {
                it.remove(); // the drop was undone, and with it the copy of the rows made right before it
            }
        }
        if (!rebuilds.isEmpty()) {
            for (java.util.Iterator<Rebuild> it = rebuilds.values().iterator(); it.hasNext(); ) {
                if (!tableExists(it.next().renamedTo())) {
                    it.remove();
                }
            }
        }
    }

    /**
     * A table created in the application's open transaction, which may replace a synced table ({@link Dropped}):
     * where the outbox ended before it, and the snapshot request ({@code _sync_state}) before and after its capture
     * was installed (a new synced table requests one).
     */
    private record Created(String name, long mark, Long requestBefore, Long requestAfter) {
        Created requested(Long after) {
            return new Created(name, mark, requestBefore, after);
        }
    }

    /**
     * A synced table dropped in the application's transaction after a table was created in it: the order of SQLite's
     * documented way to change a table (create {@code new_t}, copy, drop {@code t}, rename {@code new_t} to {@code t};
     * Room, Django, sqlite-utils). Its rows are kept in a temporary table, {@code copy}, and it keeps its record, until
     * the transaction ends; a rename of a table created in the transaction to its name ends the rebuild when that
     * table holds exactly those rows with its key and every column ({@link #replacementFollows}).
     */
    private record Dropped(String table, TableInfo shape, String copy, long mark) {
        Dropped at(long outboxEnd) {
            return new Dropped(table, shape, copy, outboxEnd);
        }
    }

    /** Tables created in the open transaction, by lower-case name. */
    private final Map<String, Created> created = new HashMap<>();
    /** Synced tables dropped in the open transaction after a table was created in it, by lower-case name. */
    private final Map<String, Dropped> dropped = new HashMap<>();
    /** Numbers the temporary tables that keep dropped tables' rows, unique on this connection. */
    private int droppedCopies;

    /** Before {@code CREATE TABLE} in the application's transaction of a table that does not exist yet. */
    private Created creating(SqlInfo info) throws SQLException {
        if (info.kind() != StatementKind.CREATE_TABLE || info.table() == null || tableExists(info.table())) {
            return null;
        }
        long mark = markOutboxEnd(); // a write: the reads after it cannot meet another process's commit
        return new Created(info.table(), mark, snapshotRequest(), null);
    }

    /**
     * Before {@code DROP TABLE} in the application's transaction of a table synced before it, after a table was created
     * in it: the table's rows are kept in a temporary table, for a rename to its name to compare with. A copy, not a
     * comparison now: the table that will take its name is not known yet (a migration creates other tables of the same
     * shape, empty ones match an empty table), and it may still change before the rename.
     */
    private Dropped droppedKept(SqlInfo info) throws SQLException {
        if (info.kind() != StatementKind.DROP_TABLE || info.table() == null || created.isEmpty()) {
            return null;
        }
        String key = info.table().toLowerCase(java.util.Locale.ROOT);
        TableInfo shape = node.syncedTables().get(key);
        if (shape == null || rebuilds.containsKey(key) || created.containsKey(key) || !tableExists(info.table())
                || shadowedByTemp(info.table())) {
            return null;
        }
        String copy = "_sync_dropped_" + (++droppedCopies);
        String cols = String.join(", ", shape.columns().stream()
                .map(c -> io.syncsqlite.driver.capture.TriggerSql.quote(c.name())).toList());
        try (Statement st = delegate.createStatement()) {
            st.execute("CREATE TEMP TABLE " + io.syncsqlite.driver.capture.TriggerSql.quote(copy) + " AS SELECT " + cols
                    + " FROM main." + io.syncsqlite.driver.capture.TriggerSql.quote(info.table()));
        }
        return new Dropped(shape.name(), shape, copy, 0);
    }

    /**
     * Before {@code ALTER TABLE x RENAME TO t}, {@code t} a synced table {@link Dropped} in this transaction and {@code x}
     * created in it: whether it ends that rebuild, and is followed. Refused (SY002) when {@code x} does not keep
     * {@code t}'s key and every column or does not hold exactly {@code t}'s rows (the copy is not captured, so a row
     * left out or changed would never reach the server), or when rows of {@code x} were captured after {@code t} was
     * dropped (under the name the rename leaves behind).
     */
    private boolean replacementFollows(SqlInfo info) throws SQLException {
        Dropped d = replacementOf(info);
        if (d == null || autoCommitting() || driverTransaction) {
            return false;
        }
        String why = whyNotKept(d.shape(), d.table(), "temp." + io.syncsqlite.driver.capture.TriggerSql.quote(d.copy()),
                info.table());
        if (why == null) {
            try (PreparedStatement ps = delegate.prepareStatement(
                    "SELECT 1 FROM _sync_outbox WHERE seq > ? AND tbl = ? COLLATE NOCASE LIMIT 1")) {
                ps.setLong(1, d.mark());
                ps.setString(2, info.table());
                try (ResultSet rs = ps.executeQuery()) {
                    why = rs.next() ? "rows of " + info.table() + " were written after " + d.table() + " was dropped" : null;
                }
            }
        }
        if (why != null) {
            throw new SQLException("ALTER TABLE " + info.table() + " RENAME TO " + info.renamedTo() + " is refused: it"
                    + " would end a rebuild of synced table " + d.table() + ", and " + why + " (the copy is not captured,"
                    + " so a row left out or changed would never reach the server: change rows before the rebuild or"
                    + " after the rename)", SyncSqlState.SCHEMA_CHANGE_REFUSED.code());
        }
        return true;
    }

    private Dropped replacementOf(SqlInfo info) {
        if (info.kind() != StatementKind.ALTER_TABLE || info.renamedTo() == null || info.table() == null
                || !created.containsKey(info.table().toLowerCase(java.util.Locale.ROOT))) {
            return null;
        }
        return dropped.get(info.renamedTo().toLowerCase(java.util.Locale.ROOT));
    }

    /**
     * After a rename that ended a rebuild ({@link #replacementFollows}): the rows captured into the renamed table since
     * its creation (the copy, which PostgreSQL has) are taken out of the outbox, and the snapshot request its creation
     * made is withdrawn unless another was made since (the synced table's new columns request one as the capture is
     * rewritten). The dropped table's entry stays until the transaction ends: a {@code ROLLBACK TO} may undo the rename.
     */
    private void replacementEnds(SqlInfo info) throws SQLException {
        if (replacementOf(info) == null) {
            return;
        }
        Created c = created.get(info.table().toLowerCase(java.util.Locale.ROOT));
        try (PreparedStatement ps = delegate.prepareStatement(
                "DELETE FROM _sync_outbox WHERE seq > ? AND tbl = ? COLLATE NOCASE")) {
            ps.setLong(1, c.mark());
            ps.setString(2, info.table());
            ps.executeUpdate();
        }
        if (c.requestAfter() != null && !c.requestAfter().equals(c.requestBefore())
                && c.requestAfter().equals(snapshotRequest())) {
            try (PreparedStatement ps = delegate.prepareStatement(c.requestBefore() == null
                    ? "DELETE FROM _sync_state WHERE k = ?" : "UPDATE _sync_state SET v = ? WHERE k = ?")) {
                int i = 1;
                if (c.requestBefore() != null) {
                    ps.setLong(i++, c.requestBefore());
                }
                ps.setString(i, Outbox.SNAPSHOT_NEEDED);
                ps.executeUpdate();
            }
        }
    }

    /** The snapshot request's number in {@code _sync_state}, or null when none is pending. */
    private Long snapshotRequest() throws SQLException {
        try (PreparedStatement ps = delegate.prepareStatement("SELECT v FROM _sync_state WHERE k = ?")) {
            ps.setString(1, Outbox.SNAPSHOT_NEEDED);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : null;
            }
        }
    }

    private boolean tableExists(String name) throws SQLException {
        return tableExists("main", name);
    }

    private boolean tableExists(String schema, String name) throws SQLException {
        try (PreparedStatement ps = delegate.prepareStatement(
                "SELECT 1 FROM " + schema + ".sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /**
     * Whether {@code table} of the main schema is synced: published by the node, or given capture triggers in
     * this connection's open transaction (a table created and synced in it is published at its end).
     */
    private boolean synced(String table) throws SQLException {
        if (published(table)) {
            return true;
        }
        try (PreparedStatement ps = delegate.prepareStatement("SELECT 1 FROM main.sqlite_master WHERE type = 'trigger'"
                + " AND tbl_name = ? COLLATE NOCASE AND name = '_sync_ins_' || tbl_name")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /**
     * For several statements run in one call ({@code executeUpdate}, which runs them all): the pieces to run one
     * after the other when a statement that may write rows follows an {@code ALTER TABLE ... ADD} of a synced
     * table, cut after each such ALTER, so that the capture follows the new column before the rest runs ({@link
     * #followSchemaChange}); in one call the triggers were rewritten after it, and its values written in the
     * same string (the usual "add a column, then fill it" migration) were not captured. Cut as well after each
     * {@code CREATE TRIGGER} that a writing statement follows ({@link SqlClassifier#triggersBeforeWrites}): the
     * capture is installed again after the application's trigger, so that it fires first. Null: run {@code sql} as
     * one. A string that also manages the transaction is refused (SY002): the capture would be refreshed without
     * knowing which transaction is open.
     */
    List<String> piecesAroundAdds(String sql, SqlInfo info) throws SQLException {
        if (info.kind() != StatementKind.UNKNOWN) {
            return null;
        }
        boolean adds = info.alters().stream().anyMatch(a -> "ADD".equals(a.name()));
        // A CREATE TRIGGER among them: the capture is installed again after it before the writes that follow.
        boolean triggers = sql.toUpperCase(java.util.Locale.ROOT).contains("TRIGGER");
        if (!adds && !triggers) {
            return null;
        }
        java.util.TreeSet<Integer> cuts = new java.util.TreeSet<>();
        if (triggers) {
            for (SqlClassifier.TriggerBeforeWrites trigger : SqlClassifier.triggersBeforeWrites(sql)) {
                if (trigger.table() != null && (!synced(trigger.table()) || shadowedByTemp(trigger.table()))) {
                    continue; // not a synced table's trigger: the order of its writes does not matter to capture
                }
                if (SqlClassifier.managesTransaction(sql)) {
                    throw new SQLException("CREATE TRIGGER is followed by statements that write, in a string that also"
                            + " manages the transaction (BEGIN, COMMIT...): they would be captured before the trigger's"
                            + " own writes. Run the CREATE TRIGGER as a statement of its own",
                            SyncSqlState.SCHEMA_CHANGE_REFUSED.code());
                }
                cuts.add(trigger.end());
            }
        }
        for (SqlClassifier.AddBeforeWrites add : adds ? SqlClassifier.addsBeforeWrites(sql) : List.<SqlClassifier.AddBeforeWrites>of()) {
            String table = add.add().table();
            if (synced(table) && !shadowedByTemp(table)) {
                if (SqlClassifier.managesTransaction(sql)) {
                    throw new SQLException("ALTER TABLE " + table + " ADD ... is followed by statements that write, in a"
                            + " string that also manages the transaction (BEGIN, COMMIT...): they would be captured"
                            + " without the new column. Run the ALTER as a statement of its own",
                            SyncSqlState.SCHEMA_CHANGE_REFUSED.code());
                }
                cuts.add(add.end());
            }
        }
        if (cuts.isEmpty()) {
            return null;
        }
        List<String> pieces = new ArrayList<>();
        int from = 0;
        for (int cut : cuts) {
            pieces.add(sql.substring(from, cut));
            from = cut;
        }
        pieces.add(sql.substring(from));
        return pieces;
    }

    /**
     * After a batch entry (or a piece of a string) that changed the schema, before the next one runs: the capture
     * triggers follow it, as after a statement of its own, so that what runs next is captured with new columns.
     */
    void followSchemaChange() throws SQLException {
        boolean inTransaction = !delegate.getAutoCommit() || sqlTransaction || driverTransaction;
        refreshCapture(inTransaction);
        if (inTransaction) {
            schemaChanged = true;
        }
    }

    /** Whether {@code table} (null: none) is one the node syncs, as published (not one synced in an open transaction). */
    boolean published(String table) {
        return table != null && node.syncedTables().containsKey(table.toLowerCase(java.util.Locale.ROOT));
    }

    /** Whether a temporary table of that name exists: SQLite resolves an unqualified name to it first. */
    private boolean shadowedByTemp(String table) throws SQLException {
        try (PreparedStatement ps = delegate.prepareStatement(
                "SELECT 1 FROM temp.sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    private void refuseUnfollowableAlter(SqlInfo info) throws SQLException {
        String action = info.name();
        if (info.table() == null || !"DROP".equals(action) && !"RENAME".equals(action)) {
            return;
        }
        if (synced(info.table()) && !shadowedByTemp(info.table())) {
            throw new SQLException("ALTER TABLE ... " + action + " on synced table " + info.table() + " is refused:"
                    + " sync cannot follow a dropped or renamed column or table, which would silently stop"
                    + " syncing its data. Change the table in PostgreSQL and on every client together"
                    + " (a new table, or a new column and a copy), or stop syncing the table with sync.tables",
                    SyncSqlState.SCHEMA_CHANGE_REFUSED.code());
        }
    }

    /** A statement in the application's transaction: the rebuilds it takes part in, the call, the capture after DDL. */
    private <T> T inTransaction(SqlInfo info, String deltas, SqlCall<T> call) throws SQLException {
        Rebuild ending = rebuildEnds(info);
        Created creating = creating(info);
        Dropped dropping = droppedKept(info);
        T r;
        try {
            r = deltas == null ? call.call() : counted(info, deltas, call);
        } catch (SQLException | RuntimeException e) {
            if (info.renamedTo() != null) {
                rebuilds.remove(info.renamedTo().toLowerCase(java.util.Locale.ROOT)); // the rename did not happen
            }
            throw e;
        }
        if (dropping != null) {
            dropped.put(dropping.table().toLowerCase(java.util.Locale.ROOT), dropping.at(markOutboxEnd()));
        }
        replacementEnds(info);
        if (info.kind().changesSchema()) {
            refreshCapture(true);
            schemaChanged = true;
        }
        if (creating != null) {
            created.put(creating.name().toLowerCase(java.util.Locale.ROOT), creating.requested(snapshotRequest()));
        }
        if (ending != null) {
            // The copy: rows it captured into the table created anew (they are the rows PostgreSQL has already).
            try (PreparedStatement ps = delegate.prepareStatement(
                    "DELETE FROM _sync_outbox WHERE seq > ? AND tbl = ? COLLATE NOCASE")) {
                ps.setLong(1, ending.mark());
                ps.setString(2, ending.table());
                ps.executeUpdate();
            }
            rebuilds.remove(ending.renamedTo().toLowerCase(java.util.Locale.ROOT));
            endedRebuilds.add(ending);
        }
        return r;
    }

    /**
     * Runs a query that may write ({@code INSERT ... RETURNING} through {@code executeQuery}). SQLite cannot
     * commit while such a statement is open, so an auto-commit one is not wrapped: SQLite commits it when
     * the result set is done, and the sync client stamps its captured rows when it is nudged. A counter
     * statement ({@code deltas} not null) must mark its rows in its own transaction, so in auto-commit mode
     * it is wrapped, and its rows are read into memory (a {@code CachedRowSet}) before the commit. A REPLACE
     * is not: its eviction flag would need the same, and a {@code CachedRowSet} is not sqlite-jdbc's result set
     * (typed getters, {@code getObject(i, Class)}, {@code getStatement}: ReplaceDefaultReviewTest), which
     * every ORM reading generated keys through {@code RETURNING} would meet; its evictions stay uncaptured.
     */
    ResultSet runQuery(SqlInfo info, String deltas, SqlCall<ResultSet> call) throws SQLException {
        checkOpen();
        if (!info.kind().mayWrite()) {
            return run(info, call);
        }
        if (info.kind().changesSchema()) {
            // sqlite-jdbc runs DDL given to executeQuery, then refuses it for returning no rows (SQLITE_DONE): the
            // DDL stays done, as there, instead of going with the driver's transaction (JdbcParityReviewTest).
            SQLException[] noRows = new SQLException[1];
            ResultSet r = run(info, () -> {
                try {
                    return call.call();
                } catch (SQLException e) {
                    if (e.getErrorCode() != SQLITE_DONE) {
                        throw e;
                    }
                    noRows[0] = e;
                    return null;
                }
            });
            if (noRows[0] != null) {
                throw noRows[0];
            }
            return r;
        }
        if (deltas != null && delegate.getAutoCommit() && !sqlTransaction) {
            SqlInfo read = new SqlInfo(info.kind(), info.table(), info.name(), info.parsed(), info.counters(),
                    false, info.replaces()); // its statement is closed before run commits
            return run(read, deltas, () -> {
                try (ResultSet rs = call.call()) {
                    javax.sql.rowset.CachedRowSet rows = javax.sql.rowset.RowSetProvider.newFactory().createCachedRowSet();
                    rows.populate(rs);
                    return rows;
                }
            });
        }
        if (delegate.getAutoCommit() && !sqlTransaction) {
            committedOnReadEnd = true; // as in run: SQLite commits once the result set is done
            ResultSet r = read(call);
            node.committed();
            return r;
        }
        inAppTransaction(true);
        dirty = true;
        SqlCall<ResultSet> body = mayEvict(info) ? evicting(call) : call;
        return deltas == null ? body.call() : counted(info, deltas, body);
    }

    /**
     * Before a read outside {@link #run} (the metadata's queries): inside a transaction, as {@link #run} does; in
     * auto-commit mode it registers a read for the result set to claim ({@link SyncDatabaseMetaData}), as a query
     * does: iterating {@code getTables} and emptying each table failed with SQLITE_BUSY_SNAPSHOT (GateReviewTest).
     */
    void beforeRead() throws SQLException {
        checkOpen();
        if (!delegate.getAutoCommit() || sqlTransaction) {
            inAppTransaction(true);
        } else if (node.syncsHere()) {
            endStaleClaim();
            readStarted();
            CLAIMABLE.set(this);
        }
    }

    /** A read registered for a result set that never came (a metadata call that failed) ends before the next. */
    private void endStaleClaim() {
        if (CLAIMABLE.get() == this) {
            CLAIMABLE.remove();
            readEnded();
        }
    }

    /**
     * Tells the node whether this connection is inside an application transaction, from its first statement
     * to its commit or rollback: the sync client holds its own commits back meanwhile (for a bounded time),
     * because a commit between the transaction's first read and its first write would make that write fail
     * with SQLITE_BUSY_SNAPSHOT (docs/DESIGN.md, "Sharing the file with the application").
     */
    private void inAppTransaction(boolean open) {
        if (open != inAppTransaction) {
            if (open) {
                holds.incrementAndGet();
            }
            inAppTransaction = open;
            // A thread holding an open query's read does not wait for the sync client, which waits for that query.
            node.appTransaction(this, open, THREAD_READS.get().get() == 0);
        }
    }

    /**
     * Runs an auto-commit query holding the gate, as a transaction would, for as long as its result set stays open
     * ({@link DelegatingStatement#wrapResultSet} claims the registration, or {@code execute} for the result set
     * {@code getResultSet} fetches): an application that updated each row while iterating a query on the same
     * connection had 84 to 97 of 100 updates fail with SQLITE_BUSY_SNAPSHOT, the sync client's commits
     * (acknowledging the first updates) landing under the query's snapshot (ConcurrentAppReviewTest).
     */
    private <T> T read(SqlCall<T> call) throws SQLException {
        endStaleClaim();
        readStarted();
        CLAIMABLE.set(this);
        try {
            return call.call();
        } finally {
            if (CLAIMABLE.get() == this) {
                CLAIMABLE.remove();
                readEnded();
            }
        }
    }

    /**
     * One registration with the node per connection, however many of its queries are open: a second query while the
     * first is open (a lookup per row) must not wait for the sync client, which waits for the first (TodayReviewTest).
     */
    private void readStarted() {
        if (openReads.get() == 0) {
            // Before the count: a connection whose count rose from 0 must not look like it still holds its last read
            // (the sync client would take it for one left open and commit under what it let in; a spare raise only
            // makes it look new).
            holds.incrementAndGet();
        }
        if (openReads.getAndIncrement() == 0) {
            java.util.concurrent.atomic.AtomicInteger mine = THREAD_READS.get();
            node.appRead(true, mine.get() == 0);
            mine.incrementAndGet();
            readsOfThread = mine;
        }
    }

    /** Takes the read the running query registered, for the result set it returns; false if none is waiting. */
    boolean claimRead() {
        if (CLAIMABLE.get() == this) {
            CLAIMABLE.remove();
            return true;
        }
        return false;
    }

    /** A read claimed by a result set or a statement is done (read to its end, closed, or its statement ran again). */
    void readEnded() {
        if (openReads.getAndUpdate(n -> n > 0 ? n - 1 : 0) == 1) {
            java.util.concurrent.atomic.AtomicInteger thread = readsOfThread;
            if (thread != null) {
                thread.updateAndGet(n -> n > 0 ? n - 1 : 0);
            }
            node.appRead(false, true);
            if (committedOnReadEnd) {
                committedOnReadEnd = false;
                node.committed();
            }
        }
    }

    /**
     * Runs a batch of a counter statement ({@code SET c = c + ?}) so that every entry's rows carry that entry's
     * amounts. sqlite-jdbc's batch says how many rows each entry changed, and the triggers captured them in
     * execution order, one outbox row each, so the batch's outbox rows are split by the counts. That fails when an
     * entry captures fewer rows than it changed (a NULL counter, a zero amount) or more, and when an entry fails:
     * sqlite-jdbc's batch then says neither which entry failed nor how many rows the ones before it changed, and
     * it leaves those written (in the application's transaction, or committed in auto-commit mode), where they
     * must carry their amounts (without them they merged as plain values over concurrent increments).
     *
     * <p>So where the entries can be bound again ({@code oneByOne}) they run one by one instead, each entry's rows
     * marked ({@link #markEntries}): in the application's transaction always, since what sqlite-jdbc's batch wrote
     * there cannot be undone alone; in auto-commit mode only after sqlite-jdbc's batch failed either way, rolled
     * back with the driver's transaction around it, so that the usual batch costs what it did. Why not sqlite-jdbc's
     * batch inside a savepoint, undone to it on failure: SQLite then keeps every statement's journal until the
     * savepoint ends, and 10,000 entries took three times as long. Without {@code oneByOne} (an entry bound by a
     * stream or a LOB) such a batch fails with SY001, or its error, and in auto-commit mode is rolled back.
     *
     * @param deltas per entry, the amounts it adds (null: none)
     * @param asLong the batch's counts as longs
     * @param fromLong counts as longs as the batch's result
     * @param oneByOne the batch run entry by entry, each entry's rows marked ({@link #markEntries}), or null
     */
    <T> T runCounterBatch(SqlInfo info, List<String> deltas, SqlCall<T> call, Function<T, long[]> asLong,
                          Function<long[], T> fromLong, SqlCall<long[]> oneByOne) throws SQLException {
        SqlCall<T> batch = () -> {
            markEnd.executeUpdate();
            T result = call.call();
            annotateBatch(info.table(), markedEnd(), asLong.apply(result), deltas);
            return result;
        };
        if (oneByOne == null) {
            return run(info, batch);
        }
        if (autoCommitting()) {
            try {
                return run(info, batch);
            } catch (SQLException undone) {
                if (!autoCommitting()) {
                    throw undone;
                }
            }
        }
        // Wrapped in auto-commit mode even where the schema says ROLLBACK (runBatch would run it unwrapped): each
        // entry's amounts must be marked in the entry's transaction. Entries before a failing one stay committed.
        return run(info, null, () -> fromLong.apply(oneByOne.call()), true);
    }

    /** Where the outbox ends: its last row's seq, 0 when it is empty. */
    static final String OUTBOX_END = "SELECT coalesce(max(seq), 0) FROM _sync_outbox";

    /** Whether an eviction trigger logged a delete while {@link Outbox#REPLACING} holds its row (see evicting). */
    private boolean evicted() throws SQLException {
        try (Statement st = delegate.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce(max(evicted), 0) FROM " + Outbox.REPLACING)) {
            return rs.next() && rs.getInt(1) != 0;
        }
    }

    /**
     * Where the outbox ends, read after writing it down ({@link Outbox#MARK_END}): a write first, as before every
     * counter statement, so that no read snapshot precedes the application's write in a deferred transaction (another
     * connection's commit in between would fail that write with SQLITE_BUSY_SNAPSHOT).
     */
    long markOutboxEnd() throws SQLException {
        markEnd.executeUpdate();
        return markedEnd();
    }

    static long outboxEnd(PreparedStatement end) throws SQLException {
        try (ResultSet rs = end.executeQuery()) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    /**
     * Marks the rows of {@code table} that each of a counter batch's first {@code done} entries captured, those after
     * {@code ends[i]} up to {@code ends[i + 1]}, with the entry's amounts ({@code null}: none).
     */
    void markEntries(String table, long[] ends, int done, List<String> deltas) throws SQLException {
        try (PreparedStatement mark = delegate.prepareStatement("UPDATE _sync_outbox SET deltas = ?"
                + " WHERE seq > ? AND seq <= ? AND op IN (1, 2) AND tbl = ? COLLATE NOCASE")) {
            boolean any = false;
            for (int i = 0; i < done; i++) {
                if (deltas.get(i) != null && ends[i + 1] > ends[i]) {
                    mark.setString(1, deltas.get(i));
                    mark.setLong(2, ends[i]);
                    mark.setLong(3, ends[i + 1]);
                    mark.setString(4, table);
                    mark.addBatch();
                    any = true;
                }
            }
            if (any) {
                mark.executeBatch();
            }
        }
    }

    /** Where the outbox ended at the last {@link Outbox#MARK_END}: read after the write, in its transaction. */
    private long markedEnd() throws SQLException {
        try (Statement st = delegate.createStatement();
             ResultSet rs = st.executeQuery("SELECT v FROM _sync_state WHERE k = 'outbox_mark'")) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    private void annotateBatch(String table, long after, long[] counts, List<String> deltas) throws SQLException {
        List<long[]> rows = new ArrayList<>();
        try (PreparedStatement ps = delegate.prepareStatement(
                "SELECT seq, op FROM _sync_outbox WHERE seq > ? AND tbl = ? COLLATE NOCASE ORDER BY seq")) {
            ps.setLong(1, after);
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new long[] {rs.getLong(1), rs.getInt(2)});
                }
            }
        }
        long total = Arrays.stream(counts).sum();
        if (counts.length != deltas.size() || rows.size() != total || Arrays.stream(counts).anyMatch(c -> c < 0)) {
            throw new SQLException("a batch of counter updates on " + table + " changed " + total + " rows but "
                    + rows.size() + " row changes were captured, so the amounts cannot be attributed to rows; run"
                    + " the entries one by one (a NULL counter or a zero amount that changes nothing causes this)",
                    SyncSqlState.NOT_SYNCABLE.code());
        }
        try (PreparedStatement mark = delegate.prepareStatement(
                "UPDATE _sync_outbox SET deltas = ? WHERE seq = ? AND op IN (1, 2)")) {
            int at = 0;
            for (int i = 0; i < counts.length; i++) {
                for (long r = 0; r < counts[i]; r++, at++) {
                    if (deltas.get(i) != null) {
                        mark.setString(1, deltas.get(i));
                        mark.setLong(2, rows.get(at)[0]);
                        mark.addBatch();
                    }
                }
            }
            mark.executeBatch();
        }
    }

    /** Runs a counter statement ({@code deltas} not null) and marks the rows it captured with its amounts. */
    <T> T counted(SqlInfo info, String deltas, SqlCall<T> call) throws SQLException {
        markEnd.executeUpdate();
        T r = call.call();
        annotate.setString(1, deltas);
        annotate.setString(2, info.table());
        annotate.executeUpdate();
        return r;
    }

    /** The JSON object of amounts a counter statement adds, or {@code null} when it is not one. */
    String deltas(SqlInfo info, Object[] parameters) {
        if (info.counters().isEmpty() || info.table() == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder("{");
        for (io.syncsqlite.driver.sql.Counter c : info.counters()) {
            if (node.forcedLww(info.table(), c.column())) {
                continue;
            }
            java.math.BigDecimal amount = c.amount(parameters);
            // A zero amount changes no value, so the triggers capture no row for it: nothing to mark.
            if (amount == null || amount.signum() == 0) {
                continue;
            }
            if (sb.length() > 1) {
                sb.append(',');
            }
            sb.append('"').append(c.column().replace("\\", "\\\\").replace("\"", "\\\"")).append("\":")
                    .append(amount.toPlainString());
        }
        return sb.length() == 1 ? null : sb.append('}').toString();
    }

    private <T> T finishSqlTransaction(SqlCall<T> call) throws SQLException {
        if (rebuildsToCheck()) {
            refuseUnfinishedRebuilds();
        }
        if (dirty) {
            stampNow();
        }
        T r;
        try {
            r = call.call();
        } catch (SQLException e) {
            if (String.valueOf(e.getMessage()).contains("no transaction is active")) {
                // SQLite already ended it (ON CONFLICT ROLLBACK, RAISE(ROLLBACK), a full disk): so do we.
                endSqlTransaction();
                dirty = false;
                transactionEnded();
            }
            throw e;
        }
        endSqlTransaction();
        if (dirty) {
            dirty = false;
            node.committed();
        }
        transactionEnded();
        return r;
    }

    private void endSqlTransaction() {
        sqlTransaction = false;
        openedBySavepoint = false;
        savepoints.clear();
    }

    /** Whether RELEASE {@code name} releases the outermost open savepoint (and so commits). */
    private boolean releasesLast(String name) {
        int depth = 0;
        for (String sp : savepoints) {
            depth++;
            if (sp.equalsIgnoreCase(name)) {
                return depth == savepoints.size();
            }
        }
        return false;
    }

    private void popThrough(String name) {
        if (name == null || savepoints.stream().noneMatch(name::equalsIgnoreCase)) {
            return;
        }
        while (!savepoints.isEmpty() && !savepoints.pop().equalsIgnoreCase(name)) {
            // pop the inner savepoints released along with it
        }
    }

    private static boolean isTransactionOpenError(SQLException e) {
        return String.valueOf(e.getMessage()).contains("within a transaction");
    }

    /**
     * After any commit or rollback: publish the synced tables if the transaction ran DDL.
     *
     * @return whether it read the schema to do so
     */
    private boolean transactionEnded() throws SQLException {
        inAppTransaction(false);
        if (schemaChanged) {
            schemaChanged = false;
            node.reloadTables(delegate);
            return true;
        }
        return false;
    }

    /**
     * After JDBC's commit or rollback in manual-commit mode, sqlite-jdbc has begun the application's next transaction
     * at once, and reading the schema there ({@link #transactionEnded}) took a read snapshot in it: the application's
     * next write then failed with SQLITE_BUSY_SNAPSHOT once any other connection had written, the sync client first
     * (it writes as soon as a newly synced table is published). Liquibase, which commits a changeset's DDL and then
     * writes its history row, failed so on every new file. Ending that read-only transaction begins another.
     */
    private void endSchemaRead(boolean read) throws SQLException {
        if (read && !delegate.getAutoCommit()) {
            delegate.commit();
        }
    }

    private void stampNow() throws SQLException {
        boolean elsewhere = node.syncedElsewhere();
        if (elsewhere) {
            node.observeFileClock(delegate); // after what the process syncing the file applied
        }
        stamp.setLong(1, node.clock().now());
        if (stamp.executeUpdate() == 1 && elsewhere) {
            node.stampedHere(delegate); // its rejection is told here
        }
    }

    private void stampAlone() throws SQLException {
        begin.run();
        try {
            stampNow();
            commit.run();
        } catch (SQLException | RuntimeException e) {
            rollbackQuietly(e);
            throw e;
        }
        node.committed();
    }

    private void rollbackQuietly(Exception cause) {
        try {
            rollback.run();
        } catch (SQLException e) {
            // SQLite may already have rolled back (a constraint error with ON CONFLICT ROLLBACK, for example).
            if (!String.valueOf(e.getMessage()).contains("no transaction is active")) {
                cause.addSuppressed(e);
            }
        }
    }

    @Override
    public void commit() throws SQLException {
        checkOpen();
        if (rebuildsToCheck()) {
            refuseUnfinishedRebuilds();
        }
        boolean stamped = dirty && !delegate.getAutoCommit();
        if (stamped) {
            stampNow();
        }
        delegate.commit();
        dirty = false;
        if (stamped) {
            node.committed();
        }
        endSchemaRead(transactionEnded());
    }

    @Override
    public void rollback() throws SQLException {
        checkOpen();
        delegate.rollback();
        dirty = false;
        forgetRebuilds();
        endSchemaRead(transactionEnded());
    }

    @Override
    public void rollback(Savepoint savepoint) throws SQLException {
        checkOpen();
        delegate.rollback(savepoint);
        afterRollbackTo();
        if (schemaChanged) {
            node.forgetSchemaAnswers(); // it may have undone DDL of this transaction
        }
    }

    @Override
    public void setAutoCommit(boolean autoCommit) throws SQLException {
        checkOpen();
        if (autoCommit && !delegate.getAutoCommit() && rebuildsToCheck()) {
            refuseUnfinishedRebuilds();
        }
        boolean committing = autoCommit && !delegate.getAutoCommit() && dirty;
        if (committing) {
            stampNow();
        }
        delegate.setAutoCommit(autoCommit);
        if (committing) {
            dirty = false;
            node.committed();
        }
        if (autoCommit) {
            transactionEnded();
        }
        if (!autoCommit) {
            endSqlTransaction();
        }
    }

    @Override
    protected Statement wrapStatement(Statement statement) {
        return new SyncStatement(statement, this);
    }

    @Override
    protected PreparedStatement wrapPreparedStatement(PreparedStatement statement, String sql) {
        return new SyncPreparedStatement(statement, this, sql, classifyPrepared(sql), null);
    }

    /**
     * Prepares {@code sql}, or its rewrite when it inserts into a synced table and leaves an integer key
     * to SQLite (see {@link KeyRewriter}): the statement then binds a key from the node's stock at each
     * execution. Prepared once either way.
     */
    private PreparedStatement prepare(String sql, SqlTextCall<PreparedStatement> prepare) throws SQLException {
        checkOpen();
        SqlInfo info = classifyPrepared(sql);
        KeyRewriter.KeyedInsert keyed = node.keyedInsert(sql, info);
        PreparedStatement ps = prepare.call(keyed == null ? SchemaListing.hideDriverObjects(sql) : keyed.preparedSql());
        return new SyncPreparedStatement(ps, this, sql, info, keyed);
    }

    @Override
    public Statement createStatement() throws SQLException {
        checkOpen();
        return super.createStatement();
    }

    @Override
    public Statement createStatement(int resultSetType, int resultSetConcurrency) throws SQLException {
        checkOpen();
        return super.createStatement(resultSetType, resultSetConcurrency);
    }

    @Override
    public Statement createStatement(int resultSetType, int resultSetConcurrency, int resultSetHoldability)
            throws SQLException {
        checkOpen();
        return super.createStatement(resultSetType, resultSetConcurrency, resultSetHoldability);
    }

    @Override
    public PreparedStatement prepareStatement(String sql) throws SQLException {
        return prepare(sql, delegate::prepareStatement);
    }

    @Override
    public PreparedStatement prepareStatement(String sql, int autoGeneratedKeys) throws SQLException {
        return prepare(sql, s -> delegate.prepareStatement(s, autoGeneratedKeys));
    }

    @Override
    public PreparedStatement prepareStatement(String sql, int[] columnIndexes) throws SQLException {
        return prepare(sql, s -> delegate.prepareStatement(s, columnIndexes));
    }

    @Override
    public PreparedStatement prepareStatement(String sql, String[] columnNames) throws SQLException {
        return prepare(sql, s -> delegate.prepareStatement(s, columnNames));
    }

    @Override
    public PreparedStatement prepareStatement(String sql, int resultSetType, int resultSetConcurrency)
            throws SQLException {
        return prepare(sql, s -> delegate.prepareStatement(s, resultSetType, resultSetConcurrency));
    }

    @Override
    public PreparedStatement prepareStatement(String sql, int resultSetType, int resultSetConcurrency,
                                              int resultSetHoldability) throws SQLException {
        return prepare(sql, s -> delegate.prepareStatement(s, resultSetType, resultSetConcurrency,
                resultSetHoldability));
    }

    /**
     * The SQL a plain {@code Statement} runs for {@code sql}: the text itself, or, for an INSERT that
     * leaves an integer key to SQLite, the rewrite with fresh keys written in as literals; a read of the schema
     * table without the driver's objects ({@link SchemaListing}).
     */
    String withKeys(String sql, SqlInfo info) throws SQLException {
        KeyRewriter.KeyedInsert keyed = node.keyedInsert(sql, info);
        if (keyed == null) {
            return SchemaListing.hideDriverObjects(sql);
        }
        return keyed.withKeys(nextKeys(keyed, info.table()));
    }

    /**
     * Whether {@code sql} names {@code next_val}: every statement the application prepares is asked whether
     * it bumps or reads a sequence table, and almost none does, so the regular expressions (and their
     * matchers) are left to the few that might.
     */
    private static boolean mentionsNextVal(String sql) {
        for (int i = sql.indexOf('_'); i >= 4; i = sql.indexOf('_', i + 1)) {
            if (sql.regionMatches(true, i - 4, "next_val", 0, 8)) {
                return true;
            }
        }
        return false;
    }

    /** Hibernate's bump of a table-backed sequence: {@code update item_SEQ set next_val= ? where next_val=?}. */
    private static final java.util.regex.Pattern SEQUENCE_BUMP = java.util.regex.Pattern.compile(
            "\\s*update\\s+(\"?)([^\\s\"]+)\\1\\s+set\\s+next_val\\s*=\\s*\\?\\s*where\\s+next_val\\s*=\\s*\\?\\s*;?\\s*",
            java.util.regex.Pattern.CASE_INSENSITIVE);

    /**
     * {@code {sequence table, synced table}} when {@code sql} bumps the sequence table of a synced table's
     * ids, else {@code null} (see {@link SyncNode#keepSequenceInStock}).
     */
    String[] sequenceBump(String sql) {
        if (!mentionsNextVal(sql)) {
            return null;
        }
        java.util.regex.Matcher m = SEQUENCE_BUMP.matcher(sql);
        if (!m.matches()) {
            return null;
        }
        String base = node.sequenceBase(m.group(2));
        return base == null ? null : new String[] {m.group(2), base};
    }

    /** Hibernate's read of a table-backed sequence: {@code select next_val as id_val from item_SEQ}. */
    private static final java.util.regex.Pattern SEQUENCE_READ = java.util.regex.Pattern.compile(
            "\\s*select\\s+next_val\\b[^;]*?\\bfrom\\s+(\"?)([^\\s\";]+)\\1(\\s.*)?;?\\s*",
            java.util.regex.Pattern.CASE_INSENSITIVE | java.util.regex.Pattern.DOTALL);

    /** The synced table whose sequence table {@code sql} reads, else {@code null} (see {@link SyncNode#beforeSequenceRead}). */
    String sequenceRead(String sql) {
        if (!mentionsNextVal(sql)) {
            return null;
        }
        java.util.regex.Matcher m = SEQUENCE_READ.matcher(sql);
        return m.matches() ? node.sequenceBase(m.group(2)) : null;
    }

    /** Before the application reads the sequence table of {@code base}: see {@link SyncNode#beforeSequenceRead}. */
    void beforeSequenceRead(String base) {
        node.beforeSequenceRead(base);
    }

    /** Before a sequence bump runs with {@code parameters} (new value, read value): see {@link SyncNode#keepSequenceInStock}. */
    void keepSequenceInStock(String[] bump, Object[] parameters) throws SQLException {
        if (parameters[0] instanceof Number next && parameters[1] instanceof Number was) {
            node.keepSequenceInStock(delegate, bump[0], bump[1], was.longValue(), next.longValue());
        }
    }

    /** One fresh key per row of {@code keyed}. */
    long[] nextKeys(KeyRewriter.KeyedInsert keyed, String table) throws SQLException {
        long[] keys = new long[keyed.keys()];
        for (int r = 0; r < keys.length; r++) {
            keys[r] = nextKey(table);
        }
        return keys;
    }

    /** A fresh key of {@code table} from this node's stock. */
    long nextKey(String table) throws SQLException {
        return node.nextKey(table);
    }

    @Override
    protected CallableStatement wrapCallableStatement(CallableStatement statement, String sql) {
        return new SyncCallableStatement(statement, this, sql, classifyPrepared(sql));
    }

    @Override
    protected DatabaseMetaData wrapMetaData(DatabaseMetaData metaData) {
        return new SyncDatabaseMetaData(metaData, this);
    }

    @Override
    public boolean isClosed() throws SQLException {
        return closed || delegate.isClosed();
    }

    /** Idempotent. Closes the sqlite-jdbc connection (which closes its statements) and releases the node. */
    @Override
    public void close() throws SQLException {
        if (closed) {
            return;
        }
        closed = true;
        forgetRebuilds();
        try {
            delegate.close();
        } finally {
            if (openReads.get() > 0) {
                openReads.set(1);
                readEnded();
            }
            inAppTransaction(false);
            node.closed(this);
            node.release();
        }
    }

    /**
     * A transaction-control statement, prepared once and again after it failed: sqlite-jdbc closes a statement
     * that fails with a generic error ("cannot start a transaction within a transaction", "no transaction is
     * active"), and every later use then failed with "statement is not executing". A connection whose ROLLBACK
     * had died so kept the driver's own transaction open after the next failed write, and lost every write after
     * it (JdbcParityReviewTest: a failed auto-commit batch, then a duplicate insert).
     */
    private final class Control {
        private final String sql;
        private PreparedStatement statement;

        Control(String sql) {
            this.sql = sql;
        }

        void run() throws SQLException {
            if (statement == null) {
                statement = delegate.prepareStatement(sql);
            }
            try {
                statement.executeUpdate();
            } catch (SQLException e) {
                try {
                    statement.close();
                } catch (SQLException closing) {
                    e.addSuppressed(closing);
                }
                statement = null;
                throw e;
            }
        }
    }

    void checkOpen() throws SQLException {
        if (closed) {
            throw new SQLException("connection is closed", SyncSqlState.CONNECTION_CLOSED.code());
        }
    }
}
