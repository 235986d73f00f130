package io.syncsqlite.driver.sync;

/**
 * How far a snapshot has come: a new client (or one that resyncs) receives every row of the synced tables
 * before the live feed, and a UI can show that as progress.
 *
 * @param received rows received and applied so far
 * @param total    rows in the snapshot, as the relay counted them when it began
 * @param done     whether this was the last batch
 */
public record SnapshotProgress(long received, long total, boolean done) {
}
