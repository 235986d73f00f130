package io.syncsqlite.protocol;

import java.util.List;
import java.util.Objects;

/**
 * One committed local SQLite transaction of a client, as it travels to the relay.
 *
 * @param id      the client's transaction number: strictly increasing per client, so the relay can tell
 *                a resend from new work (idempotent apply)
 * @param hlc     the single HLC timestamp stamped at local commit, shared by every change of the
 *                transaction
 * @param changes the row changes in the order they were made
 */
public record ClientTx(long id, long hlc, List<RowChange> changes) {
    public ClientTx {
        if (id <= 0) {
            throw new IllegalArgumentException("transaction id must be positive: " + id);
        }
        Hlc.unpack(hlc);
        changes = List.copyOf(Objects.requireNonNull(changes, "changes"));
    }
}
