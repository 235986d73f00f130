package io.syncsqlite.relay.db;

import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Classifies PostgreSQL errors by SQLState, never by message text.
 *
 * <p>Thread-safe: stateless.
 */
public final class PgErrors {

    /** What the relay does about an error raised while applying a client transaction. */
    public enum Action {
        /** 40001 serialization failure, 40P01 deadlock: run the whole transaction again. */
        RETRY,
        /**
         * The data itself is refused (constraint, invalid value, unknown object, privilege, check option,
         * a trigger's RAISE): report it to the client; retrying would fail the same way.
         */
        REJECT,
        /**
         * The connection or the server is in trouble (08, 57, resources, internal): close the client's
         * session so it reconnects and resends, which is safe because applies are idempotent.
         */
        RECONNECT
    }

    private PgErrors() {
    }

    public static Action classify(SQLException e) {
        String state = sqlState(e);
        if (state == null || state.length() != 5) {
            // pgjdbc reports a dead socket without a server SQLState.
            return Action.RECONNECT;
        }
        if (state.equals("40001") || state.equals("40P01")) {
            return Action.RETRY;
        }
        return switch (state.substring(0, 2)) {
            // 21 cardinality, 22 data, 23 integrity, 27 triggered data change, 2B dependent privileges,
            // 42 syntax/access/undefined object, 44 WITH CHECK OPTION (views, RLS), 54 program limit
            // exceeded (an index row too large for a value: it fails again on every resend), P0 PL/pgSQL RAISE.
            case "21", "22", "23", "27", "2B", "42", "44", "54", "P0" -> Action.REJECT;
            default -> Action.RECONNECT;
        };
    }

    /** Whether {@code e} is a lock wait that exceeded {@code lock_timeout} (55P03). */
    public static boolean isLockTimeout(SQLException e) {
        return "55P03".equals(sqlState(e));
    }

    /**
     * For a unique violation (23505) of a key, where the conflict is: {@code ""} for {@code syncsqlite.row_clock}'s,
     * the table's name for a table's primary key; null for anything else, such as the application's own UNIQUE
     * constraints, which an attempt on fresh state meets again. The applier inserts rows and clock rows it read as
     * absent without ON CONFLICT, so such a violation means one was created meanwhile by someone else (a direct
     * writer), or within the transaction by an application trigger; a deferrable key reports it at commit.
     * {@code c} must be usable (rolled back): the constraint is looked up in the catalog, and rolled back again.
     */
    public static String keyConflict(Connection c, SQLException e) throws SQLException {
        PSQLException server = serverError(e);
        if (server == null || !"23505".equals(server.getSQLState())) {
            return null;
        }
        ServerErrorMessage m = server.getServerErrorMessage();
        if ("syncsqlite".equals(m.getSchema()) && "row_clock".equals(m.getTable())) {
            return "";
        }
        if (m.getSchema() == null || m.getTable() == null || m.getConstraint() == null) {
            return null;
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT FROM pg_constraint WHERE contype = 'p' AND conname = ?"
                + " AND conrelid = (quote_ident(?) || '.' || quote_ident(?))::regclass")) {
            ps.setString(1, m.getConstraint());
            ps.setString(2, m.getSchema());
            ps.setString(3, m.getTable());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? m.getTable() : null;
            }
        } finally {
            c.rollback();
        }
    }

    /**
     * Whether PostgreSQL refused an INSERT ... ON CONFLICT for the table itself, whatever the rows: its key is
     * deferrable (55000), or it has an INSERT rule (0A000).
     */
    public static boolean refusesOnConflict(SQLException e) {
        String state = sqlState(e);
        return "55000".equals(state) || "0A000".equals(state);
    }

    /**
     * The SQLState PostgreSQL reported. A failed JDBC batch wraps the server's error in a
     * BatchUpdateException, so this looks through the chain for it first.
     */
    public static String sqlState(SQLException e) {
        PSQLException server = serverError(e);
        return server != null ? server.getSQLState() : e.getSQLState();
    }

    private static PSQLException serverError(SQLException e) {
        Throwable t = e;
        for (int depth = 0; t != null && depth < 10; depth++) {
            if (t instanceof PSQLException p && p.getServerErrorMessage() != null) {
                return p;
            }
            t = t instanceof SQLException s && s.getNextException() != null ? s.getNextException() : t.getCause();
        }
        return null;
    }

    /**
     * The server's message and detail for the client that caused the error. It can contain values the
     * client sent, so it goes back to that client only and is never logged at INFO.
     */
    public static String describe(SQLException e) {
        return describe(e, true);
    }

    /**
     * The same, with the detail only if {@code withDetail}: a detail can hold values of rows other than
     * the client's own (the existing row an exclusion constraint conflicts with, a row a trigger changed),
     * which a user confined to a scope must not learn.
     */
    public static String describe(SQLException e, boolean withDetail) {
        PSQLException p = serverError(e);
        if (p != null) {
            ServerErrorMessage m = p.getServerErrorMessage();
            StringBuilder sb = new StringBuilder(String.valueOf(m.getMessage()));
            if (withDetail && m.getDetail() != null) {
                sb.append(" (").append(m.getDetail()).append(')');
            }
            return sb.toString();
        }
        return String.valueOf(e.getMessage());
    }
}
