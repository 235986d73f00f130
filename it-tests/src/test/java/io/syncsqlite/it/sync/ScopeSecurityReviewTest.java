package io.syncsqlite.it.sync;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.it.support.Tokens;
import io.syncsqlite.protocol.ChangeKind;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.protocol.RowChange;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static io.syncsqlite.it.support.Json.delete;
import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Security review of per-user scopes and authentication, from the point of view of a legitimate user
 * (alice, valid token) attacking another (bob) through the raw protocol. Each test asserts the secure
 * behaviour; the javadoc of each says what it found. Cases already covered by {@link ScopesTest} and
 * {@link AuthTest} are not repeated.
 */
class ScopeSecurityReviewTest {

    private static final String SECRET = "0123456789abcdef0123456789abcdef-review3-secret";
    private static final String[] PG = {
        "CREATE TABLE note (id text PRIMARY KEY, owner text NOT NULL, body text, likes integer NOT NULL DEFAULT 0)",
        "CREATE TABLE member (project_id text NOT NULL, user_id text NOT NULL, PRIMARY KEY (project_id, user_id))",
        "CREATE TABLE doc (id text PRIMARY KEY, project_id text NOT NULL, title text)",
        "CREATE TABLE tag (id text PRIMARY KEY, label text)",
        "CREATE TABLE comment (id text PRIMARY KEY, note_id text NOT NULL REFERENCES note (id) ON DELETE CASCADE,"
                + " owner text NOT NULL, body text)",
        "CREATE TABLE account (id text PRIMARY KEY, owner text NOT NULL, email text UNIQUE)",
        "INSERT INTO note VALUES ('n-a1', 'alice', 'a1', 0), ('n-b1', 'bob', 'b1', 0)",
        "INSERT INTO member VALUES ('p1', 'alice'), ('p2', 'bob')",
        "INSERT INTO doc VALUES ('d1', 'p1', 'plan'), ('d2', 'p2', 'bob''s project')",
        "INSERT INTO account VALUES ('acc-b', 'bob', 'bob@example.com')",
    };
    private static final String RULES = """
            {
              "note":    { "rows": "owner = :sub" },
              "member":  { "rows": "user_id = :sub", "write": false },
              "doc":     { "rows": "project_id IN (SELECT project_id FROM member WHERE user_id = :sub)" },
              "tag":     { "rows": "all", "write": false },
              "comment": { "rows": "owner = :sub" },
              "account": { "rows": "owner = :sub" }
            }
            """;

    @TempDir
    Path dir;

    private RelayFixture f;
    private Relay relay;

    @BeforeEach
    void start() throws Exception {
        f = RelayFixture.start("review3", PG);
        Path rules = dir.resolve("scopes.json");
        Files.writeString(rules, RULES);
        relay = Relay.start(f.config().withAuth(new RelayConfig.Auth(SECRET, null, null)).withScopes(rules));
    }

    @AfterEach
    void stop() {
        relay.close();
        f.close();
    }

    private TestClient connect(String user) throws Exception {
        return TestClient.connect(relay.uri(), Tokens.hs256(SECRET, user));
    }

    private TestClient protocolClient(String user, String node, long cursor) throws Exception {
        TestClient c = connect(user);
        c.hello(node, cursor);
        return c;
    }

    private TestClient snapshotted(String user, String node) throws Exception {
        TestClient c = protocolClient(user, node, 0);
        c.await(() -> c.cursor() > 0 ? true : null, "snapshot");
        return c;
    }

    private void awaitScopeConfirmed(String node) {
        await().atMost(Duration.ofSeconds(10)).until(() -> f.queryLong(
                "SELECT count(*) FROM syncsqlite.client WHERE node = '" + node + "' AND scope_digest IS NOT NULL") == 1);
    }

    private static long now() {
        return Hlc.ofMillis(System.currentTimeMillis());
    }

