package io.syncsqlite.it.sync;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.jdbc.SyncDataSource;
import io.syncsqlite.driver.sync.SyncNode;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * JWT authentication (issue 6): a relay that requires HS256 tokens for audience "syncsqlite" serves a
 * client with a valid token, refuses missing, forged, expired, not-yet-valid and wrong-audience tokens
 * with close code 4401 and a reason (and writes nothing of theirs), ends a session when its token
 * expires, and the client resumes with a fresh token from its supplier.
 */
class AuthTest {

    private static final String SECRET = "0123456789abcdef0123456789abcdef-test-secret";
    private static final String LOCAL = "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)";

    private static RelayFixture f;
    private static Relay secured;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        f = RelayFixture.start("auth", "CREATE TABLE note (id text PRIMARY KEY, body text)");
        secured = Relay.start(f.config().withAuth(new RelayConfig.Auth(SECRET, null, "syncsqlite")));
    }

    @AfterAll
    static void stop() {
        secured.close();
        f.close();
    }

    private static String token(String secret, String audience, Instant notBefore, Instant expires) throws Exception {
        JWTClaimsSet claims = new JWTClaimsSet.Builder().subject("user-1").audience(audience)
                .notBeforeTime(Date.from(notBefore)).expirationTime(Date.from(expires)).build();
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        jwt.sign(new MACSigner(secret.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        return jwt.serialize();
    }

    private static String valid() throws Exception {
        Instant now = Instant.now();
        return token(SECRET, "syncsqlite", now.minusSeconds(5), now.plusSeconds(600));
    }

    private Connection open(String name, String tokenParam) throws Exception {
        Path file = dir.resolve(name + ".db");
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = plain.createStatement()) {
            st.execute(LOCAL);
        }
        return DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.server=" + secured.uri()
                + "&sync.lingerMs=0&sync.reconnectMaxMs=300" + tokenParam);
    }

    @Test
    void aValidTokenSyncs() throws Exception {
        try (Connection c = open("valid", "&sync.token=" + valid())) {
            c.createStatement().executeUpdate("INSERT INTO note VALUES ('v1', 'hello')");
            assertTrue(c.unwrap(SyncConnection.class).node().awaitSynced(Duration.ofSeconds(20)));
            assertEquals(1, f.queryLong("SELECT count(*) FROM note WHERE id = 'v1'"));
        }
    }

    @Test
    void badTokensAreRefusedWithAReasonAndWriteNothing() throws Exception {
        Instant now = Instant.now();
        String[][] cases = {
            {"missing", "", "missing token"},
            {"forged", "&sync.token=" + token("another-secret-another-secret-another!!", "syncsqlite",
                    now.minusSeconds(5), now.plusSeconds(600)), "signature"},
            {"expired", "&sync.token=" + token(SECRET, "syncsqlite", now.minusSeconds(600), now.minusSeconds(300)),
                    "expired"},
            {"early", "&sync.token=" + token(SECRET, "syncsqlite", now.plusSeconds(600), now.plusSeconds(900)),
                    "not yet valid"},
            {"audience", "&sync.token=" + token(SECRET, "another-app", now.minusSeconds(5), now.plusSeconds(600)),
                    "audience"},
            {"garbage", "&sync.token=not.a.jwt", "malformed"},
        };
        for (String[] k : cases) {
            try (Connection c = open(k[0], k[1])) {
                c.createStatement().executeUpdate("INSERT INTO note VALUES ('" + k[0] + "', 'x')");
                SyncNode node = c.unwrap(SyncConnection.class).node();
                String error = await().atMost(Duration.ofSeconds(20)).until(() -> node.status().lastError(),
                        e -> e != null && e.contains("4401"));
                assertTrue(error.contains(k[2]), k[0] + ": " + error);
                assertFalse(error.contains(SECRET), "no secret in errors");
                assertFalse(node.status().connected());
                assertEquals(0, f.queryLong("SELECT count(*) FROM note WHERE id = '" + k[0] + "'"), k[0]);
            }
        }
    }

    @Test
    void aSessionEndsWhenItsTokenExpiresAndResumesWithAFreshOne() throws Exception {
        Path file = dir.resolve("refresh.db");
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = plain.createStatement()) {
            st.execute(LOCAL);
        }
        SyncDataSource ds = new SyncDataSource("jdbc:syncsqlite:" + file + "?sync.server=" + secured.uri()
                + "&sync.lingerMs=0&sync.reconnectMaxMs=300");
        AtomicInteger issued = new AtomicInteger();
        ds.setTokenSupplier(() -> {
            issued.incrementAndGet();
            try {
                Instant now = Instant.now();
                return token(SECRET, "syncsqlite", now.minusSeconds(5), now.plusSeconds(2)); // short-lived
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try (Connection c = ds.getConnection()) {
            SyncNode node = c.unwrap(SyncConnection.class).node();
            c.createStatement().executeUpdate("INSERT INTO note VALUES ('r1', 'before expiry')");
            assertTrue(node.awaitSynced(Duration.ofSeconds(20)));
            // Past expiry (2 s, plus the verifier's 30 s skew does not apply to the scheduled close).
            await().atMost(Duration.ofSeconds(20)).until(() -> issued.get() >= 2);
            c.createStatement().executeUpdate("INSERT INTO note VALUES ('r2', 'after a refresh')");
            assertTrue(node.awaitSynced(Duration.ofSeconds(20)));
            assertEquals(2, f.queryLong("SELECT count(*) FROM note WHERE id IN ('r1', 'r2')"));
        }
    }
}
