package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.sync.SyncNode;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code wss://}: a relay with its own certificate (made here with the JDK's keytool), a client that
 * trusts it through {@code sync.trustStore}, and one that does not and so never connects.
 */
class TlsTest {

    @TempDir
    Path dir;

    private static void keytool(String... args) throws Exception {
        String keytool = System.getProperty("java.home") + File.separator + "bin" + File.separator + "keytool";
        List<String> cmd = new java.util.ArrayList<>(List.of(keytool));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "keytool failed: " + out);
    }

    private Connection open(String name, String url) throws Exception {
        Path file = dir.resolve(name + ".db");
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = plain.createStatement()) {
            st.execute("CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)");
        }
        return DriverManager.getConnection(url.replace("FILE", file.toString()));
    }

    @Test
    void aClientTrustingTheRelaysCertificateSyncsAndOthersDoNot() throws Exception {
        Path keystore = dir.resolve("relay.p12");
        Path cert = dir.resolve("relay.pem");
        Path truststore = dir.resolve("trust.p12");
        keytool("-genkeypair", "-alias", "relay", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
                "-ext", "san=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", "relay-pass", "-keypass", "relay-pass");
        keytool("-exportcert", "-rfc", "-alias", "relay", "-keystore", keystore.toString(), "-storepass", "relay-pass",
                "-file", cert.toString());
        keytool("-importcert", "-noprompt", "-alias", "relay", "-file", cert.toString(), "-storetype", "PKCS12",
                "-keystore", truststore.toString(), "-storepass", "trust-pass");

        try (RelayFixture f = RelayFixture.start("tls", "CREATE TABLE note (id text PRIMARY KEY, body text)");
             Relay relay = Relay.start(f.config().withTls(new RelayConfig.Tls(keystore, "relay-pass")))) {
            assertTrue(relay.uri().toString().startsWith("wss://"), relay.uri().toString());
            String base = "jdbc:syncsqlite:FILE?sync.server=" + relay.uri() + "&sync.lingerMs=0&sync.reconnectMaxMs=300";

            try (Connection c = open("trusting", base + "&sync.trustStore=" + truststore + "&sync.trustStorePassword=trust-pass")) {
                c.createStatement().executeUpdate("INSERT INTO note VALUES ('t1', 'over TLS')");
                assertTrue(c.unwrap(SyncConnection.class).node().awaitSynced(Duration.ofSeconds(20)));
                assertEquals(1, f.queryLong("SELECT count(*) FROM note WHERE id = 't1'"));
            }

            try (Connection c = open("default-trust", base)) {
                c.createStatement().executeUpdate("INSERT INTO note VALUES ('t2', 'never sent')");
                SyncNode node = c.unwrap(SyncConnection.class).node();
                String error = await().atMost(Duration.ofSeconds(20)).until(() -> node.status().lastError(), e -> e != null);
                assertFalse(node.status().connected(), error);
                assertEquals(0, f.queryLong("SELECT count(*) FROM note WHERE id = 't2'"));
            }

            SQLException bad = assertThrows(SQLException.class,
                    () -> open("bad-store", base + "&sync.trustStore=" + dir.resolve("missing.p12")));
            assertEquals("22023", bad.getSQLState());
            assertFalse(bad.getMessage().contains("trust-pass"));
        }
    }
}
