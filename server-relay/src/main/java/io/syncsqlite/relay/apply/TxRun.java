package io.syncsqlite.relay.apply;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.JsonTrees;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.relay.db.PgErrors;
import io.syncsqlite.relay.schema.ColumnInfo;
import io.syncsqlite.relay.schema.TableInfo;
import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.scope.Scope;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * One attempt at applying one client transaction in one PostgreSQL transaction, following the merge
 * table of docs/DESIGN.md:
 * <ol>
 *   <li>lock the client's row and recognise a resend ({@code tx <= applied_tx});</li>
 *   <li>{@code SET LOCAL syncsqlite.hlc/node}, so the capture trigger logs this transaction's writes with
 *       the client's timestamp;</li>
 *   <li>normalise every key and take the per-row advisory locks, sorted; lock the existing rows
 *       ({@code FOR UPDATE}) and their clocks, so direct writers and other relays cannot interleave;</li>
 *   <li>decide each change in order against the clocks (kept in memory and updated as it goes), queueing
 *       the winning writes; writes of the same shape (table, kind, columns) to distinct rows go to
 *       PostgreSQL as one set-based statement ({@link RunWriter}, which may regroup them);</li>
 *   <li>write the new clocks, log the current image of every row that got no statement at all (so the
 *       origin learns the outcome), mark the commit, record the client's position, commit.</li>
 * </ol>
 * Ties between equal (hlc, node) pairs go to the incoming change: only the same transaction of the same
 * node can repeat a pair (resends are filtered first), and its later changes must override its earlier ones.
 *
 * <p>Not thread-safe: used once, by one thread, with a connection that thread borrowed.
 */
final class TxRun {

    // Two statements, one round trip. Insert-if-missing first, so FOR UPDATE always has a row to lock.
    private static final String LOCK_CLIENT = "INSERT INTO syncsqlite.client (node) VALUES (?) ON CONFLICT (node) DO NOTHING; "
            + "SELECT applied_tx, applied_seq FROM syncsqlite.client WHERE node = ? FOR UPDATE";

    // The same, also doing SET LOCAL syncsqlite.hlc/node (harmless for a resend, which rolls back).
    private static final String LOCK_CLIENT_SET_CLOCK = "INSERT INTO syncsqlite.client (node) VALUES (?) ON CONFLICT (node) DO NOTHING; "
            + "SELECT applied_tx, applied_seq, set_config('syncsqlite.hlc', ?, true), set_config('syncsqlite.node', ?, true) "
            + "FROM syncsqlite.client WHERE node = ? FOR UPDATE";

    // One index lookup per key, whatever the statistics say: a locking subquery is never flattened into a
    // join, and row_clock grows faster than autoanalyze follows, which made a join plan scan all of it.
    private static final String READ_CLOCKS = "SELECT rc.tbl, rc.pk, rc.alive, rc.alive_hlc, rc.alive_node, "
            + "rc.cols::text, rc.dead_old::text, rc.cascaded IS NOT FALSE "
            + "FROM unnest(?::text[], ?::text[]) AS u(t, p) CROSS JOIN LATERAL "
            + "(SELECT * FROM syncsqlite.row_clock AS x WHERE x.tbl = u.t AND x.pk = u.p FOR UPDATE) AS rc";

