package io.syncsqlite.protocol;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MessageCodecTest {

    private static ObjectNode obj(String json) throws Exception {
        return (ObjectNode) MessageCodec.JSON.readTree(json);
    }

    @Test
    void everyMessageRoundTrips() throws Exception {
        ObjectNode pk = obj("{\"id\":5}");
        ObjectNode vals = obj("{\"id\":5,\"name\":\"x\",\"price\":1.5,\"data\":\"\\\\xdead\",\"gone\":null}");
        List<Message> all = List.of(
                new Message.Hello(1, "node-a", 42),
                new Message.Welcome(7, 99, 120),
                new Message.Push(List.of(new ClientTx(3, Hlc.ofMillis(1000) + 2,
                        List.of(new RowChange("item", ChangeKind.INSERT, pk, vals),
                                new RowChange("item", ChangeKind.DELETE, pk, obj("{}")))))),
                new Message.Push(List.of(new ClientTx(5, Hlc.ofMillis(1000) + 3,
                        List.of(new RowChange("item", ChangeKind.DELETE, pk, obj("{}"))), 42L))),
                new Message.PushPart(new ClientTx(6, Hlc.ofMillis(1000) + 5,
                        List.of(new RowChange("item", ChangeKind.INSERT, pk, vals)), 42L), false),
                new Message.PushPart(new ClientTx(6, Hlc.ofMillis(1000) + 5, List.of()), true),
                new Message.PartReceived(6),
                new Message.Features(List.of(Message.FEATURE_SEEN, Message.partsFeature(1 << 20))),
                new Message.ClockCheck(List.of(5L, 9L), List.of(Hlc.ofMillis(1000), Hlc.ofMillis(1000) + 4)),
                new Message.ClockCheckResult(9),
                new Message.Ack(3, 100),
                new Message.Reject(4, "23505", "duplicate key", List.of(
                        new FeedEntry(0, "item", FeedKind.DELETE, pk, null, 0))),
                new Message.Changes(List.of(new FeedEntry(100, "item", FeedKind.UPSERT, pk, vals, 77)), 100, 0),
                new Message.Changes(List.of(new FeedEntry(0, "item", FeedKind.UPSERT, pk, obj("{\"id\":5,\"doc\":{\"a\":[1,{\"b\":null}]}}"),
                        Long.MAX_VALUE), new FeedEntry(101, "Item \"q\"", FeedKind.DELETE, obj("{\"id\":6}"), null, 78)), 101, 2),
                new Message.Progress(100),
                new Message.IdRequest("item", 1000),
                new Message.IdGrant("item", List.of(new IdRange(1, 900), new IdRange(905, 1004)), null),
                new Message.IdGrant("tag", List.of(), "the key tag.name is text in PostgreSQL"),
                new Message.Welcome(1, 2, 3, true),
                new Message.SchemaRequest(1),
                new Message.Schema(List.of(new Message.Schema.TableDef("item",
                        List.of(new Message.Schema.ColumnDef("id", "INTEGER"), new Message.Schema.ColumnDef("name", "TEXT")),
                        List.of("id")))));
        for (Message m : all) {
            String text = MessageCodec.encode(m);
            assertEquals(m, MessageCodec.decode(text), text);
        }
    }

    @Test
    void aRelaysMessageLimitIsReadFromItsFeatures() {
        assertEquals(65536, Message.largestMessage(List.of(Message.FEATURE_SEEN, Message.partsFeature(65536))));
        assertEquals(0, Message.largestMessage(List.of(Message.FEATURE_SEEN, Message.FEATURE_CLOCKS)), "a relay before parts");
        assertEquals(0, Message.largestMessage(List.of("parts:many")));
    }

    /** Clients before {@link ClientTx#seen} never send it: their transactions read as before, seen unknown. */
    @Test
    void aTransactionWithoutSeenIsReadAsUnknown() throws Exception {
        Message.Push p = (Message.Push) MessageCodec.decode(
                "{\"type\":\"push\",\"txs\":[{\"id\":7,\"hlc\":65536,\"changes\":[]},"
                        + "{\"id\":8,\"hlc\":65537,\"changes\":[],\"seen\":null},{\"id\":9,\"hlc\":65538,\"changes\":[],\"seen\":12}]}");
        assertEquals(List.of(new ClientTx(7, 65536, List.of()), new ClientTx(8, 65537, List.of()),
                new ClientTx(9, 65538, List.of(), 12L)), p.txs());
        assertEquals(false, MessageCodec.encode(new Message.Push(List.of(p.txs().get(0))))
                .contains("seen"), "unknown is left out, for relays before it");
    }

    @Test
    void numbersKeepTheirKind() throws Exception {
        Message.Changes c = (Message.Changes) MessageCodec.decode(
                "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"UPSERT\","
                        + "\"pk\":{\"id\":1},\"row\":{\"id\":1,\"r\":1.0,\"big\":12345678901234567890},\"hlc\":5}],"
                        + "\"through\":1,\"snapshotTotal\":0}");
        ObjectNode row = c.entries().get(0).row();
        assertEquals(true, row.get("id").isIntegralNumber());
        assertEquals(false, row.get("r").isIntegralNumber());
        assertEquals("12345678901234567890", row.get("big").bigIntegerValue().toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "null",
        "garbage",
        "{}",
        "[]",
        "{\"type\":\"nope\"}",
        "{\"type\":\"hello\",\"version\":1,\"node\":\"\",\"cursor\":0}",
        "{\"type\":\"hello\",\"version\":1,\"node\":\"a\",\"cursor\":-1}",
        "{\"type\":\"hello\",\"version\":1,\"node\":\"a\",\"cursor\":0,\"extra\":1}",
        "{\"type\":\"hello\",\"version\":1,\"node\":\"a\",\"cursor\":0} trailing",
        "{\"type\":\"ack\",\"tx\":1.5,\"seq\":2}",
        "{\"type\":\"push\",\"txs\":[{\"id\":0,\"hlc\":1,\"changes\":[]}]}",
        "{\"type\":\"push\",\"txs\":[{\"id\":1,\"hlc\":1,\"changes\":[{\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":{},\"values\":{}}]}]}",
        "{\"type\":\"push\",\"txs\":[{\"id\":1,\"hlc\":1,\"changes\":[{\"table\":null,\"kind\":\"INSERT\",\"pk\":{},\"values\":{}}]}]}",
        "{\"type\":\"push\",\"txs\":null}",
        "{\"type\":\"push\",\"txs\":[{\"id\":1,\"hlc\":1,\"changes\":[],\"extra\":1}]}",
        "{\"type\":\"push\",\"txs\":[{\"id\":\"1\",\"hlc\":1,\"changes\":[]}]}",
        "{\"type\":\"push\",\"txs\":[{\"id\":1.5,\"hlc\":1,\"changes\":[]}]}",
        "{\"type\":\"push\",\"txs\":[{\"id\":1,\"changes\":[]}]}",
        "{\"type\":\"push\",\"txs\":[{\"id\":1,\"hlc\":1}]}",
        "{\"type\":\"push\",\"txs\":[{\"id\":1,\"hlc\":1,\"changes\":[],\"seen\":-1}]}",
        "{\"type\":\"push\",\"txs\":[{\"id\":1,\"hlc\":1,\"changes\":[],\"seen\":\"x\"}]}",
        "{\"type\":\"push\",\"txs\":[[1,1,[]]]}",
        "{\"type\":\"progress\"}",
        // feed entries: every property required (row may be null for a DELETE), none other, numbers integral, objects
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":{},\"row\":{}}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"DELETE\",\"pk\":{},\"hlc\":1}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":{},\"row\":{},\"hlc\":1,\"x\":1}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1.5,\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":{},\"row\":{},\"hlc\":1}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":null,\"kind\":\"UPSERT\",\"pk\":{},\"row\":{},\"hlc\":1}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"upsert\",\"pk\":{},\"row\":{},\"hlc\":1}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":[],\"row\":{},\"hlc\":1}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":null,\"row\":{},\"hlc\":1}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":{},\"row\":\"x\",\"hlc\":1}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":{},\"row\":null,\"hlc\":1}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":{},\"row\":{},\"hlc\":99999999999999999999}],\"through\":1,\"snapshotTotal\":0}",
        "{\"type\":\"changes\",\"entries\":[[1,\"t\",\"UPSERT\",{},{},1]],\"through\":1,\"snapshotTotal\":0}",
    })
    void malformedInputIsRejected(String text) {
        assertThrows(ProtocolException.class, () -> MessageCodec.decode(text));
    }

    /** Documents as deep as PostgreSQL keeps them read (100 levels); beyond Jackson's default of 1000, refused. */
    @Test
    void nestingIsReadToAThousandLevels() throws ProtocolException {
        String deep = "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":{},\"row\":{\"a\":"
                + "%s},\"hlc\":1}],\"through\":1,\"snapshotTotal\":0}";
        MessageCodec.decode(deep.formatted("[".repeat(100) + "]".repeat(100)));
        assertThrows(ProtocolException.class, () -> MessageCodec.decode(deep.formatted("[".repeat(1100) + "]".repeat(1100))));
    }
}
