package io.syncsqlite.driver.transport;

import io.syncsqlite.driver.jdbc.SyncSqlState;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.sql.SQLException;

/**
 * TLS settings of the sync client: the JDK's defaults (certificate and host name verified against the
 * JDK's trust store), or a trust store of the application's for relays with their own certificate
 * authority. Verification is never turned off.
 *
 * <p>Stateless; thread-safe.
 */
public final class TrustStores {

    private TrustStores() {
    }

    /**
     * An SSL context trusting the certificates of {@code file} (PKCS12, or JKS by its {@code .jks} name).
     *
     * @throws SQLException 22023 when the file cannot be read or is not a trust store
     */
    public static SSLContext context(String file, String password) throws SQLException {
        char[] pw = password == null ? new char[0] : password.toCharArray();
        try (InputStream in = Files.newInputStream(Path.of(file))) {
            KeyStore ks = KeyStore.getInstance(file.endsWith(".jks") ? "JKS" : "PKCS12");
            ks.load(in, pw);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            throw new SQLException("sync.trustStore " + file + " cannot be used: " + e.getMessage(),
                    SyncSqlState.INVALID_PARAMETER.code(), e);
        }
    }
}