    /**
     * A unique violation must not name the other user's row that holds the value.
     *
     * <p>FOUND: alice inserts an account with bob's e-mail; the rejection (23505) carries, among its
     * "current" rows, a DELETE of {@code acc-b}: the key of bob's account (and its clock), a row alice never
     * named and may not see. PostgresChangeApplier.reject adds the colliding rows ({@code colliding}) to
     * the rows it reports and {@code visible} turns them into deletes with their keys, so a user can map any
     * unique value (an e-mail) to the key of the row that holds it, which DESIGN.md says the reasons avoid.
     */
    @Test
    void aUniqueCollisionDoesNotNameTheOtherUsersRow() throws Exception {
        TestClient alice = snapshotted("alice", "alice-uniq");
        alice.push(tx(1, now(), insert("account", obj("id", "acc-a"), obj("owner", "alice", "email", "bob@example.com"))));
        Message.Reject r = alice.awaitReject(1);
        assertEquals("23505", r.sqlState(), r.reason());
        for (FeedEntry e : r.current()) {
            assertFalse(e.pk().toString().contains("acc-b"), "the rejection names bob's row: " + r.current());
        }
        // Nor does a later connection's welcome, which repeats recorded rejections.
        alice.close();
        TestClient again = protocolClient("alice", "alice-uniq", 0);
        Message.Welcome w = again.awaitMessage(Message.Welcome.class);
        for (Message.Reject old : w.rejected()) {
            for (FeedEntry e : old.current()) {
                assertFalse(e.pk().toString().contains("acc-b"), "the welcome names bob's row: " + old.current());
            }
        }
        again.close();
    }

    /**
     * After alice loses a membership, a rejection must not hand her the rows she lost.
     *
     * <p>FOUND: a client that stops confirming {@code changes} (flow control: 4 unconfirmed messages) keeps
     * its session from reading the feed, so the session never re-reads its memberships. Alice is removed
     * from project p2 and bob writes a new title into d2; alice then writes to d2: the SQL write check
     * rightly rejects it (42501), but the rejection's current rows are filtered in Java with the stale
     * cached memberships (PostgresChangeApplier.visible, Scope.contains), so she receives d2 with the
     * title written after she lost access. She can repeat this for as long as she likes.
     */
    @Test
    void aRejectionDoesNotHandBackRowsOfAMembershipTheUserLost() throws Exception {
        f.execute("INSERT INTO member VALUES ('p2', 'alice')");
        TestClient alice = connect("alice");
        alice.autoProgress(false);
        alice.hello("alice-stale", 0);
        alice.await(() -> alice.cursor() > 0 ? true : null, "snapshot");
        assertTrue(alice.entries().stream().anyMatch(e -> e.pk().toString().contains("d2")), "d2 is hers for now");
        // Three more unconfirmed messages fill the window (4): the session stops reading the feed.
        for (int i = 0; i < 3; i++) {
            int before = alice.changes().size();
            f.execute("INSERT INTO tag VALUES ('t" + i + "', 'filler')");
            alice.await(() -> alice.changes().size() > before ? true : null, "feed message " + i);
        }
        f.execute("DELETE FROM member WHERE project_id = 'p2' AND user_id = 'alice'",
                "UPDATE doc SET title = 'written after alice left' WHERE id = 'd2'");
        alice.push(tx(1, now(), update("doc", obj("id", "d2"), obj("title", "alice again"))));
        Message.Reject r = alice.awaitReject(1);
        assertEquals("42501", r.sqlState(), r.reason());
        assertEquals(1, f.queryLong("SELECT count(*) FROM doc WHERE id = 'd2' AND title = 'written after alice left'"));
        for (FeedEntry e : r.current()) {
            assertTrue(e.row() == null, "a row of a project alice was removed from: " + e);
        }
        alice.close();
    }

