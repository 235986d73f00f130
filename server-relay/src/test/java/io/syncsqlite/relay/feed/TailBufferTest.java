package io.syncsqlite.relay.feed;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class TailBufferTest {

    private static FeedCommit commit(long seq, int entries) {
        return new FeedCommit(seq, java.util.Collections.nCopies(entries, "{}"),
                java.util.stream.IntStream.range(0, entries).mapToObj(i -> "k" + i).toList(), entries * 2L);
    }

    @Test
    void servesCommitsAfterACursorUntilTheyAreEvicted() {
        TailBuffer b = new TailBuffer(5, 10);
        assertEquals(List.of(), b.after(10, 100));
        assertNull(b.after(9, 100), "before the buffer's start");
        b.append(List.of(commit(11, 2), commit(13, 2)));
        assertEquals(13, b.head());
        assertEquals(List.of(13L), b.after(11, 100).stream().map(FeedCommit::seq).toList());
        assertEquals(List.of(11L), b.after(10, 1).stream().map(FeedCommit::seq).toList());
        b.append(List.of(commit(14, 2))); // 6 entries > 5: commit 11 goes
        assertNull(b.after(10, 100));
        assertEquals(List.of(13L, 14L), b.after(11, 100).stream().map(FeedCommit::seq).toList());
        b.append(List.of(commit(14, 2), commit(12, 1))); // already seen: ignored
        assertEquals(14, b.head());
    }

    @Test
    void holdsAtMostItsBytesButAlwaysTheNewestCommit() {
        TailBuffer b = new TailBuffer(1_000_000, 0);
        long big = TailBuffer.MAX_BYTES / 3;
        b.append(List.of(new FeedCommit(1, List.of("a"), List.of("k"), big), new FeedCommit(2, List.of("b"), List.of("k"), big),
                new FeedCommit(3, List.of("c"), List.of("k"), big)));
        assertEquals(List.of(1L, 2L, 3L), b.after(0, 100).stream().map(FeedCommit::seq).toList());
        b.append(List.of(new FeedCommit(4, List.of("d"), List.of("k"), big)));
        assertNull(b.after(0, 100), "commit 1 evicted: four thirds of the bytes");
        assertEquals(List.of(2L, 3L, 4L), b.after(1, 100).stream().map(FeedCommit::seq).toList());
        b.append(List.of(new FeedCommit(5, List.of("e"), List.of("k"), 2 * TailBuffer.MAX_BYTES)));
        assertEquals(List.of(5L), b.after(4, 100).stream().map(FeedCommit::seq).toList(), "the newest stays, alone");
    }
}
