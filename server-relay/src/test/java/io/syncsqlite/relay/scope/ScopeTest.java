package io.syncsqlite.relay.scope;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.schema.ColumnInfo;
import io.syncsqlite.relay.schema.TableInfo;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Scope rules without a database: parsing, claim values, and the Java side of the row test. */
class ScopeTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static TableInfo table(String name, String... columns) {
        List<ColumnInfo> cols = java.util.Arrays.stream(columns)
                .map(c -> new ColumnInfo(c, "text", "text", c.equals("id"), false)).toList();
        return new TableInfo("public", name, cols, List.of("id"), false, false);
    }

    private static final Catalog CATALOG = new Catalog("public", List.of(
            table("note", "id", "owner", "team", "body"),
            table("member", "id", "project_id", "user_id"),
            table("doc", "id", "project_id"),
            table("tag", "id", "label"),
            table("secret", "id", "x"),
            new TableInfo("public", "event", List.of(new ColumnInfo("id", "text", "text", true, false),
                    new ColumnInfo("at", "timestamp with time zone", "timestamptz", false, false)),
                    List.of("id"), false, false),
            // char(n): ::text trims the padding that to_jsonb keeps, so SQL and Java would disagree.
            new TableInfo("public", "fixed", List.of(new ColumnInfo("id", "text", "text", true, false),
                    new ColumnInfo("code", "character(8)", "bpchar", false, false)), List.of("id"), false, false)));

    private static ScopeRules rules(String json) {
        return ScopeRules.parse(json, CATALOG);
    }

    private static ObjectNode row(Object... kv) {
        ObjectNode o = JSON.createObjectNode();
        for (int i = 0; i < kv.length; i += 2) {
            o.set((String) kv[i], JSON.valueToTree(kv[i + 1]));
        }
        return o;
    }

    @Test
    void claimsMatchAsTextAndListClaimsMatchAnyOfTheirValues() {
        ScopeRules r = rules("""
                {"note": {"rows": "owner = :sub"}, "tag": {"rows": "ALL", "write": false},
                 "doc": {"rows": "project_id = :projects"}}""");
        Scope s = r.scopeFor("42", Map.of("sub", "42", "projects", List.of("p1", 7L)));
        assertTrue(s.contains("note", row("owner", 42)), "an integer 42 matches the claim \"42\"");
        assertTrue(s.contains("note", row("owner", "42")));
        assertFalse(s.contains("note", row("owner", "421")));
        assertFalse(s.contains("note", row("owner", null)), "null never matches");
        assertFalse(s.contains("note", row("body", "no owner column")));
        assertTrue(s.contains("doc", row("project_id", "p1")));
        assertTrue(s.contains("doc", row("project_id", 7)));
        assertFalse(s.contains("doc", row("project_id", "p2")));
        assertTrue(s.contains("tag", row("label", "anything")));
        assertTrue(s.visible("tag"));
        assertFalse(s.writable("tag"));
        assertTrue(s.writable("note"));
        assertFalse(s.visible("secret"), "a table no rule names is invisible");
        assertFalse(s.contains("secret", row("x", 1)));
        assertNull(s.predicate(CATALOG.table("secret"), "t."));
        assertEquals(List.of("member", "secret", "event", "fixed"), r.unnamedTables());
    }

    @Test
    void aMissingClaimMatchesNothing() {
        Scope s = rules("{\"note\": {\"rows\": \"team = :team\"}}").scopeFor("u", Map.of("sub", "u"));
        assertFalse(s.contains("note", row("team", "")));
        assertEquals(List.of(), s.predicate(CATALOG.table("note"), "t.").values());
    }

    @Test
    void membershipRulesNeedTheirSetAndSayWhichChangesTouchIt() {
        ScopeRules r = rules("""
                {"doc": {"rows": "project_id in (select project_id from member where user_id = :sub)"},
                 "member": {"rows": "user_id = :sub", "write": false}}""");
        Scope s = r.scopeFor("alice", Map.of("sub", "alice"));
        assertTrue(s.hasMemberships());
        assertFalse(s.contains("doc", row("project_id", "p1")), "nothing allowed before the memberships are read");
        assertTrue(s.touchesMembership("member", row("user_id", "alice", "project_id", "p9"), null, false));
        assertTrue(s.touchesMembership("member", row("user_id", "bob", "project_id", "p9"), row("user_id", "alice"), false),
                "a membership moved away from her");
        assertFalse(s.touchesMembership("member", row("user_id", "bob", "project_id", "p9"), null, false));
        assertTrue(s.touchesMembership("member", null, null, true), "a delete without previous values may be hers");
        assertFalse(s.touchesMembership("member", null, row(io.syncsqlite.relay.feed.FeedRow.NO_ROW_ORIGIN, "n1"), true),
                "a delete of a key that had no row deleted no membership");
        assertFalse(s.touchesMembership("doc", row("project_id", "p1"), null, false));
        assertEquals(Map.of("doc", java.util.Set.of("project_id"), "member", java.util.Set.of("user_id")), r.scopedColumns());
        String sql = s.predicate(CATALOG.table("doc"), "t.").sql();
        assertTrue(sql.contains("\"public\".\"member\"") && sql.contains("t.\"project_id\""), sql);
    }

    @Test
    void theDigestFollowsTheClaims() {
        ScopeRules r = rules("{\"note\": {\"rows\": \"owner = :sub\"}}");
        assertEquals(r.scopeFor("a", Map.of("sub", "a")).digest(), r.scopeFor("a", Map.of("sub", "a", "x", 1)).digest(),
                "claims no rule uses do not matter");
        assertFalse(r.scopeFor("a", Map.of("sub", "a")).digest().equals(r.scopeFor("b", Map.of("sub", "b")).digest()));
        ScopeRules more = rules("{\"note\": {\"rows\": \"owner = :sub\"}, \"tag\": {\"rows\": \"all\"}}");
        assertFalse(r.scopeFor("a", Map.of("sub", "a")).digest().equals(more.scopeFor("a", Map.of("sub", "a")).digest()),
                "new rules are a new scope, even with the same claims");
    }

    @Test
    void rulesOutsideTheLanguageAreRefusedWithTheTableNamed() {
        String[][] bad = {
            {"{\"note\": {\"rows\": \"owner = :sub; DROP TABLE note\"}}", "scope rule of table note"},
            {"{\"note\": {\"rows\": \"owner = 'alice'\"}}", "is none of"},
            {"{\"note\": \"owner = :sub\"}", "expected {\"rows\""},
            {"{\"nope\": {\"rows\": \"all\"}}", "no such synced table"},
            {"{\"doc\": {\"rows\": \"project_id IN (SELECT project_id FROM member WHERE nobody = :sub)\"}}", "no column nobody"},
            {"not json", "not valid JSON"},
            {"{\"doc\": {\"rows\": \"project_id IN (SELECT project_id FROM member WHERE user_id = :sub)\"},"
                    + " \"member\": {\"rows\": \"user_id = :sub\"}}", "must be \"write\": false"},
            {"{\"event\": {\"rows\": \"at = :sub\"}}", "column event.at is of type timestamp with time zone"},
            {"{\"fixed\": {\"rows\": \"code = :sub\"}}", "column fixed.code is of type character(8)"},
        };
        for (String[] b : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rules(b[0]), b[0]);
            assertTrue(e.getMessage().contains(b[1]), e.getMessage());
        }
    }
}