    /**
     * Catch-up from a cursor must not replay history the user was never allowed to see.
     *
     * <p>FOUND: the relay does not check the cursor a node presents at hello against the position from
     * which it holds its scope (it resyncs only on a digest mismatch or a cursor below the retained
     * history). Alice, added to project p2, takes a snapshot (title "redacted"), then reconnects the same
     * node with cursor 1: the catch-up is filtered by her <em>current</em> memberships (ClientSession.hello,
     * fillBacklog/visible), so she receives d2's past image "password: hunter2", written and redacted before
     * she joined. (Compaction hides it only when both images fall in one message; a large commit between
     * them keeps them apart.) A fix: resync a client whose cursor is below the position of the snapshot its
     * stored digest was confirmed at.
     */
    @Test
    void catchUpFromAnOldCursorDoesNotReplayRowsFromBeforeTheUserJoined() throws Exception {
        f.execute("UPDATE doc SET title = 'password: hunter2' WHERE id = 'd2'",
                "INSERT INTO tag SELECT 'f' || g, 'filler' FROM generate_series(1, 1200) AS g",
                "UPDATE doc SET title = 'redacted' WHERE id = 'd2'",
                "INSERT INTO member VALUES ('p2', 'alice')");
        TestClient alice = snapshotted("alice", "alice-hist");
        assertTrue(alice.entries().stream().noneMatch(e -> e.row() != null && e.row().toString().contains("hunter2")));
        long cursor = alice.cursor();
        awaitScopeConfirmed("alice-hist");
        alice.close();

        TestClient again = protocolClient("alice", "alice-hist", 1);
        again.await(() -> again.cursor() >= cursor ? true : null, "caught up");
        for (FeedEntry e : again.entries()) {
            assertFalse(e.row() != null && e.row().toString().contains("hunter2"),
                    "a version of d2 from before alice was a member: " + e);
        }
        again.close();
    }

    /**
     * A write to a key outside the user's sight must not tell whether another user's row had that key.
     *
     * <p>FOUND (low): alice updates bob's deleted note n-b9 and a key nobody ever used. Both are acknowledged
     * and answered with a DELETE of the key (logged for the origin only, TxRun.logUntouchedRows through
     * TableStatements.logCurrent), but the one for n-b9 carries the clock of bob's delete
     * ({@code coalesce(row_hlc(rc), 0)} reads the tombstone), the other 0: alice learns that the key
     * existed and when bob deleted it. The same holds for the deletes a rejection reports for bob's live
     * rows (PostgresChangeApplier.visible keeps the row's hlc).
     */
    @Test
    @org.junit.jupiter.api.Disabled("known limit: the outcome of a write to another user's deleted key carries its tombstone's clock")
    void aWriteToAnotherUsersDeletedKeyLooksLikeAWriteToAnUnusedKey() throws Exception {
        f.execute("INSERT INTO note VALUES ('n-b9', 'bob', 'gone', 0)", "DELETE FROM note WHERE id = 'n-b9'");
        TestClient alice = snapshotted("alice", "alice-probe");
        long h = now();
        alice.push(tx(1, h, update("note", obj("id", "n-b9"), obj("body", "probe"))),
                tx(2, h + 1, update("note", obj("id", "n-never"), obj("body", "probe"))));
        alice.awaitAck(1);
        alice.awaitAck(2);
        FeedEntry used = alice.await(() -> alice.entries().stream().filter(e -> e.pk().toString().contains("n-b9"))
                .findFirst().orElse(null), "outcome for n-b9");
        FeedEntry unused = alice.await(() -> alice.entries().stream().filter(e -> e.pk().toString().contains("n-never"))
                .findFirst().orElse(null), "outcome for n-never");
        assertEquals(unused.kind(), used.kind());
        assertEquals(unused.hlc(), used.hlc(), "the outcome for bob's deleted key carries the clock of his delete");
        alice.close();
    }

