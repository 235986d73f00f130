package io.syncsqlite.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonTreesTest {

    private static String nested(int depth) {
        return "{\"c\":[".repeat(depth / 2) + "1" + "]}".repeat(depth / 2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"{}", "[]", "1", "-2.50", "1E+400", "\"x\\u0000\\\"y\"", "null", "true",
            "{\"a\":[1,{\"b\":null},[],{}],\"c\":\"\\\\xdead\",\"d\":12345678901234567890123}",
            "[[[[[\"deep\"]]]],{\"k\":{\"k\":{}}}]"})
    void textIsWhatToStringGives(String json) throws Exception {
        JsonNode tree = MessageCodec.JSON.readTree(json);
        assertEquals(tree.toString(), JsonTrees.text(tree));
    }

    @Test
    void textWritesTwentyThousandLevelsWhereToStringStops() throws Exception {
        String doc = nested(20_000);
        JsonNode tree = JsonTrees.deep(doc);
        assertThrows(RuntimeException.class, tree::toString);
        assertEquals(doc, JsonTrees.text(tree));
        assertEquals(20_000, JsonTrees.depth(tree));
    }

    @Test
    void aRowKeepsShallowValuesAsTreesAndCarriesDeepOnesAsText() throws Exception {
        String deep = nested(3_000);
        ObjectNode row = JsonTrees.row("{\"id\":1,\"doc\":" + deep + ",\"meta\":{\"a\":[1]}}");
        assertTrue(JsonTrees.isRaw(row.get("doc")));
        assertEquals(deep, JsonTrees.rawText(row.get("doc")));
        assertFalse(JsonTrees.isRaw(row.get("meta")));
        assertEquals(null, JsonTrees.rawText(row.get("meta")));
        assertEquals(1, row.get("id").asInt());
        // Written back with the shared mapper, as the relay writes rows to PostgreSQL and into messages.
        assertEquals("{\"id\":1,\"doc\":" + deep + ",\"meta\":{\"a\":[1]}}", MessageCodec.JSON.writeValueAsString(row));
    }

    @Test
    void theUsualRowIsTreesOnly() throws Exception {
        String limit = nested(JsonTrees.TREE_DEPTH);
        ObjectNode row = JsonTrees.row("{\"doc\":" + limit + "}");
        assertFalse(JsonTrees.isRaw(row.get("doc")));
        assertEquals(JsonTrees.TREE_DEPTH, JsonTrees.depth(row.get("doc")));
    }

    @Test
    void aDeepValueIsReadInFullBeforeItIsCarriedAsText() throws Exception {
        String deep = nested(2_000);
        JsonNode v = JsonTrees.value("  " + deep + "\n");
        assertTrue(JsonTrees.isRaw(v));
        assertEquals("[" + deep + "]", MessageCodec.JSON.writeValueAsString(List.of(v)));
        // Not one JSON value: refused, never spliced into what the relay sends PostgreSQL.
        for (String bad : List.of(deep + "]", deep + ",{}", deep.substring(0, deep.length() - 1), deep + "x")) {
            assertThrows(JsonProcessingException.class, () -> JsonTrees.value(bad), bad.substring(bad.length() - 5));
        }
    }

    @Test
    void boundedLeavesScalarsAndShallowTreesAlone() throws Exception {
        JsonNode shallow = MessageCodec.JSON.readTree("{\"a\":[1,2]}");
        assertTrue(JsonTrees.bounded(shallow) == shallow);
        JsonNode deep = JsonTrees.deep(nested(1_200));
        assertTrue(JsonTrees.isRaw(JsonTrees.bounded(deep)));
        assertEquals(nested(1_200), JsonTrees.bounded(deep).toString());
    }

    @Test
    void theRelaysMessagesReachAClientAtAnyDepthButAClientsStopAtAThousandLevels() throws Exception {
        String frame = "{\"type\":\"changes\",\"entries\":[{\"seq\":1,\"table\":\"t\",\"kind\":\"UPSERT\",\"pk\":{\"id\":1},"
                + "\"row\":{\"id\":1,\"doc\":" + nested(10_000) + "},\"hlc\":1}],\"through\":1,\"snapshotTotal\":0}";
        Message.Changes m = (Message.Changes) MessageCodec.decodeFromRelay(frame);
        assertEquals(nested(10_000), JsonTrees.text(m.entries().get(0).row().get("doc")));
        assertThrows(ProtocolException.class, () -> MessageCodec.decode(frame));
    }
}
