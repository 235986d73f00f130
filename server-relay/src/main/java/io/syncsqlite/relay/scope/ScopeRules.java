package io.syncsqlite.relay.scope;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.schema.ColumnInfo;
import io.syncsqlite.relay.schema.TableInfo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The relay's per-user scope rules, read from a JSON file ({@code --scopes}): for each synced table, which
 * rows a user may see and whether they may write them, parameterised by claims of the user's token.
 * <pre>
 * {
 *   "note":    { "rows": "owner_id = :sub" },
 *   "doc":     { "rows": "project_id IN (SELECT project_id FROM member WHERE user_id = :sub)" },
 *   "member":  { "rows": "user_id = :sub", "write": false },
 *   "tag":     { "rows": "all", "write": false }
 * }
 * </pre>
 * A synced table the file does not name is invisible and read-only for everyone: with scopes on, access
 * is granted, never assumed. The three rule forms are the whole language; they are parsed here into
 * {@link TableRule}s whose names are checked against the catalog, so no text of the file, and nothing a
 * client sends, is ever pasted into SQL: names are quoted from the catalog, claim values are bound.
 *
 * <p>Immutable; thread-safe.
 */
public final class ScopeRules {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern BY_CLAIM = Pattern.compile("\\s*(\\w+)\\s*=\\s*:(\\w+)\\s*");
    private static final Pattern MEMBERSHIP = Pattern.compile(
            "\\s*(\\w+)\\s+IN\\s*\\(\\s*SELECT\\s+(\\w+)\\s+FROM\\s+(\\w+)\\s+WHERE\\s+(\\w+)\\s*=\\s*:(\\w+)\\s*\\)\\s*",
            Pattern.CASE_INSENSITIVE);

    private final Catalog catalog;
    private final Map<String, TableRule> rules;

    private ScopeRules(Catalog catalog, Map<String, TableRule> rules) {
        this.catalog = catalog;
        this.rules = Map.copyOf(rules);
    }

    /**
     * Reads and checks a rules file.
     *
     * @throws IllegalArgumentException naming the table and what is wrong with its rule
     */
    public static ScopeRules load(Path file, Catalog catalog) throws IOException {
        return parse(Files.readString(file), catalog);
    }

    static ScopeRules parse(String json, Catalog catalog) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("scope rules are not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("scope rules must be a JSON object with one entry per table");
        }
        Map<String, TableRule> rules = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            TableInfo table = table(catalog, e.getKey(), "scope rules name table " + e.getKey());
            JsonNode spec = e.getValue();
            if (!spec.isObject() || !spec.path("rows").isTextual()) {
                throw new IllegalArgumentException("scope rule of table " + table.name()
                        + ": expected {\"rows\": \"...\", \"write\": true|false}");
            }
            boolean writable = spec.path("write").asBoolean(true);
            rules.put(table.name(), rule(catalog, table, spec.get("rows").asText(), writable));
        }
        for (TableRule r : rules.values()) {
            // A user who may write the table that grants membership could grant it to themselves.
            if (r instanceof TableRule.Membership m && rules.get(m.viaTable()) != null
                    && rules.get(m.viaTable()).writable()) {
                throw new IllegalArgumentException("scope rule of table " + m.viaTable() + ": it grants membership"
                        + " (rule of table " + m.table() + "), so it must be \"write\": false; a user who may"
                        + " write it could add themselves");
            }
        }
        return new ScopeRules(catalog, rules);
    }

    private static TableRule rule(Catalog catalog, TableInfo table, String rows, boolean writable) {
        String where = "scope rule of table " + table.name();
        if (rows.trim().equalsIgnoreCase("all")) {
            return new TableRule.Everyone(table.name(), writable);
        }
        Matcher m = BY_CLAIM.matcher(rows);
        if (m.matches()) {
            return new TableRule.ByClaim(table.name(), column(table, m.group(1), where), m.group(2), writable);
        }
        m = MEMBERSHIP.matcher(rows);
        if (m.matches()) {
            TableInfo via = table(catalog, m.group(3), where + ": " + m.group(3)
                    + " (the membership table must be synced too, so that membership changes reach the relay)");
            return new TableRule.Membership(table.name(), column(table, m.group(1), where), via.name(),
                    column(via, m.group(2), where), column(via, m.group(4), where), m.group(5), writable);
        }
        throw new IllegalArgumentException(where + ": \"" + rows + "\" is none of: all; column = :claim;"
                + " column IN (SELECT column FROM table WHERE column = :claim)");
    }

    private static TableInfo table(Catalog catalog, String name, String where) {
        TableInfo t = catalog.table(name);
        if (t == null) {
            throw new IllegalArgumentException(where + ": no such synced table");
        }
        return t;
    }

    private static String column(TableInfo table, String name, String where) {
        ColumnInfo c = table.column(name);
        if (c == null) {
            throw new IllegalArgumentException(where + ": table " + table.name() + " has no column " + name);
        }
        if (!SCOPE_TYPES.contains(c.baseType())) {
            // Rows are matched as text in SQL (::text) and in Java (the JSON value's text); for these types
            // the two agree, for timestamps or floats they need not (formatting, DateStyle).
            throw new IllegalArgumentException(where + ": column " + table.name() + "." + name + " is of type "
                    + c.type() + "; scopes match text, varchar, citext, name, integer, uuid or boolean columns");
        }
        return c.name();
    }

    private static final Set<String> SCOPE_TYPES =
            Set.of("text", "varchar", "int2", "int4", "int8", "uuid", "bool", "citext", "name");

    /** The rule of a table, or null if the table is invisible to every user. */
    public TableRule rule(String table) {
        return rules.get(table);
    }

    public Collection<TableRule> rules() {
        return rules.values();
    }

    /** The synced tables no rule names (invisible to everyone), for a warning at start. */
    public List<String> unnamedTables() {
        List<String> out = new ArrayList<>();
        for (TableInfo t : catalog.tables()) {
            if (!rules.containsKey(t.name())) {
                out.add(t.name());
            }
        }
        return out;
    }

    /** The scope of one user. */
    public Scope scopeFor(String subject, Map<String, Object> claims) {
        return new Scope(this, catalog, subject, claims);
    }

    /**
     * Per table, the columns whose previous values the capture trigger must log with each change, so
     * that the feed can tell a row that leaves a user's scope from one that was never in it.
     */
    public Map<String, Set<String>> scopedColumns() {
        Map<String, Set<String>> out = new LinkedHashMap<>();
        for (TableRule r : rules.values()) {
            if (r instanceof TableRule.ByClaim b) {
                out.computeIfAbsent(b.table(), t -> new LinkedHashSet<>()).add(b.column());
            } else if (r instanceof TableRule.Membership mb) {
                out.computeIfAbsent(mb.table(), t -> new LinkedHashSet<>()).add(mb.column());
                out.computeIfAbsent(mb.viaTable(), t -> new LinkedHashSet<>()).add(mb.viaMatch());
            }
        }
        return out;
    }

    /**
     * Records {@link #scopedColumns()} in {@code syncsqlite.scoped_column}, which the capture trigger reads.
     * Only ever adds: another relay on the same database may scope other columns, and logging a column
     * too many costs a few bytes, one too few would leak rows.
     */
    public void register(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO syncsqlite.scoped_column (tbl, col) VALUES (?, ?) ON CONFLICT DO NOTHING")) {
            for (Map.Entry<String, Set<String>> e : scopedColumns().entrySet()) {
                for (String col : e.getValue()) {
                    ps.setString(1, e.getKey());
                    ps.setString(2, col);
                    ps.addBatch();
                }
            }
            ps.executeBatch();
        }
    }
}
