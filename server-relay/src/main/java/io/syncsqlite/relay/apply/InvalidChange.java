package io.syncsqlite.relay.apply;

/**
 * A client change that names something the relay does not sync; rejected before touching PostgreSQL.
 * No stack trace: it is an answer to the client, not a fault of the relay.
 *
 * <p>Immutable; thread-safe.
 */
final class InvalidChange extends Exception {
    private final String sqlState;

    InvalidChange(String sqlState, String message) {
        super(message, null, false, false);
        this.sqlState = sqlState;
    }

    String sqlState() {
        return sqlState;
    }
}
