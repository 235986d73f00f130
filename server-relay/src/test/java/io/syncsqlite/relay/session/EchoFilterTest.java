package io.syncsqlite.relay.session;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.protocol.ChangeKind;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.protocol.RowChange;
import io.syncsqlite.relay.feed.FeedCommit;
import io.syncsqlite.relay.feed.FeedJson;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/** The bookkeeping of {@link EchoFilter}; what it leaves out end to end is EchoTest's (it-tests). */
class EchoFilterTest {

    private static final long HLC = 1L << 40;

    private static ObjectNode obj(String json) throws Exception {
        return (ObjectNode) MessageCodec.JSON.readTree(json);
    }

    private static RowChange insert(int id, String name) throws Exception {
        return new RowChange("t", ChangeKind.INSERT, obj("{\"id\":" + id + "}"), obj("{\"id\":" + id + ",\"name\":\"" + name + "\"}"));
    }

    /** A commit as the feed reader builds it from PostgreSQL's text: (id, name) rows, null name for a delete. */
    private static FeedCommit commit(long seq, Object... idsAndNames) {
        List<String> entries = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        long bytes = 0;
        for (int i = 0; i < idsAndNames.length; i += 2) {
            String pk = "{\"id\": " + idsAndNames[i] + "}";
            String row = idsAndNames[i + 1] == null ? null : "{\"id\": " + idsAndNames[i] + ", \"name\": \"" + idsAndNames[i + 1] + "\"}";
            String e = FeedJson.entry(seq, "t", pk, row, HLC);
            entries.add(e);
            keys.add(FeedCommit.rowKey("t", pk));
            bytes += e.length();
        }
        return new FeedCommit(seq, entries, keys, bytes);
    }

    @Test
    void leavesOutOnlyEqualSingleEntriesOfTheAcknowledgedCommit() throws Exception {
        EchoFilter f = new EchoFilter();
        long before = EchoFilter.totalHeld();
        f.acknowledged(new ClientTx(7, HLC, List.of(insert(1, "a"), insert(2, "b"), insert(3, "c"),
                new RowChange("t", ChangeKind.DELETE, obj("{\"id\":4}"), obj("{}")))), 10, 5);
        // 1 as sent; 2 changed by PostgreSQL; 3 written twice in the commit; 4 deleted; 5 someone else's.
        FeedCommit out = f.filter(commit(10, 1, "a", 2, "B", 3, "c", 3, "c", 4, null, 5, "e"));
        assertEquals(List.of(FeedCommit.rowKey("t", "{\"id\": 2}"), FeedCommit.rowKey("t", "{\"id\": 3}"),
                FeedCommit.rowKey("t", "{\"id\": 3}"), FeedCommit.rowKey("t", "{\"id\": 5}")), out.keys());
        assertEquals(out.entries().stream().mapToLong(String::length).sum(), out.bytes());
        assertEquals(before, EchoFilter.totalHeld(), "released once the commit was filtered");
        FeedCommit again = commit(10, 1, "a");
        assertSame(again, f.filter(again), "an expectation is used once");
    }

    @Test
    void otherCommitsAndPassedPositionsAreLeftAlone() throws Exception {
        EchoFilter f = new EchoFilter();
        long before = EchoFilter.totalHeld();
        f.acknowledged(new ClientTx(1, HLC, List.of(insert(1, "a"))), 10, 12);
        assertEquals(before, EchoFilter.totalHeld(), "a position the client has passed is not recorded");
        f.acknowledged(new ClientTx(2, HLC, List.of(insert(1, "a"))), 20, 12);
        FeedCommit other = commit(19, 1, "a");
        assertSame(other, f.filter(other));
        f.acknowledged(new ClientTx(3, HLC, List.of(insert(2, "b"))), 21, 12);
        f.passed(20);
        FeedCommit passed = commit(20, 1, "a");
        assertSame(passed, f.filter(passed), "forgotten once passed");
        f.clear();
        assertEquals(before, EchoFilter.totalHeld());
        FeedCommit cleared = commit(21, 2, "b");
        assertSame(cleared, f.filter(cleared));
    }

    @Test
    void aTransactionAboveTheSessionBudgetIsNotRecorded() throws Exception {
        EchoFilter f = new EchoFilter();
        List<RowChange> many = new ArrayList<>();
        String name = "x".repeat(1000);
        for (int i = 0; i < (int) (EchoFilter.MAX_BYTES / 1000) + 1; i++) {
            many.add(insert(i, name));
        }
        long before = EchoFilter.totalHeld();
        f.acknowledged(new ClientTx(1, HLC, many), 10, 0);
        assertEquals(before, EchoFilter.totalHeld());
        FeedCommit c = commit(10, 0, name);
        assertSame(c, f.filter(c));
    }
}
