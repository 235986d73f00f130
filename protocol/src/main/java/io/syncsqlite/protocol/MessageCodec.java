package io.syncsqlite.protocol;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamWriteConstraints;
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

    /**
     * Shared mapper; also used for row values (JSON trees) on both sides. It reads documents nested up to
     * 1,000 levels (Jackson's own default), which is what the relay accepts from devices, whose documents
     * arrive as text anyway; deeper documents that PostgreSQL holds reach devices through
     * {@link #decodeFromRelay} and {@link JsonTrees}.
     */
    public static final ObjectMapper JSON = mapper(1_000, StreamWriteConstraints.DEFAULT_MAX_DEPTH);

    /** Reads and writes at {@link JsonTrees#MAX_DEPTH}; only {@link JsonTrees} and the client's decoding use it. */
    static final ObjectMapper DEEP = mapper(JsonTrees.MAX_DEPTH, JsonTrees.MAX_DEPTH);

    private MessageCodec() {
    }

    /**
     * A mapper with Jackson's read limits set for what a row can hold rather than Jackson's defaults, which
     * are below it: a value that cannot be read stalls a client's feed for good (every reconnect reads the
     * same page) or turns a client's JSON document into a string. Strings: no limit of their own, as a
     * frame's size already bounds them (an 11 MB bytea is 22 million hex characters; the default stopped at
     * 20 million); so are a document's property names (the default stopped at 50,000). Numbers:
     * PostgreSQL's numeric holds up to 131,072 digits before the point and 16,383 after (the default
     * stopped at 1,000). Nesting is the caller's: reading a tree is iterative in Jackson, writing one is
     * recursive, so a writer's depth must stay where a thread's stack holds it.
     */
    static ObjectMapper mapper(int readDepth, int writeDepth) {
        JsonFactory factory = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(readDepth)
                        .maxStringLength(Integer.MAX_VALUE)
                        .maxNameLength(Integer.MAX_VALUE)
                        .maxNumberLength(131_072 + 16_383 + 2)
                        .build())
                .streamWriteConstraints(StreamWriteConstraints.builder().maxNestingDepth(writeDepth).build())
                .build();
        return JsonMapper.builder(factory)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
                .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .build();
    }

    public static String encode(Message message) {
        try {
            return JSON.writeValueAsString(message);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode " + message.getClass().getSimpleName(), e);
        }
    }

    /** Decodes a message from an untrusted peer (the relay reading devices): documents up to 1,000 levels deep. */
    public static Message decode(String text) throws ProtocolException {
        return decode(JSON, text);
    }

    /**
     * Decodes a message from the relay, whose rows carry documents as deep as PostgreSQL holds them (10,000
     * levels and more): reading a tree is iterative, and the client writes such values out with {@link
     * JsonTrees#text}, never recursively.
     */
    public static Message decodeFromRelay(String text) throws ProtocolException {
        return decode(DEEP, text);
    }

    private static Message decode(ObjectMapper mapper, String text) throws ProtocolException {
        try {
            Message m = mapper.readValue(text, Message.class);
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

    /** The length of {@code s} in UTF-8 bytes (an unpaired surrogate counted as the 3 bytes of its replacement). */
    public static long utf8Length(String s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n++;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }
}
