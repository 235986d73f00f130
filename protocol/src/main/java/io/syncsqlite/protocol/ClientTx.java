package io.syncsqlite.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;

import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One committed local SQLite transaction of a client, as it travels to the relay.
 *
 * @param id      the client's transaction number: strictly increasing per client, so the relay can tell
 *                a resend from new work (idempotent apply)
 * @param hlc     the single HLC timestamp stamped at local commit, shared by every change of the
 *                transaction
 * @param changes the row changes in the order they were made
 * @param seen    the feed position the client had applied when it made the transaction: every commit up to
 *                it was in its file, none after it was (a delete then removes only the rows the client could
 *                see, see docs/DESIGN.md "Referential integrity"); null when unknown (older clients, and
 *                transactions made before a client recorded it), and omitted from the JSON then
 */
@JsonDeserialize(using = ClientTx.Decoder.class)
public record ClientTx(long id, long hlc, List<RowChange> changes,
                       @JsonInclude(JsonInclude.Include.NON_NULL) Long seen) {
    public ClientTx {
        if (id <= 0) {
            throw new IllegalArgumentException("transaction id must be positive: " + id);
        }
        Hlc.unpack(hlc);
        changes = List.copyOf(Objects.requireNonNull(changes, "changes"));
        if (seen != null && seen < 0) {
            throw new IllegalArgumentException("negative seen position: " + seen);
        }
    }

    /** A transaction whose writer's feed position is unknown. */
    public ClientTx(long id, long hlc, List<RowChange> changes) {
        this(id, hlc, changes, null);
    }

    /**
     * Reads a transaction as strictly as the mapper reads every other message (unknown fields, missing
     * fields, numbers of the wrong kind are refused), except that {@code seen} may be absent: clients
     * before it never send it, and the mapper's rule that every creator property be present
     * (FAIL_ON_MISSING_CREATOR_PROPERTIES) has no exception per property.
     */
    static final class Decoder extends StdDeserializer<ClientTx> {

        private static final Set<String> FIELDS = Set.of("id", "hlc", "changes", "seen");

        Decoder() {
            super(ClientTx.class);
        }

        @Override
        public ClientTx deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            JsonNode n = ctxt.readTree(p);
            if (!n.isObject()) {
                return ctxt.reportInputMismatch(ClientTx.class, "a transaction must be an object");
            }
            for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                if (!FIELDS.contains(name)) {
                    return ctxt.reportInputMismatch(ClientTx.class, "unknown field '%s' in a transaction", name);
                }
            }
            long id = integer(ctxt, n, "id");
            long hlc = integer(ctxt, n, "hlc");
            JsonNode changes = n.get("changes");
            if (changes == null || !changes.isArray()) {
                return ctxt.reportInputMismatch(ClientTx.class, "a transaction needs its changes (an array)");
            }
            List<RowChange> list = ctxt.readTreeAsValue(changes,
                    ctxt.getTypeFactory().constructCollectionType(List.class, RowChange.class));
            Long seen = n.hasNonNull("seen") ? integer(ctxt, n, "seen") : null;
            try {
                return new ClientTx(id, hlc, list, seen);
            } catch (IllegalArgumentException | NullPointerException e) {
                return ctxt.reportInputMismatch(ClientTx.class, "invalid transaction: %s", e.getMessage());
            }
        }

        private static long integer(DeserializationContext ctxt, JsonNode n, String field) throws IOException {
            JsonNode v = n.get(field);
            if (v == null || !v.isIntegralNumber() || !v.canConvertToLong()) {
                ctxt.reportInputMismatch(ClientTx.class, "a transaction's '%s' must be an integer", field);
            }
            return v.longValue();
        }
    }
}
