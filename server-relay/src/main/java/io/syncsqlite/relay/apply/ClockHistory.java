package io.syncsqlite.relay.apply;

import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.NodeCopies;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;

/**
 * The clocks of the transactions applied for each node ({@code syncsqlite.client_tx}), and the test they
 * allow: whether a transaction at or below the node's applied id is a resend or comes from a copy of the
 * node's file ({@link NodeCopies}).
 *
 * <p>Every transaction the relay applies or rejects records its clock in its own PostgreSQL transaction
 * ({@link #MARK_COMMIT}), and one refused before PostgreSQL too ({@link #record}): a resend of any of them
 * must not look like a copy's. A transaction is a resend when its id has a record with its clock; it comes
 * from a copy when its id has a record with another clock, or none although every transaction processed
 * since {@code client.clocks_from} has one (the original never used that id for a transaction), or, without
 * either, when its clock is not below the next record's. Records more than {@link #KEEP} ids below a node's
 * newest are dropped, once per 4,096 ids.
 *
 * <p>Stateless; thread-safe (each call uses the caller's connection).
 */
final class ClockHistory {

    /** Ids (outbox rows of the node's file) below its newest whose clocks are kept. */
    static final long KEEP = 100_000;

    /**
     * Records the transaction's clock and its id as the node's applied one, and draws its feed position
     * (returned). {@code clocks_from} stays where it is when the previous applied transaction has its record,
     * and starts here otherwise (the node's first, or one after a relay from before the records applied one).
     * Parameters: node, tx, hlc, tx, tx, node.
     */
    private static final String MARK_COMMIT = "WITH h AS (INSERT INTO syncsqlite.client_tx (node, tx, hlc) "
            + "VALUES (?, ?, ?) ON CONFLICT (node, tx) DO UPDATE SET hlc = excluded.hlc) "
            + "UPDATE syncsqlite.client AS c SET clocks_from = CASE WHEN c.clocks_from IS NOT NULL AND EXISTS "
            + "(SELECT 1 FROM syncsqlite.client_tx AS x WHERE x.node = c.node AND x.tx = c.applied_tx) "
            + "THEN c.clocks_from ELSE ? END, applied_tx = ?, applied_seq = syncsqlite.commit_mark() "
            + "WHERE c.node = ? RETURNING applied_seq";

    /** A transaction refused before PostgreSQL: its clock alone (the node's applied id does not move). */
    private static final String RECORD = "INSERT INTO syncsqlite.client_tx (node, tx, hlc) VALUES (?, ?, ?) "
            + "ON CONFLICT (node, tx) DO NOTHING";

    private static final String PRUNE = "WITH d AS (DELETE FROM syncsqlite.client_tx WHERE node = ? AND tx < ?) "
            + "UPDATE syncsqlite.client SET clocks_from = greatest(clocks_from, ?) WHERE node = ?";

    // For each transaction named, in order: its id's record, the next record above it, and clocks_from when
    // the node's applied transaction has its record (a relay from before the records may have applied it and
    // others after clocks_from: then no id is known to lack a record).
    private static final String LOOKUP = "SELECT u.t, r.hlc, a.tx, a.hlc, (SELECT CASE WHEN EXISTS (SELECT 1 "
            + "FROM syncsqlite.client_tx AS y WHERE y.node = c.node AND y.tx = c.applied_tx) THEN c.clocks_from END "
            + "FROM syncsqlite.client AS c WHERE c.node = ?) "
            + "FROM unnest(?::bigint[]) WITH ORDINALITY AS u(t, i) "
            + "LEFT JOIN syncsqlite.client_tx AS r ON r.node = ? AND r.tx = u.t "
            + "LEFT JOIN LATERAL (SELECT x.tx, x.hlc FROM syncsqlite.client_tx AS x WHERE x.node = ? AND x.tx > u.t "
            + "ORDER BY x.tx LIMIT 1) AS a ON true ORDER BY u.i";

    private ClockHistory() {
    }

    /**
     * Marks {@code tx} applied for {@code node} (see {@link #MARK_COMMIT}); returns its feed position.
     *
     * @param previous the node's applied id before it (for pruning)
     */
    static long markCommit(Connection c, String node, ClientTx tx, long previous) throws SQLException {
        long seq;
        try (PreparedStatement ps = c.prepareStatement(MARK_COMMIT)) {
            ps.setString(1, node);
            ps.setLong(2, tx.id());
            ps.setLong(3, tx.hlc());
            ps.setLong(4, tx.id());
            ps.setLong(5, tx.id());
            ps.setString(6, node);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                seq = rs.getLong(1);
            }
        }
        // Once per 4,096 ids: a range delete through the key, never a scan per commit.
        if (previous >> 12 != tx.id() >> 12 && tx.id() > KEEP) {
            long below = tx.id() - KEEP;
            try (PreparedStatement ps = c.prepareStatement(PRUNE)) {
                ps.setString(1, node);
                ps.setLong(2, below);
                ps.setLong(3, below);
                ps.setString(4, node);
                ps.executeUpdate();
            }
        }
        return seq;
    }

    /** Records the clock of a transaction refused before PostgreSQL (in the caller's transaction). */
    static void record(Connection c, String node, ClientTx tx) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(RECORD)) {
            ps.setString(1, node);
            ps.setLong(2, tx.id());
            ps.setLong(3, tx.hlc());
            ps.executeUpdate();
        }
    }

    /**
     * The first of {@code txs} (ids at or below the node's applied one, with their clocks {@code hlcs}, in
     * the client's order) that the node did not apply under its id, or 0 when all are resends.
     */
    static long firstCopied(Connection c, String node, List<Long> txs, List<Long> hlcs) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(LOOKUP)) {
            ps.setString(1, node);
            Array ids = c.createArrayOf("bigint", txs.toArray());
            ps.setArray(2, ids);
            ps.setString(3, node);
            ps.setString(4, node);
            try (ResultSet rs = ps.executeQuery()) {
                for (int i = 0; rs.next(); i++) {
                    long tx = rs.getLong(1);
                    long hlc = hlcs.get(i);
                    long exact = rs.getLong(2);
                    boolean recorded = !rs.wasNull();
                    long aboveTx = rs.getLong(3);
                    long aboveHlc = rs.getLong(4);
                    boolean hasAbove = !rs.wasNull();
                    long clocksFrom = rs.getLong(5);
                    boolean complete = !rs.wasNull();
                    boolean copied;
                    if (recorded) {
                        copied = NodeCopies.fromCopy(tx, hlc, tx, exact);
                    } else if (complete && tx >= clocksFrom) {
                        copied = true; // every transaction processed since clocksFrom has its record
                    } else {
                        copied = hasAbove && NodeCopies.fromCopy(tx, hlc, aboveTx, aboveHlc);
                    }
                    if (copied) {
                        return tx;
                    }
                }
            }
        }
        return 0;
    }
}