    /**
     * A user must not be able to stop another from deleting their own rows.
     *
     * <p>FOUND (design): comment's rule tests only its own owner, so alice may insert a comment on bob's
     * note (the foreign key is satisfied; its acknowledgement, against 23503 for a key that never existed (Compensation finds no tombstone), also tells
     * her bob's key exists). Bob's delete of his own note would cascade into alice's comment, which his
     * scope cannot write: his delete is rejected with 42501 for as long as alice's comment exists. The
     * rule language cannot tie comment's scope to note's (a membership table must be read-only), so the
     * documented advice "a scope should include the parents of the rows it includes" cannot be followed
     * here. Secure behaviour: either alice's child of a parent outside her scope is refused, or bob's delete
     * goes through.
     */
    @Test
    @org.junit.jupiter.api.Disabled("known limit: scope rules cannot tie a child's scope to its parent's, so another user's child blocks a cascading delete")
    void aUserCannotPreventAnotherFromDeletingTheirOwnRow() throws Exception {
        TestClient alice = snapshotted("alice", "alice-pin");
        TestClient bob = snapshotted("bob", "bob-pin");
        alice.push(tx(1, now(), insert("comment", obj("id", "c-pin"), obj("note_id", "n-b1", "owner", "alice", "body", "pinned"))));
        boolean aliceRefused = alice.awaitOutcome(1) instanceof Message.Reject;
        bob.push(tx(1, now(), delete("note", obj("id", "n-b1"))));
        Message outcome = bob.awaitOutcome(1);
        assertTrue(aliceRefused || outcome instanceof Message.Ack,
                "alice's comment on bob's note stops bob from deleting it: " + outcome);
        alice.close();
        bob.close();
    }

    /**
     * Regression (passes): counters and inserts-with-counters over another user's row are refused and
     * change nothing, while counters on one's own row add up.
     */
    @Test
    void countersOnAnotherUsersRowAreRefused() throws Exception {
        TestClient alice = snapshotted("alice", "alice-count");
        long h = now();
        alice.push(
                tx(1, h + 1, new RowChange("note", ChangeKind.UPDATE, obj("id", "n-b1"), obj(), obj("likes", 5))),
                tx(2, h + 2, new RowChange("note", ChangeKind.INSERT, obj("id", "n-b1"),
                        obj("owner", "alice", "body", "b1", "likes", 7), obj("likes", 7))),
                tx(3, h + 3, new RowChange("note", ChangeKind.UPDATE, obj("id", "n-a1"), obj(), obj("likes", 2))));
        assertEquals("42501", alice.awaitReject(1).sqlState());
        assertEquals("42501", alice.awaitReject(2).sqlState());
        alice.awaitAck(3);
        assertEquals(1, f.queryLong("SELECT count(*) FROM note WHERE id = 'n-b1' AND owner = 'bob' AND likes = 0 AND body = 'b1'"));
        assertEquals(1, f.queryLong("SELECT count(*) FROM note WHERE id = 'n-a1' AND likes = 2"));
        alice.close();
    }

    /**
     * Regression (passes): another user presenting a connected user's node id is refused (1008) and hears
     * nothing of it, not even its recorded rejections; the owner's session carries on.
     */
    @Test
    void aNodeIdInUseCannotBeTakenOverWhileItsOwnerIsConnected() throws Exception {
        TestClient alice = snapshotted("alice", "alice-live");
        alice.push(tx(1, now(), insert("tag", obj("id", "t-x"), obj("label", "refused"))));
        assertEquals("42501", alice.awaitReject(1).sqlState());
        TestClient bob = connect("bob");
        bob.send(new Message.Hello(Message.PROTOCOL_VERSION, "alice-live", 0));
        assertEquals(1008, bob.awaitClose());
        assertTrue(bob.messages().isEmpty(), bob.messages().toString());
        alice.push(tx(2, now(), update("note", obj("id", "n-a1"), obj("body", "still mine"))));
        alice.awaitAck(2);
        alice.close();
        bob.close();
    }
}
