package io.syncsqlite.relay.apply;

import java.sql.SQLException;

/**
 * A transaction reuses an id the relay applied for its node with another clock: it comes from a copy of the
 * node's file ({@link io.syncsqlite.protocol.NodeCopies}). Neither applied nor acknowledged (which would
 * drop it): the session closes, and the client, told the applied clock at its next welcome, takes a node id of
 * its own and resends it.
 *
 * <p>Immutable; thread-safe.
 */
public final class CopiedNode extends SQLException {
    CopiedNode(String message) {
        super(message, "SY409");
    }
}
