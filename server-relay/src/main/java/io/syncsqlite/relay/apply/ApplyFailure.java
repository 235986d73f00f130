package io.syncsqlite.relay.apply;

/**
 * A client transaction could be neither applied nor rejected now; the client should resend it later.
 * The message names the SQLState, never row values.
 *
 * <p>Immutable; thread-safe.
 */
public final class ApplyFailure extends Exception {
    public ApplyFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
