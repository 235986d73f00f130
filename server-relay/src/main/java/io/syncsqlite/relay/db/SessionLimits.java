package io.syncsqlite.relay.db;

import java.time.Duration;

/**
 * The bounds a pooled connection's work runs under.
 *
 * <p>{@code lockTimeout} bounds each wait for a lock someone else holds ({@code lock_timeout}, 55P03).
 * {@code statementTimeout} bounds each statement on the server ({@code statement_timeout}, 57014), and the
 * relay waits at most {@link #networkTimeout()} for any reply: a statement that is merely slow is cancelled
 * by the server first, which releases its locks and keeps the connection, while a server that stopped
 * answering (a failover that left it dark, a dropped network flow) is given up on after the network timeout
 * instead of after the kernel's TCP retransmission limit, about 15 minutes, with the connection and the
 * client's session held all that time. Either error is one the relay retries later (the client resends).
 *
 * <p>The server's side of a lost connection: a relay transaction given up on while the server is still
 * alive keeps its row and advisory locks, and the client's resend would wait behind them until the server
 * noticed the dead peer (TCP keepalive: two hours by default). The server ends such a session after
 * {@code idleInTransactionTimeout} idle in its transaction; one blocked sending a reply nobody reads (a
 * dropped flow during a large result) is not idle and ignores cancellation, so the server's socket also
 * gives up after the network timeout of unacknowledged data ({@code tcp_user_timeout}), and probes an idle
 * peer within about a minute ({@code tcp_keepalives_*}). Null fields leave the server's settings.
 *
 * <p>Immutable; thread-safe.
 *
 * @param lockTimeout      each lock wait, or null
 * @param statementTimeout each statement, or null
 * @param idleInTransactionTimeout how long the server lets a session sit idle inside a transaction, or null;
 *                                 {@link Duration#ZERO} turns a server-wide setting off, for work that waits
 *                                 for something else mid-transaction (snapshots wait for the client between
 *                                 pages)
 */
public record SessionLimits(Duration lockTimeout, Duration statementTimeout, Duration idleInTransactionTimeout) {

    /** The server's own settings, no bound on a reply. */
    public static final SessionLimits NONE = new SessionLimits(null, null, null);

    /** Time for the server's cancellation to arrive on a loaded server and network. */
    public static final Duration NETWORK_MARGIN = Duration.ofSeconds(5);

    /**
     * Statements that may wait sent in one round trip, at most: the relay takes a table's advisory lock and
     * then its rows' locks in one pipeline (TableStatements), and PostgreSQL bounds each statement of a
     * pipeline separately and answers after the last.
     */
    static final int WAITS_PER_ROUND_TRIP = 2;

    public SessionLimits {
        if (lockTimeout != null && lockTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("lock timeout must be at least 1 ms: " + lockTimeout);
        }
        if (statementTimeout != null && statementTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("statement timeout must be at least 1 ms: " + statementTimeout);
        }
        if (idleInTransactionTimeout != null && idleInTransactionTimeout.isNegative()) {
            throw new IllegalArgumentException("idle in transaction timeout must not be negative: "
                    + idleInTransactionTimeout);
        }
    }

    /** These limits with idling inside a transaction allowed, whatever the server's setting. */
    public SessionLimits withoutIdleBound() {
        return new SessionLimits(lockTimeout, statementTimeout, Duration.ZERO);
    }

    /** The longest wait for any reply on the connection, or null for no bound. */
    public Duration networkTimeout() {
        return statementTimeout == null ? null
                : statementTimeout.multipliedBy(WAITS_PER_ROUND_TRIP).plus(NETWORK_MARGIN);
    }
}
