package io.syncsqlite.relay;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RelayMainTest {

    private static RelayMain.Options parse(Map<String, String> env, String... args) throws Exception {
        return RelayMain.parse(args, env);
    }

    @Test
    void defaultsWithoutFlagsOrEnvironment() throws Exception {
        RelayMain.Options o = parse(Map.of());
        assertFalse(o.help());
        assertNull(o.pgUrl(), "no URL: embedded PostgreSQL");
        assertEquals("0.0.0.0", o.host());
        assertEquals(7780, o.port());
        assertEquals("public", o.schema());
        assertEquals(List.of(), o.tables());
        assertEquals(8, o.poolSize());
        assertEquals(16 << 20, o.maxFrameBytes());
        assertEquals(RelayConfig.NO_HTTP, o.httpPort(), "no health/metrics port unless asked for");
        assertEquals(java.time.Duration.ofSeconds(10), o.lockTimeout());
        assertEquals(java.time.Duration.ofSeconds(30), o.statementTimeout());
        assertEquals(java.time.Duration.ofSeconds(65),
                o.config("jdbc:postgresql://db/app", "u", "").sessionLimits().networkTimeout());
    }

    @Test
    void statementTimeoutFromFlagAndZeroMeansNone() throws Exception {
        RelayMain.Options o = parse(Map.of(), "--statement-timeout-ms", "30000", "--lock-timeout-ms", "2000");
        RelayConfig c = o.config("jdbc:postgresql://db/app", "u", "");
        assertEquals(java.time.Duration.ofSeconds(30), c.sessionLimits().statementTimeout());
        assertEquals(java.time.Duration.ofSeconds(65), c.sessionLimits().networkTimeout(),
                "two waiting statements in one round trip, and the margin");
        RelayConfig none = parse(Map.of(), "--statement-timeout-ms", "0").config("jdbc:postgresql://db/app", "u", "");
        assertEquals(null, none.sessionLimits().statementTimeout());
        assertEquals(null, none.sessionLimits().networkTimeout(), "no bound on a reply either");
        assertEquals(java.time.Duration.ofSeconds(10), none.sessionLimits().lockTimeout());
    }

    @Test
    void lockTimeoutFromFlag() throws Exception {
        RelayMain.Options o = parse(Map.of(), "--lock-timeout-ms", "2500");
        assertEquals(java.time.Duration.ofMillis(2500), o.lockTimeout());
        assertEquals(java.time.Duration.ofMillis(2500), o.config("jdbc:postgresql://db/app", "u", "").lockTimeout());
    }

    @Test
    void configFileIsOverriddenByEnvironmentAndFlags(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path file = dir.resolve("relay.properties");
        java.nio.file.Files.writeString(file, "pg-url=jdbc:postgresql://file/db\nport=7001\nschema=sales\n"
                + "tables=a, b\nhttp-port=9200\n");
        RelayMain.Options fromFile = parse(Map.of(), "--config", file.toString());
        assertEquals("jdbc:postgresql://file/db", fromFile.pgUrl());
        assertEquals(7001, fromFile.port());
        assertEquals("sales", fromFile.schema());
        assertEquals(List.of("a", "b"), fromFile.tables());
        assertEquals(9200, fromFile.httpPort());
        RelayMain.Options layered = parse(Map.of("SYNCSQLITE_CONFIG", file.toString(), "SYNCSQLITE_PORT", "7002"),
                "--schema", "ops");
        assertEquals(7002, layered.port(), "environment over file");
        assertEquals("ops", layered.schema(), "flag over file");
        assertEquals("jdbc:postgresql://file/db", layered.pgUrl());
        java.nio.file.Files.writeString(file, "prot=7001\n");
        RelayMain.UsageException e = assertThrows(RelayMain.UsageException.class,
                () -> parse(Map.of(), "--config", file.toString()));
        assertTrue(e.getMessage().contains("prot"), e.getMessage());
        assertThrows(RelayMain.UsageException.class, () -> parse(Map.of(), "--config", dir.resolve("missing").toString()));
    }

    @Test
    void jwtOptionsAndNoSecretInToString() throws Exception {
        RelayMain.Options o = parse(Map.of("SYNCSQLITE_JWT_SECRET", "0123456789abcdef0123456789abcdef-secret"),
                "--jwt-audience", "app");
        assertEquals("app", o.auth().audience());
        assertEquals("0123456789abcdef0123456789abcdef-secret", o.auth().hs256Secret());
        RelayConfig c = o.config("jdbc:postgresql://x/y", "u", "p");
        assertFalse(c.toString().contains("0123456789abcdef"), c.toString());
        assertNull(parse(Map.of()).auth(), "no authentication unless configured");
        assertThrows(RelayMain.UsageException.class, () -> parse(Map.of(), "--jwt-audience", "app"));
    }

    @Test
    void httpPortFromFlagOrEnvironment() throws Exception {
        assertEquals(9100, parse(Map.of(), "--http-port", "9100").httpPort());
        assertEquals(9101, parse(Map.of("SYNCSQLITE_HTTP_PORT", "9101")).httpPort());
        assertEquals(9102, parse(Map.of("SYNCSQLITE_HTTP_PORT", "9101"), "--http-port=9102").httpPort());
        assertEquals(9102, parse(Map.of(), "--http-port=9102").config("jdbc:postgresql://x/y", "", "").httpPort());
    }

    @Test
    void flagsInBothSpellings() throws Exception {
        RelayMain.Options o = parse(Map.of(), "--pg-url", "jdbc:postgresql://db/app", "--pg-user=app",
                "--pg-password", "s3cret", "--host", "127.0.0.1", "--port=0", "--schema", "sales",
                "--tables", " orders, customers ,,", "--pool-size", "3", "--max-frame-bytes=65536");
        assertEquals("jdbc:postgresql://db/app", o.pgUrl());
        assertEquals("app", o.pgUser());
        assertEquals("s3cret", o.pgPassword());
        assertEquals("127.0.0.1", o.host());
        assertEquals(0, o.port());
        assertEquals("sales", o.schema());
        assertEquals(List.of("orders", "customers"), o.tables());
        assertEquals(3, o.poolSize());
        assertEquals(65536, o.maxFrameBytes());
        RelayConfig c = o.config(o.pgUrl(), o.pgUser(), o.pgPassword());
        assertFalse(c.toString().contains("s3cret"));
    }

    @Test
    void environmentFillsInAndFlagsWin() throws Exception {
        Map<String, String> env = Map.of("SYNCSQLITE_PG_URL", "jdbc:postgresql://env/db", "SYNCSQLITE_PG_USER", "envuser",
                "SYNCSQLITE_PG_PASSWORD", "envpw", "SYNCSQLITE_PORT", "9000", "SYNCSQLITE_TABLES", "a,b");
        RelayMain.Options fromEnv = parse(env);
        assertEquals("jdbc:postgresql://env/db", fromEnv.pgUrl());
        assertEquals("envuser", fromEnv.pgUser());
        assertEquals("envpw", fromEnv.pgPassword());
        assertEquals(9000, fromEnv.port());
        assertEquals(List.of("a", "b"), fromEnv.tables());

        RelayMain.Options flags = parse(env, "--port", "9001", "--tables", "c", "--pg-url", "jdbc:postgresql://flag/db");
        assertEquals(9001, flags.port());
        assertEquals(List.of("c"), flags.tables());
        assertEquals("jdbc:postgresql://flag/db", flags.pgUrl());
        assertEquals("envuser", flags.pgUser());
    }

    @Test
    void help() throws Exception {
        assertTrue(parse(Map.of(), "--help").help());
        assertTrue(RelayMain.USAGE.contains("--pg-url"));
    }

    @Test
    void badInputIsAClearError() {
        assertMessage("unknown option --bogus", "--bogus", "1");
        assertMessage("needs a value", "--port");
        assertMessage("needs a value", "--port", "--host", "x");
        assertMessage("--port must be a number", "--port", "http");
        assertMessage("--port must be between 0 and 65535", "--port", "70000");
        assertMessage("--pool-size must be between 1", "--pool-size", "0");
        assertMessage("--lock-timeout-ms must be between 1", "--lock-timeout-ms", "0");
        assertMessage("--statement-timeout-ms (10000) must exceed --lock-timeout-ms (10000)",
                "--statement-timeout-ms", "10000");
        assertMessage("--statement-timeout-ms must be between 0", "--statement-timeout-ms", "-1");
        assertMessage("unexpected argument 'extra'", "extra");
        assertMessage("must be a PostgreSQL JDBC URL", "--pg-url", "postgres://user:pw@db/app");
        assertMessage("--tables lists no table names", "--tables", ",");
        RelayMain.UsageException e = assertThrows(RelayMain.UsageException.class,
                () -> parse(Map.of("SYNCSQLITE_PORT", "abc")));
        assertTrue(e.getMessage().contains("--port must be a number"), e.getMessage());
    }

    @Test
    void passwordsInUrlsAreMasked() {
        assertEquals("jdbc:postgresql://db/app?user=a&password=***&ssl=true",
                RelayConfig.maskUrl("jdbc:postgresql://db/app?user=a&password=x&ssl=true"));
        assertEquals("jdbc:postgresql://a:***@db/app", RelayConfig.maskUrl("jdbc:postgresql://a:pw@db/app"));
    }

    private static void assertMessage(String expected, String... args) {
        RelayMain.UsageException e = assertThrows(RelayMain.UsageException.class, () -> parse(Map.of(), args));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertFalse(e.getMessage().contains("pw@"), "no password in messages: " + e.getMessage());
    }
}
