package io.syncsqlite.relay.apply;

import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.relay.scope.Scope;

import java.sql.SQLException;

/**
 * Applies client transactions to the central database and answers for each one.
 *
 * <p>Implementations are thread-safe; the relay calls them from its session lanes, at most one call at a
 * time per session, but concurrently across sessions (and across relays on one database).
 */
public interface ChangeApplier {

    /** Where a client stands, for {@link Message.Welcome}. */
    ClientPosition position(String node) throws SQLException;

    /**
     * The first of {@code check}'s transactions that {@code node} did not apply under its id (a copy of the
     * node's file wrote it), or 0 when all are resends ({@link Message.ClockCheck}).
     */
    long firstCopied(String node, Message.ClockCheck check) throws SQLException;

    /** The rejections recorded for {@code node} (the newest, oldest first), repeated in {@link Message.Welcome}. */
    java.util.List<Message.Reject> rejections(String node) throws SQLException;

    /**
     * Applies one client transaction (or recognises a resend) and returns the answer to send:
     * {@link Message.Ack} only after the database commit, or {@link Message.Reject} after the rollback.
     *
     * @param scope the user's scope: rows the transaction touches must be in it before and after, and
     *              the rows a rejection reports are limited to it; null when the relay has no scopes
     * @throws ApplyFailure when the outcome cannot be decided now (database unreachable, repeated
     *                      serialization failures); the session then closes so the client resends later. Its
     *                      cause is a {@link CopiedNode} for a transaction from a copy of the node's file.
     */
    Message apply(String node, ClientTx tx, Scope scope) throws ApplyFailure;

    /**
     * Reads the catalog again, as an unknown table or column in a transaction does (reads at least a second
     * apart: the caller may wait for its turn); returns whether it was read since the call.
     */
    default boolean refreshCatalog() {
        return false;
    }

    /**
     * @param appliedTx  the highest transaction of the client already applied (or rejected), 0 if none
     * @param appliedSeq the feed position of that transaction's outcome
     * @param head       the newest feed position
     * @param horizon    the oldest feed position still in the history (0 when nothing was pruned): a client
     *                   whose cursor is below {@code horizon - 1} has missed pruned commits and must resync
     */
    record ClientPosition(long appliedTx, long appliedSeq, long head, long horizon) {
    }
}