    // The clock records of one write, as one JSON array parameter.
    private static final String RECORDS = "WITH x AS MATERIALIZED (SELECT * FROM jsonb_to_recordset(?::jsonb) "
            + "AS x(tbl text, pk text, alive boolean, alive_hlc bigint, alive_node text, cols jsonb, fresh boolean, "
            + "known boolean, deleted boolean)) ";
    // Inserts the records that pass %s. A row the relay still takes for alive may have been deleted under it,
    // in this PostgreSQL transaction, by ON DELETE CASCADE or an application trigger: the capture trigger
    // logged the delete and wrote its tombstone, which is the truth and is left alone. Rows whose tombstone
    // the relay wrote or read itself are "known" (it may have created them again since). This transaction's
    // log is read through the xid index: a few rows, none but the relay's own deletes in the usual case.
    private static final String INSERT = "INSERT INTO syncsqlite.row_clock AS rc (tbl, pk, alive, alive_hlc, alive_node, cols, "
            + "born, born_node, cascaded) SELECT x.tbl, x.pk, x.alive, x.alive_hlc, x.alive_node, x.cols, "
            + "CASE WHEN x.alive THEN pg_current_xact_id() END, CASE WHEN x.alive THEN x.alive_node END, "
            + "CASE WHEN x.deleted THEN false END FROM x WHERE %s AND (x.known OR NOT x.alive "
            + "OR (x.tbl, x.pk) NOT IN (SELECT g.tbl, syncsqlite.clock_key(g.pk) FROM syncsqlite.change AS g "
            + "WHERE g.xid = pg_current_xact_id() AND g.kind = 'D'))";
    // A tombstone the capture trigger wrote keeps the deleted row's image (dead_row, for Compensation); a
    // row alive again has none.
    // A row is born when it goes from absent to present (see install.sql, row_clock.born).
    private static final String ON_CONFLICT = " ON CONFLICT (tbl, pk) DO UPDATE SET "
            + "born = CASE WHEN excluded.alive AND NOT rc.alive THEN excluded.born ELSE rc.born END, "
            + "born_node = CASE WHEN excluded.alive AND NOT rc.alive THEN excluded.born_node ELSE rc.born_node END, "
            + "moved = CASE WHEN excluded.alive AND NOT rc.alive THEN NULL ELSE rc.moved END, "
            + "cascaded = coalesce(excluded.cascaded, rc.cascaded), "
            + "alive = excluded.alive, "
            + "alive_hlc = excluded.alive_hlc, alive_node = excluded.alive_node, cols = excluded.cols, "
            + "dead_row = CASE WHEN excluded.alive THEN NULL ELSE rc.dead_row END";
    // Clock rows this transaction creates are plain inserts: their keys are locked (advisory lock, or the
    // table lock) and were read without a clock row, so only a direct writer's insert of the same key (or
    // an application trigger's, outside relay mode) can get there first, and its 23505 runs the
    // transaction again with UPSERT_CLOCKS. An ON CONFLICT insert costs about twice as much per row (a
    // speculative insertion, two descents of a jsonb-keyed index). Rows that had a clock row are upserted
    // (the conflict arbiter finds them through the index, whatever the statistics say about a table that
    // is filling up).
    private static final String WRITE_CLOCKS = RECORDS + ", fresh AS (" + String.format(INSERT, "x.fresh") + ") "
            + String.format(INSERT, "NOT x.fresh") + ON_CONFLICT;
    private static final String UPSERT_CLOCKS = RECORDS + String.format(INSERT, "true") + ON_CONFLICT;


    private final Connection c;
    private final Function<TableInfo, TableStatements> statements;
    private final String node;
    private final ClientTx tx;
    private final List<Op> ops;
    private final Map<RowKey, RowState> rows = new LinkedHashMap<>();
    private final RowState[] opRows;
    private final RunWriter writes;
    private final Scope scope;
    private final Catalog catalog;
    private final boolean upsertClocks;
    private final Set<String> upsertRows;

    /**
     * @param inOrder write strictly in the transaction's order (see {@link RunWriter})
     * @param scope   the user's scope, checked before and after the writes ({@link ScopeCheck}); null for none
     * @param upsertClocks write every clock row with ON CONFLICT, also those read as absent (after a row or clock
     *                     row appeared under an earlier attempt: see {@link PgErrors#keyConflict})
     * @param upsertRows   tables whose rows read as absent are upserted rather than inserted: an earlier attempt
     *                     met a row of theirs that the read could not see (see {@link TableStatements#insert})
     */
    TxRun(Connection c, Function<TableInfo, TableStatements> statements, String node, ClientTx tx, List<Op> ops,
          boolean inOrder, Scope scope, Catalog catalog, boolean upsertClocks, Set<String> upsertRows) {
        this.c = c;
        this.upsertClocks = upsertClocks;
        this.upsertRows = upsertRows;
        this.scope = scope;
        this.catalog = catalog;
        this.statements = statements;
        this.node = node;
        this.tx = tx;
        this.ops = ops;
        this.opRows = new RowState[ops.size()];
        this.writes = new RunWriter(c, inOrder);
    }

    /** Whether this attempt wrote in another order than the transaction's (see {@link RunWriter}). */
    boolean reordered() {
        return writes.reordered();
    }

    /** Applies and commits; returns the Ack to send. On SQLException the caller rolls back. */
    Message run() throws SQLException {
        long[] client = lockClient(c, node, tx.hlc());
        if (client[0] >= tx.id()) {
            return resend(c, node, tx, client);
        }
        lockRows();
        readState();
        if (scope != null) {
            ScopeCheck.check(c, scope, keysByTable(), false);
        }
        for (int i = 0; i < ops.size(); i++) {
            boolean cascaded = decide(ops.get(i), opRows[i]);
            if (cascaded && i < ops.size() - 1) {
                // ON DELETE CASCADE may just have deleted rows this transaction touches next: write what
                // is queued and read the state again rather than decide on stale clocks.
                writes.flush();
                writeClocks();
                readState();
            }
        }
        writes.flush();
        writeClocks();
        if (scope != null) {
            // Every row the transaction changed, cascades included, not only those the client named.
            ScopeCheck.checkLogged(c, scope, catalog);
        }
        logUntouchedRows();
        long seq = ClockHistory.markCommit(c, node, tx, client[0]);
        c.commit();
        return new Message.Ack(tx.id(), seq);
    }

