package io.syncsqlite.relay.feed;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One feed entry parsed, for relays with per-user scopes: sessions test {@link #row} and {@link #old}
 * against their user's scope before sending the entry.
 *
 * @param row the new row image, null for a delete
 * @param old the previous values of the table's scoped columns (all of them for a delete, those that
 *            changed for an update, {@code {}} if none did; {@link #NO_ROW_ORIGIN} for a delete of a key
 *            that had no row), null if the row is new or they were not logged
 *
 * <p>Immutable once built (the trees are never modified); thread-safe.
 */
public record FeedRow(long seq, String table, String pkJson, JsonNode row, JsonNode old, long hlc) {

    /**
     * The key of {@link #old} in a delete the relay logged for a key that had no row (the outcome of a
     * client's write to it), naming the node whose transaction named the key. Such a delete deleted
     * nothing: it takes no row out of a scope or a membership, and only that node needs to hear it.
     */
    public static final String NO_ROW_ORIGIN = "~origin";

    /** For a delete of a key that had no row, the node whose transaction named it; else null. */
    public String noRowOrigin() {
        JsonNode o = row == null && old != null ? old.get(NO_ROW_ORIGIN) : null;
        return o == null ? null : o.asText();
    }

    /** The entry that removes this row from a client (its scope no longer holds it). */
    public String deletion() {
        return FeedJson.entry(seq, table, pkJson, null, hlc);
    }
}
