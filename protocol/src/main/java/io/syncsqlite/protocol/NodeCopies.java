package io.syncsqlite.protocol;

/**
 * Tells a transaction that a copy of a node's file wrote from a resend of one the node already applied.
 *
 * <p>A client resends, after every reconnection, what the relay did not acknowledge, and the relay takes a
 * transaction id at or below the node's last applied one ({@code appliedTx}) for such a resend. A copy of the
 * file (a backup restored, a disk cloned) carries the node's id and counts its transaction ids on from where
 * the copy was taken, so its new transactions reuse ids the relay applied for the original: taken for
 * resends, they would be acknowledged and never applied.
 *
 * <p>What tells them apart is the clock. In one file, transaction ids and clocks grow together (a stamp
 * takes the outbox's newest row, and ids are its row numbers), so a true resend of a transaction at or
 * below {@code appliedTx} carries a clock at or below the applied one's, and exactly that clock for
 * {@code appliedTx} itself. A transaction that breaks this was written in another file. The test is sound
 * (a resend is never taken for a copy's) and complete for a copy written after the original's last applied
 * transaction (a restored backup); a copy written while the original ran can show clocks below it, and is
 * found only where they cross.
 *
 * <p>Stateless; thread-safe.
 */
public final class NodeCopies {

    private NodeCopies() {
    }

    /**
     * Whether transaction {@code tx} stamped {@code hlc} cannot be a resend of what a node applied up to
     * {@code appliedTx}, whose clock was {@code appliedHlc}: it comes from a copy of the node's file.
     * Always false for a transaction after {@code appliedTx}, or when the applied clock is unknown (0).
     */
    public static boolean fromCopy(long tx, long hlc, long appliedTx, long appliedHlc) {
        if (appliedHlc == 0 || tx > appliedTx) {
            return false;
        }
        return tx == appliedTx ? hlc != appliedHlc : hlc >= appliedHlc;
    }
}