    /**
     * Takes the key locks of the transaction's rows and locks those that exist and their clock rows, as an attempt
     * does before deciding, and nothing else: for a rejection, whose current images must be read after any
     * transaction holding them.
     */
    void lockOnly() throws SQLException {
        lockRows();
        readState();
    }

    /** The canonical keys of the rows the transaction touches, per table. */
    private Map<TableInfo, List<String>> keysByTable() {
        Map<TableInfo, List<String>> out = new LinkedHashMap<>();
        for (RowState s : rows.values()) {
            out.computeIfAbsent(s.table, t -> new ArrayList<>()).add(s.key.pk());
        }
        return out;
    }

    /**
     * The answer to a transaction at or below the client's applied one: the acknowledgement of a resend, or,
     * for a transaction a copy of the node's file wrote under a reused id ({@link NodeCopies}), a
     * {@link CopiedNode} failure, since acknowledging it would drop it.
     *
     * @param client what {@link #lockClient} returned
     */
    static Message.Ack resend(Connection c, String node, ClientTx tx, long[] client) throws SQLException {
        boolean copied = ClockHistory.firstCopied(c, node, List.of(tx.id()), List.of(tx.hlc())) != 0;
        c.rollback();
        if (copied) {
            throw new CopiedNode("tx " + tx.id() + " of node " + node + " was not applied under that id with its"
                    + " clock: it comes from a copy of the node's file");
        }
        return new Message.Ack(tx.id(), client[1]);
    }

    /** Locks (creating if needed) the client's row; returns {applied_tx, applied_seq}. */
    static long[] lockClient(Connection c, String node) throws SQLException {
        return lockClient(c, node, -1);
    }

