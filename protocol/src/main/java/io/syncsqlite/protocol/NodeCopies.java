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
 * takes the outbox's newest row, and ids are its row numbers), so a true resend of a transaction carries the
 * clock it was applied with, and a clock below that of any later transaction the node applied. A
 * transaction that breaks this was written in another file. The relay keeps the clock of every transaction
 * it applied (of the last 100,000 ids per node), so it compares most resends exactly, and older ones with
 * the nearest it kept.
 *
 * <p>Stateless; thread-safe.
 */
public final class NodeCopies {

    private NodeCopies() {
    }

    /**
     * Whether transaction {@code tx} stamped {@code hlc} cannot be a resend, given that the node's transaction
     * {@code knownTx} (at or after {@code tx}) was applied with clock {@code knownHlc}: it comes from a copy of
     * the node's file. Always false for a transaction after {@code knownTx}.
     */
    public static boolean fromCopy(long tx, long hlc, long knownTx, long knownHlc) {
        if (tx > knownTx) {
            return false;
        }
        return tx == knownTx ? hlc != knownHlc : hlc >= knownHlc;
    }
}
