package io.syncsqlite.relay.feed;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Reads commits in commit order from {@code syncsqlite.commit_log} joined with their change rows.
 *
 * <p>Reading {@code seq > cursor ORDER BY seq} is gap-free without any gap tracking, because
 * {@code syncsqlite.commit_mark()} holds one advisory lock from drawing a seq until its commit is visible:
 * a reader that sees seq S+1 also sees S, and a seq that is never seen belongs to a transaction that
 * rolled back (sequences are not transactional).
 *
 * <p>Thread-safe: stateless; each call uses the connection it is given.
 */
final class FeedReader {

    // LEFT JOIN: a commit without change rows still moves the cursor. The lateral subquery (OFFSET 0 keeps
    // it from being flattened) reads each commit's rows through the xid index; a plain join was planned as
    // a hash join over the whole change table, re-read on every notification.
    private static final String READ = """
            WITH l AS (SELECT seq, xid FROM syncsqlite.commit_log WHERE seq > ? ORDER BY seq LIMIT ?)
            SELECT l.seq, c.id, c.tbl, c.kind, c.pk::text, c."row"::text, c.hlc
            FROM l LEFT JOIN LATERAL (SELECT * FROM syncsqlite.change AS x WHERE x.xid = l.xid OFFSET 0) AS c ON true
            ORDER BY l.seq, c.id""";

    private FeedReader() {
    }

    /**
     * Up to {@code maxCommits} complete commits after {@code cursor}, oldest first, with the entries of
     * {@code tables} only: the log is shared by every relay on the database, which may sync other tables.
     * A commit without such entries is still returned, empty, so that cursors move past it.
     */
    static List<FeedCommit> readAfter(Connection c, long cursor, int maxCommits, Set<String> tables)
            throws SQLException {
        List<FeedCommit> commits = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(READ)) {
            ps.setLong(1, cursor);
            ps.setInt(2, maxCommits);
            try (ResultSet rs = ps.executeQuery()) {
                long seq = -1;
                List<String> entries = new ArrayList<>();
                List<String> keys = new ArrayList<>();
                long bytes = 0;
                while (rs.next()) {
                    long s = rs.getLong(1);
                    if (s != seq) {
                        if (seq >= 0) {
                            commits.add(new FeedCommit(seq, entries, keys, bytes));
                        }
                        seq = s;
                        entries = new ArrayList<>();
                        keys = new ArrayList<>();
                        bytes = 0;
                    }
                    rs.getLong(2);
                    if (rs.wasNull() || !tables.contains(rs.getString(3))) {
                        continue;
                    }
                    String kind = rs.getString(4);
                    String entry = FeedJson.entry(s, rs.getString(3), rs.getString(5),
                            "D".equals(kind) ? null : rs.getString(6), rs.getLong(7));
                    entries.add(entry);
                    keys.add(FeedCommit.rowKey(rs.getString(3), rs.getString(5)));
                    bytes += entry.length();
                }
                if (seq >= 0) {
                    commits.add(new FeedCommit(seq, entries, keys, bytes));
                }
            }
        }
        return commits;
    }
}
