package io.syncsqlite.driver.sync;

import java.time.Instant;

/**
 * A snapshot of one database file's sync state, for status displays and tests.
 *
 * @param connected      whether a relay connection is up and past its handshake
 * @param relay          the relay in use or last tried, or {@code null}
 * @param unsettled      local transactions not yet acknowledged and applied back from the feed
 * @param cursor         the feed position applied
 * @param lastSync       when the last message from a relay arrived, or {@code null}
 * @param lastError      the last connection problem, or {@code null}
 * @param schemaDifferences how the local synced tables differ from the relay's, as found when the
 *                       connection was made (tables it does not sync, columns one side lacks, other keys,
 *                       incompatible column types); empty when they fit or before the first connect
 */
public record SyncStatus(boolean connected, String relay, long unsettled, long cursor, Instant lastSync,
                         String lastError, java.util.List<String> schemaDifferences) {
    public SyncStatus {
        schemaDifferences = schemaDifferences == null ? java.util.List.of() : java.util.List.copyOf(schemaDifferences);
    }
}
