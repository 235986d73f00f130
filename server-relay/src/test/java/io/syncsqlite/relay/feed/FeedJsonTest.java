package io.syncsqlite.relay.feed;

import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.MessageCodec;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class FeedJsonTest {

    @Test
    void splicedFramesDecodeWithTheProtocolCodec() throws Exception {
        String upsert = FeedJson.entry(7, "we\"ird", "{\"id\": 1}", "{\"id\": 1, \"b\": \"\\\\x00ff\", \"n\": 1.50}", 99);
        String delete = FeedJson.entry(7, "t", "{\"id\": 2}", null, 100);
        Message m = MessageCodec.decode(FeedJson.changes(List.of(upsert, delete), 7, 0));
        Message.Changes c = (Message.Changes) m;
        assertEquals(7, c.through());
        assertEquals(0, c.snapshotTotal());
        FeedEntry a = c.entries().get(0);
        assertEquals("we\"ird", a.table());
        assertEquals(FeedKind.UPSERT, a.kind());
        assertEquals("\\x00ff", a.row().get("b").asText());
        assertEquals(99, a.hlc());
        FeedEntry b = c.entries().get(1);
        assertEquals(FeedKind.DELETE, b.kind());
        assertEquals(null, b.row());
        assertEquals(Message.Changes.class, MessageCodec.decode(FeedJson.changes(List.of(), 0, 5)).getClass());
    }
}
