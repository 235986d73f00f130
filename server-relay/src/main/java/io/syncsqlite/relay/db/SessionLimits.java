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
 * {@code idleInTransactionTimeout} is the server's side of a lost connection: a relay transaction whose
 * connection was given up on while the server was still alive (a dropped flow) would keep its row and
 * advisory locks, and the client's resend would wait behind them until the server noticed the dead peer (TCP
 * keepalive: two hours by default); the server ends such a session after this long idle in its transaction.
 * Null fields leave the server's settings and wait without bound.
 *
 * <p>Immutable; thread-safe.
 *
 * @param lockTimeout      each lock wait, or null
 * @param statementTimeout each statement, or null
 * @param idleInTransactionTimeout how long the server lets a session sit idle inside a transaction, or null;
 *                                 only for work that never waits for anything else mid-transaction (not
 *                                 snapshots, which wait for the client between pages)
 */
public record SessionLimits(Duration lockTimeout, Duration statementTimeout, Duration idleInTransactionTimeout) {

    /** The server's own settings, no bound on a reply. */
    public static final SessionLimits NONE = new SessionLimits(null, null, null);

    /**
     * How much longer than a statement may run the relay waits for its reply: time for the server's
     * cancellation to arrive on a loaded server and network.
     */
    public static final Duration NETWORK_MARGIN = Duration.ofSeconds(5);

    public SessionLimits {
        if (lockTimeout != null && lockTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("lock timeout must be at least 1 ms: " + lockTimeout);
        }
        if (statementTimeout != null && statementTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("statement timeout must be at least 1 ms: " + statementTimeout);
        }
        if (idleInTransactionTimeout != null && idleInTransactionTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("idle in transaction timeout must be at least 1 ms: "
                    + idleInTransactionTimeout);
        }
    }

    /** These limits without the bound on idling inside a transaction. */
    public SessionLimits withoutIdleBound() {
        return new SessionLimits(lockTimeout, statementTimeout, null);
    }

    /** The longest wait for any reply on the connection, or null for no bound. */
    public Duration networkTimeout() {
        return statementTimeout == null ? null : statementTimeout.plus(NETWORK_MARGIN);
    }
}
