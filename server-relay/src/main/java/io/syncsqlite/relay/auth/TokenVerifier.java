package io.syncsqlite.relay.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.ImmutableSecret;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.text.ParseException;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Verifies the JWT a client presents when it connects: signature (HS256 with a shared secret, and/or
 * RS256/ES256 with public keys from a JWKS file), expiry, not-before (30 s of clock skew allowed) and,
 * when configured, audience; the token must name its subject. The cryptography is nimbus-jose-jwt's.
 *
 * <p>Thread-safe: the nimbus processor is immutable once built.
 */
public final class TokenVerifier {

    /** Who a verified token speaks for. */
    public record Principal(String subject, Instant expiresAt, Map<String, Object> claims) {
    }

    /** A token that does not verify; the message says why, without echoing the token. */
    public static final class Refused extends Exception {
        public Refused(String message) {
            super(message);
        }
    }

    private final DefaultJWTProcessor<SecurityContext> hmac;
    private final DefaultJWTProcessor<SecurityContext> keys;

    private TokenVerifier(DefaultJWTProcessor<SecurityContext> hmac, DefaultJWTProcessor<SecurityContext> keys) {
        this.hmac = hmac;
        this.keys = keys;
    }

    /**
     * @param hs256Secret shared secret for HS256 (at least 32 bytes), or null
     * @param jwksFile    JWKS file with the public keys for RS256/ES256, or null
     * @param audience    the audience tokens must name, or null for any
     */
    public static TokenVerifier of(String hs256Secret, Path jwksFile, String audience) throws IOException {
        if (hs256Secret == null && jwksFile == null) {
            throw new IllegalArgumentException("a JWT secret or a JWKS file is needed");
        }
        DefaultJWTProcessor<SecurityContext> hmac = null;
        if (hs256Secret != null) {
            byte[] secret = hs256Secret.getBytes(StandardCharsets.UTF_8);
            if (secret.length < 32) {
                throw new IllegalArgumentException("the HS256 secret must have at least 32 bytes (256 bits)");
            }
            hmac = processor(new ImmutableSecret<>(secret), Set.of(JWSAlgorithm.HS256), audience);
        }
        DefaultJWTProcessor<SecurityContext> keys = null;
        if (jwksFile != null) {
            JWKSet set;
            try {
                set = JWKSet.load(jwksFile.toFile());
            } catch (ParseException e) {
                throw new IOException("cannot read JWKS file " + jwksFile + ": " + e.getMessage(), e);
            }
            keys = processor(new ImmutableJWKSet<>(set), Set.of(JWSAlgorithm.RS256, JWSAlgorithm.ES256), audience);
        }
        return new TokenVerifier(hmac, keys);
    }

    private static DefaultJWTProcessor<SecurityContext> processor(JWKSource<SecurityContext> source,
                                                                 Set<JWSAlgorithm> algorithms, String audience) {
        DefaultJWTProcessor<SecurityContext> p = new DefaultJWTProcessor<>();
        p.setJWSKeySelector(new JWSVerificationKeySelector<>(algorithms, source));
        DefaultJWTClaimsVerifier<SecurityContext> claims = new DefaultJWTClaimsVerifier<>(
                audience == null ? null : Set.of(audience), new JWTClaimsSet.Builder().build(),
                new HashSet<>(List.of("sub", "exp")), null);
        claims.setMaxClockSkew(30);
        p.setJWTClaimsSetVerifier(claims);
        return p;
    }

    /**
     * Verifies {@code token}.
     *
     * @throws Refused with a reason fit for a close frame (never the token itself)
     */
    public Principal verify(String token) throws Refused {
        if (token == null || token.isBlank()) {
            throw new Refused("missing token");
        }
        String alg = algorithm(token);
        DefaultJWTProcessor<SecurityContext> p = alg.startsWith("HS") ? hmac : keys;
        if (p == null) {
            throw new Refused("token algorithm " + alg + " is not accepted");
        }
        try {
            JWTClaimsSet c = p.process(token, null);
            return new Principal(c.getSubject(), c.getExpirationTime().toInstant(), c.getClaims());
        } catch (BadJOSEException e) {
            throw new Refused(reason(e.getMessage()));
        } catch (ParseException | JOSEException e) {
            throw new Refused("malformed token");
        }
    }

    private static String algorithm(String token) throws Refused {
        try {
            return com.nimbusds.jose.JWSHeader.parse(com.nimbusds.jose.util.Base64URL.from(
                    token.substring(0, Math.max(0, token.indexOf('.'))))).getAlgorithm().getName();
        } catch (ParseException | RuntimeException e) {
            throw new Refused("malformed token");
        }
    }

    /** nimbus's messages, shortened to what a client may be told. */
    private static String reason(String message) {
        String m = message == null ? "" : message.toLowerCase(java.util.Locale.ROOT);
        if (m.contains("expired")) {
            return "token expired";
        }
        if (m.contains("before use time") || m.contains("nbf")) {
            return "token not yet valid";
        }
        if (m.contains("audience") || m.contains("aud claim")) {
            return "token audience rejected";
        }
        if (m.contains("signature")) {
            return "token signature invalid";
        }
        if (m.contains("missing") && m.contains("claim")) {
            return "token lacks a required claim (sub, exp)";
        }
        return "token rejected";
    }
}
