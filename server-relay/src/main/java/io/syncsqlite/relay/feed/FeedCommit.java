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
 *
 * <p>Immutable; thread-safe.
 */
public record FeedCommit(long seq, List<String> entries, List<String> keys, long bytes) {
    public FeedCommit {
        entries = List.copyOf(entries);
        keys = List.copyOf(keys);
        if (keys.size() != entries.size()) {
            throw new IllegalArgumentException("one key per entry");
        }
    }

    /** The identity of a row in {@link #keys}: its table and its key as PostgreSQL's canonical jsonb text. */
    public static String rowKey(String table, String pkJson) {
        return table + '\u0000' + pkJson;
    }
}
