package io.syncsqlite.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * JSON encoding of {@link Message}s.
 *
 * <p>Decoding is strict: unknown fields, missing required fields, trailing garbage and numbers where
 * strings belong are rejected with a {@link ProtocolException}, because the relay must refuse rather than
 * guess at input from untrusted devices.
 *
 * <p>Thread-safe: the underlying mapper is immutable after construction.
 */
public final class MessageCodec {

    /** Shared mapper; also used for row values (JSON trees) on both sides. */
    public static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .build();

    /**
     * Jackson's read limits, set for what a row can hold rather than Jackson's defaults, which are below it:
     * a value that cannot be read stalls a client's feed for good (every reconnect reads the same page)
     * or turns a client's JSON document into a string. Strings: no limit of their own, as a frame's size
     * already bounds them (an 11 MB bytea is 22 million hex characters; the default stopped at 20
     * million); so are a document's property names (the default stopped at 50,000). Numbers: PostgreSQL's numeric holds up to 131,072 digits before the point and 16,383 after
     * (the default stopped at 1,000). Nesting: the envelope takes about five levels, and PostgreSQL
     * accepts documents far deeper than the 32 set here before; 1,000 is Jackson's own default.
     */
    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(1_000)
                .maxStringLength(Integer.MAX_VALUE)
                .maxNameLength(Integer.MAX_VALUE)
                .maxNumberLength(131_072 + 16_383 + 2)
                .build());
    }

    private MessageCodec() {
    }

    public static String encode(Message message) {
        try {
            return JSON.writeValueAsString(message);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode " + message.getClass().getSimpleName(), e);
        }
    }

    public static Message decode(String text) throws ProtocolException {
        try {
            Message m = JSON.readValue(text, Message.class);
            if (m == null) {
                throw new ProtocolException("empty message");
            }
            return m;
        } catch (JsonProcessingException e) {
            throw new ProtocolException("malformed message: " + e.getOriginalMessage(), e);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new ProtocolException("invalid message: " + e.getMessage(), e);
        }
    }
}
