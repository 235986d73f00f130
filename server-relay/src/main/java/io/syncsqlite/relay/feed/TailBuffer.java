package io.syncsqlite.relay.feed;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * The most recent commits of the feed in memory, so that clients that keep up are served without a
 * query each. It holds every commit with {@code floor < seq <= head}; older commits are evicted once
 * the buffer holds more than its capacity in entries or {@link #MAX_BYTES} characters of them, and readers
 * behind {@code floor} go to PostgreSQL.
 *
 * <p>Thread-safe: all methods synchronize on the buffer; the feed thread appends, session lanes read.
 */
final class TailBuffer {

    /** Characters of entries held at most (besides the newest commit): rows can be large. */
    static final long MAX_BYTES = 64L << 20;

    private final long capacityEntries;
    private final NavigableMap<Long, FeedCommit> commits = new TreeMap<>();
    private long floor;
    private long head;
    private long entries;
    private long bytes;

    TailBuffer(long capacityEntries, long start) {
        this.capacityEntries = capacityEntries;
        this.floor = start;
        this.head = start;
    }

    synchronized void append(List<FeedCommit> page) {
        for (FeedCommit c : page) {
            if (c.seq() <= head) {
                continue;
            }
            commits.put(c.seq(), c);
            entries += c.entries().size();
            bytes += c.bytes();
            head = c.seq();
        }
        while ((entries > capacityEntries || bytes > MAX_BYTES && commits.size() > 1) && !commits.isEmpty()) {
            Map.Entry<Long, FeedCommit> first = commits.pollFirstEntry();
            entries -= first.getValue().entries().size();
            bytes -= first.getValue().bytes();
            floor = first.getKey();
        }
    }

    /**
     * Moves past commit {@code seq} without holding it (a commit too big for memory): the buffer starts
     * again empty after it, so every reader before it goes to PostgreSQL.
     */
    synchronized void skipPast(long seq) {
        if (seq <= head) {
            return;
        }
        commits.clear();
        entries = 0;
        bytes = 0;
        floor = seq;
        head = seq;
    }

    /**
     * Up to {@code max} commits after {@code cursor}, or {@code null} if the buffer no longer holds all
     * of them ({@code cursor < floor}).
     */
    synchronized List<FeedCommit> after(long cursor, int max) {
        if (cursor < floor) {
            return null;
        }
        List<FeedCommit> out = new ArrayList<>(Math.min(max, commits.size()));
        for (FeedCommit c : commits.tailMap(cursor, false).values()) {
            if (out.size() >= max) {
                break;
            }
            out.add(c);
        }
        return out;
    }

    synchronized long head() {
        return head;
    }
}
