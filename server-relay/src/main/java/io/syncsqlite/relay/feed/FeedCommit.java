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
 * @param bytes   the total length of the entries, for batching
 *
 * <p>Immutable; thread-safe.
 */
public record FeedCommit(long seq, List<String> entries, long bytes) {
    public FeedCommit {
        entries = List.copyOf(entries);
    }
}