    /** The same, and, if {@code hlc >= 0}, makes the capture trigger log this transaction's writes with it. */
    private static long[] lockClient(Connection c, String node, long hlc) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(hlc < 0 ? LOCK_CLIENT : LOCK_CLIENT_SET_CLOCK)) {
            ps.setString(1, node);
            if (hlc < 0) {
                ps.setString(2, node);
            } else {
                ps.setString(2, Long.toString(hlc));
                ps.setString(3, node);
                ps.setString(4, node);
            }
            boolean isResult = ps.execute();
            while (!isResult) {
                if (ps.getUpdateCount() == -1) {
                    throw new SQLException("client lock returned no row", "XX000");
                }
                isResult = ps.getMoreResults();
            }
            try (ResultSet rs = ps.getResultSet()) {
                if (!rs.next()) {
                    throw new SQLException("client row missing after insert", "XX000");
                }
                return new long[]{rs.getLong(1), rs.getLong(2)};
            }
        }
    }

    /**
     * Distinct rows of one table above which a transaction locks the whole table instead of each row:
     * PostgreSQL's lock table holds only a few thousand locks per connection by default
     * ({@code max_locks_per_transaction} 64 times the connections), and a bulk import of 20,000 rows
     * failed with "out of shared memory" on every resend. Every other relay transaction holds the same
     * table lock shared while it locks rows, so the two kinds exclude each other; tables are locked in
     * name order, each before its rows, so no order of two transactions can deadlock on them.
     */
    static final int BULK_KEYS = 1000;

    private void lockRows() throws SQLException {
        Map<TableInfo, List<Integer>> byTable = new TreeMap<>(Comparator.comparing(TableInfo::name));
        for (int i = 0; i < ops.size(); i++) {
            byTable.computeIfAbsent(ops.get(i).table(), t -> new ArrayList<>()).add(i);
        }
        for (Map.Entry<TableInfo, List<Integer>> e : byTable.entrySet()) {
            TableInfo table = e.getKey();
            List<String> distinct = new ArrayList<>();
            Map<String, Integer> ordinal = new HashMap<>();
            for (int i : e.getValue()) {
                String pk = ops.get(i).pkJson();
                if (ordinal.putIfAbsent(pk, distinct.size() + 1) == null) {
                    distinct.add(pk);
                }
            }
            String[] canonical = new String[distinct.size() + 1];
            TableStatements st = statements.apply(table);
            try (PreparedStatement ps = c.prepareStatement(distinct.size() > BULK_KEYS ? st.lockTable() : st.lockKeys())) {
                ps.setString(1, "[" + String.join(",", distinct) + "]");
                ps.execute(); // three results for the table lock; the keys are the fourth
                for (int r = 0; r < 3; r++) {
                    if (!ps.getMoreResults()) {
                        throw new SQLException("key lock returned no keys", "XX000");
                    }
                }
                try (ResultSet rs = ps.getResultSet()) {
                    while (rs.next()) {
                        canonical[rs.getInt(1)] = rs.getString(2);
                    }
                }
            }
            for (int i : e.getValue()) {
                RowKey key = new RowKey(table.name(), canonical[ordinal.get(ops.get(i).pkJson())]);
                opRows[i] = rows.computeIfAbsent(key, k -> new RowState(table, k));
            }
        }
    }

    /** Reads whether each row exists (locking it) and its clocks. */
    private void readState() throws SQLException {
        for (RowState s : rows.values()) {
            s.reset();
        }
        readPresence(rows.values());
        String[] tbls = new String[rows.size()];
        String[] pks = new String[rows.size()];
        int n = 0;
        for (RowKey k : rows.keySet()) {
            tbls[n] = k.table();
            pks[n++] = k.pk();
        }
        try (PreparedStatement ps = c.prepareStatement(READ_CLOCKS)) {
            ps.setArray(1, c.createArrayOf("text", tbls));
            ps.setArray(2, c.createArrayOf("text", pks));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    RowState s = rows.get(new RowKey(rs.getString(1), rs.getString(2)));
                    if (s != null) {
                        s.clockRow = true;
                        s.alive = rs.getBoolean(3);
                        s.aliveHlc = rs.getLong(4);
                        s.aliveNode = rs.getString(5);
                        s.known = !s.alive && s.aliveHlc == tx.hlc() && node.equals(s.aliveNode);
                        s.readCols(rs.getString(6));
                        s.readDeadOld(rs.getString(7));
                        s.cascaded = !s.alive && rs.getBoolean(8);
                    }
                }
            }
        }
        // A clock that says alive over a row read as absent: a direct writer created the row and committed between
        // the two reads (each statement sees the commits before it), or the row went without a trigger. The first
        // used to be taken for the second: the row was inserted over with this change's values, and the clock row
        // read made no conflict that would run the transaction again, so a direct `n = n + 100` creating the row at
        // that moment was lost (CounterCreationRaceTest). Read again, such a row is there.
        List<RowState> again = new ArrayList<>();
        for (RowState s : rows.values()) {
            if (s.alive && !s.exists && s.clockRow) {
                again.add(s);
            }
        }
        if (!again.isEmpty()) {
            readPresence(again);
        }
    }

    /** Marks those of {@code states} whose row exists (and locks it). */
    private void readPresence(Collection<RowState> states) throws SQLException {
        Map<TableInfo, List<RowState>> byTable = new LinkedHashMap<>();
        for (RowState s : states) {
            byTable.computeIfAbsent(s.table, t -> new ArrayList<>()).add(s);
        }
        for (Map.Entry<TableInfo, List<RowState>> e : byTable.entrySet()) {
            try (PreparedStatement ps = c.prepareStatement(statements.apply(e.getKey()).presence())) {
                ps.setString(1, keyArray(e.getValue()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        RowState s = rows.get(new RowKey(e.getKey().name(), rs.getString(1)));
                        if (s != null) {
                            s.exists = true;
                            s.alive = true;
                        }
                    }
                }
            }
        }
    }

    /** Decides one change and queues its writes; returns true if it deleted a row with cascading FKs. */
    private boolean decide(Op op, RowState s) throws SQLException {
        long h = tx.hlc();
        TableStatements sql = statements.apply(op.table());
        switch (op.kind()) {
            case INSERT -> {
                if (s.exists) {
                    // Another client created the row first: a counter's inserted amount is added to it.
                    addCounters(op, s, sql);
                    List<String> won = winners(op, s);
                    if (!won.isEmpty()) {
                        writes.add(sql.update(won), s.key, json(op, won), sql.rank(), false);
                        s.touched = true;
                    }
                    s.stamp(won, h, node);
                    if (wins(h, s.aliveHlc, s.aliveNode)) {
                        s.setExistence(true, h, node);
                    }
                } else if (s.alive || tombstoneOutOfSight(op.table(), s)) {
                    List<String> all = names(op.values());
                    writes.add(sql.insert(all, upsertRows.contains(op.table().name())), s.key, json(op, all), sql.rank(), false);
                    s.touched = true;
                    s.create(h, node);
                } else if (wins(h, s.aliveHlc, s.aliveNode)) {
                    recreate(op, s, sql);
                }
                // else: a later delete is recorded, the row stays deleted.
            }
            case UPDATE -> {
                if (s.exists) {
                    addCounters(op, s, sql);
                    List<String> won = winners(op, s);
                    if (!won.isEmpty()) {
                        writes.add(sql.update(won), s.key, json(op, won), sql.rank(), false);
                        s.touched = true;
                        s.stamp(won, h, node);
                    }
                } else if (!s.alive && s.clockRow && (scope == null || !scope.limitsRows(op.table()))) {
                    // The row is gone, and a delete wins over a concurrent update; its values are kept with
                    // the tombstone, for a recreate stamped before them (see recreate). But a row that only
                    // went with its parent, and that this update moves elsewhere, comes back.
                    if (!movedOut(op, s, sql)) {
                        keepOnTombstone(op, s, sql);
                    }
                }
                // else: the row is gone, and a delete wins over a concurrent update.
            }
            case DELETE -> {
                if (wins(h, s.aliveHlc, s.aliveNode)) {
                    s.deletedHere = true;
                    if (s.exists && tx.seen() != null && scope == null) {
                        // Rows below the parent that this client had not seen must survive its delete.
                        // Under a scope, a cascade into rows the user cannot see rejects the transaction.
                        writes.flush();
                        writeClocks();
                        if (CascadeGuard.keepsParent(c, catalog, statements, op.table(), s.key.pk(), tx.seen(), node)) {
                            // The parent stays: untouched, its current image is logged for this client
                            // (logUntouchedRows), as for a change that lost.
                            return true;
                        }
                    }
                    if (s.exists) {
                        writes.add(sql.delete(), s.key, s.key.pk(), sql.rank(), true);
                        s.touched = true;
                        s.exists = false;
                        s.clockRow = true; // the capture trigger writes the tombstone
                        s.known = true;
                        s.setExistence(false, h, node);
                        return op.table().deleteCascades();
                    }
                    // Absent already: record the delete anyway, so that an older insert of the same
                    // row arriving later (from an offline client) does not bring it back. Not when the
                    // user's scope limits the table's rows: nothing shows that the absent row was ever
                    // theirs, and the tombstone would silently cancel another user's later insert of
                    // that key (one that user stamped before this delete's time).
                    if (scope == null || !scope.limitsRows(op.table())) {
                        s.setExistence(false, h, node);
                    }
                }
            }
        }
        return false;
    }

    // A tombstone's image, read only when a recreate needs some of its values (rare: a write to the deleted
    // row stamped after the recreate), after the pending writes, since the delete may be this transaction's.
    private static final String DEAD_ROW = "SELECT dead_row::text FROM syncsqlite.row_clock WHERE tbl = ? AND pk = ? AND NOT alive";

    /**
     * Creates a deleted row again. Its tombstone keeps the clocks its columns had (and the row's last image),
     * and a column written after this insert's clock keeps that value: with a delete-and-recreate on one
     * device and a later update on another, the update survives whichever reaches the relay first (the
     * update arriving after the recreate wins its column anyway). Without this, the recreate started every
     * clock afresh and the outcome depended on arrival order. A column a counter amount stamped last starts
     * afresh.
     */
    private void recreate(Op op, RowState s, TableStatements sql) throws SQLException {
        long h = tx.hlc();
        Map<String, RowState.Clock> kept = new LinkedHashMap<>();
        for (ColumnInfo column : op.table().columns()) {
            RowState.Clock clock = s.cols.get(column.name());
            if (clock != null && !clock.added() && !column.primaryKey() && !column.generated()
                    && !op.deltas().has(column.name()) && !wins(h, clock.hlc(), clock.node())) {
                kept.put(column.name(), clock);
            }
        }
        ObjectNode dead = kept.isEmpty() ? null : deadRow(s);
        ObjectNode values = op.values();
        if (dead != null) {
            values = values.deepCopy();
            for (String col : kept.keySet()) {
                values.set(col, dead.get(col) == null ? MessageCodec.JSON.nullNode() : dead.get(col));
            }
        } else {
            kept.clear(); // no image to take the values from (a tombstone from before row_clock.dead_row)
        }
        Op written = new Op(op.table(), op.kind(), op.pk(), values, op.pkJson(), op.deltas());
        List<String> all = names(values);
        writes.add(sql.insert(all, upsertRows.contains(op.table().name())), s.key, json(written, all), sql.rank(), false);
        s.touched = true;
        s.create(h, node);
        s.cols.putAll(kept);
    }

    /**
     * Brings back a row that went with its parent's delete (ON DELETE CASCADE, or CascadeGuard acting for it)
     * when this update moves it out of that parent (a cascading key's columns set to another value, while the
     * parent of the old ones is gone): in the other order the move takes the row out first, and the delete
     * leaves it. Its last image, with the update's columns written over it, is inserted (a new
     * parent deleted too is then restored by Compensation, as for an insert). The row exists again from
     * after its tombstone, its columns keep their clocks, and the update's get its own; it was born now.
     *
     * @return whether it did so
     */
    private boolean movedOut(Op op, RowState s, TableStatements sql) throws SQLException {
        if (!s.cascaded || op.values().isEmpty()) {
            return false;
        }
        List<TableStatements.CascadeKey> keys = new ArrayList<>();
        for (TableStatements.CascadeKey k : sql.cascadeKeys(c)) {
            if (k.columns().stream().anyMatch(op.values()::has)) {
                keys.add(k);
            }
        }
        if (keys.isEmpty()) {
            return false;
        }
        writes.flush();
        writeClocks();
        List<String> columns = names(op.values());
        String image;
        try (PreparedStatement ps = c.prepareStatement(sql.movedOutOfTombstone(keys))) {
            ps.setString(1, s.key.table());
            ps.setString(2, s.key.pk());
            ps.setString(3, json(op, columns));
            ps.setArray(4, c.createArrayOf("text", columns.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next() || !rs.getBoolean(2)) {
                    return false;
                }
                image = rs.getString(1);
            }
        }
        List<String> writable = op.table().columns().stream().filter(col -> !col.generated() && !col.primaryKey())
                .map(ColumnInfo::name).toList();
        writes.add(sql.insert(writable, upsertRows.contains(op.table().name())), s.key, image, sql.rank(), false);
        s.touched = true;
        Map<String, RowState.Clock> before = new HashMap<>(s.cols);
        s.create(Math.max(tx.hlc(), s.aliveHlc + 1), node);
        s.cols.putAll(before);
        s.stamp(winnersAll(op), tx.hlc(), node);
        return true;
    }

    /** The update's columns set by last-writer-wins, whatever the clocks (those of a row it brings back). */
    private static List<String> winnersAll(Op op) {
        List<String> out = new ArrayList<>();
        for (Iterator<String> it = op.values().fieldNames(); it.hasNext(); ) {
            String col = it.next();
            if (!op.deltas().has(col) && !op.table().identityAlways(col)) {
                out.add(col);
            }
        }
        return out;
    }

    /**
     * Writes the columns an update of a deleted row wins into its tombstone's image and clocks: the delete
     * still wins, but a recreate stamped before the update then keeps them, as when the update arrives after
     * the recreate or before the delete. Without it the outcome depended on whether the update came between
     * the two (found by a review, MergeThroughDeleteReviewTest). Only onto a tombstone with an image; the
     * values are PostgreSQL's own JSON of them, as the image holds.
     */
    private void keepOnTombstone(Op op, RowState s, TableStatements sql) throws SQLException {
        List<String> won = winners(op, s);
        if (won.isEmpty()) {
            return;
        }
        writes.flush();
        writeClocks();
        try (PreparedStatement ps = c.prepareStatement(sql.keepOnTombstone())) {
            ps.setString(1, json(op, won));
            ps.setArray(2, c.createArrayOf("text", won.toArray()));
            ps.setString(3, s.key.table());
            ps.setString(4, s.key.pk());
            if (ps.executeUpdate() == 0) {
                return; // no image to keep them in (a tombstone from before row_clock.dead_row)
            }
        }
        s.stamp(won, tx.hlc(), node);
    }

    private ObjectNode deadRow(RowState s) throws SQLException {
        writes.flush();
        writeClocks();
        try (PreparedStatement ps = c.prepareStatement(DEAD_ROW)) {
            ps.setString(1, s.key.table());
            ps.setString(2, s.key.pk());
            try (ResultSet rs = ps.executeQuery()) {
                String json = rs.next() ? rs.getString(1) : null;
                return json == null ? null : JsonTrees.row(json);
            }
        } catch (JsonProcessingException | ClassCastException e) {
            throw new SQLException("malformed dead_row in syncsqlite.row_clock for " + s.key, "XX000", e);
        }
    }

    /**
     * Whether the row's tombstone is of a row this user could not see: under a scope that limits the
     * table's rows, such a tombstone does not stop the user's insert of that key, or one user could cancel
     * another's inserts of keys they guessed by creating and deleting them first (stamped up to the
     * relay's clock bound ahead). A tombstone without logged previous values (a table without scoped
     * columns, or deleted before the relay logged them) still stops every older insert.
     */
    private boolean tombstoneOutOfSight(TableInfo table, RowState s) {
        return scope != null && s.deadOld != null && scope.limitsRows(table) && !scope.contains(table.name(), s.deadOld);
    }

    /** Queues the additions of a counter change to an existing row. Counters are not subject to LWW. */
    private void addCounters(Op op, RowState s, TableStatements sql) throws SQLException {
        if (op.deltas().isEmpty()) {
            return;
        }
        List<String> columns = names(op.deltas());
        ObjectNode o = op.pk().deepCopy();
        o.setAll(op.deltas());
        try {
            writes.add(sql.add(columns), s.key, MessageCodec.JSON.writeValueAsString(o), sql.rank(), false);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        s.touched = true;
        // The column's clock only moves forward, so an older plain write still loses to it.
        List<String> later = new ArrayList<>();
        for (String col : columns) {
            RowState.Clock clock = s.clock(col);
            if (wins(tx.hlc(), clock.hlc(), clock.node())) {
                later.add(col);
            }
        }
        s.stamp(later, new RowState.Clock(tx.hlc(), node, true));
    }

    private boolean wins(long h, long clockHlc, String clockNode) {
        return Hlc.compare(h, node, clockHlc, clockNode) >= 0;
    }

    /** Columns whose value this change sets by last-writer-wins (counter columns are added instead). */
    private List<String> winners(Op op, RowState s) {
        List<String> won = new ArrayList<>();
        for (Iterator<String> it = op.values().fieldNames(); it.hasNext(); ) {
            String col = it.next();
            if (op.deltas().has(col) || op.table().identityAlways(col)) {
                continue; // added, not set; or an identity column PostgreSQL lets no update set
            }
            RowState.Clock clock = s.clock(col);
            if (wins(tx.hlc(), clock.hlc(), clock.node())) {
                won.add(col);
            }
        }
        return won;
    }

    /** Writes every changed clock in one statement. */
    private void writeClocks() throws SQLException {
        ArrayNode all = MessageCodec.JSON.createArrayNode();
        for (RowState s : rows.values()) {
            if (!s.dirty) {
                continue;
            }
            ObjectNode o = all.addObject();
            o.put("fresh", !s.clockRow);
            o.put("known", s.known);
            o.put("deleted", s.deletedHere);
            s.clockRow = true;
            o.put("tbl", s.key.table());
            o.put("pk", s.key.pk()); // the clock key's text, as PostgreSQL made it
            o.put("alive", s.alive);
            o.put("alive_hlc", s.aliveHlc);
            o.put("alive_node", s.aliveNode);
            o.set("cols", s.colsJson());
            s.dirty = false;
        }
        if (all.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement(upsertClocks ? UPSERT_CLOCKS : WRITE_CLOCKS)) {
            ps.setString(1, all.toString());
            ps.execute();
        }
    }


    /**
     * Rows no statement touched still get a change entry with their current state, for the origin; so do rows of a
     * statement PostgreSQL applied to fewer rows than it was given ({@link RunWriter#shortOf}).
     */
    private void logUntouchedRows() throws SQLException {
        Map<TableInfo, List<RowState>> byTable = new LinkedHashMap<>();
        Set<RowKey> shortOf = writes.shortOf();
        for (RowState s : rows.values()) {
            if (!s.touched || shortOf.contains(s.key)) {
                byTable.computeIfAbsent(s.table, t -> new ArrayList<>()).add(s);
            }
        }
        for (Map.Entry<TableInfo, List<RowState>> e : byTable.entrySet()) {
            try (PreparedStatement ps = c.prepareStatement(statements.apply(e.getKey()).logCurrent())) {
                ps.setString(1, node);
                ps.setString(2, keyArray(e.getValue()));
                ps.execute();
            }
        }
    }

    private static String keyArray(Collection<RowState> states) {
        StringBuilder sb = new StringBuilder("[");
        for (RowState s : states) {
            if (sb.length() > 1) {
                sb.append(',');
            }
            sb.append(s.key.pk());
        }
        return sb.append(']').toString();
    }

    private static List<String> names(ObjectNode values) {
        List<String> names = new ArrayList<>(values.size());
        values.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static String json(Op op, List<String> columns) {
        ObjectNode o = op.pk().deepCopy();
        for (String col : columns) {
            o.set(col, op.values().get(col));
        }
        try {
            return MessageCodec.JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A row of a synced table, by its key's text in row_clock ({@link io.syncsqlite.relay.schema.Sql#clockKey}). */
    record RowKey(String table, String pk) {
    }

    /**
     * What this transaction knows about one row: existence and clocks, as read and as changed.
     *
     * <p>A column without a clock of its own has the row's existence clock: a row is created with every
     * column at its creation clock, so a new row stores {@code cols = {}}, and a column gets an entry when
     * a later write stamps it alone. Before the existence clock of a row that exists moves (an insert
     * onto an existing row), the columns that relied on it get entries with the old one ({@link
     * #setExistence}). A row that was created before capture has existence clock (0, ''), which every
     * write beats, as it beat the missing clock before.
     */
    static final class RowState {
        /**
         * @param added whether a counter amount stamped it (kept in row_clock as a third element, 1): a row
         *              created again starts such a column afresh instead of keeping the deleted row's count
         */
        record Clock(long hlc, String node, boolean added) {
            Clock(long hlc, String node) {
                this(hlc, node, false);
            }
        }

        final TableInfo table;
        final RowKey key;
        final Map<String, Clock> cols = new HashMap<>();
        boolean exists;
        boolean alive;
        long aliveHlc;
        String aliveNode = "";
        boolean dirty;
        boolean touched;
        /** Whether syncsqlite.row_clock has a row for the key (read, or written by this transaction). */
        boolean clockRow;
        /** Whether this transaction deleted the row itself, or read the tombstone its own delete left. */
        boolean known;
        /** A deleted row's previous scoped values (row_clock.dead_old), or null. */
        JsonNode deadOld;
        /**
         * Whether the row's tombstone may be of a row that went with another's delete: row_clock.cascaded is
         * true, or NULL (a direct delete, which {@link TableStatements#movedOutOfTombstone} settles).
         */
        boolean cascaded;
        /** Whether a delete of this transaction named the row (its tombstone is then its own, not cascaded). */
        boolean deletedHere;

        RowState(TableInfo table, RowKey key) {
            this.table = table;
            this.key = key;
        }

        void reset() {
            exists = false;
            alive = false;
            aliveHlc = 0;
            aliveNode = "";
            cols.clear();
            dirty = false;
            deadOld = null;
            cascaded = false;
            deletedHere = false;
            clockRow = false;
            known = false;
        }

        /** The clock of a non-key column: its own, else the row's existence clock. */
        Clock clock(String column) {
            Clock own = cols.get(column);
            return own != null ? own : new Clock(aliveHlc, aliveNode);
        }

        /** The row is (re)created now: existence and every column get this clock. */
        void create(long hlc, String node) {
            exists = true;
            cols.clear();
            alive = true;
            aliveHlc = hlc;
            aliveNode = node;
            dirty = true;
        }

        void setExistence(boolean alive, long hlc, String node) {
            if (exists && this.alive) {
                // The row stays: its columns keep their clocks, so those that had the old existence clock
                // get it as their own before it moves; also (0, ''), a row from before capture, whose
                // columns had no clock and must not take the new one.
                Clock old = new Clock(aliveHlc, aliveNode);
                for (ColumnInfo column : table.columns()) {
                    if (!column.primaryKey() && !column.generated()) {
                        cols.putIfAbsent(column.name(), old);
                    }
                }
            }
            this.alive = alive;
            this.aliveHlc = hlc;
            this.aliveNode = node;
            this.dirty = true;
        }

        void stamp(List<String> columns, long hlc, String node) {
            stamp(columns, new Clock(hlc, node));
        }

        void stamp(List<String> columns, Clock clock) {
            for (String col : columns) {
                cols.put(col, clock);
                dirty = true;
            }
        }

        void readCols(String json) throws SQLException {
            try {
                JsonNode tree = MessageCodec.JSON.readTree(json);
                for (Iterator<Map.Entry<String, JsonNode>> it = tree.properties().iterator(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> f = it.next();
                    JsonNode v = f.getValue();
                    cols.put(f.getKey(), new Clock(v.get(0).asLong(), v.get(1).asText(), v.has(2) && v.get(2).asInt() == 1));
                }
            } catch (JsonProcessingException | RuntimeException e) {
                throw new SQLException("malformed clocks in syncsqlite.row_clock for " + key, "XX000", e);
            }
        }

        void readDeadOld(String json) throws SQLException {
            try {
                deadOld = json == null ? null : JsonTrees.row(json);
            } catch (JsonProcessingException | ClassCastException e) {
                throw new SQLException("malformed dead_old in syncsqlite.row_clock for " + key, "XX000", e);
            }
        }

        ObjectNode colsJson() {
            ObjectNode o = MessageCodec.JSON.createObjectNode();
            for (Map.Entry<String, Clock> e : cols.entrySet()) {
                ArrayNode a = o.putArray(e.getKey());
                a.add(e.getValue().hlc());
                a.add(e.getValue().node());
                if (e.getValue().added()) {
                    a.add(1);
                }
            }
            return o;
        }
    }
}
