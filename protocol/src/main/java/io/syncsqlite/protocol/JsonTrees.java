package io.syncsqlite.protocol;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.POJONode;
import com.fasterxml.jackson.databind.util.RawValue;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Map;

/**
 * JSON documents at the depth PostgreSQL holds them. PostgreSQL's jsonb takes documents nested until its
 * stack runs out (10,000 levels and more with the default {@code max_stack_depth}); Jackson reads trees
 * of any depth iteratively but writes them recursively, one group of stack frames per level, so a tree of
 * a few thousand levels overflows a thread's stack when it is written (and its write limit, 1,000 levels,
 * stops it before that). Values deeper than {@link #TREE_DEPTH} are therefore carried as their JSON text:
 * a raw node, which Jackson writes out as it is, and {@link #text} writes any tree without recursion.
 *
 * <p>Thread-safe: stateless.
 */
public final class JsonTrees {

    /** Deepest document read at all; beyond PostgreSQL's own depth, so only the frame's size bounds it. */
    public static final int MAX_DEPTH = 1_000_000;

    /**
     * Deepest value kept as a tree inside a row. Half of Jackson's write limit, so a row holding it still
     * fits in a message's envelope when written recursively.
     */
    public static final int TREE_DEPTH = 500;

    /** Reads a row (an object, one level) whose values are trees of at most {@link #TREE_DEPTH} levels. */
    private static final ObjectMapper ROW = MessageCodec.mapper(TREE_DEPTH + 1, 1_000);

    /** Reads a single value of at most {@link #TREE_DEPTH} levels. */
    private static final ObjectMapper VALUE = MessageCodec.mapper(TREE_DEPTH, 1_000);

    private JsonTrees() {
    }

    /**
     * Parses PostgreSQL's JSON text of a row. Values nested deeper than {@link #TREE_DEPTH} become raw
     * nodes of their text, so the row can be written back (to PostgreSQL, into a message) like any other.
     * The usual row is parsed once; only a row holding a deeper value is parsed a second time.
     *
     * @throws JsonProcessingException if the text is not JSON or is beyond the read limits
     * @throws ClassCastException      if it is JSON but not an object
     */
    public static ObjectNode row(String json) throws JsonProcessingException {
        try {
            return (ObjectNode) ROW.readTree(json);
        } catch (StreamConstraintsException tooDeep) {
            return bound((ObjectNode) deep(json));
        }
    }

    /**
     * Parses JSON text at any depth up to {@link #MAX_DEPTH}. The tree must be bounded ({@link #bound})
     * before it is written with a mapper, which writes recursively.
     */
    public static JsonNode deep(String json) throws JsonProcessingException {
        return MessageCodec.DEEP.readTree(json);
    }

    /** Turns the values of a row deeper than {@link #TREE_DEPTH} into raw nodes of their text, in place. */
    public static ObjectNode bound(ObjectNode row) {
        for (Map.Entry<String, JsonNode> f : row.properties()) {
            f.setValue(bounded(f.getValue()));
        }
        return row;
    }

    /**
     * Parses a JSON value, for a column that holds documents: a tree when it is at most {@link
     * #TREE_DEPTH} levels deep, else a raw node of the given text, which has been read in full first, so
     * it is one well-formed JSON value.
     *
     * @throws JsonProcessingException if the text is not JSON or is beyond the read limits
     */
    public static JsonNode value(String json) throws JsonProcessingException {
        try {
            return VALUE.readTree(json);
        } catch (StreamConstraintsException tooDeep) {
            MessageCodec.DEEP.readTree(json);
            return raw(json.strip());
        }
    }

    /** A tree of at most {@link #TREE_DEPTH} levels as it is, a deeper one as a raw node of its text. */
    public static JsonNode bounded(JsonNode value) {
        return value != null && value.isContainerNode() && depth(value) > TREE_DEPTH ? raw(text(value)) : value;
    }

    /** True for a raw node: a JSON value carried as its text (see {@link #row}). */
    public static boolean isRaw(JsonNode node) {
        return node instanceof POJONode p && p.getPojo() instanceof RawValue;
    }

    /** The JSON text a raw node carries, or null for any other node. */
    public static String rawText(JsonNode node) {
        return isRaw(node) ? String.valueOf(((RawValue) ((POJONode) node).getPojo()).rawValue()) : null;
    }

    /** Levels of a value: 0 for a scalar, 1 for a flat object or array. Iterative. */
    public static int depth(JsonNode value) {
        if (value == null || !value.isContainerNode()) {
            return 0;
        }
        int max = 0;
        ArrayDeque<JsonNode> nodes = new ArrayDeque<>();
        ArrayDeque<Integer> levels = new ArrayDeque<>();
        nodes.push(value);
        levels.push(1);
        while (!nodes.isEmpty()) {
            JsonNode n = nodes.pop();
            int level = levels.pop();
            max = Math.max(max, level);
            for (JsonNode child : n) {
                if (child.isContainerNode()) {
                    nodes.push(child);
                    levels.push(level + 1);
                }
            }
        }
        return max;
    }

    /**
     * The compact JSON text of a tree, as {@code toString()} gives it, at any depth: the tree is walked
     * with a stack of its own instead of the thread's.
     */
    public static String text(JsonNode value) {
        if (value == null) {
            return "null";
        }
        StringWriter out = new StringWriter();
        try (JsonGenerator g = MessageCodec.DEEP.createGenerator(out)) {
            ArrayDeque<Iterator<?>> open = new ArrayDeque<>();
            Object next = value;
            while (true) {
                if (next instanceof Map.Entry<?, ?> field) {
                    g.writeFieldName((String) field.getKey());
                    next = field.getValue();
                }
                JsonNode n = (JsonNode) next;
                if (n.isObject()) {
                    g.writeStartObject();
                    open.push(n.properties().iterator());
                } else if (n.isArray()) {
                    g.writeStartArray();
                    open.push(n.elements());
                } else {
                    g.writeTree(n);
                }
                next = null;
                while (next == null && !open.isEmpty()) {
                    Iterator<?> it = open.peek();
                    if (it.hasNext()) {
                        next = it.next();
                    } else {
                        open.pop();
                        if (g.getOutputContext().inObject()) {
                            g.writeEndObject();
                        } else {
                            g.writeEndArray();
                        }
                    }
                }
                if (next == null) {
                    break;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write a JSON tree", e);
        }
        return out.toString();
    }

    private static JsonNode raw(String json) {
        return MessageCodec.JSON.getNodeFactory().rawValueNode(new RawValue(json));
    }
}
