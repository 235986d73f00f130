package io.syncsqlite.relay.keys;

import io.syncsqlite.protocol.IdRange;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.relay.db.ConnectionPool;
import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.schema.ColumnInfo;
import io.syncsqlite.relay.schema.Sql;
import io.syncsqlite.relay.schema.TableInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reserves integer key values for clients, from the PostgreSQL sequence behind each table's key.
 *
 * <p>Why the table's own sequence: a {@code serial} or identity column's sequence is also what a
 * {@code psql} insert draws from, so values given to clients can never collide with rows written directly
 * in PostgreSQL, nor with another client's, nor with another relay's: {@code nextval} is atomic across all
 * sessions. A request takes {@code count} values in one statement ({@code nextval} over
 * {@code generate_series}); they are contiguous unless other writers drew from the sequence at the same
 * moment, in which case the grant holds several ranges. A key column without a sequence gets one of the
 * relay's own ({@code syncsqlite.keys_<table oid>}), created once (under an advisory lock, so several relays
 * agree) and started past the largest key the table holds; direct PostgreSQL writers to such a table must
 * then take keys from it too (documented in docs/DESIGN.md, "Integer keys").
 *
 * <p>Only a single-column {@code smallint}/{@code integer}/{@code bigint} key can be allocated; for any
 * other table the grant carries an error and the client refuses inserts that leave the key out.
 *
 * <p>Thread-safe: sessions call it concurrently; the only state is a cache of sequence names.
 */
public final class KeyAllocator {

    private static final Logger log = LoggerFactory.getLogger(KeyAllocator.class);
    private static final Set<String> INTEGER_TYPES = Set.of("int2", "int4", "int8");
    private static final Duration BORROW_TIMEOUT = Duration.ofSeconds(10);

    private final ConnectionPool pool;
    private final Catalog catalog;
    /** Qualified table name to the regclass text of its key sequence. */
    private final Map<String, String> sequences = new ConcurrentHashMap<>();

    public KeyAllocator(ConnectionPool pool, Catalog catalog) {
        this.pool = pool;
        this.catalog = catalog;
    }

    /**
     * Answers one request.
     *
     * @throws SQLException when PostgreSQL fails (the session then closes and the client asks again)
     */
    public Message.IdGrant allocate(Message.IdRequest request) throws SQLException {
        TableInfo table = catalog.table(request.table());
        if (table == null) {
            return refused(request, "table " + request.table() + " is not synced by this relay");
        }
        if (table.primaryKey().size() != 1) {
            return refused(request, "the primary key of " + table.name() + " has " + table.primaryKey().size()
                    + " columns; only a single integer key can be allocated");
        }
        ColumnInfo key = table.column(table.primaryKey().get(0));
        if (key == null || !INTEGER_TYPES.contains(key.baseType())) {
            return refused(request, "the key " + table.name() + "." + table.primaryKey().get(0) + " is "
                    + (key == null ? "unknown" : key.type()) + " in PostgreSQL; only integer keys can be allocated");
        }
        Connection c = pool.borrow(BORROW_TIMEOUT);
        boolean broken = true;
        try {
            String sequence = sequences.get(table.qualifiedName());
            if (sequence == null) {
                sequence = sequenceOf(c, table, key);
                sequences.put(table.qualifiedName(), sequence);
            }
            List<IdRange> ranges = draw(c, sequence, request.count());
            broken = false;
            log.debug("granted {} key(s) of {} in {} range(s)", request.count(), table.name(), ranges.size());
            return new Message.IdGrant(request.table(), ranges, null);
        } finally {
            pool.release(c, broken);
        }
    }

    private static Message.IdGrant refused(Message.IdRequest request, String reason) {
        return new Message.IdGrant(request.table(), List.of(), reason);
    }

    private static List<IdRange> draw(Connection c, String sequence, int count) throws SQLException {
        long[] values = new long[count];
        int n = 0;
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT nextval(?::regclass) FROM generate_series(1, ?)")) {
            ps.setString(1, sequence);
            ps.setInt(2, count);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    values[n++] = rs.getLong(1);
                }
            }
        }
        if (!c.getAutoCommit()) {
            c.commit();
        }
        java.util.Arrays.sort(values, 0, n);
        List<IdRange> ranges = new ArrayList<>();
        int start = 0;
        for (int i = 1; i <= n; i++) {
            if (i == n || values[i] != values[i - 1] + 1) {
                ranges.add(new IdRange(values[start], values[i - 1]));
                start = i;
            }
        }
        return ranges;
    }

    /** The sequence behind the key column, creating the relay's own when the column has none. */
    private static String sequenceOf(Connection c, TableInfo table, ColumnInfo key) throws SQLException {
        String qualified = Sql.ident(table.schema()) + "." + Sql.ident(table.name());
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_get_serial_sequence(?, ?)")) {
            ps.setString(1, qualified);
            ps.setString(2, key.name());
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && rs.getString(1) != null) {
                    return rs.getString(1);
                }
            }
        }
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(false);
        try {
            long oid;
            try (PreparedStatement ps = c.prepareStatement("SELECT ?::regclass::oid")) {
                ps.setString(1, qualified);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    oid = rs.getLong(1);
                }
            }
            String sequence = "syncsqlite.keys_" + oid;
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext(?))")) {
                ps.setString(1, sequence);
                ps.execute();
            }
            boolean exists;
            try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
                ps.setString(1, sequence);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    exists = rs.getBoolean(1);
                }
            }
            if (!exists) {
                String type = switch (key.baseType()) {
                    case "int2" -> "smallint";
                    case "int4" -> "integer";
                    default -> "bigint";
                };
                String column = Sql.ident(key.name());
                try (var st = c.createStatement()) {
                    st.execute("CREATE SEQUENCE " + sequence + " AS " + type);
                    st.execute("SELECT setval('" + sequence + "', coalesce((SELECT max(" + column + ") FROM "
                            + qualified + "), 0) + 1, false)");
                }
                log.info("created key sequence {} for {}.{} (the column has no sequence of its own)", sequence,
                        table.name(), key.name());
            }
            c.commit();
            return sequence;
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(auto);
        }
    }
}
