package io.syncsqlite.relay.scope;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.schema.Sql;
import io.syncsqlite.relay.schema.TableInfo;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one user may see and write: the {@link ScopeRules} with the user's claim values filled in.
 *
 * <p>Rows are tested two ways that agree: in SQL ({@link #predicate}) for snapshots and for checking
 * writes inside the apply transaction, where membership subqueries run against the current data; and in
 * Java ({@link #contains}) for the live feed, which every session filters from one shared stream without
 * a query per row. For that, the values a membership rule allows are cached here and reloaded
 * ({@link #reloadMemberships}) whenever the feed carries a change to this user's memberships.
 *
 * <p>Values are compared as text ({@code column::text} in SQL, the JSON scalar's text in Java), so a
 * claim {@code "42"} matches an integer column holding 42. Null never matches.
 *
 * <p>Not thread-safe: owned by one session and used on its lane.
 */
public final class Scope {

    /** A condition on one table's rows: SQL with at most one {@code ?} (a text[] of {@code values}). */
    public record Predicate(String sql, List<String> values) {
        public boolean hasParameter() {
            return values != null;
        }
    }

    private final ScopeRules rules;
    private final Catalog catalog;
    private final String subject;
    private final Map<String, Set<String>> claimValues = new HashMap<>();
    private final Map<TableRule.Membership, Set<String>> members = new HashMap<>();

    private Scope(Scope of) {
        this.rules = of.rules;
        this.catalog = of.catalog;
        this.subject = of.subject;
        this.claimValues.putAll(of.claimValues);
    }

    /**
     * This scope with its memberships read as of {@code c}'s view, for what a transaction of {@code c} answers (the
     * rows of a rejection); this one's cache is left as the feed keeps it. The session's cache follows the feed,
     * which a client that stops confirming no longer reads: a rejection decided with it handed back rows of a
     * membership the user had lost since (ScopeSecurityReviewTest).
     */
    public Scope asOf(Connection c) throws SQLException {
        if (!hasMemberships()) {
            return this;
        }
        Scope now = new Scope(this);
        now.reloadMemberships(c);
        return now;
    }

    Scope(ScopeRules rules, Catalog catalog, String subject, Map<String, Object> claims) {
        this.rules = rules;
        this.catalog = catalog;
        this.subject = subject;
        for (TableRule r : rules.rules()) {
            String claim = r instanceof TableRule.ByClaim b ? b.claim()
                    : r instanceof TableRule.Membership m ? m.claim() : null;
            if (claim != null) {
                claimValues.computeIfAbsent(claim, k -> values(claims.get(k)));
            }
        }
    }

    /** The token's subject, for logs. */
    public String subject() {
        return subject;
    }

    /** Whether the user sees any row of the table. */
    public boolean visible(String table) {
        return rules.rule(table) != null;
    }

    /** Whether the user may write rows (in scope) of the table. */
    public boolean writable(String table) {
        TableRule r = rules.rule(table);
        return r != null && r.writable();
    }

    /**
     * Whether a row image (PostgreSQL's JSON of the row, or of its scoped columns) is in scope. Membership
     * rules use the values cached by {@link #reloadMemberships}.
     */
    public boolean contains(String table, JsonNode row) {
        TableRule r = rules.rule(table);
        if (r == null || row == null) {
            return false;
        }
        if (r instanceof TableRule.ByClaim b) {
            String v = text(row.get(b.column()));
            return v != null && claimValues.get(b.claim()).contains(v);
        }
        if (r instanceof TableRule.Membership m) {
            String v = text(row.get(m.column()));
            return v != null && members.getOrDefault(m, Set.of()).contains(v);
        }
        return true; // Everyone
    }

    /** Whether the user sees only some rows of the table (its rule has a condition), not all or none. */
    public boolean limitsRows(TableInfo table) {
        TableRule r = rules.rule(table.name());
        return r instanceof TableRule.ByClaim || r instanceof TableRule.Membership;
    }

    /**
     * The scope as SQL over {@code alias}, a row of {@code table}; null if the table is invisible.
     */
    public Predicate predicate(TableInfo table, String alias) {
        TableRule r = rules.rule(table.name());
        if (r == null) {
            return null;
        }
        if (r instanceof TableRule.ByClaim b) {
            return new Predicate("(" + alias + Sql.ident(b.column()) + ")::text = ANY (?::text[])",
                    List.copyOf(claimValues.get(b.claim())));
        }
        if (r instanceof TableRule.Membership m) {
            TableInfo via = catalog.table(m.viaTable());
            return new Predicate("(" + alias + Sql.ident(m.column()) + ")::text IN (SELECT (sm."
                    + Sql.ident(m.viaKey()) + ")::text FROM " + via.qualifiedName() + " AS sm WHERE (sm."
                    + Sql.ident(m.viaMatch()) + ")::text = ANY (?::text[]))", List.copyOf(claimValues.get(m.claim())));
        }
        return new Predicate("true", null); // Everyone
    }

    /**
     * Whether a feed change of {@code table} may add or remove one of this user's memberships: its new
     * row or its previous values match the user's claim, or it is a delete whose previous values were not
     * logged. A delete of a key that had no row ({@link io.syncsqlite.relay.feed.FeedRow#NO_ROW_ORIGIN})
     * deleted nothing and matches no claim: anyone can cause those, and each would otherwise make every
     * session read its memberships again.
     */
    public boolean touchesMembership(String table, JsonNode row, JsonNode old, boolean delete) {
        for (TableRule r : rules.rules()) {
            if (r instanceof TableRule.Membership m && m.viaTable().equals(table)) {
                Set<String> mine = claimValues.get(m.claim());
                if (delete && old == null) {
                    return true;
                }
                if (row != null && mine.contains(text(row.get(m.viaMatch())))
                        || old != null && mine.contains(text(old.get(m.viaMatch())))) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Whether any rule depends on membership (and {@link #reloadMemberships} has work to do). */
    public boolean hasMemberships() {
        return rules.rules().stream().anyMatch(r -> r instanceof TableRule.Membership);
    }

    /**
     * Reads the values each membership rule allows this user, as of {@code c}'s view.
     *
     * @return whether they differ from those cached before (rows entered or left the scope)
     */
    public boolean reloadMemberships(Connection c) throws SQLException {
        boolean changed = false;
        for (TableRule r : rules.rules()) {
            if (!(r instanceof TableRule.Membership m)) {
                continue;
            }
            TableInfo via = catalog.table(m.viaTable());
            Set<String> allowed = new HashSet<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT DISTINCT (sm." + Sql.ident(m.viaKey())
                    + ")::text FROM " + via.qualifiedName() + " AS sm WHERE (sm." + Sql.ident(m.viaMatch())
                    + ")::text = ANY (?::text[])")) {
                ps.setArray(1, c.createArrayOf("text", claimValues.get(m.claim()).toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        if (rs.getString(1) != null) {
                            allowed.add(rs.getString(1));
                        }
                    }
                }
            }
            Set<String> before = members.put(m, allowed);
            changed |= before != null && !before.equals(allowed);
        }
        return changed;
    }

    /**
     * A digest of what decides this user's rows: the rules themselves, the claim values they use and the
     * cached memberships. The relay stores it per client once the client holds exactly that scope; a client whose
     * stored digest differs when it reconnects (its token's claims or its memberships changed while it was
     * away, or it synced before scopes were configured) is resynced, since the feed alone would never
     * remove rows it may no longer see.
     */
    public String digest() {
        java.util.TreeMap<String, java.util.TreeSet<String>> parts = new java.util.TreeMap<>();
        java.util.TreeSet<String> ruleTexts = new java.util.TreeSet<>();
        rules.rules().forEach(r -> ruleTexts.add(r.toString()));
        parts.put("rules", ruleTexts);
        claimValues.forEach((k, v) -> parts.put("claim:" + k, new java.util.TreeSet<>(v)));
        members.forEach((m, v) -> parts.put("member:" + m, new java.util.TreeSet<>(v)));
        try {
            java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
            sha.update(parts.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(sha.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The scope a client holds, as stored: its {@link #digest()} (null for none) and the feed position of the
     * snapshot that gave it (0 when unknown).
     */
    public record Stored(String digest, long from) {
    }

    /** What is stored for a client ({@link #storeDigest}). */
    public static Stored stored(Connection c, String node) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT scope_digest, coalesce(scope_from, 0) FROM syncsqlite.client"
                + " WHERE node = ?")) {
            ps.setString(1, node);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? new Stored(rs.getString(1), rs.getLong(2)) : new Stored(null, 0);
            }
        }
    }

    /** Records that a client now holds exactly the scope of {@code digest}, from the snapshot through {@code from}. */
    public static void storeDigest(Connection c, String node, String digest, long from) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO syncsqlite.client (node, scope_digest, scope_from)"
                + " VALUES (?, ?, ?) ON CONFLICT (node) DO UPDATE SET scope_digest = excluded.scope_digest,"
                + " scope_from = excluded.scope_from")) {
            ps.setString(1, node);
            ps.setString(2, digest);
            ps.setLong(3, from);
            ps.executeUpdate();
        }
    }

    /** A claim's values as text: a list claim gives each element; a missing claim gives none. */
    private static Set<String> values(Object claim) {
        Set<String> out = new LinkedHashSet<>();
        if (claim instanceof Collection<?> list) {
            for (Object o : list) {
                if (o != null) {
                    out.add(o.toString());
                }
            }
        } else if (claim != null) {
            out.add(claim.toString());
        }
        return out;
    }

    /** A JSON scalar as the text PostgreSQL's {@code ::text} gives it; null for null or missing. */
    static String text(JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) {
            return null;
        }
        if (v.isTextual()) {
            return v.asText();
        }
        if (v.isBigDecimal()) {
            return v.decimalValue().toPlainString();
        }
        String raw = io.syncsqlite.protocol.JsonTrees.rawText(v);
        if (raw != null) {
            return raw; // a document deeper than a tree is kept: its text, not the holder's description
        }
        return v.isContainerNode() ? v.toString() : v.asText();
    }
}
