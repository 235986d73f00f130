package io.syncsqlite.driver.sync;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncsqlite.driver.capture.Affinity;
import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.protocol.MessageCodec;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** Keys that reach the client in different spellings must compare equal exactly when SQLite stores them alike. */
class RowKeyTest {

    private static TableInfo table(String declaredType) {
        return new TableInfo("t", List.of(new TableInfo.Column("k", declaredType, Affinity.of(declaredType))), List.of("k"));
    }

    private static JsonNode json(String text) throws Exception {
        return MessageCodec.JSON.readTree(text);
    }

    @Test
    void anInfinityIsOneKeyWhetherCapturedOrWrittenByPostgres() throws Exception {
        TableInfo real = table("REAL");
        // captured: json_object's and the outbox decoder's spelling; PostgreSQL's: the text
        assertEquals(RowKey.of(real, json("{\"k\":9E+999}")), RowKey.of(real, json("{\"k\":\"Infinity\"}")));
        assertEquals(RowKey.of(real, json("{\"k\":-9E+999}")), RowKey.of(real, json("{\"k\":\"-Infinity\"}")));
        assertNotEquals(RowKey.of(real, json("{\"k\":9E+999}")), RowKey.of(real, json("{\"k\":-9E+999}")));
        TableInfo numeric = table("NUMERIC");
        assertEquals(RowKey.of(numeric, json("{\"k\":9E+999}")), RowKey.of(numeric, json("{\"k\":\"Infinity\"}")));
    }

    @Test
    void theWordInfinityInATextKeyIsText() throws Exception {
        TableInfo text = table("TEXT");
        assertNotEquals(RowKey.of(text, json("{\"k\":9E+999}")), RowKey.of(text, json("{\"k\":\"Infinity\"}")));
        assertEquals("t\u0001s:Infinity", RowKey.of(text, json("{\"k\":\"Infinity\"}")));
    }
}
