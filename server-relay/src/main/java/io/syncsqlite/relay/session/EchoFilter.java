package io.syncsqlite.relay.session;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.protocol.ChangeKind;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.RowChange;
import io.syncsqlite.relay.feed.FeedCommit;
import io.syncsqlite.relay.feed.FeedJson;
import io.syncsqlite.relay.feed.FeedRow;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Leaves out of one client's feed the entries that only repeat what the client itself wrote: the images
 * of its own inserts that PostgreSQL stored exactly as sent, and its own deletes.
 *
 * <p>While a client uploads, most of its feed is the echo of its own writes. The client applies an entry
 * over its row except for columns it has pending writes to, and leaves a row that already holds the
 * entry's values unwritten; an echo whose image is the client's own insert, value for value, is such a
 * no-op, so leaving it out changes nothing on the client but the work of parsing and comparing it (JFR put
 * that work above the relay's in a sustained upload). Its cursor still passes the commit: the {@code
 * changes} message carries the commit's position even with none of its entries.
 *
 * <p>What counts as the same: after the relay acknowledged a transaction at a feed position, each key it
 * named exactly once, by an INSERT or a DELETE, gets an expected entry, built the way the feed builds one
 * from PostgreSQL's row (same position, table, key and HLC; for an insert, the client's values rendered as
 * PostgreSQL renders {@code jsonb}, see {@link FeedJson#jsonbText}). An entry of that commit is left out
 * only if it is the commit's only entry for its key and equal, as text, to the expected one. So anything
 * PostgreSQL did to the row is sent as before: a value converted by its column type ({@code 1.5} into
 * {@code numeric(10,2)} is {@code 1.50}, a timestamp's text), a column set by a trigger or a default the
 * client did not send, columns another writer's newer values kept (an insert merged into an existing row),
 * a delete that lost to a newer update, a second change to the row in the same commit. Updates always come
 * back: the client sends only the columns it changed, so the image's other columns cannot be checked
 * against what it holds.
 *
 * <p>Memory: at most {@link #MAX_BYTES} of expected entries per session and {@link #MAX_TOTAL_BYTES} for all
 * sessions of the JVM (thousands of clients uploading at once after an outage, their feeds held back by
 * their flow windows); a transaction that would go above is not recorded, and its echo is sent. Entries
 * are dropped once the feed has passed their position, normally milliseconds after the acknowledgement.
 *
 * <p>Not thread-safe: used on its session's lane only.
 */
final class EchoFilter {

    static final long MAX_BYTES = 1L << 20;
    static final long MAX_TOTAL_BYTES = 64L << 20;
    private static final AtomicLong TOTAL = new AtomicLong();

    /** Feed position → row key ({@link FeedCommit#rowKey}) → the entry that would repeat the client's write. */
    private final TreeMap<Long, Map<String, String>> expected = new TreeMap<>();
    private long bytes;

    /**
     * Records what the feed will show of {@code tx}, which the relay acknowledged at feed position
     * {@code seq}, if the client has not passed that position yet ({@code sentThrough}).
     */
    void acknowledged(ClientTx tx, long seq, long sentThrough) {
        if (seq <= sentThrough || expected.containsKey(seq)) {
            return;
        }
        Map<String, Integer> named = new HashMap<>();
        Map<String, String> entries = new HashMap<>();
        long size = 0;
        for (RowChange c : tx.changes()) {
            String pk = FeedJson.jsonbText(c.pk());
            String key = FeedCommit.rowKey(c.table(), pk == null ? c.pk().toString() : pk);
            if (named.merge(key, 1, Integer::sum) > 1) {
                size -= entries.containsKey(key) ? entries.remove(key).length() : 0;
                continue;
            }
            if (pk == null || c.kind() == ChangeKind.UPDATE) {
                continue;
            }
            String row = null;
            if (c.kind() == ChangeKind.INSERT) {
                row = insertedRow(c);
                if (row == null) {
                    continue;
                }
            }
            String entry = FeedJson.entry(seq, c.table(), pk, row, tx.hlc());
            entries.put(key, entry);
            size += entry.length();
        }
        if (entries.isEmpty() || bytes + size > MAX_BYTES) {
            return;
        }
        if (TOTAL.addAndGet(size) > MAX_TOTAL_BYTES) {
            TOTAL.addAndGet(-size);
            return;
        }
        expected.put(seq, entries);
        bytes += size;
    }

    private void release(Map<String, String> entries) {
        long size = 0;
        for (String e : entries.values()) {
            size += e.length();
        }
        bytes -= size;
        TOTAL.addAndGet(-size);
    }

    /** Expected entries held by every session of this JVM, in chars (for tests). */
    static long totalHeld() {
        return TOTAL.get();
    }

    /**
     * The row an insert asks for, as PostgreSQL's {@code jsonb} text: its values with its key; null where the
     * client may hold something else than it sent, or hold it otherwise than PostgreSQL shows it:
     * <ul>
     *   <li>counter amounts: while the insert is pending, the client shows a counter as the server's
     *       value plus its pending amount, and a server image it applied meanwhile (another client's row,
     *       deleted since) leaves the sum there; only the echo resets it (EchoReviewTest);</li>
     *   <li>text that starts with {@code \x}: the protocol's form of a BLOB, so a text value of that shape
     *       in a BLOB column becomes {@code bytea} in PostgreSQL, and the client turns it into bytes only
     *       when the echo comes back.</li>
     * </ul>
     */
    private static String insertedRow(RowChange c) {
        if (!c.deltas().isEmpty()) {
            return null;
        }
        if (blobLike(c.values()) || blobLike(c.pk())) {
            return null;
        }
        ObjectNode row = c.values().deepCopy();
        for (var it = c.pk().fields(); it.hasNext(); ) {
            var f = it.next();
            if (row.has(f.getKey()) && !row.get(f.getKey()).equals(f.getValue())) {
                return null; // the relay reads the key from pk: the row would not be what the client holds
            }
            row.set(f.getKey(), f.getValue());
        }
        return FeedJson.jsonbText(row);
    }

    /** {@code c} without the entries that repeat the client's own writes (see the class comment). */
    FeedCommit filter(FeedCommit c) {
        Map<String, String> mine = expected.remove(c.seq());
        if (mine == null) {
            return c;
        }
        release(mine);
        if (c.more()) {
            return c; // a commit read in parts: sent whole, as its parts come
        }
        Map<String, Integer> count = new HashMap<>();
        for (String k : c.keys()) {
            if (mine.containsKey(k)) {
                count.merge(k, 1, Integer::sum);
            }
        }
        List<String> entries = new ArrayList<>(c.entries().size());
        List<String> keys = new ArrayList<>(c.entries().size());
        List<FeedRow> rows = c.rows() == null ? null : new ArrayList<>(c.entries().size());
        long size = 0;
        for (int i = 0; i < c.entries().size(); i++) {
            String k = c.keys().get(i);
            String e = c.entries().get(i);
            if (count.getOrDefault(k, 0) == 1 && e.equals(mine.get(k))) {
                continue;
            }
            entries.add(e);
            keys.add(k);
            if (rows != null) {
                rows.add(c.rows().get(i));
            }
            size += e.length();
        }
        return entries.size() == c.entries().size() ? c
                : new FeedCommit(c.seq(), entries, keys, size, rows, false, c.lastId());
    }

    private static boolean blobLike(ObjectNode o) {
        for (var it = o.elements(); it.hasNext(); ) {
            var v = it.next();
            if (v.isTextual() && v.textValue().regionMatches(true, 0, "\\x", 0, 2)) {
                return true;
            }
        }
        return false;
    }

    /** Forgets what the feed has passed: positions up to {@code through}. */
    void passed(long through) {
        var head = expected.headMap(through, true);
        for (Map<String, String> m : head.values()) {
            release(m);
        }
        head.clear();
    }

    /** Forgets everything (the session ends, or a snapshot replaces the feed). */
    void clear() {
        for (Map<String, String> m : expected.values()) {
            release(m);
        }
        expected.clear();
    }
}
