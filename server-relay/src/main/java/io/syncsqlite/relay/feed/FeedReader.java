package io.syncsqlite.relay.feed;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.syncsqlite.protocol.JsonTrees;

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

    /** Change rows read at most per call: a commit with more is read in parts of this size. */
    static final int MAX_ROWS = 10_000;

    /**
     * Characters of entries the feed thread reads at most per call (one row more may pass it), into the tail
     * all sessions share: rows can be large, and 10,000 rows of 50 KB (one psql statement filling a column of
     * documents) exhausted a relay of 256 MB heap.
     */
    static final long MAX_BYTES = 16L << 20;

    /**
     * The same bound for what one session reads for itself (a page behind the tail, a part of a commit too
     * big for it): every session holds its own, so eight devices receiving one big commit held eight pages.
     * A part is sent as one message of at most this much anyway (ClientSession).
     */
    static final long SESSION_BYTES = 4L << 20;

    /**
     * Rows pgjdbc fetches in the first round trip: without a fetch size it holds the whole result before
     * handing over its first row. Later round trips fetch about {@link #FETCH_CHARS} by the widest row seen
     * (256 rows of 2 MB in one fetch exhausted a relay of 256 MB heap), up to {@link #MAX_FETCH_ROWS}.
     */
    private static final int FIRST_FETCH_ROWS = 16;
    /**
     * The first fetch of the rest of a commit known to be big: its rows may be megabytes each, and 16 of them
     * fetched to use two (a part's worth) made reading 130 rows of 2 MB eight times the work.
     */
    private static final int FIRST_REST_ROWS = 1;
    private static final long FETCH_CHARS = 4L << 20;
    private static final int MAX_FETCH_ROWS = 1000;

    // LEFT JOIN: a commit without change rows still moves the cursor. The lateral subquery (OFFSET 0 keeps
    // it from being flattened) reads each commit's rows through the xid index; a plain join was planned as
    // a hash join over the whole change table, re-read on every notification. The inner LIMIT bounds what
    // one call holds, whatever the size of the commits. The rows are sorted as they are stored (TOAST
    // pointers) and turned into text only by the outer query, row by row as they are fetched: with the
    // casts inside, the sort turned every row of a big commit into text for each part read (quadratic; a
    // 450 MB commit read in parts of 4 Mi took minutes), and the outer ORDER BY is met by the subquery's
    // order, without a sort of its own.
    private static final String READ = """
            WITH l AS (SELECT seq, xid FROM syncsqlite.commit_log WHERE seq > ? ORDER BY seq LIMIT ?)
            SELECT s.seq, s.id, s.tbl, s.kind, s.pk::text, s."row"::text, s.hlc, s.old::text FROM (
                SELECT l.seq, c.id, c.tbl, c.kind, c.pk, c."row", c.hlc, c.old
                FROM l LEFT JOIN LATERAL (SELECT * FROM syncsqlite.change AS x WHERE x.xid = l.xid OFFSET 0) AS c ON true
                ORDER BY l.seq, c.id LIMIT ? OFFSET 0) AS s
            ORDER BY s.seq, s.id""";

    private static final String READ_REST = """
            SELECT s.seq, s.id, s.tbl, s.kind, s.pk::text, s."row"::text, s.hlc, s.old::text FROM (
                SELECT l.seq, c.id, c.tbl, c.kind, c.pk, c."row", c.hlc, c.old
                FROM syncsqlite.commit_log AS l JOIN syncsqlite.change AS c ON c.xid = l.xid
                WHERE l.seq = ? AND c.id > ? ORDER BY c.id LIMIT ? OFFSET 0) AS s
            ORDER BY s.id""";

    private FeedReader() {
    }

    /**
     * Commits read by one call, and whether they are everything that was visible after the cursor when the
     * query ran ({@code whole}: neither the commit limit nor the row limit was reached). A caller that
     * follows the head can stop at a whole page instead of asking again only to find nothing: the feed
     * thread did that after every read, a second query per commit.
     */
    record Page(List<FeedCommit> commits, boolean whole) {
    }

    /**
     * Up to {@code maxCommits} complete commits after {@code cursor}, oldest first, with the entries of
     * {@code tables} only: the log is shared by every relay on the database, which may sync other tables.
     * A commit without such entries is still returned, empty, so that cursors move past it. At most
     * {@code maxRows} change rows are read: the commits that fit whole, or, if the first one alone is
     * bigger, its first part ({@link FeedCommit#more()}; the rest through {@link #readRest}).
     *
     * @param parse also parse each entry into a {@link FeedRow} (for per-user scopes)
     */
    static Page readAfter(Connection c, long cursor, int maxCommits, int maxRows, long maxChars, Set<String> tables,
                          boolean parse) throws SQLException {
        return streaming(c, () -> {
            try (PreparedStatement ps = c.prepareStatement(READ)) {
                ps.setLong(1, cursor);
                ps.setInt(2, maxCommits);
                ps.setInt(3, maxRows + 1);
                ps.setFetchSize(FIRST_FETCH_ROWS);
                Page page = read(ps, maxRows, maxChars, tables, parse, false);
                return new Page(page.commits(), page.whole() && page.commits().size() < maxCommits);
            }
        });
    }

    /** The next part of commit {@code seq} after change row {@code afterId}: at most {@code maxRows} rows. */
    static FeedCommit readRest(Connection c, long seq, long afterId, int maxRows, long maxChars, Set<String> tables,
                               boolean parse)
            throws SQLException {
        List<FeedCommit> parts = streaming(c, () -> {
            try (PreparedStatement ps = c.prepareStatement(READ_REST)) {
                ps.setLong(1, seq);
                ps.setLong(2, afterId);
                ps.setInt(3, maxRows + 1);
                ps.setFetchSize(FIRST_REST_ROWS);
                return read(ps, maxRows, maxChars, tables, parse, true).commits();
            }
        });
        if (!parts.isEmpty()) {
            return parts.get(0);
        }
        // Nothing after afterId: the commit's last part was exactly maxRows long, or retention pruned the
        // commit meanwhile (its log entry goes first, its rows later), which the caller must not mistake for
        // the commit's end.
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM syncsqlite.commit_log WHERE seq = ?")) {
            ps.setLong(1, seq);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? new FeedCommit(seq, List.of(), List.of(), 0, parse ? List.of() : null, false, afterId)
                        : null;
            }
        }
    }

    private interface Read<T> {
        T run() throws SQLException;
    }

    /**
     * Runs {@code read} so that its rows arrive a fetch at a time (pgjdbc streams only inside a
     * transaction), opening one on a connection in auto-commit (the feed thread's) and ending it after.
     */
    private static <T> T streaming(Connection c, Read<T> read) throws SQLException {
        if (!c.getAutoCommit()) {
            return read.run();
        }
        c.setAutoCommit(false);
        try {
            T result = read.run();
            c.commit();
            return result;
        } catch (SQLException | RuntimeException e) {
            try {
                c.rollback();
            } catch (SQLException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        } finally {
            try {
                c.setAutoCommit(true);
            } catch (SQLException ignored) {
                // a broken connection: the caller's next statement fails and it reconnects
            }
        }
    }

    /**
     * Groups the rows by commit. With more than {@code maxRows} rows (the query asks for one extra), or once
     * the entries read reach {@code maxChars}, the last commit may be cut: it is dropped if whole commits
     * precede it (they are read again next time), else returned as a part, marked {@code more} when the next
     * row is still its own. The page is whole when no limit was reached.
     */
    private static Page read(PreparedStatement ps, int maxRows, long maxChars, Set<String> tables, boolean parse,
                                         boolean rest) throws SQLException {
        List<FeedCommit> commits = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            long seq = -1;
            List<String> entries = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            List<FeedRow> rows = parse ? new ArrayList<>() : null;
            long bytes = 0;
            long lastId = 0;
            int read = 0;
            long pageBytes = 0;
            long widest = 0;
            boolean cut = false;
            boolean limited = false;
            while (rs.next()) {
                long s = rs.getLong(1);
                if (++read > maxRows || pageBytes >= maxChars) {
                    // The row past a limit: the commit being built is cut only if this row is still its own.
                    cut = s == seq;
                    limited = true;
                    break;
                }
                if (s != seq) {
                    if (seq >= 0) {
                        commits.add(new FeedCommit(seq, entries, keys, bytes, rows, false, lastId));
                    }
                    seq = s;
                    entries = new ArrayList<>();
                    keys = new ArrayList<>();
                    rows = parse ? new ArrayList<>() : null;
                    bytes = 0;
                    lastId = 0;
                }
                long id = rs.getLong(2);
                if (rs.wasNull()) {
                    continue;
                }
                lastId = id;
                if (!tables.contains(rs.getString(3))) {
                    continue;
                }
                String kind = rs.getString(4);
                String rowJson = "D".equals(kind) ? null : rs.getString(6);
                String entry = FeedJson.entry(s, rs.getString(3), rs.getString(5), rowJson, rs.getLong(7));
                entries.add(entry);
                keys.add(FeedCommit.rowKey(rs.getString(3), rs.getString(5)));
                if (parse) {
                    rows.add(new FeedRow(s, rs.getString(3), rs.getString(5), tree(rowJson), tree(rs.getString(8)),
                            rs.getLong(7)));
                }
                bytes += entry.length();
                pageBytes += entry.length();
                if (rowJson != null && rowJson.length() > widest) {
                    widest = rowJson.length();
                    rs.setFetchSize((int) Math.max(1, Math.min(MAX_FETCH_ROWS, FETCH_CHARS / widest)));
                }
            }
            if (seq >= 0 && !(cut && !commits.isEmpty() && !rest)) {
                commits.add(new FeedCommit(seq, entries, keys, bytes, rows, cut, lastId));
            }
            return new Page(commits, !limited);
        }
    }

    private static JsonNode tree(String json) throws SQLException {
        if (json == null) {
            return null;
        }
        try {
            return JsonTrees.row(json);
        } catch (JsonProcessingException | ClassCastException e) {
            throw new SQLException("unexpected JSON from PostgreSQL", "XX000", e);
        }
    }
}
