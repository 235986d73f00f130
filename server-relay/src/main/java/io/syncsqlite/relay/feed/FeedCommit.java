package io.syncsqlite.relay.feed;

import java.util.List;

/**
 * One PostgreSQL commit as the feed sends it: its position and its row images, each already encoded as
 * the JSON of a {@link io.syncsqlite.protocol.FeedEntry}, so that sending it to many clients encodes it
 * once.
 *
 * @param seq     the commit's position in {@code syncsqlite.commit_log}
 * @param entries the encoded entries in change order (empty for a commit whose rows were all logged
 *                elsewhere, which still moves clients' cursors)
 * @param keys    for each entry, its row's identity (table and canonical key), for compaction
 * @param bytes   the total length of the entries, for batching
 * @param rows    the entries parsed, when the relay has per-user scopes to test them against; else null
 * @param more    this is a part of a commit too big to read at once, and more of it follows (read it
 *                with {@link ChangeFeed#readRest}); its position is reached only with the last part
 * @param lastId  the last change row read for this commit (where its next part starts)
 *
 * <p>Immutable; thread-safe.
 */
public record FeedCommit(long seq, List<String> entries, List<String> keys, long bytes, List<FeedRow> rows,
                         boolean more, long lastId) {
    public FeedCommit {
        entries = List.copyOf(entries);
        keys = List.copyOf(keys);
        rows = rows == null ? null : List.copyOf(rows);
        if (keys.size() != entries.size() || rows != null && rows.size() != entries.size()) {
            throw new IllegalArgumentException("one key (and parsed row, if any) per entry");
        }
    }

    /** A whole commit without parsed rows (a relay without scopes). */
    public FeedCommit(long seq, List<String> entries, List<String> keys, long bytes) {
        this(seq, entries, keys, bytes, null, false, 0);
    }

    /** The identity of a row in {@link #keys}: its table and its key as PostgreSQL's canonical jsonb text. */
    public static String rowKey(String table, String pkJson) {
        return table + '\u0000' + pkJson;
    }
}
